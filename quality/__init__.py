"""Data quality: GX suites generated from the table declarations, validation before publish.

Importing the package is cheap (``quality.plates`` needs no GX); the GX modules are
``quality.suites`` and ``quality.validation``.
"""

import os

# Great Expectations reads this when it is imported: no usage analytics, no network calls.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
