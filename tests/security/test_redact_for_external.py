"""What the gateway sends to Claude on its own account is redacted by the security detectors."""

from __future__ import annotations

from intelligence.redaction import redact_for_external as seam
from security.redaction import redact_for_external


def test_pii_and_secrets_are_redacted_and_ordinary_text_kept() -> None:
    text = "Mail jane.doe@example.com the key sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z today"
    out = redact_for_external(text)
    assert "jane.doe@example.com" not in out and "sk-proj-" not in out
    assert out.startswith("Mail [REDACTED:email] the key [REDACTED:")
    assert out.endswith(" today")
    assert redact_for_external("Summarise this article about tides.") == (
        "Summarise this article about tides."
    )


def test_the_intelligence_seam_uses_the_security_redactor() -> None:
    assert seam("call +44 20 7946 0958 now") == redact_for_external("call +44 20 7946 0958 now")
    assert "7946" not in seam("call +44 20 7946 0958 now")
