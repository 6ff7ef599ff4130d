"""Structured logging: every line carries the context it was logged in (run id, source, file).

Context is bound with ``log_context(source=..., run_id=..., file=...)`` (structlog contextvars). Under Airflow the
task log is Airflow's own JSON, whose processors merge these contextvars into every line, so nothing is
configured here. The CLI calls ``configure_logging()``: human-readable lines on a terminal, one JSON object per
line when ``DAS_LOG_FORMAT=json`` (or ``--log-format json``) for log shippers.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import structlog

LogFormat = Literal["console", "json"]
NOISY_LOGGERS = ("py4j", "great_expectations", "urllib3", "alembic", "airflow", "asyncio")


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to every log line inside the block (and in code it calls); None values are left out."""
    with structlog.contextvars.bound_contextvars(**{k: v for k, v in fields.items() if v is not None}):
        yield


def current_context() -> dict[str, Any]:
    return dict(structlog.contextvars.get_contextvars())


def _pre_chain() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]


def formatter(log_format: LogFormat, *, colors: bool = False) -> logging.Formatter:
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=True)
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=colors, sort_keys=True)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_pre_chain(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is now (test runners and CliRunner swap it, then close their copy)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_logging(log_format: LogFormat = "console", level: str = "INFO", stream: Any = None) -> logging.Handler:
    """One stderr handler on the root logger for the CLI; returns it (tests attach their own stream)."""
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else _CurrentStderr()
    colors = log_format == "console" and (stream or sys.stderr).isatty()
    handler.setFormatter(formatter(log_format, colors=colors))
    handler.set_name("das")
    root = logging.getLogger()
    for existing in [h for h in root.handlers if h.get_name() == "das"]:
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    return handler
