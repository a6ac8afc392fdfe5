"""``lureguard`` command line: demo, scan, eval. Each subcommand is a thin wrapper over the library.

Exit status: 0 success; 1 ``--strict`` scan that met bad input; 2 usage or file problems;
3 no usable model.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import textwrap
from importlib import resources
from pathlib import Path

from .artifacts import OPERATING_POINTS, ModelIntegrityError, ModelNotFoundError
from .taxonomy import TACTIC_IDS

EXIT_STRICT, EXIT_USAGE, EXIT_MODEL = 1, 2, 3


def _detector(args: argparse.Namespace):
    from .detector import Detector

    return Detector.load(args.model, threads=args.threads, operating_point=args.operating_point)


def _demo(args: argparse.Namespace) -> int:
    from .detector import Detector
    from .reading import read_records

    detector = Detector.load(args.model, threads=args.threads, operating_point=args.operating_point)
    sample = resources.files("lureguard") / "samples" / "demo.jsonl"
    with resources.as_file(sample) as path:
        conversations = list(read_records(path))
    results = detector.score(conversations)
    width = min(shutil.get_terminal_size((100, 20)).columns, 110)
    print(f"{detector.name} — operating point '{detector.operating_point}' (flag at risk >= "
          f"{detector.threshold:.2f}); {len(results)} sample conversations shipped with the package\n")
    for conv, result in zip(conversations, results):
        verdict = "FLAGGED" if result.flagged else "ok"
        platform = (conv.meta or {}).get("platform", "")
        print(f"{result.id:<8} {platform:<14} risk {result.risk:5.2f}  {verdict}" + _flag_note(result))
        top = sorted(result.tactics.items(), key=lambda kv: -kv[1])[:3]
        print("    tactics: " + ", ".join(f"{t} {s:.2f}" for t, s in top))
        for e in result.evidence:
            line = textwrap.shorten(f"[{e.index}] {e.author}: {e.text}", width=width - 6, placeholder="…")
            print(f"    {line}"
                  + f"\n        -> {', '.join(f'{t} {s:.2f}' for t, s in e.tactics.items())}")
        pursuer = max(result.actors.items(), key=lambda kv: kv[1])
        print(f"    most likely pursuer: {pursuer[0]} ({pursuer[1]:.2f})\n")
    print("Scores are signals for human review, never a verdict on a person.")
    return 0


def _flag_note(result) -> str:
    """When the flag was raised; the risk can fall again as the conversation goes on (lureguard.risk)."""
    if result.first_flag_index is None:
        return ""
    if result.flagged:
        return f"  (from message {result.first_flag_index})"
    return f"  (over the threshold at message {result.first_flag_index}, cleared by the end)"


def _scan(args: argparse.Namespace) -> int:
    from .scan import scan

    if args.input != "-" and not Path(args.input).exists():
        print(f"lureguard scan: no such file: {args.input}", file=sys.stderr)
        return EXIT_USAGE
    if args.resume and (not args.output or args.output == "-"):
        print("lureguard scan: --resume needs -o OUTPUT (a file to continue)", file=sys.stderr)
        return EXIT_USAGE
    if args.engine == "spark":
        return _scan_spark(args)
    detector = _detector(args)
    progress = False if args.quiet else None
    try:
        summary = scan(detector, args.input, args.output, format=args.format, include_text=not args.no_text,
                       resume=args.resume, progress=progress, batch_messages=args.batch_messages)
    except (ValueError, ImportError) as exc:  # unusable input as a whole (e.g. Parquet on stdin, no pyarrow)
        print(f"lureguard scan: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not args.quiet:
        print(f"lureguard scan: {summary}", file=sys.stderr)
    return EXIT_STRICT if args.strict and summary.errors else 0


def _scan_spark(args: argparse.Namespace) -> int:
    """The same scan on Apache Spark: INPUT and OUTPUT are files or folders any executor can read."""
    import time

    problem = None
    if args.input == "-":
        problem = "--engine spark reads a file or folder, not standard input"
    elif not args.output or args.output == "-":
        problem = "--engine spark needs -o OUTPUT (a folder of part files that Spark writes)"
    elif args.resume:
        problem = "--resume is for the local engine; Spark reruns failed tasks itself"
    elif Path(args.output).exists():
        problem = f"{args.output} exists; Spark writes a new folder"
    elif args.format == "csv":
        problem = "--engine spark reads JSON Lines or Parquet"
    if problem:
        print(f"lureguard scan: {problem}", file=sys.stderr)
        return EXIT_USAGE
    try:
        from .spark import Settings, scan, session
    except ImportError as exc:  # pragma: no cover - depends on the environment
        print(f"lureguard scan: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _detector(args)  # a missing or altered model stops here, before any executor starts
    settings = Settings(model_dir=str(Path(args.model).resolve()) if args.model else None,
                        operating_point=args.operating_point, include_text=not args.no_text,
                        threads=args.threads or 1, batch_messages=args.batch_messages)
    started = time.perf_counter()
    try:
        spark = session(args.master, progress=not args.quiet)
        counts = scan(spark, args.input, args.output, format=args.format, settings=settings)
    except (ValueError, ImportError) as exc:
        print(f"lureguard scan: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not args.quiet:
        print(f"lureguard scan: {counts['conversations']} conversations, {counts['flagged']} flagged, "
              f"{counts['errors']} errors in {time.perf_counter() - started:.1f}s (Spark, {spark.sparkContext.master})"
              f" -> {args.output}", file=sys.stderr)
    return EXIT_STRICT if args.strict and counts["errors"] else 0


def _eval(args: argparse.Namespace) -> int:
    try:
        from .evaluation.report import run_eval
    except ImportError as exc:
        print(f"lureguard eval needs the evaluation extra: pip install 'lureguard[eval]' ({exc})", file=sys.stderr)
        return EXIT_USAGE
    return run_eval(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lureguard",
        description="Detect grooming and trafficking-recruitment tactics in conversations. Scores are signals "
                    "for human review, never a verdict on a person.",
        epilog="Tactics: " + ", ".join(TACTIC_IDS) + ". Exit status: 0 ok; 1 bad input under scan --strict; "
               "2 usage or file problem; 3 no usable model.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{demo,scan,eval}")

    def model_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", metavar="DIR", help="model directory (default: the model shipped in the package)")
        p.add_argument("--operating-point", choices=OPERATING_POINTS, default="balanced",
                       help="threshold for 'flagged' fixed on validation data (default: balanced = best F1; "
                            "high_recall: recall >= 0.95; high_precision: precision >= 0.95)")
        p.add_argument("--threads", type=int, default=None,
                       help="messages encoded side by side, one ONNX Runtime thread each (default: all cores)")

    p = sub.add_parser("demo", help="scan the sample conversations shipped with the package and print a summary")
    model_options(p)
    p.set_defaults(run=_demo)

    p = sub.add_parser("scan", help="score conversations; one JSON line out per conversation in",
                       description="Score conversations (JSONL, CSV or Parquet; see SPEC section 2) and write one "
                                   "JSON line per input conversation, in input order (SPEC section 3). A line or "
                                   "conversation that breaks the format gives an error line in its place.")
    p.add_argument("input", help="input file, or - for standard input (JSON Lines)")
    p.add_argument("-o", "--output", help="output file (default: standard output); written atomically")
    p.add_argument("--format", choices=("jsonl", "csv", "parquet"), help="input format (default: from the suffix)")
    model_options(p)
    p.add_argument("--no-text", action="store_true", help="omit message text from evidence (privacy)")
    p.add_argument("--strict", action="store_true", help="exit with status 1 when any input line was bad")
    p.add_argument("--resume", action="store_true", help="continue an interrupted scan into the same -o file")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary on standard error")
    p.add_argument("--batch-messages", type=int, default=2048, help="messages per model call (default 2048)")
    p.add_argument("--engine", choices=("local", "spark"), default="local",
                   help="local (default) or spark: run on Apache Spark (pip install 'lureguard[spark]'); "
                        "INPUT is a JSONL or Parquet file or folder, -o a new folder of part files")
    p.add_argument("--master", help="Spark master URL for --engine spark (default: spark-submit's, else local[*])")
    p.set_defaults(run=_scan)

    p = sub.add_parser("eval", help="metrics, disaggregated metrics and bias tests on annotated data")
    p.add_argument("data", nargs="+", help="annotated JSONL file(s) (SPEC section 2 with label and tactics)")
    p.add_argument("--report", metavar="DIR", help="write metrics.json, report.md and plots here")
    p.add_argument("--scores", metavar="FILE", help="evaluate precomputed scores (SPEC section 3 lines) instead")
    p.add_argument("--baseline", choices=("keyword", "tfidf"),
                   help="evaluate a reference scorer instead: a keyword lexicon, or TF-IDF + logistic regression")
    p.add_argument("--train", default="datasets/lureguard/train.jsonl", help="training data of --baseline tfidf")
    p.add_argument("--validation", default="datasets/lureguard/validation.jsonl",
                   help="where --baseline tfidf picks its threshold")
    model_options(p)
    p.set_defaults(run=_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ModelNotFoundError, ModelIntegrityError) as exc:
        print(f"lureguard {args.command}: {exc}", file=sys.stderr)
        return EXIT_MODEL
    except BrokenPipeError:  # `lureguard scan x | head` is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"\nlureguard {args.command}: interrupted" + ("; rerun with --resume to continue"
                                                          if getattr(args, "output", None) else ""), file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
