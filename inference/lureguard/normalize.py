"""Undo the obfuscation people use to slip app names and keywords past filters.

"wh@ts app", "t e l e g r a m", "sn4p", a Cyrillic "а" inside a Latin word, zero-width joiners:
the model should read all of them as the plain word. Runs before tokenisation, at training and
at run time alike, so both see the same text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Characters that render as nothing; removing them is lossless for meaning.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u2061\u2062\u2063\u2064"))

# Cyrillic and Greek letters that look Latin; applied only inside words that also hold Latin
# letters, so real Russian, Ukrainian or Greek text is left alone.
_HOMOGLYPHS = str.maketrans({
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "х": "x", "у": "y", "і": "i", "ј": "j",
    "ѕ": "s", "һ": "h", "ԁ": "d", "ԛ": "q", "ԝ": "w", "к": "k", "м": "m", "т": "t", "в": "b", "н": "h",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "Х": "X", "У": "Y", "І": "I",
    "α": "a", "ο": "o", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ρ": "p", "τ": "t", "υ": "u",
    "Α": "A", "Β": "B", "Ε": "E", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T",
})
_MIXED_WORD = re.compile(r"\w*[A-Za-z]\w*")

# Words worth recovering from obfuscation: private channels and the documents of travel.
KEYWORDS = ("whatsapp", "telegram", "snapchat", "snap", "signal", "instagram", "insta", "discord",
            "wickr", "viber", "wechat", "skype", "kik", "cashapp", "paypal", "venmo", "passport")
_LEET = {"a": "a@4", "e": "e3", "i": "i1!|", "l": "l1|", "o": "o0", "s": "s5$", "t": "t7+", "g": "g9",
         "b": "b8", "z": "z2"}
_SEPARATOR = r"[\s.\-_*|/\\,]{1,2}"


# Spellings that split a name in two; the letter-by-letter forms are covered by the pattern.
ALIASES = {"whats app": "whatsapp", "what's app": "whatsapp", "whatsap": "whatsapp", "watsapp": "whatsapp",
           "wats app": "whatsapp", "whatapp": "whatsapp", "tele gram": "telegram", "telegramm": "telegram",
           "snap chat": "snapchat", "insta gram": "instagram", "cash app": "cashapp"}


@lru_cache(maxsize=None)
def _keyword_pattern() -> re.Pattern[str]:
    """Each keyword written whole with look-alike characters ("sn4p"), or spelt out with a
    separator between every letter ("t e l e g r a m", "s.n.a.p"). Requiring every gap keeps
    ordinary text such as "it's nap time" from collapsing into a keyword."""
    def leet(word: str) -> list[str]:
        return [r"\s*" if ch == " " else "[" + re.escape(_LEET.get(ch, ch)) + "]" for ch in word]

    alternatives = [f"(?P<alias{i}>" + "".join(leet(alias)) + ")" for i, alias in enumerate(ALIASES)]
    for word in sorted(KEYWORDS, key=len, reverse=True):
        parts = leet(word)
        alternatives.append(f"(?P<{word}>" + "".join(parts) + ")")
        alternatives.append(f"(?P<{word}_spaced>" + _SEPARATOR.join(parts) + ")")
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(alternatives) + r")(?![a-z0-9])", re.IGNORECASE)


_ALIAS_TARGETS = list(ALIASES.values())


def _canonical(match: re.Match[str]) -> str:
    group = match.lastgroup or ""
    word = _ALIAS_TARGETS[int(group[5:])] if group.startswith("alias") else group.removesuffix("_spaced")
    # A plain spelling keeps its case; only rewritten spellings become the keyword.
    return match.group(0) if match.group(0).lower() == word else word


def normalize_text(text: str) -> str:
    """The text as the model should read it: NFKC, no invisible characters, de-obfuscated keywords."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    if any(ord(ch) > 0x36F for ch in text):
        text = _MIXED_WORD.sub(lambda m: m.group(0).translate(_HOMOGLYPHS), text)
    return _keyword_pattern().sub(_canonical, text)
