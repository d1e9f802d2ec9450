"""The category classifier on a varied synthetic task mix."""

from __future__ import annotations

from intelligence.services.classifier import train
from intelligence.synthetic import TASK_MIX, task_examples


def test_it_reaches_85_percent_with_20_examples_per_category_on_held_out_data() -> None:
    training = task_examples(20, seed=101)
    held_out = task_examples(40, seed=202)
    assert len(TASK_MIX) >= 8 and len(training) == 20 * len(TASK_MIX)
    model = train(training)
    correct = sum(model.predict(text)[0] == label for text, label in held_out)
    assert correct / len(held_out) >= 0.85


def test_it_reports_a_confidence_between_0_and_1() -> None:
    model = train([("write a poem about the sea", "writing"), ("fix my python code", "coding")])
    label, confidence = model.predict("a poem about the moon")
    assert label == "writing" and 0.5 < confidence <= 1.0
