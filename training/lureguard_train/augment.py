"""Variation for hand-written conversations: new names, chat noise, obfuscation, small-talk openers.

Every transform is applied to positives and negatives alike, with the same probabilities: a typo,
an emoji or "wh@ts app" must never become a cue for the label. Each takes an explicit
``random.Random`` so that the corpus build is reproducible byte for byte.
"""

from __future__ import annotations

import copy
import random
import re
from typing import Any

Conversation = dict[str, Any]

FIRST_NAMES = (
    "lena", "amara", "sofia", "ioana", "kasia", "maria", "jasmine", "aaliyah", "mei", "anh", "fatima",
    "chloe", "zanele", "olga", "ana", "lucia", "gabriela", "priya", "ayesha", "nkechi", "jade", "emma",
    "daniel", "mark", "kwame", "tomek", "andrei", "carlos", "diego", "luis", "omar", "yusuf", "ivan",
    "jay", "tyler", "marcus", "rafael", "bogdan", "kofi", "minh", "arjun", "liam", "noah", "sam", "alex",
    "rio", "kai", "jordan", "taylor", "robin", "sasha", "nikita", "andrea", "mika", "joy", "grace",
)
HANDLE_STYLES = ("{n}", "{n}_{d}", "{n}.{s}", "{n}{d}", "x{n}x", "{n}_official", "the.{n}", "{n}{s}{d}",
                 "{N}", "{N} {S}", "@{n}{d}", "{n}__{s}")
SURNAMES = ("k", "m", "ro", "vz", "lee", "diaz", "popescu", "nowak", "santos", "okafor", "nguyen", "reyes",
            "smith", "ali", "kim", "silva", "petrov", "mensah", "cruz", "garcia")

ABBREVIATIONS = {"you": "u", "your": "ur", "you're": "ur", "are": "r", "please": "pls", "because": "bc",
                 "tonight": "tonite", "okay": "ok", "really": "rly", "thanks": "thx", "people": "ppl",
                 "what": "wat", "don't": "dont", "i'm": "im", "can't": "cant", "though": "tho",
                 "to be honest": "tbh", "right now": "rn", "going to": "gonna", "want to": "wanna"}
EMOJI = ("😂", "😅", "🙂", "😍", "🥺", "🙏", "😘", "👀", "🔥", "💯", "❤️", "😊", "😭", "🤷", "👍", "✨")
APP_SPELLINGS = {
    "whatsapp": ("wh@tsapp", "whats app", "w h a t s a p p", "watsapp", "WhatsApp", "whatsap", "wa"),
    "telegram": ("t e l e g r a m", "tg", "telegrm", "tele gram", "T3legram", "telegramm"),
    "snapchat": ("snap", "sn@pchat", "s.n.a.p", "snapchat", "snp"),
    "snap": ("sn@p", "s n a p", "snp", "sn4p"),
    "instagram": ("insta", "1nsta", "IG", "the gram", "instagrm"),
    "signal": ("s1gnal", "s i g n a l"),
    "kik": ("k i k", "k1k"),
    "discord": ("disc", "d1scord", "dc"),
}
_APP_RE = re.compile(r"\b(" + "|".join(sorted(APP_SPELLINGS, key=len, reverse=True)) + r")\b", re.IGNORECASE)
_MONEY_RE = re.compile(r"(?<![\w.])(\d{1,3})[,.]?000(?!\d)\s*(euros?|eur|dollars?|usd|pounds?|gbp|€|\$|£)?",
                       re.IGNORECASE)


def new_handle(rng: random.Random, taken: set[str]) -> str:
    for _ in range(50):
        n = rng.choice(FIRST_NAMES)
        handle = rng.choice(HANDLE_STYLES).format(
            n=n, N=n.capitalize(), d=rng.randint(1, 99), s=rng.choice(SURNAMES), S=rng.choice(SURNAMES).capitalize())
        if handle not in taken:
            return handle
    return f"user{rng.randint(1000, 9999)}"


