"""The soak's memory arithmetic (bench/soak_memory.py), over /proc text written by the tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.soak_memory import (
    Sample,
    descendants,
    growth,
    parent_of,
    per_minute,
    role_of,
    rss_kb,
    sparkline,
    totals_by_role,
)


def fake_process(proc: Path, pid: int, parent: int, command: str) -> None:
    directory = proc / str(pid)
    directory.mkdir()
    (directory / "stat").write_text(f"{pid} ({command}) S {parent} {pid} {pid} 0 -1\n")


def test_the_parent_is_read_after_a_command_name_with_spaces_and_parentheses() -> None:
    assert parent_of("42 (python (a b)) S 7 42 42 0 -1") == 7


def test_descendants_lists_the_root_and_every_process_below_it_but_no_other(
    tmp_path: Path,
) -> None:
    fake_process(tmp_path, 10, 1, "serve")
    fake_process(tmp_path, 11, 10, "daphne")
    fake_process(tmp_path, 12, 10, "qcluster")
    fake_process(tmp_path, 13, 12, "worker")
    fake_process(tmp_path, 20, 1, "someone else")
    (tmp_path / "self").mkdir()

    assert descendants(10, tmp_path) == [10, 11, 12, 13]


def test_rss_is_read_from_status_and_is_none_for_a_process_without_memory() -> None:
    assert rss_kb("Name:\tpython\nVmRSS:\t  163840 kB\nThreads:\t7\n") == 163840
    assert rss_kb("Name:\tkthreadd\nThreads:\t1\n") is None


@pytest.mark.parametrize(
    ("cmdline", "role"),
    [
        ("python\0-m\0daphne\0-b\0127.0.0.1\0llmproxy.asgi:application\0", "daphne"),
        ("python\0manage.py\0qcluster\0", "qcluster"),
        ("python\0manage.py\0serve\0--port\0800\0", "serve"),
        ("python\0-c\0from multiprocessing.spawn import spawn_main\0", "qcluster"),
        ("/usr/bin/sleep\x001\0", "sleep"),
    ],
)
def test_each_server_process_gets_its_role(cmdline: str, role: str) -> None:
    assert role_of(cmdline) == role


def test_processes_of_one_role_are_summed_per_sample() -> None:
    samples = [
        Sample(0, 1, "daphne", 100),
        Sample(0, 2, "qcluster", 50),
        Sample(0, 3, "qcluster", 60),
        Sample(5, 1, "daphne", 110),
    ]

    assert totals_by_role(samples) == {0: {"daphne": 100, "qcluster": 110}, 5: {"daphne": 110}}


def test_growth_is_measured_from_the_first_sample_after_the_warm_up() -> None:
    series = [(0, 50), (60, 90), (120, 100), (180, 120), (240, 108)]

    measured = growth(series, warmup=120)

    assert (measured.start_kb, measured.end_kb, measured.max_kb, measured.min_kb) == (
        100,
        108,
        120,
        100,
    )
    assert measured.percent == pytest.approx(8.0)
    assert measured.max_percent == pytest.approx(20.0)


def test_growth_needs_a_sample_after_the_warm_up() -> None:
    with pytest.raises(ValueError):
        growth([(0, 50)], warmup=120)


def test_each_minute_keeps_its_last_sample() -> None:
    assert per_minute([(0, 1), (55, 2), (60, 3), (125, 4)]) == [(0, 2), (1, 3), (2, 4)]


def test_the_sparkline_spans_the_lowest_to_the_highest_value() -> None:
    assert sparkline([1, 8, 4.5]) == "▁█▅"
    assert sparkline([5, 5]) == "▁▁"
    assert sparkline([]) == ""
