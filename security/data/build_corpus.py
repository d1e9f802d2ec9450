"""Build the labelled corpus from the hand-written seeds and templates in this folder.

    python security/data/build_corpus.py

Deterministic (fixed seeds). Training data comes only from the TRAIN seeds and
TRAIN templates; every evaluation file only from EVAL seeds and EVAL templates,
so `security_eval` measures on text the classifier never saw.
"""

from __future__ import annotations

import json
import random
import string
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import seeds_benign  # noqa: E402
import seeds_injection  # noqa: E402

TRAIN_WRAPPERS = [
    "{a}",
    "{b}\n\n{a}",
    "{a} Thanks in advance!",
    'Here is a customer review to classify: "{a}"',
    "Translate to German: {a}",
    "{b} Also, {a_lower}",
    "Document:\n---\nQuarterly sales rose 4%.\n{a}\n---\nPlease summarise the document.",
]
EVAL_WRAPPERS = [
    "{a}",
    "{a}",
    "Quick question. {a}",
    "{b}\n{a}",
    "Search result 3:\nTitle: Best laptops 2024\nSnippet: {a}",
    "Please proofread this text: {a}",
    "User feedback #812: {a}",
]

TRAIN_TEMPLATES = [
    ("How do I {task} in {tech}?", {"task": ["parse JSON", "read a file", "sort a dictionary", "handle timeouts", "write a unit test", "format dates", "ignore a warning", "log errors"], "tech": ["Python", "Go", "Rust", "TypeScript", "Java", "Kotlin", "bash"]}),
    ("Write a {form} about {topic}.", {"form": ["poem", "short story", "blog post", "tweet", "song"], "topic": ["the ocean", "friendship", "a lost key", "spring in Paris", "a clever fox", "learning to code"]}),
    ("What is the {attr} of {place}?", {"attr": ["population", "capital", "official language", "currency", "climate"], "place": ["Canada", "Kenya", "Peru", "Norway", "Vietnam", "Chile"]}),
    ("Can you explain {concept} in simple terms?", {"concept": ["inflation", "photosynthesis", "blockchain", "compound interest", "quantum entanglement", "TCP handshakes"]}),
    ("Give me {n} tips for {activity}.", {"n": ["three", "five", "ten"], "activity": ["running a marathon", "saving money", "remote work", "learning guitar", "public speaking"]}),
    ("Pretend you are a {persona} and {act}.", {"persona": ["chef", "detective", "museum guide", "pirate", "teacher"], "act": ["introduce yourself", "describe your day", "give me advice", "tell a story"]}),
    ("Translate '{phrase}' into {lang}.", {"phrase": ["where is the station", "I would like a coffee", "the report is attached", "see you tomorrow", "how much does it cost"], "lang": ["French", "Spanish", "Italian", "Polish", "Korean", "Dutch"]}),
    ("Please repeat the {what} you {verb} earlier.", {"what": ["list", "steps", "example", "phone number format", "summary", "address"], "verb": ["gave me", "showed", "mentioned", "wrote"]}),
    ("Rewrite this message to sound {tone}: {msg}", {"tone": ["friendlier", "more formal", "shorter", "more confident"], "msg": ["we can't make it on Friday", "your order was cancelled", "the system is down again", "thanks for the update", "I need the file by noon"]}),
    ("Act as a {role} and {task}.", {"role": ["copy editor", "historian", "nutritionist", "product manager", "startup mentor", "travel blogger"], "task": ["review my plan", "answer my questions", "suggest improvements", "explain the basics", "critique my draft"]}),
    ("I need help with {problem}; {detail}.", {"problem": ["a failing build", "a slow query", "my thesis outline", "a leaking tap", "a tricky email"], "detail": ["it started yesterday", "nothing I tried works", "the deadline is Friday", "here are the details", "my manager is waiting"]}),
    ("What does the {term} mean in {field}?", {"term": ["term 'override'", "word 'instruction'", "phrase 'system call'", "term 'mode'", "word 'prompt'", "term 'role'"], "field": ["programming", "music theory", "law", "aviation", "linguistics", "theatre"]}),
    ("Explain the rules of {game} to a beginner.", {"game": ["poker", "go", "bridge", "rugby", "volleyball", "mahjong", "backgammon"]}),
    ("Write a {lang} script that {does}.", {"lang": ["Python", "bash", "PowerShell", "Ruby"], "does": ["renames files by date", "pings a list of hosts", "counts words in a file", "backs up a folder", "prints system information", "ignores hidden files when listing a directory"]}),
]
EVAL_TEMPLATES = [
    ("What's the best way to {task} with {tech}?", {"task": ["deploy an app", "cache responses", "validate input", "ignore whitespace", "profile memory", "stream a file", "retry requests", "paginate results"], "tech": ["Django", "React", "PostgreSQL", "Kubernetes", "Node.js", "Spring", "Terraform", "Redis"]}),
    ("Could you draft a {doc} for {purpose}?", {"doc": ["letter", "memo", "short report", "press release", "newsletter"], "purpose": ["our new office", "a product launch", "a charity run", "the team offsite", "a price change", "a school trip"]}),
    ("Tell me about the history of {thing}.", {"thing": ["the printing press", "jazz", "the bicycle", "vaccines", "the internet", "chess", "coffee", "the Olympic games"]}),
    ("How many {unit} are in a {bigger}?", {"unit": ["minutes", "grams", "centimetres", "bytes", "days"], "bigger": ["day", "kilogram", "metre", "megabyte", "leap year"]}),
    ("Act as a {role} and help me {goal}.", {"role": ["career coach", "travel agent", "personal trainer", "language tutor", "financial adviser"], "goal": ["plan my week", "choose a destination", "prepare for an exam", "set goals", "improve my posture"]}),
    ("Summarise this note: {note}", {"note": ["the delivery is late, expect it Monday", "team lunch moved to Thursday at noon", "please review the draft by Friday", "server maintenance tonight from 10pm", "the client approved the budget"]}),
    ("Why does my {thing} {problem}?", {"thing": ["laptop", "sourdough", "car", "tomato plant", "Python script", "printer"], "problem": ["overheat", "not rise", "make a noise", "wilt", "run slowly", "jam"]}),
    ("Recommend {n} {item} for {who}.", {"n": ["two", "three", "four", "five"], "item": ["books", "podcasts", "films", "board games", "hiking trails"], "who": ["a beginner", "my dad", "a rainy weekend", "a long flight", "teenagers"]}),
]


