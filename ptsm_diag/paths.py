"""Folders of ptsm-diag: the cache, the demo data folder's marker, safe file names.

Nothing here reads a table: these rules are shared by every floor of the package.
"""

from __future__ import annotations

import os
from pathlib import Path

DEMO_MARKER = "DONNEES_FICTIVES.txt"


def cache_dir() -> Path:
    """Where generated and downloaded data are cached.

    ``PTSM_DIAG_CACHE`` when set, else ``$XDG_CACHE_HOME/ptsm-diag`` (``~/.cache/ptsm-diag``).
    """
    override = os.environ.get("PTSM_DIAG_CACHE")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ptsm-diag"


def is_demo_folder(folder: str | Path) -> bool:
    """Whether a data folder holds the fictional demonstration data (its marker file)."""
    return (Path(folder) / DEMO_MARKER).is_file()
