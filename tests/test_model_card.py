"""The shipped model's card is generated from its metrics and says exactly what they say."""

from __future__ import annotations

import json

import pytest
import yaml

from lureguard.artifacts import load_model_config

from .conftest import ROOT

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def card_and_metrics(shipped_model_dir):
    version = load_model_config(shipped_model_dir).version
    card = ROOT / "model_cards" / f"lureguard-{version}.md"
    metrics = ROOT / "model_cards" / f"eval-{version}" / "metrics.json"
    assert card.exists() and metrics.exists(), "the shipped model needs its generated card and metrics"
    return card, metrics


def test_card_metadata_numbers_equal_metrics_json(card_and_metrics, shipped_model_dir):
    from lureguard_train.model_card import model_index

    card, metrics_path = card_and_metrics
    metrics = json.loads(metrics_path.read_text())
    header = yaml.safe_load(card.read_text().split("---")[1])
    name = f"lureguard-{load_model_config(shipped_model_dir).version}"
    assert header["model-index"] == model_index(metrics, name)


def test_card_is_exactly_what_the_generator_renders(card_and_metrics, shipped_model_dir):
    from lureguard_train.model_card import render

    card, metrics_path = card_and_metrics
    rendered = render(json.loads(metrics_path.read_text()), load_model_config(shipped_model_dir).to_dict(),
                      metrics_path=str(metrics_path.relative_to(ROOT)), eval_command="python -m lureguard_train report")
    assert card.read_text() == rendered


def test_card_has_the_sections_of_mitchell_et_al(card_and_metrics):
    text = card_and_metrics[0].read_text()
    for section in ("Model details", "Intended use", "Factors", "Metrics", "Evaluation data", "Training data",
                    "Quantitative analyses", "Ethical considerations", "Caveats and recommendations"):
        assert f"## {section}" in text


def test_shipped_model_carries_the_package_version(shipped_model_dir):
    """One number names a release: the installed package, `lureguard.__version__` and the model inside agree."""
    from importlib.metadata import version

    import lureguard

    assert load_model_config(shipped_model_dir).version == lureguard.__version__ == version("lureguard")
