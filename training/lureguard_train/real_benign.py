"""Real benign conversations from ``../shared/data``, read in place and never copied into the repo.

Each loader yields annotated conversations (label 0, no tactics) in the SPEC format with a split
(train / validation / test) taken from the source's own split where it has one, and from a stable
hash of the dialogue id where it has not. DailyDialog's test split is evaluation-only, and so is
everything under ``eval_only/``: ``load_eval_only`` is the one door to it, and training never calls it.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import random
import re
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterator

from .augment import new_handle

Conversation = dict[str, Any]
SPLITS = ("train", "validation", "test")
_DETOKENISE = [(re.compile(r" ([.,!?;:%)])"), r"\1"), (re.compile(r"([($]) "), r"\1"),
               (re.compile(r" (n't|'s|'re|'m|'ll|'ve|'d)\b"), r"\1"), (re.compile(r" ' "), "'"),
               (re.compile(r"\s+"), " ")]


def detokenise(text: str) -> str:
    """Undo 'it ' s fine .' spacing so tokenised corpora don't look different from chat."""
    text = text.replace(" ’ ", "'").replace("_comma_", ",")
    for pattern, repl in _DETOKENISE:
        text = pattern.sub(repl, text)
    return text.strip()


def hash_split(key: str, *, validation: float = 0.1, test: float = 0.1) -> str:
    x = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if x < test else "validation" if x < test + validation else "train"


def _conversation(cid: str, source: str, turns: list[tuple[str, str]], split: str,
                  rng: random.Random, topic: str = "everyday") -> Conversation:
    names: dict[str, str] = {}
    messages = []
    for speaker, text in turns:
        if speaker not in names:
            names[speaker] = new_handle(rng, set(names.values()))
        messages.append({"author": names[speaker], "text": text, "tactics": []})
    return {"id": f"{source}-{cid}", "label": 0, "messages": messages, "split": split,
            "slices": {"source": source, "topic": topic, "kind": "real_benign"}}


def load_dailydialog(root: Path, rng: random.Random, *, splits=("train", "validation")) -> Iterator[Conversation]:
    for split in splits:
        path = root / "dailydialog" / f"dialogues_{split}.txt"
        opener = gzip.open if not path.exists() else open
        path = path if path.exists() else path.with_suffix(".txt.gz")
        seen: set[str] = set()
        with opener(path, "rt", encoding="utf-8") as f:
            for n, line in enumerate(f):
                if line in seen:
                    continue
                seen.add(line)
                turns = [detokenise(t) for t in line.split("__eou__") if t.strip()]
                if turns:
                    yield _conversation(f"{split}-{n}", "dailydialog",
                                        [("AB"[i % 2], t) for i, t in enumerate(turns)], split, rng)


def load_personachat(root: Path, rng: random.Random) -> Iterator[Conversation]:
    turns: list[tuple[str, str]] = []
    count = 0

    def done():
        return _conversation(str(count), "personachat", turns, hash_split(f"personachat{count}"), rng, "small_talk")

    with open(root / "personachat_convai2" / "valid_self_original_no_cands.txt", encoding="utf-8") as f:
        for line in f:
            number, _, rest = line.rstrip("\n").partition(" ")
            if number == "1" and turns:
                yield done()
                turns, count = [], count + 1
            if rest.startswith("your persona:"):
                continue
            partner, _, own = rest.partition("\t")
            turns += [("A", detokenise(partner)), ("B", detokenise(own))]
    if turns:
        yield done()


def load_empathetic(root: Path, rng: random.Random) -> Iterator[Conversation]:
    folder = root / "empatheticdialogues_seek"
    for part in ("valid", "test"):
        keep = set((folder / f"{part}_maximal_dialogue_ids.txt").read_text().split())
        dialogues: dict[str, list[tuple[int, str]]] = defaultdict(list)
        with open(folder / f"{part}.csv", encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                if row["dialogue_id"] in keep:
                    dialogues[row["dialogue_id"]].append((int(row["turns"]), detokenise(row["text"])))
        for did, rows in dialogues.items():
            rows.sort()
            yield _conversation(did, "empathetic", [("AB"[(t - 1) % 2], text) for t, text in rows],
                                hash_split(f"empathetic{did}"), rng, "emotional_support")


def load_meld(root: Path, rng: random.Random) -> Iterator[Conversation]:
    for file, split in (("train_sent_emo.csv", "train"), ("dev_sent_emo.csv", "validation"), ("test_sent_emo.csv", "test")):
        dialogues: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
        with open(root / "meld_friends" / file, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                text = row["Utterance"].replace("\x92", "'").replace("\x85", "...").replace("\x91", "'")
                dialogues[row["Dialogue_ID"]].append((int(row["Utterance_ID"]), row["Speaker"], text))
        for did, rows in dialogues.items():
            rows.sort()
            yield _conversation(f"{split}-{did}", "meld", [(s, t) for _, s, t in rows], split, rng, "friends")


def load_persuasion(root: Path, rng: random.Random) -> Iterator[Conversation]:
    dialogues: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    with open(root / "persuasion_for_good" / "full_dialog.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            dialogues[row["B2"]].append((int(row["Turn"]), row["B4"], row["Unit"]))
    for did, rows in dialogues.items():
        turns: list[tuple[str, str]] = []
        last = None
        for turn, role, unit in rows:  # consecutive sentences of one turn form one message
            if (turn, role) == last:
                turns[-1] = (role, turns[-1][1] + " " + unit)
            else:
                turns.append((role, unit))
            last = (turn, role)
        yield _conversation(did, "persuasion", turns, hash_split(f"persuasion{did}"), rng, "charity_donation")


def load_sms_threads(root: Path, rng: random.Random) -> Iterator[Conversation]:
    """NUS SMS (adult senders) and UCI ham as short threads: consecutive messages of one sender pair."""
    threads: dict[tuple[str, str], list[str]] = defaultdict(list)
    with gzip.open(root / "nus_sms_corpus_en" / "nus_sms_en_adult_senders.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            threads[(str(row.get("src")), str(row.get("dest")))].append(row["text"])
    for (src, dest), texts in threads.items():
        for start in range(0, len(texts), 5):
            chunk = texts[start:start + rng.randint(2, 5)]
            if chunk:
                yield _conversation(f"{src}-{dest}-{start}", "nus_sms", [("A", t) for t in chunk],
                                    hash_split(f"nus{src}{dest}{start}"), rng, "sms")
    ham = [line.split("\t", 1)[1].strip() for line in
           open(root / "sms_spam_collection" / "SMSSpamCollection.tsv", encoding="utf-8") if line.startswith("ham\t")]
    for start in range(0, len(ham), 4):
        chunk = ham[start:start + 4]
        yield _conversation(f"uci-{start}", "sms_ham", [("AB"[i % 2], t) for i, t in enumerate(chunk)],
                            hash_split(f"uci{start}"), rng, "sms")


def load_job_ads(root: Path, rng: random.Random) -> Iterator[Conversation]:
    """Genuine job adverts framed as a recruiter's message and a candidate's reply: legit_job negatives."""
    openers = ("Hi {name}, I'm recruiting for a {title} role at {company} ({location}).",
               "Hello! {company} is hiring a {title} in {location} and your profile looks like a fit.",
               "Good morning, reaching out about our {title} opening at {company}, based in {location}.",
               "hey, saw your profile - we have a {title} position open at {company} in {location}")
    replies = ("Thanks, could you send the full job description and the interview steps?",
               "Interested. What's the salary range and is it remote?", "Not looking right now, thanks though.",
               "Sounds good, I'll apply through the careers page.", "Can we set up a call next week?")
    seen: set[str] = set()
    with open(root / "glassdoor_ds_job_postings" / "Uncleaned_DS_jobs.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            description = " ".join(row["Job Description"].split())
            if description in seen:
                continue
            seen.add(description)
            company = row["Company Name"].split("\n")[0]
            first = rng.choice(openers).format(name=rng.choice(("there", "Sam", "Alex", "Priya")),
                                               title=row["Job Title"], company=company, location=row["Location"])
            sentences = re.split(r"(?<=[.!?])\s+", description)
            detail = " ".join(sentences[rng.randint(0, max(0, len(sentences) - 3)):][:2])[:400]
            turns = [("R", first), ("R", detail), ("C", rng.choice(replies)),
                     ("R", f"Salary estimate is {row['Salary Estimate'].split('(')[0].strip()}. "
                           f"You can apply on our careers page and I'll flag your CV to the hiring manager.")]
            yield _conversation(row["index"], "glassdoor", turns, hash_split(f"glassdoor{row['index']}"), rng,
                                "legit_job")


LOADERS = {"dailydialog": load_dailydialog, "personachat": load_personachat, "empathetic": load_empathetic,
           "meld": load_meld, "persuasion": load_persuasion, "sms": load_sms_threads, "job_ads": load_job_ads}


def load_real_benign(root: str | Path, *, seed: int = 13) -> list[Conversation]:
    """All trainable real benign conversations (DailyDialog test and eval_only/ excluded)."""
    root = Path(root)
    out: list[Conversation] = []
    for name, loader in LOADERS.items():
        out.extend(loader(root, random.Random(f"{seed}-{name}")))
    return out


def load_dailydialog_test(root: str | Path, *, seed: int = 13) -> list[Conversation]:
    """DailyDialog's official test split: evaluation only, never training or thresholds."""
    return list(load_dailydialog(Path(root), random.Random(f"{seed}-ddtest"), splits=("test",)))


def load_eval_only(root: str | Path, *, seed: int = 13) -> list[Conversation]:
    """Topical-Chat and ESConv-failed from ``eval_only/``: false-positive measurement only."""
    root = Path(root) / "eval_only"
    rng = random.Random(f"{seed}-evalonly")
    out: list[Conversation] = []
    for file in sorted((root / "topical_chat").glob("*.json.gz")):
        with gzip.open(file, "rt", encoding="utf-8") as f:
            for cid, conv in json.load(f).items():
                out.append(_conversation(cid, "topical_chat", [(t["agent"], t["message"]) for t in conv["content"]],
                                         "test", rng, "topical"))
    for n, conv in enumerate(json.load(open(root / "esconv_failed" / "FailedESConv.json", encoding="utf-8"))):
        out.append(_conversation(str(n), "esconv", [(t["speaker"], t["content"].strip()) for t in conv["dialog"]],
                                 "test", rng, "emotional_support"))
    return out
