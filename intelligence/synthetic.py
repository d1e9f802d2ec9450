"""Synthetic traffic from known templates, and a labelled task mix.

Used by the tests (template recovery, category accuracy), the benchmark and the
demo. Deterministic for a given seed; no network, no model.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

WORDS = [
    "river",
    "market",
    "engine",
    "garden",
    "window",
    "signal",
    "orange",
    "silver",
    "paper",
    "winter",
    "bridge",
    "forest",
    "planet",
    "music",
    "doctor",
    "teacher",
    "camera",
    "rocket",
    "island",
    "castle",
    "coffee",
    "library",
    "mountain",
    "shadow",
    "thunder",
    "velvet",
    "harbor",
    "lantern",
    "meadow",
    "canyon",
    "glacier",
    "compass",
    "ribbon",
    "marble",
    "falcon",
    "prairie",
    "quartz",
    "saddle",
    "tundra",
    "violin",
    "walnut",
    "yarrow",
    "zephyr",
    "anchor",
    "beacon",
]
NAMES = [
    "Alice",
    "Bob",
    "Carol",
    "Dmitri",
    "Eva",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jamal",
    "Kofi",
    "Lena",
    "Mateo",
    "Noor",
]
PRODUCTS = ["laptop", "headphones", "keyboard", "monitor", "router", "tablet", "charger", "speaker"]
LANGUAGES = ["French", "German", "Spanish", "Italian", "Japanese", "Portuguese", "Dutch"]
TOPICS = [
    "autumn leaves",
    "the open sea",
    "city lights",
    "a quiet morning",
    "lost keys",
    "old friends",
]


def sentence(rng: random.Random, low: int = 6, high: int = 14) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(low, high))]
    return " ".join(words).capitalize() + "."


def paragraph(rng: random.Random, sentences: int = 5) -> str:
    return " ".join(sentence(rng) for _ in range(sentences))


SLOT_FILLERS: dict[str, Callable[[random.Random], str]] = {
    "name": lambda r: r.choice(NAMES),
    "num": lambda r: str(r.randint(1, 99999)),
    "price": lambda r: f"${r.randint(1, 999)}.{r.randint(0, 99):02d}",
    "date": lambda r: f"2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
    "email": lambda r: f"{r.choice(NAMES).lower()}{r.randint(1, 99)}@example.com",
    "url": lambda r: f"https://example.com/{r.choice(WORDS)}/{r.randint(1, 9999)}",
    "order": lambda r: f"ORD-{r.randint(10000, 99999)}",
    "product": lambda r: r.choice(PRODUCTS),
    "lang": lambda r: r.choice(LANGUAGES),
    "topic": lambda r: r.choice(TOPICS),
    "phrase": lambda r: " ".join(r.choice(WORDS) for _ in range(r.randint(1, 3))),
    "sentence": sentence,
    "text": paragraph,
}


@dataclass(frozen=True)
class KnownTemplate:
    """A prompt template: `{slot}` placeholders filled from `SLOT_FILLERS`."""

    user: str
    system: str = ""

    def fill(
        self, rng: random.Random, fillers: dict[str, Callable[[random.Random], str]] | None = None
    ) -> dict[str, Any]:
        values = {name: filler(rng) for name, filler in (fillers or SLOT_FILLERS).items()}
        messages = []
        if self.system:
            messages.append({"role": "system", "content": self.system.format(**values)})
        messages.append({"role": "user", "content": self.user.format(**values)})
        return {"model": "gpt-4o-mini", "messages": messages}


SUPPORT = "You are a patient customer support agent for Acme. Answer briefly and politely."
ANALYST = "You are a careful data analyst. Reply in JSON only."

KNOWN_TEMPLATES: tuple[KnownTemplate, ...] = (
    KnownTemplate("Write a haiku about {topic}."),
    KnownTemplate("Translate the following sentence into {lang}: {sentence}"),
    KnownTemplate(
        "Summarize the following article in three bullet points.\n\n{text}",
        system="You summarize news for busy executives.",
    ),
    KnownTemplate(
        "Customer {name} ({email}) asks about order {order} placed on {date}. "
        "Draft a reply explaining the delivery status.",
        system=SUPPORT,
    ),
    KnownTemplate(
        "The {product} I bought for {price} stopped working after {num} days. What can I do?",
        system=SUPPORT,
    ),
    KnownTemplate(
        'Extract the company name, the amount and the due date from this invoice text: "{text}"',
        system=ANALYST,
    ),
    KnownTemplate(
        "Classify the sentiment of this review as positive, negative or neutral.\nReview: {text}",
        system=ANALYST,
    ),
    KnownTemplate(
        "Fix the bug in this Python function:\n```python\ndef f(x):\n    return x + {num}\n```"
    ),
    KnownTemplate("Give me {num} creative names for a {product} brand aimed at {phrase} lovers."),
    KnownTemplate("Explain {phrase} to a five year old, in under {num} words."),
    KnownTemplate("Check the page {url} and tell me whether it mentions {phrase}."),
    KnownTemplate(
        "Dear assistant, please write a formal email to {name} to reschedule our meeting "
        "from {date} to the following week."
    ),
)


# Harder data: unmasked free phrases of 1-8 words, one- or two-word names.
HARD_FILLERS: dict[str, Callable[[random.Random], str]] = {
    **SLOT_FILLERS,
    "phrase": lambda r: " ".join(r.choice(WORDS) for _ in range(r.randint(1, 8))),
    "topic": lambda r: " ".join(r.choice(WORDS) for _ in range(r.randint(1, 6))),
    "name": lambda r: " ".join(r.sample(NAMES, r.randint(1, 2))),
}


def template_traffic(
    count: int,
    *,
    seed: int = 7,
    templates: tuple[KnownTemplate, ...] = KNOWN_TEMPLATES,
    fillers: dict[str, Callable[[random.Random], str]] | None = None,
) -> list[tuple[int, dict[str, Any]]]:
    """`count` chat bodies, each with the index of the template that produced it."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        index = rng.randrange(len(templates))
        out.append((index, templates[index].fill(rng, fillers)))
    return out


