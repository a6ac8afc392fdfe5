"""Build the lureguard corpus: hand-written conversations, re-told with variation, split by family.

    python -m lureguard_train corpus --source datasets/source --out datasets/lureguard

Whole scenario families go to one split, so the test split holds families (say, fake au-pair
agencies, or Romanian "loverboy" chats) that the model never saw in any form. Variants of a
conversation stay in its split. The output is deterministic for a given seed: rerunning the command
rewrites the committed files byte for byte.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from lureguard.conversation import validate_conversation
from lureguard.taxonomy import TACTIC_IDS

from .augment import variant
from .counterfactual import obfuscated, twins

Conversation = dict[str, Any]
SPLITS = ("train", "validation", "test")
POSITIVE_VARIANTS = 2  # re-tellings per hand-written positive, beside the original


def read_sources(folder: Path) -> list[Conversation]:
    """Every hand-written conversation, validated; a broken one stops the build with its file and line."""
    conversations = []
    for path in sorted(folder.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            obj = json.loads(line)
            problems = validate_conversation(obj, annotated=True)
            if obj.get("label") == 0 and any(m["tactics"] for m in obj["messages"]):
                problems.append("label 0 but a message carries a tactic")
            if obj.get("label") == 1 and not any(m["tactics"] for m in obj["messages"]):
                problems.append("label 1 but no message carries a tactic")
            if not obj.get("family"):
                problems.append("family: missing")
            if problems:
                raise ValueError(f"{path}:{number}: {'; '.join(problems)}")
            obj["source_file"] = path.stem
            conversations.append(obj)
    return conversations


def assign_family_splits(conversations: list[Conversation], seed: int) -> dict[str, str]:
    """Per source file (one writer, one theme), one family to test, one to validation, the rest to train."""
    families_by_file: dict[str, set[str]] = defaultdict(set)
    for c in conversations:
        families_by_file[c["source_file"]].add(c["family"])
    split_of: dict[str, str] = {}
    for file in sorted(families_by_file):
        families = sorted(families_by_file[file])
        # One generator per file: a new source file never moves the families of the others.
        random.Random(f"{seed}-{file}").shuffle(families)
        for i, family in enumerate(families):
            split_of[family] = "test" if i == 0 else "validation" if i == 1 and len(families) > 3 else "train"
    return split_of


def _record(c: Conversation, cid: str, split: str, kind: str) -> Conversation:
    slices = {k: str(v) for k, v in (c.get("slices") or {}).items()}
    slices.update(family=c["family"], origin=kind)
    return {"id": cid, "label": c["label"],
            "messages": [{"author": m["author"], "text": m["text"], "tactics": list(m["tactics"])}
                         for m in c["messages"]],
            "slices": slices, "split": split}


def build(source: Path, *, seed: int = 13) -> dict[str, list[Conversation]]:
    conversations = read_sources(source)
    split_of = assign_family_splits(conversations, seed)
    positives = sum(c["label"] == 1 for c in conversations)
    negatives = len(conversations) - positives
    negative_variants = max(POSITIVE_VARIANTS, math.ceil((POSITIVE_VARIANTS + 1) * positives / max(negatives, 1)) - 1)
    donors: dict[str, list[Conversation]] = defaultdict(list)
    for c in conversations:
        if c["label"] == 0:
            donors[split_of[c["family"]]].append(c)
    out: dict[str, list[Conversation]] = {s: [] for s in SPLITS}
    for c in sorted(conversations, key=lambda c: c["id"]):
        split = split_of[c["family"]]
        out[split].append(_record(c, c["id"], split, "written"))
        rng = random.Random(f"{seed}-{c['id']}")
        for k in range(POSITIVE_VARIANTS if c["label"] == 1 else negative_variants):
            pool = [d for d in donors[split] if d["id"] != c["id"]]
            out[split].append(_record(variant(c, pool, rng) | {"family": c["family"]}, f"{c['id']}-v{k + 1}",
                                      split, "variant"))
    for split in SPLITS:
        random.Random(f"{seed}-{split}").shuffle(out[split])
    return out


def statistics(splits: dict[str, list[Conversation]]) -> dict[str, Any]:
    """The counts the dataset card reports."""
    stats: dict[str, Any] = {"splits": {}, "tactic_messages": {}, "families": {}}
    for split, convs in splits.items():
        tactic_counts = Counter(t for c in convs for m in c["messages"] for t in m["tactics"])
        stats["splits"][split] = {
            "conversations": len(convs),
            "positives": sum(c["label"] for c in convs),
            "negatives": sum(1 - c["label"] for c in convs),
            "messages": sum(len(c["messages"]) for c in convs),
            "written": sum(c["slices"]["origin"] == "written" for c in convs),
        }
        stats["tactic_messages"][split] = {t: tactic_counts.get(t, 0) for t in TACTIC_IDS}
        stats["families"][split] = sorted({c["slices"]["family"] for c in convs})
    total = Counter()
    for split in splits:
        total.update(stats["tactic_messages"][split])
    stats["tactic_messages"]["all"] = {t: total.get(t, 0) for t in TACTIC_IDS}
    stats["slices"] = {
        key: dict(sorted(Counter(f"{c['slices'].get(key, 'unknown')}|{'positive' if c['label'] else 'negative'}"
                                 for convs in splits.values() for c in convs).items()))
        for key in ("topic", "lang", "register", "target_age", "target_gender")}
    return stats


def write_jsonl(path: Path, convs: list[Conversation]) -> None:
    """Annotated conversations, one per line, without build-only keys (``split``)."""
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for c in convs:
            f.write(json.dumps({k: v for k, v in c.items() if k != "split"}, ensure_ascii=False) + "\n")


def second_pass_counts(source: Path, splits: dict[str, list[Conversation]]) -> dict[str, int]:
    """Messages the second annotator corrected (``source/second_pass/*.jsonl``, one line each) and all
    messages of the hand-written positives they were drawn from."""
    corrected = sum(1 for path in sorted((source / "second_pass").glob("*.jsonl"))
                    for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    positive_messages = sum(len(c["messages"]) for convs in splits.values() for c in convs
                            if c["label"] == 1 and c["slices"]["origin"] == "written")
    return {"corrected": corrected, "positive_messages": positive_messages}


def write(splits: dict[str, list[Conversation]], out: Path, *, seed: int = 13) -> dict[str, Any]:
    """The split files, the bias and robustness sets built from the test split, and the statistics."""
    out.mkdir(parents=True, exist_ok=True)
    for split, convs in splits.items():
        write_jsonl(out / f"{split}.jsonl", convs)
    originals = [c for c in splits["test"] if c["slices"]["origin"] == "written"]
    (out / "bias").mkdir(exist_ok=True)
    bias_sets = {"twins": twins(originals, seed=seed), "obfuscated": obfuscated(originals, seed=seed)}
    for name, convs in bias_sets.items():
        write_jsonl(out / "bias" / f"{name}.jsonl", convs)
    stats = statistics(splits)
    stats["bias"] = {name: {"conversations": len(convs), "pairs": len({c["pair"] for c in convs}),
                            "by_swap": dict(sorted(Counter(c["slices"]["swap"] for c in convs).items()))}
                     for name, convs in bias_sets.items()}
    (out / "stats.json").write_text(json.dumps(stats, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return stats
