"""Data quality: GX suites generated from the table declarations, validation before publish.

The GX modules are ``quality.suites`` and ``quality.validation``.
"""

import os

# Great Expectations reads this when it is imported: no usage analytics, no network calls.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
