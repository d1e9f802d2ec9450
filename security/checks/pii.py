"""Personal data: email, phone (international), payment card (Luhn), IBAN (mod 97),
US SSN, IP address, street address and person name, with exact character spans.

Structured types are validated (checksums, ranges) to keep precision high;
addresses and names are heuristic (offline, no NER model): an address needs a
house number, a street name and a street suffix; a name needs an honorific or
a "my name is" / "Name:" cue followed by capitalised words.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from pydantic import Field

from security.checks import CheckParams, Detection

NAME = "pii"
ALL_TYPES = ["email", "phone", "card", "iban", "ssn", "ip", "address", "name"]


class Params(CheckParams):
    types: list[str] = Field(default_factory=lambda: list(ALL_TYPES))


EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}\b")
PHONE = re.compile(
    r"(?<![\w+])(?<!\d[ -])(?:\+\d{1,3}[\s.-]?(?:\(\d{1,4}\)[\s.-]?)?\d{1,4}(?:[\s.-]?\d{2,4}){1,4}"
    r"|\(\d{3}\)\s?\d{3}[\s.-]\d{4}|\b\d{3}[.-]\d{3}[.-]\d{4}\b"
    r"|\b0\d{1,4}[\s-]\d{3,4}[\s-]?\d{3,4}\b)(?![\w-])(?![ -]\d)"
)
CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b")
SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\d|\.\d)")
IPV6 = re.compile(
    r"(?<![\w:])(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{1,4}){0,6}(?![\w:])"
)
VERSION_CUE = re.compile(r"(?i)(?:version|release|v\.?)\s*$")
STREET = re.compile(
    r"\b\d{1,5}[A-Za-z]?\s+(?:[A-Z][a-z]+\.?\s+){1,4}"
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Terrace|Way|Square|Sq|Parkway|Pkwy|Highway|Hwy|Close|Crescent)\b\.?"
    r"(?:,?\s+(?:Apt|Suite|Unit|Flat)\.?\s*\w+)?"
)
PERSON = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Miss|Dr|Prof|Sir|Madam)\.?\s+|\b(?:[Mm]y name is|I am called|[Nn]ame:|[Cc]ustomer:|[Pp]atient:|[Ee]mployee:|[Cc]ontact:)\s+)"
    r"((?:[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?)(?:\s+[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?){0,2})"
)


# Numbers worth a closer look: a digit run with separators. Phone, card, SSN and IPv4
# patterns only run around these (one fast scan instead of four over the whole text).
NUMERIC_RUN = re.compile(r"\d[\d .()/:-]{5,}\d")
IBAN_HINT = re.compile(r"[A-Z]{2}\d{2}")
STREET_GATE = tuple(
    f" {suffix}"
    for suffix in [
        "Street",
        "St",
        "Avenue",
        "Ave",
        "Road",
        "Rd",
        "Boulevard",
        "Blvd",
        "Lane",
        "Ln",
        "Drive",
        "Dr",
        "Court",
        "Ct",
        "Place",
        "Pl",
        "Terrace",
        "Way",
        "Square",
        "Sq",
        "Parkway",
        "Pkwy",
        "Highway",
        "Hwy",
        "Close",
        "Crescent",
    ]
)
NAME_GATE = (
    "Mr",
    "Ms",
    "Miss",
    "Dr",
    "Prof",
    "Sir",
    "Madam",
    "name",
    "Name",
    "called",
    "ustomer:",
    "atient:",
    "mployee:",
    "ontact:",
)


def numeric_runs(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in NUMERIC_RUN.finditer(text)]


def numeric_matches(
    pattern: re.Pattern[str], text: str, runs: list[tuple[int, int]]
) -> list[re.Match[str]]:
    seen: dict[tuple[int, int], re.Match[str]] = {}
    for start, end in runs:
        for m in pattern.finditer(text, max(0, start - 2), min(len(text), end + 1)):
            seen.setdefault(m.span(), m)
    return list(seen.values())


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(value: str) -> bool:
    compact = value.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    numeric = "".join(str(int(ch, 36)) for ch in moved)
    return int(numeric) % 97 == 1


def _emails(text: str, runs: list[tuple[int, int]]) -> list[Detection]:
    if "@" not in text:
        return []
    return [Detection(NAME, "email", 0.99, m.start(), m.end()) for m in EMAIL.finditer(text)]


def _phones(text: str, runs: list[tuple[int, int]]) -> list[Detection]:
    found = []
    for m in numeric_matches(PHONE, text, runs):
        digits = re.sub(r"\D", "", m.group(0))
        if 8 <= len(digits) <= 15 and not IPV4.fullmatch(m.group(0)):
            found.append(Detection(NAME, "phone", 0.9, m.start(), m.end()))
    return found


def _cards(text: str, runs: list[tuple[int, int]]) -> list[Detection]:
    found = []
    for m in numeric_matches(CARD, text, runs):
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_ok(digits):
            found.append(Detection(NAME, "card", 0.98, m.start(), m.end()))
    return found


def _ibans(text: str, runs: list[tuple[int, int]]) -> list[Detection]:
    found: list[Detection] = []
    if not IBAN_HINT.search(text):
        return found
    for m in IBAN.finditer(text):
        value = m.group(0).rstrip()
        if iban_ok(value):
            found.append(Detection(NAME, "iban", 0.99, m.start(), m.start() + len(value)))
    return found


def _ssns(text: str, runs: list[tuple[int, int]]) -> list[Detection]:
    return [
        Detection(NAME, "ssn", 0.95, m.start(), m.end()) for m in numeric_matches(SSN, text, runs)
    ]


def _ips(text: str, runs: list[tuple[int, int]]) -> list[Detection]:
    found = []
    candidates = numeric_matches(IPV4, text, runs)
    if "::" in text or text.count(":") >= 3:
        candidates.extend(IPV6.finditer(text))
    for m in candidates:
        try:
            ipaddress.ip_address(m.group(0))
        except ValueError:
            continue
        if VERSION_CUE.search(text, max(0, m.start() - 12), m.start()):
            continue
        found.append(Detection(NAME, "ip", 0.95, m.start(), m.end()))
    return found


def _addresses(text: str, runs: list[tuple[int, int]]) -> list[Detection]:
    if not any(gate in text for gate in STREET_GATE):
        return []
    return [Detection(NAME, "address", 0.8, m.start(), m.end()) for m in STREET.finditer(text)]


def _names(text: str, runs: list[tuple[int, int]]) -> list[Detection]:
    if not any(gate in text for gate in NAME_GATE):
        return []
    return [Detection(NAME, "name", 0.7, m.start(1), m.end(1)) for m in PERSON.finditer(text)]


FINDERS: dict[str, Callable[[str, list[tuple[int, int]]], list[Detection]]] = {
    "email": _emails,
    "phone": _phones,
    "card": _cards,
    "iban": _ibans,
    "ssn": _ssns,
    "ip": _ips,
    "address": _addresses,
    "name": _names,
}
# When spans overlap, the more specific type wins (a card number is not also a phone).
PRECEDENCE = {
    label: rank
    for rank, label in enumerate(["email", "iban", "card", "ssn", "ip", "phone", "address", "name"])
}


def detect(text: str, params: Params) -> list[Detection]:
    found: list[Detection] = []
    runs = numeric_runs(text)
    for label in params.types:
        finder = FINDERS.get(label)
        if finder is not None:
            found.extend(finder(text, runs))
    return drop_overlaps(found)


def drop_overlaps(found: list[Detection]) -> list[Detection]:
    kept: list[Detection] = []
    for d in sorted(found, key=lambda d: (PRECEDENCE.get(d.label, 99), d.start)):
        if all(d.end <= k.start or d.start >= k.end for k in kept):
            kept.append(d)
    return sorted(kept, key=lambda d: d.start)
