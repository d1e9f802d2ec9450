"""Text normalisation for the injection detector: undo the usual disguises.

`views(text)` returns the texts the rules and the classifier read: the text
folded (Unicode compatibility forms, confusable letters, invisible and bidi
characters removed, letters split by spaces or punctuation joined), its
leetspeak reading, and whatever base64, hex or rot13 payloads decode to.
Pure functions; no Django.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata

# Zero-width, joiners, soft hyphen, word joiner, BOM, bidi controls and marks, tag characters.
INVISIBLE = dict.fromkeys(
    [
        0x00AD,
        0x034F,
        0x061C,
        0x115F,
        0x1160,
        0x180E,
        *range(0x200B, 0x2010),
        *range(0x202A, 0x202F),
        *range(0x2060, 0x2070),
        0xFEFF,
        *range(0xE0000, 0xE0080),
    ]
)

# Letters that look Latin but are not (Cyrillic, Greek), folded to their Latin twin.
CONFUSABLES = str.maketrans(
    {
        "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i",
        "ј": "j", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l", "к": "k",
        "м": "m", "н": "h", "т": "t", "в": "b", "А": "a", "В": "b", "Е": "e", "К": "k",
        "М": "m", "Н": "h", "О": "o", "Р": "p", "С": "c", "Т": "t", "Х": "x", "У": "y",
        "α": "a", "ε": "e", "ι": "i", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "ν": "v",
        "κ": "k", "Α": "a", "Β": "b", "Ε": "e", "Ι": "i", "Κ": "k", "Μ": "m", "Ν": "n",
        "Ο": "o", "Ρ": "p", "Τ": "t", "Χ": "x", "Υ": "y", "Ζ": "z",
    }
)  # fmt: skip

LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "|": "l"})  # fmt: skip

# "i g n o r e", "i.g.n.o.r.e", "i-g-n-o-r-e": four or more single letters joined by one separator.
SPLIT_LETTERS = re.compile(r"\b(?:[A-Za-z][ .\-_*/|+]){3,}[A-Za-z]\b")
# A leet character inside a word ("1gn0r3") or starting one ("3xample"); written to start
# with the rare character class, which keeps the scan fast.
LEET_WORD = re.compile(
    r"[013457@$!|](?:(?<=[a-z].)(?=[a-z]|[013457@$!|]+[a-z])|(?<![a-z0-9].)(?=[a-z]{2}))"
)
SPLIT_HINT = re.compile(r"[ .\-_*/|+][a-z][ .\-_*/|+][a-z][ .\-_*/|+]")
HEX_HINT = re.compile(r"[4-7][0-9a-fA-F][ :]?[4-7][0-9a-fA-F][ :]?[4-7][0-9a-fA-F]")
BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{24,}={0,2}")
HEX_RUN = re.compile(r"\b(?:[0-9a-fA-F]{2}[ :]?){12,}\b")
ROT13_HINT = re.compile(r"\b(?:rot-?13|ebg13|rot 13)\b", re.I)
ASCII_OR_EXTENDED = re.compile(r"[^\x00-\x7f]")


def fold(text: str) -> str:
    """Compatibility-fold, strip invisibles, map confusables, join split letters; lowercase."""
    if ASCII_OR_EXTENDED.search(text):
        text = unicodedata.normalize("NFKC", text).lower().translate(INVISIBLE)
        text = text.translate(CONFUSABLES)
    else:
        text = text.lower()
    if SPLIT_HINT.search(text) and SPLIT_LETTERS.search(text):
        text = SPLIT_LETTERS.sub(lambda m: re.sub(r"[ .\-_*/|+]", "", m.group(0)), text)
    return text


def _printable(data: bytes) -> str | None:
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    letters = sum(ch.isalpha() or ch == " " for ch in decoded)
    return decoded if decoded and letters / len(decoded) > 0.7 else None


def decoded_payloads(text: str) -> list[str]:
    """Text hidden in base64 or hex runs, and the rot13 reading when rot13 is mentioned."""
    found = []
    for match in BASE64_RUN.finditer(text):
        chunk = match.group(0)
        try:
            data = base64.b64decode(chunk + "=" * (-len(chunk) % 4), validate=False)
        except (binascii.Error, ValueError):
            continue
        plain = _printable(data)
        if plain:
            found.append(plain)
    for match in HEX_RUN.finditer(text) if HEX_HINT.search(text) else ():
        try:
            data = bytes.fromhex(re.sub(r"[ :]", "", match.group(0)))
        except ValueError:
            continue
        plain = _printable(data)
        if plain:
            found.append(plain)
    if ROT13_HINT.search(text):
        found.append(codecs.decode(text, "rot13"))
    return found


def views(text: str) -> list[str]:
    """Every reading of the text the injection rules should see (folded, lowercase)."""
    folded = fold(text)
    out = [folded]
    if LEET_WORD.search(folded):
        leet = folded.translate(LEET)
        if leet != folded:
            out.append(leet)
    out.extend(fold(payload) for payload in decoded_payloads(text))
    return out