def rename_authors(conv: Conversation, rng: random.Random) -> Conversation:
    """Give every participant a new, consistent handle (names must never carry the label)."""
    conv = copy.deepcopy(conv)
    mapping: dict[str, str] = {}
    for message in conv["messages"]:
        if message["author"] not in mapping:
            mapping[message["author"]] = new_handle(rng, set(mapping.values()))
        message["author"] = mapping[message["author"]]
    return conv


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.random()
    if kind < 0.4:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind < 0.7:
        return word[:i] + word[i + 1:]
    return word[:i] + word[i] + word[i:]


def chat_noise(text: str, rng: random.Random, level: float) -> str:
    """Texting habits: abbreviations, typos, dropped capitals and punctuation, emoji."""
    if not text:
        return text
    lowered = text.lower() if rng.random() < level else text
    for phrase, short in ABBREVIATIONS.items():
        if rng.random() < level and phrase in lowered.lower():
            lowered = re.sub(rf"\b{re.escape(phrase)}\b", short, lowered, flags=re.IGNORECASE)
    words = [(_typo(w, rng) if rng.random() < 0.06 * level else w) for w in lowered.split(" ")]
    text = " ".join(words)
    if rng.random() < 0.5 * level:
        text = text.rstrip(".!")
    if rng.random() < 0.3 * level:
        text = text.replace("'", "")
    if rng.random() < 0.25 * level:
        text = f"{text} {rng.choice(EMOJI)}"
    return text


def obfuscate(text: str, rng: random.Random) -> str:
    """Spell app names and round sums of money the way people do to dodge filters."""
    text = _APP_RE.sub(lambda m: rng.choice(APP_SPELLINGS[m.group(1).lower()]), text)

    def money(m: re.Match[str]) -> str:
        unit = (m.group(2) or "").lower()
        symbol = {"€": "€", "$": "$", "£": "£"}.get(unit) or ("€" if unit.startswith("eur") else
                                                             "$" if unit.startswith(("dollar", "usd")) else
                                                             "£" if unit.startswith(("pound", "gbp")) else "")
        return rng.choice((f"{m.group(1)}k{symbol}", f"{symbol}{m.group(1)}k", f"{m.group(1)}k {unit}".strip(),
                           f"{m.group(1)} 000 {unit}".strip()))

    return _MONEY_RE.sub(money, text)


def with_opener(conv: Conversation, donor: Conversation, rng: random.Random) -> Conversation:
    """Prepend the first turns of a benign donor conversation, spoken by this conversation's people.

    Real chats rarely open with the tactic; this teaches the model that small talk first changes
    nothing, for positives and negatives alike. The donor's turns carry no tactics.
    """
    conv = copy.deepcopy(conv)
    authors = list(dict.fromkeys(m["author"] for m in conv["messages"]))
    donor_authors = list(dict.fromkeys(m["author"] for m in donor["messages"]))
    turns = donor["messages"][: rng.randint(2, 4)]
    mapping = {a: authors[i % len(authors)] for i, a in enumerate(donor_authors)}
    opener = [{"author": mapping[m["author"]], "text": m["text"], "tactics": []} for m in turns]
    conv["messages"] = opener + conv["messages"]
    return conv


def prefix(conv: Conversation, rng: random.Random) -> Conversation:
    """A conversation cut short: positives keep at least their first tactic message."""
    conv = copy.deepcopy(conv)
    messages = conv["messages"]
    tactic_at = [i for i, m in enumerate(messages) if m["tactics"]]
    low = (tactic_at[0] + 1) if tactic_at else min(3, len(messages))
    conv["messages"] = messages[: rng.randint(low, len(messages))]
    return conv


def variant(conv: Conversation, donors: list[Conversation], rng: random.Random) -> Conversation:
    """One random re-telling of a conversation; label-blind by construction."""
    out = rename_authors(conv, rng)
    if rng.random() < 0.35 and donors:
        out = with_opener(out, rng.choice(donors), rng)
    if rng.random() < 0.3:
        out = prefix(out, rng)
    level = rng.choice((0.0, 0.3, 0.6, 1.0))
    obfuscating = rng.random() < 0.35
    for message in out["messages"]:
        text = chat_noise(message["text"], rng, level)
        message["text"] = obfuscate(text, rng) if obfuscating else text
    return out