# --- a labelled task mix, for the category classifier ---------------------------------

SUBJECTS = [
    "a lighthouse keeper",
    "remote work",
    "the history of tea",
    "a robot learning to paint",
    "climate adaptation",
    "a small bakery",
    "the first day of school",
    "urban gardening",
    "a lost dog",
    "space tourism",
    "friendship",
    "the ocean at night",
    "a rainy market",
]
CODE_TASKS = [
    "reverse a linked list",
    "parse a CSV file",
    "debounce a function",
    "merge two sorted arrays",
    "validate an email address",
    "read a JSON config",
    "retry an HTTP request",
    "compute a moving average",
    "find duplicate files",
    "paginate a SQL query",
]
CODE_LANGS = ["Python", "JavaScript", "Go", "Rust", "TypeScript", "Java", "SQL", "Bash"]
PERSONAS = [
    "a pirate captain",
    "a medieval innkeeper",
    "Sherlock Holmes",
    "a grumpy wizard",
    "a tour guide in Rome",
    "a starship AI",
    "a noir detective",
    "a kindly grandmother",
    "a Shakespearean actor",
]
DOCS = [
    "email",
    "invoice",
    "contract",
    "resume",
    "support ticket",
    "news article",
    "receipt",
    "meeting notes",
]
FIELDS = [
    "names and dates",
    "the total amount",
    "all phone numbers",
    "the addresses",
    "action items",
    "key entities",
]

