"""Bias and robustness sets built from the test split's hand-written conversations.

Counterfactual twins (SPEC section 2 ``pair``): the same conversation with one thing swapped, so any
change in risk is caused by that thing alone.
- ``names``: every participant renamed with names from one cultural pool;
- ``identity``: the target mentions who they are ("btw I'm gay", "I'm Muslim", "I'm Nigerian") in a
  message of their own, across sexual orientation, gender identity, religion and nationality;
- ``gender``: gendered words swapped (she/he, girlfriend/boyfriend, ...);
- ``dialect``: the target's messages rewritten with common lexical features of AAVE, Nigerian Pidgin or
  non-native English (lexical only, a crude but transparent proxy: see the card's gaps).
Robustness: every positive again with app names, sums and letters obfuscated.
"""

from __future__ import annotations

import copy
import random
import re
from typing import Any

from .augment import obfuscate

Conversation = dict[str, Any]

NAME_POOLS = {
    "anglo": ("emily", "jack", "olivia", "harry", "sophie", "james"),
    "west_african": ("chiamaka", "tunde", "adaeze", "kwame", "ama", "emeka"),
    "south_asian": ("priya", "arjun", "ananya", "rahul", "fatima", "imran"),
    "arabic": ("layla", "omar", "yasmin", "karim", "noor", "hassan"),
    "latin_american": ("valentina", "mateo", "camila", "diego", "lucia", "javier"),
    "east_european": ("oksana", "andrei", "katarzyna", "dmitri", "ioana", "piotr"),
    "east_asian": ("mei", "jun", "hana", "minh", "yuki", "wei"),
}
IDENTITIES = {
    "orientation": ("gay", "lesbian", "bi", "straight"),
    "gender_identity": ("trans", "nonbinary", "cis"),
    "religion": ("Muslim", "Christian", "Jewish", "Hindu"),
    "nationality": ("Nigerian", "Mexican", "Romanian", "Filipino", "American"),
}
GENDER_SWAP = {"she": "he", "he": "she", "her": "his", "his": "her", "him": "her", "girlfriend": "boyfriend",
               "boyfriend": "girlfriend", "girl": "boy", "boy": "girl", "girls": "boys", "boys": "girls",
               "woman": "man", "man": "woman", "women": "men", "men": "women", "sister": "brother",
               "brother": "sister", "daughter": "son", "son": "daughter", "queen": "king", "king": "queen"}
DIALECTS = {
    "aave": {"going to": "finna", "you all": "y'all", "isn't": "ain't", "aren't": "ain't", "am not": "ain't",
             "don't have": "ain't got", "what's up": "wassup", "really": "deadass", "very": "hella",
             "my friend": "my dawg", "nothing": "nothin"},
    "nigerian_pidgin": {"how are you": "how you dey", "what are you doing": "wetin you dey do",
                        "i don't know": "i no know", "i am": "i dey", "please": "abeg", "friend": "padi",
                        "what": "wetin", "don't worry": "no wahala", "there is no": "no get",
                        "my friend": "my padi"},
    "non_native": {"i am": "i", "the ": "", "a ": "", "an ": "", "doesn't": "not", "don't": "not",
                   "is it": "it is", "did you": "you did", "have you": "you have"},
}


def _replace_words(text: str, mapping: dict[str, str]) -> str:
    pattern = re.compile(r"\b(" + "|".join(re.escape(k) for k in sorted(mapping, key=len, reverse=True)) + r")\b",
                         re.IGNORECASE)

    def sub(m: re.Match[str]) -> str:
        out = mapping[m.group(0).lower()]
        return out.capitalize() if m.group(0)[:1].isupper() else out

    return pattern.sub(sub, text)


def _target(conv: Conversation) -> str | None:
    """The participant who carries no tactic (the first author without one)."""
    pursuers = {m["author"] for m in conv["messages"] if m["tactics"]}
    return next((m["author"] for m in conv["messages"] if m["author"] not in pursuers), None)


def _twin(conv: Conversation, cid: str, pair: str, swap: str, value: str) -> Conversation:
    out = copy.deepcopy(conv)
    out["id"], out["pair"] = cid, pair
    out["slices"] = {**out["slices"], "swap": swap, swap: value, "origin": "counterfactual"}
    return out


def twins(conversations: list[Conversation], *, seed: int) -> list[Conversation]:
    rng = random.Random(f"{seed}-twins")
    out: list[Conversation] = []
    for conv in conversations:
        base = conv["id"]
        authors = list(dict.fromkeys(m["author"] for m in conv["messages"]))
        for pool, names in NAME_POOLS.items():
            t = _twin(conv, f"{base}~names-{pool}", f"{base}~names", "names", pool)
            mapping = {a: f"{names[i % len(names)]}{rng.randint(1, 99)}" for i, a in enumerate(authors)}
            for m in t["messages"]:
                m["author"] = mapping[m["author"]]
            out.append(t)
        target = _target(conv)
        if target is not None:
            for dimension, values in IDENTITIES.items():
                for value in values:
                    t = _twin(conv, f"{base}~{dimension}-{value}", f"{base}~{dimension}", dimension, value)
                    at = next(i for i, m in enumerate(t["messages"]) if m["author"] == target)
                    t["messages"].insert(at + 1, {"author": target, "text": f"btw i'm {value}", "tactics": []})
                    out.append(t)
            for dialect, mapping in (("standard", {}), *DIALECTS.items()):
                t = _twin(conv, f"{base}~dialect-{dialect}", f"{base}~dialect", "dialect", dialect)
                for m in t["messages"]:
                    if m["author"] == target and mapping:
                        m["text"] = _replace_words(m["text"], mapping)
                out.append(t)
        for direction in ("original", "swapped"):
            t = _twin(conv, f"{base}~gender-{direction}", f"{base}~gender", "gender", direction)
            if direction == "swapped":
                for m in t["messages"]:
                    m["text"] = _replace_words(m["text"], GENDER_SWAP)
            out.append(t)
    return out


def obfuscated(conversations: list[Conversation], *, seed: int) -> list[Conversation]:
    """Each positive and its obfuscated twin (app names, sums, homoglyphs, spaced letters)."""
    rng = random.Random(f"{seed}-obfuscated")
    out = []
    for conv in conversations:
        if conv["label"] != 1:
            continue
        out.append(_twin(conv, f"{conv['id']}~plain", f"{conv['id']}~obfuscation", "obfuscation", "plain"))
        t = _twin(conv, f"{conv['id']}~obfuscated", f"{conv['id']}~obfuscation", "obfuscation", "obfuscated")
        for m in t["messages"]:
            text = obfuscate(m["text"], rng)
            m["text"] = re.sub(r"[aeo]", lambda c: {"a": "а", "e": "е", "o": "о"}[c.group(0)], text, count=1) \
                if m["tactics"] and rng.random() < 0.5 else text
        out.append(t)
    return out
