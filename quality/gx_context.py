"""The Great Expectations context of the platform: file-backed, under DAS_HOME, quiet.

GX keeps its suites, validation definitions, checkpoints and validation results under
``<DAS_HOME>/gx`` and builds the Data Docs site into ``settings.data_docs_dir``; nothing is written
into the repository. Progress bars and analytics are switched off.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

# quality/__init__.py has already switched GX analytics off (it must happen before this import).
import great_expectations as gx
from great_expectations.data_context.types.base import ProgressBarsConfig

from das.config import Settings

DATA_DOCS_SITE = "das"
SPARK_DATASOURCE = "das_spark"

logging.getLogger("great_expectations").setLevel(logging.WARNING)

_contexts: dict[Path, Any] = {}
_lock = threading.Lock()


def gx_project_root(settings: Settings) -> Path:
    """GX creates its ``gx/`` folder inside this directory."""
    return settings.home_abs


def get_gx_context(settings: Settings) -> Any:
    """The file context for this DAS_HOME, created and configured on first use (cached per home)."""
    root = gx_project_root(settings)
    with _lock:
        context = _contexts.get(root)
        if context is None:
            root.mkdir(parents=True, exist_ok=True)
            context = gx.get_context(mode="file", project_root_dir=root)
            _configure(context, settings)
            _contexts[root] = context
        return context


def _configure(context: Any, settings: Settings) -> None:
    changed = False
    if context.variables.analytics_enabled is not False:
        context.variables.analytics_enabled = False
        changed = True
    progress = context.variables.progress_bars
    if isinstance(progress, ProgressBarsConfig):
        progress = {"globally": progress.globally, "metric_calculations": progress.metric_calculations}
    if not progress or progress.get("globally") is not False or progress.get("metric_calculations") is not False:
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        changed = True
    if changed:
        context.variables.save()

    site_config = {
        "class_name": "SiteBuilder",
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(settings.data_docs_dir),
        },
    }
    sites = context.list_data_docs_sites()
    # The scaffolded default site would write under gx/uncommitted; ours is the only site.
    for name in [n for n in sites if n != DATA_DOCS_SITE]:
        context.delete_data_docs_site(name)
    if DATA_DOCS_SITE not in sites:
        context.add_data_docs_site(DATA_DOCS_SITE, site_config)
    elif sites[DATA_DOCS_SITE].get("store_backend", {}).get("base_directory") != str(settings.data_docs_dir):
        context.update_data_docs_site(DATA_DOCS_SITE, site_config)


def data_docs_index(settings: Settings) -> Path:
    return settings.data_docs_dir / "index.html"