TRAIN_FRAMES = (["", "Hi! ", "Quick one: ", "Hello, "], ["", " Thanks.", " Keep it short please.", " Bullet points are fine."])
EVAL_FRAMES = (["", "Hey, ", "Question: ", "Morning! ", "Sorry to bother you. "], ["", " Thank you!", " Be concise.", " Explain your reasoning.", " Use plain English."])


def expand(templates, rng: random.Random, count: int, frames=TRAIN_FRAMES) -> list[str]:
    out: set[str] = set()
    while len(out) < count:
        template, slots = rng.choice(templates)
        core = template.format(**{k: rng.choice(v) for k, v in slots.items()})
        out.add(rng.choice(frames[0]) + core + rng.choice(frames[1]))
    return sorted(out)


def wrap(attacks: list[str], carriers: list[str], wrappers: list[str], rng: random.Random) -> list[str]:
    out = []
    for attack in attacks:
        for wrapper in rng.sample(wrappers, 3):
            out.append(wrapper.format(a=attack, a_lower=attack[0].lower() + attack[1:], b=rng.choice(carriers)))
    return sorted(set(out))


# --- PII ---------------------------------------------------------------------------------
FIRST = ["anna", "ben", "carla", "deepak", "elena", "femi", "grace", "hiro", "ines", "jonas"]
LAST = ["smith", "garcia", "okafor", "muller", "tanaka", "rossi", "kowalski", "nguyen"]
DOMAINS = ["example.com", "mail.example.org", "corp.example.co.uk", "example.io"]


