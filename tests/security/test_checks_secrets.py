import pytest

from security.checks import secrets

ALL = secrets.Params()


def found(text: str) -> list[tuple[str, str]]:
    return [(d.label, text[d.start : d.end]) for d in secrets.detect(text, ALL)]


KEYS = [
    ("openai_key", "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z_Ab3dEf6hIj9kLm2nOp5q"),
    ("openai_key", "sk-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb3dEf6h"),
    (
        "anthropic_key",
        "sk-ant-api03-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAA",
    ),
    ("aws_access_key", "AKIAIOSFODNN7EXAMPLE"),
    ("google_api_key", "AIzaSyA-1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"),
    ("github_token", "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"),
    ("gitlab_token", "glpat-" + "xYz12AbC34dEf56GhI78"),
    ("slack_token", "xoxb-" + "1234567890-0987654321-AbCdEfGhIjKlMnOp"),
    ("stripe_key", "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"),
    ("twilio_key", "SK" + "0123456789abcdef0123456789abcdef"),
    (
        "jwt",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ),
    ("huggingface_token", "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz01234567"),
]


@pytest.mark.parametrize(("label", "key"), KEYS)
def test_it_finds_provider_keys_with_their_exact_span(label, key):
    assert (label, key) in found(f"here is my key {key} thanks")


def test_it_finds_private_key_blocks_and_connection_string_passwords():
    block = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1c2\n-----END RSA PRIVATE KEY-----"
    assert ("private_key", block) in found(f"key:\n{block}\n")
    assert ("connection_string_password", "s3cr3t!Pw") in found(
        "DATABASE_URL=postgres://app:s3cr3t!Pw@db.internal:5432/prod"
    )


def test_it_finds_high_entropy_values_assigned_to_secret_names():
    assert ("generic_secret", "q8Zr2Lk9Vx4Tn7Wp") in found('client_secret = "q8Zr2Lk9Vx4Tn7Wp"')


@pytest.mark.parametrize(
    "text",
    [
        "Set the password = os.environ['DB_PASSWORD'] in settings.",
        "api_key = <YOUR_API_KEY>",
        "Your token: expires tomorrow, please renew it.",
        "The secret to good bread is patience and a hot oven.",
        "Use sk-learn style naming for the estimator.",
        "password: changeme",
    ],
)
def test_ordinary_text_and_placeholders_are_not_secrets(text):
    assert not found(text)
