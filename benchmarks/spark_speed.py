"""Spark against the single process: the same input, the same model, measured in the same run.

    python benchmarks/spark_speed.py [--conversations 2000] [--master local[2]]

Both sides scan the same JSONL file (DailyDialog validation conversations, real chat lengths) into a
new output: `lureguard scan` in one process with 2 ONNX Runtime threads, and `lureguard scan --engine
spark` with one thread per Spark task. Spark's time includes planning, the duplicate-id pass and
writing, but not starting the session (a cluster job pays that once). The script also checks that
both outputs are the same lines. On one 2-core machine Spark cannot be faster; the figure says what
the engine costs per core, which is what sizing a cluster needs.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scan_speed import benchmark_parser, conversations, write_jsonl  # noqa: E402


def main() -> int:
    parser = benchmark_parser(__doc__, conversations=2000)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()

    from lureguard import Detector
    from lureguard.scan import scan
    from lureguard.spark import Settings, session
    from lureguard.spark import scan as spark_scan

    convs = conversations(Path(args.shared_data), args.conversations)
    messages = sum(len(c["messages"]) for c in convs)
    with tempfile.TemporaryDirectory() as tmp:
        source = write_jsonl(convs, Path(tmp) / "bench.jsonl")
        detector = Detector.load(args.model, threads=2)
        detector.score(convs[:20])
        start = time.perf_counter()
        scan(detector, source, Path(tmp) / "local.jsonl", progress=False)
        local_seconds = time.perf_counter() - start

        spark = session(args.master, progress=False)
        spark.sparkContext.setLogLevel("ERROR")
        settings = Settings(model_dir=args.model, threads=1)
        spark_scan(spark, str(source), str(Path(tmp) / "warmup"), settings=settings)  # workers load the model
        start = time.perf_counter()
        spark_scan(spark, str(source), str(Path(tmp) / "spark"), settings=settings)
        spark_seconds = time.perf_counter() - start
        local = (Path(tmp) / "local.jsonl").read_text().splitlines()
        parts = sorted((Path(tmp) / "spark").glob("part-*"))
        same = local == [line for p in parts for line in p.read_text().splitlines()]
        spark.stop()
    print(json.dumps({"messages": messages, "conversations": len(convs),
                      "single_process_seconds": round(local_seconds, 2),
                      "single_process_messages_per_second": round(messages / local_seconds, 1),
                      "spark_master": args.master, "spark_seconds": round(spark_seconds, 2),
                      "spark_messages_per_second": round(messages / spark_seconds, 1),
                      "spark_over_single_process": round(local_seconds / spark_seconds, 2),
                      "identical_output": same}, indent=1))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