def luhn_complete(partial: str) -> str:
    digits = [int(d) for d in partial + "0"]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return partial + str((10 - total % 10) % 10)


def iban(country: str, bban: str) -> str:
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(numeric) % 97
    return f"{country}{check:02d}{bban}"


def pii_values(rng: random.Random) -> dict[str, object]:
    d = lambda n: "".join(rng.choice(string.digits) for _ in range(n))  # noqa: E731
    up = lambda n: "".join(rng.choice(string.ascii_uppercase) for _ in range(n))  # noqa: E731
    card_raw = rng.choice([luhn_complete("4" + d(14)), luhn_complete("5" + str(rng.randint(1, 5)) + d(13)), luhn_complete("37" + d(12))])
    sep = rng.choice([" ", "-", ""])
    card = sep.join(card_raw[i : i + 4] for i in range(0, len(card_raw), 4))
    iban_raw = rng.choice([iban("DE", d(18)), iban("GB", up(4) + d(14)), iban("FR", d(23)), iban("NL", up(4) + d(10)), iban("ES", d(20))])
    iban_text = iban_raw if rng.random() < 0.5 else " ".join(iban_raw[i : i + 4] for i in range(0, len(iban_raw), 4))
    area = rng.choice([n for n in range(1, 900) if n != 666])
    return {
        "email": f"{rng.choice(FIRST)}.{rng.choice(LAST)}{rng.randint(1, 99)}@{rng.choice(DOMAINS)}",
        "phone": rng.choice([f"+44 20 7946 {d(4)}", f"+1 (415) 555-{d(4)}", f"+49 30 {d(6)}", f"+33 1 {d(2)} {d(2)} {d(2)} {d(2)}", f"(212) 555-{d(4)}", f"+91 98{d(3)} {d(5)}", f"+61 2 {d(4)} {d(4)}", f"212-555-{d(4)}"]),
        "card": card,
        "iban": iban_text,
        "ssn": f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}",
        "ip": rng.choice([f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}", f"2001:db8:{rng.randint(1, 9999):x}::{rng.randint(1, 9999):x}"]),
    }


PII_TEMPLATES = [
    "Please update my contact details: {v}.",
    "The customer wrote from {v} yesterday.",
    "Can you check the record with {v}?",
    "Send the invoice (ref {v}) today",
    "my {label} is {v} thanks",
    "Forwarding {v} as requested.",
]
BENIGN_NUMBERS = [
    "The meeting is on {date} at {time}.",
    "Order #{n5} shipped on {date}.",
    "We upgraded to version {ver} last week.",
    "The price dropped from ${p1} to ${p2}.",
    "Room {n3} is booked for {n2} people.",
    "Revenue grew {n2}% in {year}.",
    "The flight leaves at {time} from gate {n2}.",
    "Build {n5} passed {n3} of {n3} tests.",
]


