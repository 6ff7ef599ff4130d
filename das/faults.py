"""Fault injection for the crash tests: ``DAS_FAULT_INJECT=<point>`` kills the process (SIGKILL) at that point.

Only tests set the variable. Each call site names a step boundary (``ingest:anpr:after-bronze`` ...), so a test can
kill a real run exactly there and check that the rerun finishes what is missing and repeats nothing.
"""

from __future__ import annotations

import os
import signal

ENV = "DAS_FAULT_INJECT"


def crash_point(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
