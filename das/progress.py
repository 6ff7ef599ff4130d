"""Progress of long work, shown by whoever runs it: the CLI installs a progress bar, DAG tasks log instead.

Jobs call ``track(items, "what")``; with no reporter installed it is the items themselves, so the jobs layer
never depends on a terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")
Reporter = Callable[[Iterable[T], str, int | None], Iterable[T]]

_reporter: ContextVar[Reporter | None] = ContextVar("das_progress_reporter", default=None)


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterable[T]:
    reporter = _reporter.get()
    if reporter is None:
        return items
    if total is None and isinstance(items, Sequence):
        total = len(items)
    return reporter(items, description, total)


def tqdm_reporter(items: Iterable[T], description: str, total: int | None) -> Iterator[T]:
    from tqdm import tqdm

    yield from tqdm(items, desc=description, total=total, file=sys.stderr, leave=False, dynamic_ncols=True)


def install(reporter: Reporter | None) -> None:
    """Report progress with ``reporter`` from now on in this context (the CLI, once, at start-up)."""
    _reporter.set(reporter)


@contextmanager
def reporting(reporter: Reporter | None) -> Iterator[None]:
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)
