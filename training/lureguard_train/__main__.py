"""Training command line.

    python -m lureguard_train corpus   # rebuild datasets/lureguard from datasets/source (byte for byte)
    python -m lureguard_train train    --config training/configs/default.json
    python -m lureguard_train export   --run runs/latest --out inference/lureguard/model
    python -m lureguard_train all      --config training/configs/default.json   # train + export
    python -m lureguard_train eval-sets                                          # real benign eval data
    python -m lureguard_train report   # evaluate the shipped model and regenerate its model card
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from lureguard import __version__

from .config import TrainConfig

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "default.json"


def _corpus(args: argparse.Namespace) -> int:
    from .card import write_card
    from .corpus import build, second_pass_counts, write

    splits = build(Path(args.source), seed=args.seed)
    stats = write(splits, Path(args.out), seed=args.seed)
    write_card(Path(args.out), stats, shared_data=args.shared_data, seed=args.seed,
               second_pass=second_pass_counts(Path(args.source), splits))
    for split, s in stats["splits"].items():
        print(f"{split:>10}: {s['conversations']} conversations ({s['positives']} positive), {s['messages']} messages")
    return 0


def _eval_sets(args: argparse.Namespace) -> int:
    """Real benign evaluation sets in SPEC format, written outside git (they are not ours to ship)."""
    from .corpus import write_jsonl
    from .real_benign import load_dailydialog_test, load_eval_only

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sets = {"dailydialog_test": load_dailydialog_test(args.shared_data),
            "eval_only_benign": load_eval_only(args.shared_data)}
    for name, convs in sets.items():
        write_jsonl(out / f"{name}.jsonl", convs)
        print(f"{out / (name + '.jsonl')}: {len(convs)} conversations")
    return 0


def _card(args: argparse.Namespace) -> int:
    from .model_card import write_card

    print(write_card(args.metrics, args.out, model_dir=args.model, eval_command=args.eval_command))
    return 0


def _report(args: argparse.Namespace) -> int:
    """Evaluation sets, the full evaluation of the shipped model, and its card: one command."""
    from lureguard.cli import main as lureguard_main

    from .model_card import write_card
    from lureguard.artifacts import SHIPPED_MODEL_DIR, load_model_config

    version = load_model_config(args.model or SHIPPED_MODEL_DIR).version
    _eval_sets(argparse.Namespace(shared_data=args.shared_data, out=args.data))
    report_dir = Path(args.cards) / f"eval-{version}"
    data = [str(Path(args.corpus) / "test.jsonl"), str(Path(args.data) / "dailydialog_test.jsonl"),
            str(Path(args.data) / "eval_only_benign.jsonl"), str(Path(args.blind) / "blind_check.jsonl"),
            str(Path(args.corpus) / "bias" / "twins.jsonl"), str(Path(args.corpus) / "bias" / "obfuscated.jsonl")]
    command = ["eval", *data, "--report", str(report_dir)] + (["--model", args.model] if args.model else [])
    if lureguard_main(command) != 0:
        return 1
    print(write_card(report_dir / "metrics.json", Path(args.cards) / f"lureguard-{version}.md", model_dir=args.model,
                     eval_command="python -m lureguard_train report"))
    return 0


def _config(args: argparse.Namespace) -> TrainConfig:
    overrides = dict(kv.split("=", 1) for kv in args.set or [])
    parsed = {k: json.loads(v) if v not in ("", None) else None for k, v in overrides.items()}
    return TrainConfig.from_file(args.config, **parsed)


def _train(args: argparse.Namespace) -> int:
    from .train import train

    train(_config(args), resume=not args.restart)
    return 0


def _export(args: argparse.Namespace) -> int:
    from lureguard.detector import Detector

    from .calibrate import calibrate
    from .data import load_corpus_split
    from .export import export, flag_agreement, load_trained, write_config
    from .train import load_data

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    out = export(args.run, args.out, version=args.version)
    _, cfg = load_trained(args.run)
    _, validation, _ = load_data(cfg)
    calibration = calibrate(Detector.load(out), validation)
    write_config(out, cfg, version=args.version, calibration=calibration)
    test = load_corpus_split(cfg.corpus_dir, "test")
    agreement = flag_agreement(out, Path(args.run) / "encoder.fp32.onnx", test)
    write_config(out, cfg, version=args.version, calibration=calibration,
                 extra={"trained_with": cfg.to_dict(), "int8_fp32_flag_agreement": {"test": agreement}})
    print(json.dumps({"thresholds": calibration["thresholds"], "int8_fp32_flag_agreement": agreement}, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lureguard_train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("corpus", help="build the annotated corpus and its card")
    p.add_argument("--source", default="datasets/source")
    p.add_argument("--out", default="datasets/lureguard")
    p.add_argument("--shared-data", default="../shared/data", help="real corpora, counted in the card")
    p.add_argument("--seed", type=int, default=13)
    p.set_defaults(handler=_corpus)
    for name, run in (("train", _train), ("all", None)):
        p = sub.add_parser(name, help="fine-tune (resumes from out_dir/checkpoint.pt)" if name == "train"
                           else "train, then export and calibrate")
        p.add_argument("--config", default=str(DEFAULT_CONFIG))
        p.add_argument("--set", action="append", metavar="KEY=JSON", help="override a config value")
        p.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
        if name == "all":
            p.add_argument("--out", default="inference/lureguard/model")
            p.add_argument("--version", default=__version__, help="written into the model config (default: the package version; bump lureguard.__version__ with every shipped model)")
        p.set_defaults(handler=run)
    p = sub.add_parser("eval-sets", help="write DailyDialog test and eval_only/ chats as annotated JSONL (not for git)")
    p.add_argument("--shared-data", default="../shared/data")
    p.add_argument("--out", default="reports/data")
    p.set_defaults(handler=_eval_sets)
    p = sub.add_parser("card", help="render the model card from an evaluation's metrics.json")
    p.add_argument("--metrics", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--model", help="model directory (default: the shipped model)")
    p.add_argument("--eval-command", default="lureguard eval")
    p.set_defaults(handler=_card)
    p = sub.add_parser("report", help="evaluate the shipped model on test, DailyDialog test and eval_only, "
                                      "and regenerate its card")
    p.add_argument("--shared-data", default="../shared/data")
    p.add_argument("--data", default="reports/data", help="where the real evaluation sets are written (not git)")
    p.add_argument("--corpus", default="datasets/lureguard")
    p.add_argument("--blind", default="datasets/blind", help="the blind check set, written apart from the corpus")
    p.add_argument("--cards", default="model_cards")
    p.add_argument("--model", help="model directory (default: the shipped model)")
    p.set_defaults(handler=_report)
    p = sub.add_parser("export", help="ONNX export, int8 quantisation, calibration, config")
    p.add_argument("--run", default="runs/latest")
    p.add_argument("--out", default="inference/lureguard/model")
    p.add_argument("--version", default=__version__, help="written into the model config (default: the package version; bump lureguard.__version__ with every shipped model)")
    p.set_defaults(handler=_export)
    args = parser.parse_args(argv)
    if args.command == "all":
        _train(args)
        args.run = _config(args).out_dir
        return _export(args)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
