"""Data Docs site upkeep: a full rebuild, and pruning of old validation results.

Every ANPR micro-batch stores one validation result (288 a day). Callers that validate with
``build_docs=False`` rebuild the site now and then with ``build_data_docs``; a scheduled
``prune_quality_history`` keeps the stored results (and their pages) bounded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from das.config import Settings
from quality.gx_context import DATA_DOCS_SITE, data_docs_index, get_gx_context


def build_data_docs(settings: Settings) -> Path:
    """Render every stored validation result and suite into the site; return its index.html."""
    get_gx_context(settings).build_data_docs(site_names=[DATA_DOCS_SITE])
    return data_docs_index(settings)


def prune_quality_history(settings: Settings, *, keep_days: int, now: datetime | None = None) -> int:
    """Delete validation results (and their Data Docs pages) older than ``keep_days``; return how many."""
    context = get_gx_context(settings)
    store = context.validation_results_store
    cutoff = (now or datetime.now(UTC)) - timedelta(days=keep_days)
    pages = settings.data_docs_dir / "validations"
    kept = []
    removed = 0
    for key in store.list_keys():
        run_time = key.run_id.run_time
        if run_time.tzinfo is None:
            run_time = run_time.replace(tzinfo=UTC)
        if run_time >= cutoff:
            kept.append(key)
            continue
        store.remove_key(key)
        pages.joinpath(*key.to_tuple()).with_suffix(".html").unlink(missing_ok=True)
        removed += 1
    if removed:
        # Re-rendering one kept page also rewrites the index, which then lists only what is left.
        context.build_data_docs(site_names=[DATA_DOCS_SITE], resource_identifiers=kept[-1:] or None)
    return removed
