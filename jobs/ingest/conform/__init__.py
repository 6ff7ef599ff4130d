"""Pure transforms from raw landed columns (all strings) to silver rows: one module per source.

Each module's ``conform(raw, fmt, ctx)`` is the entry point a source spec names (``jobs.sources``); the shared
rules are in ``common``.
"""