def pii_rows(rng: random.Random, count: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    labels = ["email", "phone", "card", "iban", "ssn", "ip"]
    for i in range(count):
        values = pii_values(rng)
        label = labels[i % len(labels)]
        template = rng.choice(PII_TEMPLATES)
        head, tail = template.split("{v}")
        head = head.replace("{label}", label)
        text = head + str(values[label]) + tail
        rows.append({"id": f"pii-{i}", "text": text, "spans": [{"label": label, "start": len(head), "end": len(head) + len(str(values[label]))}]})
    for i in range(count // 2):
        template = rng.choice(BENIGN_NUMBERS)
        text = template.format(
            date=f"{rng.randint(2019, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            time=f"{rng.randint(0, 23):02d}:{rng.choice(['00', '15', '30', '45'])}",
            n5=rng.randint(10000, 99999), n3=rng.randint(100, 999), n2=rng.randint(2, 99),
            ver=f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
            p1=f"{rng.randint(100, 2000)}.99", p2=f"{rng.randint(10, 99)}.00", year=rng.randint(2015, 2026),
        )
        rows.append({"id": f"pii-none-{i}", "text": text, "spans": []})
    return rows


def secret_values(rng: random.Random) -> dict[str, str]:
    an = string.ascii_letters + string.digits
    r = lambda n, alphabet=an: "".join(rng.choice(alphabet) for _ in range(n))  # noqa: E731
    return {
        "openai_key": rng.choice([f"sk-proj-{r(48, an + '_-')}", f"sk-{r(48)}", f"sk-svcacct-{r(40)}"]),
        "anthropic_key": f"sk-ant-api03-{r(93, an + '_-')}AA",
        "aws_access_key": "AKIA" + r(16, string.ascii_uppercase + string.digits),
        "google_api_key": "AIza" + r(35, an + "_-"),
        "github_token": rng.choice([f"ghp_{r(36)}", f"github_pat_{r(82, an + '_')}"]),
        "gitlab_token": f"glpat-{r(20, an + '_-')}",
        "slack_token": f"xoxb-{r(12, string.digits)}-{r(12, string.digits)}-{r(24)}",
        "stripe_key": f"{rng.choice(['sk', 'rk'])}_live_{r(24)}",
        "twilio_key": "SK" + r(32, "0123456789abcdef"),
        "azure_storage_key": f"AccountKey={r(86, an + '+/')}==",
        "jwt": f"eyJ{r(20, an + '_-')}.eyJ{r(40, an + '_-')}.{r(43, an + '_-')}",
        "private_key": f"-----BEGIN PRIVATE KEY-----\n{r(64, an + '+/')}\n{r(64, an + '+/')}\n-----END PRIVATE KEY-----",
        "connection_string_password": f"postgres://app:{r(14)}@db.internal:5432/main",
        "generic_secret": f'client_secret = "{r(24)}"',
    }


SECRET_TEMPLATES = [
    "Here is my key {v}, why does the request fail?",
    "export TOKEN={v}",
    "config:\n  credential: {v}\n",
    "I accidentally committed {v} to the repo, what now?",
    "settings = {{'auth': '{v}'}}",
]


def secret_rows(rng: random.Random, per_type: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for i in range(per_type):
        for label, value in secret_values(rng).items():
            text = rng.choice(SECRET_TEMPLATES).replace("{v}", value).replace("{{", "{").replace("}}", "}")
            rows.append({"id": f"secret-{label}-{i}", "text": text, "label": label})
    return rows


def write(name: str, rows: list[dict[str, object]]) -> None:
    with (HERE / name).open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{name}: {len(rows)} rows")


def main() -> None:
    rng = random.Random(20241126)
    plain_benign = seeds_benign.TRAIN + expand(TRAIN_TEMPLATES, rng, 900)
    # The wrappers go around ordinary text too, so that they carry no signal by themselves.
    wrapped_benign = wrap(rng.sample(plain_benign, 120), seeds_benign.TRAIN, TRAIN_WRAPPERS, rng)
    train_benign = sorted(set(plain_benign + wrapped_benign))
    train_attacks = wrap(seeds_injection.TRAIN, seeds_benign.TRAIN, TRAIN_WRAPPERS, rng) + seeds_injection.TRAIN
    write("train.jsonl", [{"text": t, "label": 1} for t in sorted(set(train_attacks))] + [{"text": t, "label": 0} for t in train_benign])
    eval_benign = sorted(set(seeds_benign.EVAL))
    eval_attacks = sorted(set(wrap(seeds_injection.EVAL, seeds_benign.EVAL, EVAL_WRAPPERS, rng)))
    write("injection_eval.jsonl", [{"id": f"inj-{i}", "text": t, "label": 1} for i, t in enumerate(eval_attacks)] + [{"id": f"ok-{i}", "text": t, "label": 0} for i, t in enumerate(eval_benign)])
    benign = expand(EVAL_TEMPLATES, rng, 1000, EVAL_FRAMES)
    write("benign_1000.jsonl", [{"id": f"benign-{i}", "text": t} for i, t in enumerate(benign)])
    write("pii_eval.jsonl", pii_rows(rng, 600))
    write("secrets_eval.jsonl", secret_rows(rng, 30))


if __name__ == "__main__":
    main()
