"""Structured logging: context on every line, JSON or readable, and progress only where a reporter is installed."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from das import progress
from das.logs import configure_logging, current_context, log_context


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_the_bound_context_and_drop_it_on_exit(restore_root: None) -> None:
    buffer = io.StringIO()
    configure_logging("json", stream=buffer)
    log = logging.getLogger("das.ingest")
    with log_context(source="anpr", run_id="anpr-1", file=None):
        with log_context(file="reads.csv"):
            log.info("parsed %d rows", 3)
        log.warning("after the file")
    log.info("outside")
    first, second, third = (json.loads(line) for line in buffer.getvalue().splitlines())
    assert first["event"] == "parsed 3 rows" and first["level"] == "info" and first["logger"] == "das.ingest"
    assert (first["source"], first["run_id"], first["file"]) == ("anpr", "anpr-1", "reads.csv")
    assert second["source"] == "anpr" and "file" not in second
    assert "source" not in third and "run_id" not in third
    assert current_context() == {}


def test_console_lines_are_readable_with_the_context(restore_root: None) -> None:
    buffer = io.StringIO()
    configure_logging("console", stream=buffer)
    with log_context(source="crimes", run_id="crimes-7"):
        logging.getLogger("das.publish").info("published %s", "2024-03")
    line = buffer.getvalue()
    assert "published 2024-03" in line and "source=crimes" in line and "run_id=crimes-7" in line
    assert not line.lstrip().startswith("{")


def test_configuring_twice_keeps_one_handler(restore_root: None) -> None:
    configure_logging("console", stream=io.StringIO())
    configure_logging("json", stream=io.StringIO())
    assert [h.get_name() for h in logging.getLogger().handlers].count("das") == 1


def test_progress_is_a_no_op_without_a_reporter_and_reports_with_one() -> None:
    items = [1, 2, 3]
    assert progress.track(items, "nothing installed") is items
    seen: list[tuple[str, int | None]] = []

    def reporter(values, description, total):  # type: ignore[no-untyped-def]
        seen.append((description, total))
        return values

    with progress.reporting(reporter):
        assert list(progress.track(items, "parse anpr")) == items
        assert list(progress.track(iter(items), "stream")) == items
    assert seen == [("parse anpr", 3), ("stream", None)]
    assert progress.track(items, "after") is items