TASK_MIX: dict[str, tuple[str, ...]] = {
    "writing": (
        "Write a short story about {subject}.",
        "Draft a blog post on {subject} for a general audience.",
        "Compose a poem about {subject}, four stanzas.",
        "Can you write an opening paragraph for a novel about {subject}?",
        "Write a product description that evokes {subject}.",
        "I need a speech about {subject} for a wedding toast.",
        "Create a limerick about {subject}.",
    ),
    "coding": (
        "Write a {lang} function to {code}.",
        "How do I {code} in {lang}? Show code.",
        "Fix this {lang} code that should {code}: it throws an exception on empty input.",
        "Refactor my {lang} snippet to {code} more efficiently.",
        "Implement a class in {lang} that can {code}, with unit tests.",
        "What's the idiomatic {lang} way to {code}?",
        "Review this {lang} pull request which tries to {code}.",
    ),
    "maths": (
        "Solve for x: {a}x + {b} = {c}.",
        "What is the integral of x^{a} from 0 to {b}?",
        "Compute the derivative of {a}x^3 - {b}x + {c}.",
        "If a train travels {a} km in {b} hours, what is its average speed?",
        "Find the probability of rolling a sum of {a} with two dice.",
        "Prove that the sum of the first {a} odd numbers is a perfect square.",
        "What is {a} percent of {c}? Show the calculation.",
    ),
    "extraction": (
        "Extract {fields} from this {doc}: {text}",
        "From the following {doc}, list {fields} as JSON. {text}",
        "Pull out {fields} in the {doc} below.\n{text}",
        "Parse this {doc} and return {fields} in a table: {text}",
        "Identify {fields} mentioned in the {doc}: {text}",
    ),
    "roleplay": (
        "Pretend you are {persona} and greet me.",
        "You are {persona}. Stay in character and tell me about your day.",
        "Let's role-play: you play {persona} and I am a traveller asking for directions.",
        "Act as {persona} and respond to my questions in character.",
        "Speak like {persona} while describing {subject}.",
        "Roleplay as {persona} negotiating the price of a horse.",
    ),
    "reasoning": (
        "If all bloops are razzies and all razzies are lazzies, are all bloops lazzies? Explain.",
        "Three friends each have a different pet; {name} does not own the cat. Who owns what? Think step by step.",
        "Which is heavier, a kilogram of feathers or a kilogram of {product}s? Reason carefully.",
        "A bat and a ball cost {price} in total; the bat costs one dollar more. Walk through the logic.",
        "What is the flaw in this argument: {subject} is popular, therefore it must be good?",
        "Is the following statement logically valid: if it rains the street is wet; the street is wet, so it rained?",
        "Work out the next number in the sequence {a}, {b}, {c} and justify each step.",
    ),
    "translation": (
        "Translate into {language}: {sentence}",
        "How do you say '{sentence}' in {language}?",
        "Please translate this paragraph to {language}, keeping the tone formal. {sentence}",
        "Give me the {language} version of: {sentence}",
        "Render the following English text in {language}: {sentence}",
        "What is the {language} translation of the phrase {sentence}",
    ),
    "summarisation": (
        "Summarize this {doc} in two sentences: {text}",
        "TL;DR of the following: {text}",
        "Give me the key points of this {doc}.\n{text}",
        "Condense the text below into a short abstract. {text}",
        "Write a one-line summary of this {doc}: {text}",
        "Boil this down to three bullet points: {text}",
    ),
}


def task_examples(per_category: int, *, seed: int = 11) -> list[tuple[str, str]]:
    """`per_category` (text, label) pairs for every category of `TASK_MIX`, shuffled."""
    rng = random.Random(seed)
    out = []
    for label, phrasings in TASK_MIX.items():
        for _ in range(per_category):
            values = {
                "subject": rng.choice(SUBJECTS),
                "code": rng.choice(CODE_TASKS),
                "lang": rng.choice(CODE_LANGS),
                "persona": rng.choice(PERSONAS),
                "doc": rng.choice(DOCS),
                "fields": rng.choice(FIELDS),
                "text": paragraph(rng, rng.randint(1, 3)),
                "sentence": sentence(rng),
                "language": rng.choice(LANGUAGES),
                "name": rng.choice(NAMES),
                "product": rng.choice(PRODUCTS),
                "price": f"${rng.randint(1, 20)}.{rng.randint(0, 99):02d}",
                "a": rng.randint(2, 40),
                "b": rng.randint(2, 40),
                "c": rng.randint(2, 400),
            }
            out.append((rng.choice(phrasings).format(**values), label))
    rng.shuffle(out)
    return out
