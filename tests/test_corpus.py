"""The committed corpus: reproducible byte for byte, big enough, balanced, never explicit, no copied data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lureguard.conversation import validate_conversation
from lureguard.taxonomy import TACTIC_IDS

from .conftest import ROOT, SHARED_DATA

CORPUS = ROOT / "datasets" / "lureguard"
SPLITS = ("train", "validation", "test")
# Words that would make a conversation explicit. "sex worker" is legitimate (hard negatives), so
# "sex" alone is not listed; nor is "xxx", which the corpus uses for kisses and masked phone digits.
EXPLICIT = re.compile(r"\b(nudes?|naked|porn|porno|pornograph\w*|horny|blowjob|orgasm\w*|genital\w*|boobs?|tits|penis|vagina|"
                      r"pussy|masturbat\w*|erotic\w*|lingerie|topless|undress\w*|sexting|sexy)\b", re.IGNORECASE)


def corpus(split: str) -> list[dict]:
    return [json.loads(line) for line in (CORPUS / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def everything() -> list[dict]:
    return [c for split in SPLITS for c in corpus(split)]


def test_build_command_reproduces_the_committed_corpus_byte_for_byte(tmp_path):
    from lureguard_train.__main__ import main

    shared = str(SHARED_DATA) if SHARED_DATA.exists() else "missing"
    assert main(["corpus", "--source", str(ROOT / "datasets" / "source"), "--out", str(tmp_path),
                 "--shared-data", shared]) == 0
    names = [f"{s}.jsonl" for s in SPLITS] + ["stats.json", "bias/twins.jsonl", "bias/obfuscated.jsonl"]
    names += ["README.md"] if SHARED_DATA.exists() else []
    for name in names:
        assert (tmp_path / name).read_bytes() == (CORPUS / name).read_bytes(), f"{name} differs from a rebuild"


def test_every_conversation_is_valid_annotated_data(everything):
    for c in everything:
        assert validate_conversation(c, annotated=True) == [], c["id"]
        assert (c["label"] == 1) == any(m["tactics"] for m in c["messages"]), c["id"]


def test_sizes_promised_by_the_card(everything):
    stats = json.loads((CORPUS / "stats.json").read_text())
    assert len(everything) >= 3000
    assert all(n >= 300 for n in stats["tactic_messages"]["all"].values()), stats["tactic_messages"]["all"]
    positives = sum(c["label"] for c in everything)
    assert len(everything) - positives >= positives


def test_test_families_are_unseen_in_training():
    family = lambda split: {c["slices"]["family"] for c in corpus(split)}  # noqa: E731
    assert not family("test") & family("train")
    assert not family("validation") & family("train")


def test_nothing_is_sexually_explicit(everything):
    """The corpus splits, and the written files not in them yet (pending, blind): nothing explicit is stored."""
    stored = [json.loads(line) for folder in ("pending", "blind") for path in (ROOT / "datasets" / folder).glob("*.jsonl")
              for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(stored) > 0
    hits = [(c["id"], m["text"]) for c in everything + stored for m in c["messages"] if EXPLICIT.search(m["text"])]
    assert hits == []


@pytest.mark.skipif(not SHARED_DATA.exists(), reason="../shared/data is not beside the checkout")
def test_no_real_corpus_text_is_copied_into_the_repo(everything):
    from lureguard_train.real_benign import load_real_benign

    real = {m["text"] for c in load_real_benign(SHARED_DATA) for m in c["messages"] if len(m["text"]) > 40}
    ours = {m["text"] for c in everything for m in c["messages"]}
    assert not real & ours


def test_counterfactual_twins_differ_only_in_what_they_swap():
    twins = [json.loads(line) for line in (CORPUS / "bias" / "twins.jsonl").read_text().splitlines()]
    groups: dict[str, list[dict]] = {}
    for t in twins:
        groups.setdefault(t["pair"], []).append(t)
    assert len(groups) >= 100 and all(len(g) >= 2 for g in groups.values())
    for pair, group in groups.items():
        assert len({g["label"] for g in group}) == 1, pair
        assert len({g["slices"]["swap"] for g in group}) == 1, pair
        if group[0]["slices"]["swap"] == "names":
            texts = {tuple(m["text"] for m in g["messages"]) for g in group}
            assert len(texts) == 1, pair


BLIND = ROOT / "datasets" / "blind" / "blind_check.jsonl"


def test_blind_check_set_is_valid_never_explicit_and_shares_no_text_with_the_corpus(everything):
    blind = [json.loads(line) for line in BLIND.read_text(encoding="utf-8").splitlines()]
    assert len(blind) >= 80 and 0.3 <= sum(c["label"] for c in blind) / len(blind) <= 0.7
    for c in blind:
        assert validate_conversation(c, annotated=True) == [], c["id"]
        assert (c["label"] == 1) == any(m["tactics"] for m in c["messages"]), c["id"]
        assert not any(EXPLICIT.search(m["text"]) for m in c["messages"]), c["id"]
    seen = {m["text"].strip().lower() for c in everything for m in c["messages"] if len(m["text"]) > 30}
    shared = [m["text"] for c in blind for m in c["messages"] if m["text"].strip().lower() in seen]
    assert shared == []
