"""Official open data in one command: download, cache, check, convert to the templates.

See :func:`~ptsm_diag.opendata.pipeline.telecharger` and the source registry
:data:`~ptsm_diag.opendata.registry.SOURCES`.
"""

from ptsm_diag.opendata.cache import CacheEntry, OpenDataCache, opendata_cache_dir
from ptsm_diag.opendata.download import DownloadError, FormatChangedError, download
from ptsm_diag.opendata.pipeline import (
    DownloadReport,
    Options,
    cache_status,
    telecharger,
)
from ptsm_diag.opendata.registry import SOURCES, SourceAdapter, select_sources

__all__ = [
    "SOURCES",
    "CacheEntry",
    "DownloadError",
    "DownloadReport",
    "FormatChangedError",
    "OpenDataCache",
    "Options",
    "SourceAdapter",
    "cache_status",
    "download",
    "opendata_cache_dir",
    "select_sources",
    "telecharger",
]
