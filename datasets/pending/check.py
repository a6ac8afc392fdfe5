"""Check one helper-written file before it joins datasets/pending: python datasets/pending/check.py datasets/pending/negAN.jsonl

Format (SPEC section 2 with labels), 8 families x 8 conversations, family names new to the project, tactics only
on pursuers, no message copied from another file of the project."""
import collections, json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "inference"))
from lureguard.conversation import validate_conversation
from lureguard.taxonomy import TACTIC_IDS

path = Path(sys.argv[1])
prefix = path.stem
if not re.fullmatch(r"(neg|pos)[A-Z]+", prefix):
    sys.exit(f"{path.name}: name the file negXX.jsonl or posXX.jsonl")
label = 0 if prefix.startswith("neg") else 1
known_fams, known_texts = set(), set()
for f in (p for d in ("source", "pending", "blind") for p in (ROOT / "datasets" / d).glob("*.jsonl")):
    if f.stem == prefix:
        continue
    for line in open(f, encoding="utf-8"):
        d = json.loads(line)
        known_fams.add(d.get("family"))
        known_texts.update(m["text"].strip().lower() for m in d["messages"] if len(m["text"]) > 25)
errors, fams, ids, langs = [], collections.Counter(), set(), collections.Counter()
lines = open(path, encoding="utf-8").read().splitlines()
for n, line in enumerate(lines, 1):
    try:
        d = json.loads(line)
    except json.JSONDecodeError as e:
        errors.append(f"line {n}: not JSON: {e}"); continue
    problems = validate_conversation(d, annotated=True)
    if problems:  # the checks below read a well-formed conversation
        errors += [f"line {n}: {p}" for p in problems]; continue
    if not str(d.get("id", "")).startswith(prefix + "-"): errors.append(f"line {n}: id must start with {prefix}-")
    if d.get("id") in ids: errors.append(f"line {n}: duplicate id")
    ids.add(d.get("id"))
    if d.get("label") != label: errors.append(f"line {n}: label must be {label} in a {prefix[:3]} file")
    fam = d.get("family"); fams[fam] += 1
    if fam in known_fams: errors.append(f"line {n}: family {fam!r} already exists elsewhere; invent a new name")
    sl = d.get("slices") or {}
    for k in ("topic", "lang", "register", "target_age", "target_gender"):
        if k not in sl: errors.append(f"line {n}: slices.{k} missing")
    langs[sl.get("lang")] += 1
    authors = {m["author"] for m in d["messages"]}
    if len(authors) < 2: errors.append(f"line {n}: needs at least two participants")
    if not 4 <= len(d["messages"]) <= 40: errors.append(f"line {n}: {len(d['messages'])} messages (4-40)")
    tagged = [t for m in d["messages"] for t in m.get("tactics", [])]
    for t in tagged:
        if t not in TACTIC_IDS: errors.append(f"line {n}: unknown tactic {t!r}")
    if label == 0 and tagged: errors.append(f"line {n}: a negative carries no tactics")
    if label == 1:
        if not tagged: errors.append(f"line {n}: a positive needs tagged messages")
        pursuers = {m["author"] for m in d["messages"] if m.get("tactics")}
        if len(pursuers) == len(authors): errors.append(f"line {n}: every participant carries tactics; only the pursuer(s) should")
    for i, m in enumerate(d["messages"]):
        if m["text"].strip().lower() in known_texts: errors.append(f"line {n}: messages[{i}] copies an existing corpus message")
for fam, c in fams.items():
    if c != 8: errors.append(f"family {fam!r}: {c} conversations (8 each)")
if len(fams) != 8: errors.append(f"{len(fams)} families (need 8)")
print("\n".join(errors) if errors else f"OK: {len(lines)} conversations, {len(fams)} families, langs {dict(langs)}")
sys.exit(1 if errors else 0)
