"""Official open data in one command: download, cache, check, convert to the templates.

See :func:`~ptsm_diag.io.opendata.pipeline.telecharger` and the source registry
:data:`~ptsm_diag.io.opendata.registry.SOURCES`. The names below are imported on first
use, so that listing the sources (``ptsm-diag --help``) loads no pandas.
"""

from __future__ import annotations

import importlib
from typing import Any

# download.py loads only the standard library; importing it here also keeps the function
# ``download`` from being shadowed by its module once the module is imported.
from ptsm_diag.io.opendata.download import DownloadError, FormatChangedError, download

_HOMES = {
    "CacheEntry": "cache", "OpenDataCache": "cache", "opendata_cache_dir": "cache",
    "DownloadReport": "pipeline", "Options": "pipeline", "cache_status": "pipeline",
    "telecharger": "pipeline",
    "SOURCES": "registry", "SourceAdapter": "registry", "select_sources": "registry",
}

__all__ = ["DownloadError", "FormatChangedError", "download", *sorted(_HOMES)]


def __getattr__(name: str) -> Any:
    """Import ``name`` from its module on first use (PEP 562)."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_HOMES[name]}")
    return getattr(module, name)
