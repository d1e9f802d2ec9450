import pytest

from security.checks import pii
from security.checks.pii import iban_ok, luhn_ok

ALL = pii.Params()


def found(text: str) -> list[tuple[str, str]]:
    return [(d.label, text[d.start : d.end]) for d in pii.detect(text, ALL)]


@pytest.mark.parametrize(
    ("text", "label", "value"),
    [
        ("write to jane.doe+news@example.co.uk today", "email", "jane.doe+news@example.co.uk"),
        ("call +44 20 7946 0958 after lunch", "phone", "+44 20 7946 0958"),
        ("my number is (415) 555-2671", "phone", "(415) 555-2671"),
        ("ring +49 30 901820", "phone", "+49 30 901820"),
        ("card 4111 1111 1111 1111 exp 12/29", "card", "4111 1111 1111 1111"),
        ("pay from DE89 3704 0044 0532 0130 00 please", "iban", "DE89 3704 0044 0532 0130 00"),
        ("IBAN GB82WEST12345698765432", "iban", "GB82WEST12345698765432"),
        ("SSN 123-45-6789 on file", "ssn", "123-45-6789"),
        ("the server at 192.168.10.24 is down", "ip", "192.168.10.24"),
        ("ipv6 2001:db8::8a2e:370:7334 too", "ip", "2001:db8::8a2e:370:7334"),
        ("ship to 221B Baker Street, London", "address", "221B Baker Street"),
        ("Dear Mr. John Smith, thanks", "name", "John Smith"),
        ("My name is Amelia Earhart and I fly.", "name", "Amelia Earhart"),
    ],
)
def test_it_finds_each_type_with_its_exact_span(text, label, value):
    assert (label, value) in found(text)


def test_checksums_reject_near_misses():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("DE89370400440532013000") and not iban_ok("DE89370400440532013001")
    assert not found("order 4111 1111 1111 1112 shipped")
    assert not found("ref DE89 3704 0044 0532 0130 01")


@pytest.mark.parametrize(
    "text",
    [
        "The meeting is at 10:30 on 2024-05-01.",
        "Version 1.2.3.4 of the library fixed it.",
        "We sold 1,234,567 units in 2023.",
        "Invalid SSN 000-12-3456 is not real.",
        "Call me tomorrow.",
    ],
)
def test_ordinary_numbers_are_not_pii(text):
    assert not found(text)


def test_only_the_chosen_types_are_reported():
    params = pii.Params(types=["email"])
    assert [d.label for d in pii.detect("a@b.io 123-45-6789", params)] == ["email"]
