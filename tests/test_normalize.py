"""Obfuscation normalisation: the model reads "wh@ts app" and "t e l e g r a m" as the plain words."""

import pytest

from lureguard.normalize import normalize_text


@pytest.mark.parametrize("obfuscated, plain", [
    ("add me on wh@ts app", "add me on whatsapp"),
    ("t e l e g r a m pls", "telegram pls"),
    ("s.n.a.p me", "snap me"),
    ("hit me on sn4p", "hit me on snap"),
    ("send ur passp0rt scan", "send ur passport scan"),
    ("k-i-k?", "kik?"),
    ("wh\u0430tsapp", "whatsapp"),          # Cyrillic a inside a Latin word
    ("hey\u200b \u200dyou", "hey you"),     # zero-width characters
    ("\uff54\uff45\uff4c\uff45\uff47\uff52\uff41\uff4d", "telegram"),  # full-width letters (NFKC)
])
def test_obfuscated_spellings_become_the_plain_word(obfuscated, plain):
    assert normalize_text(obfuscated) == plain


@pytest.mark.parametrize("text", [
    "it's nap time", "I signal left at the lights", "привет, как дела?", "snapshot of the report",
    "a kiki party", "Telegram", "insta",
])
def test_ordinary_text_is_left_alone(text):
    assert normalize_text(text) == text
