"""Scanning speed: `lureguard scan` against the naive baseline, measured in the same run.

    python benchmarks/scan_speed.py [--conversations 400] [--baseline-conversations 60]

The baseline is what a user would write without lureguard's runtime: a Hugging Face transformers
pipeline over the same encoder in PyTorch (all-MiniLM-L6-v2 cut to the model's layers), one context
window (the last 8 messages, with speaker markers) per message. Both sides read the same conversations (DailyDialog validation, real chat
lengths) on this machine in this run; the ratio is what to quote, the absolute rates move with the
machine. The scan is timed in process after loading the model (as in a long scan); peak memory
is that of a separate, whole `lureguard scan` process over the same file.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def conversations(shared: Path, count: int) -> list[dict]:
    sys.path.insert(0, str(ROOT / "training"))
    from lureguard_train.real_benign import load_dailydialog
    import random

    convs = list(load_dailydialog(shared, random.Random(0), splits=("validation",)))[:count]
    return [{"id": c["id"], "messages": [{"author": m["author"], "text": m["text"]} for m in c["messages"]]}
            for c in convs]


def time_scan(path: Path, model: str | None) -> float:
    """Seconds of lureguard.scan over the file (model loaded and warmed up first, as in a long scan)."""
    from lureguard import Detector, scan

    detector = Detector.load(model, threads=2)
    detector.score([json.loads(line) for line in path.read_text().splitlines()[:20]])
    with open(path.with_suffix(".out"), "w") as out:
        start = time.perf_counter()
        scan(detector, path, out, progress=False)
        return time.perf_counter() - start


def peak_memory_kib(path: Path, model: str | None) -> int:
    """Peak resident memory of a whole `lureguard scan` process over the file."""
    out = path.with_suffix(".out")
    cmd = [sys.executable, "-m", "lureguard.cli", "scan", str(path), "-o", str(out), "--quiet"]
    if model:
        cmd += ["--model", model]
    subprocess.run(cmd, check=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def time_baseline(convs: list[dict], model_dir: str | None, window: int = 8) -> float:
    """Seconds for the transformers pipeline to embed one context window per message."""
    import torch
    from transformers import AutoTokenizer, pipeline

    from lureguard.artifacts import SHIPPED_MODEL_DIR, load_model_config

    sys.path.insert(0, str(ROOT / "training"))
    from lureguard_train.model import base_model_dir, load_base_encoder

    torch.set_num_threads(2)
    # The same encoder as the model's: all-MiniLM-L6-v2 cut to the layers the model keeps.
    layers = int(load_model_config(model_dir or SHIPPED_MODEL_DIR, verify=False).extra.get("encoder_layers", 6))
    extractor = pipeline("feature-extraction", model=load_base_encoder(layers=layers),
                         tokenizer=AutoTokenizer.from_pretrained(base_model_dir()), framework="pt", device="cpu")
    texts = []
    for c in convs:
        lines = [f"{m['author']}: {m['text']}" for m in c["messages"]]
        texts += ["\n".join(lines[max(0, i + 1 - window): i + 1]) for i in range(len(lines))]
    start = time.perf_counter()
    for _ in extractor(texts, batch_size=16, truncation=True, max_length=256):
        pass
    return time.perf_counter() - start


def benchmark_parser(doc: str | None, *, conversations: int) -> argparse.ArgumentParser:
    """The options every benchmark here shares: where the real chats are, how many, which model."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared-data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--conversations", type=int, default=conversations)
    parser.add_argument("--model", help="model directory (default: the shipped model)")
    return parser


def write_jsonl(convs: list[dict], path: Path) -> Path:
    path.write_text("".join(json.dumps(c) + "\n" for c in convs))
    return path


def main() -> int:
    parser = benchmark_parser(__doc__, conversations=400)
    parser.add_argument("--baseline-conversations", type=int, default=60,
                        help="the baseline is slow; it runs on the first N of the same conversations")
    args = parser.parse_args()
    convs = conversations(Path(args.shared_data), args.conversations)
    messages = sum(len(c["messages"]) for c in convs)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_jsonl(convs, Path(tmp) / "bench.jsonl")
        peak_kib = peak_memory_kib(path, args.model)
        seconds = time_scan(path, args.model)
    base = convs[: args.baseline_conversations]
    base_messages = sum(len(c["messages"]) for c in base)
    base_seconds = time_baseline(base, args.model)
    scan_rate, base_rate = messages / seconds, base_messages / base_seconds
    print(json.dumps({"scan_messages": messages, "scan_seconds": round(seconds, 2),
                      "scan_messages_per_second": round(scan_rate, 1), "scan_peak_rss_mib": round(peak_kib / 1024, 1),
                      "baseline_messages": base_messages, "baseline_seconds": round(base_seconds, 2),
                      "baseline_messages_per_second": round(base_rate, 1),
                      "speedup": round(scan_rate / base_rate, 2)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
