"""The cache of downloaded open-data files, under ``cache_dir()/opendata/``.

One folder per source (``opendata/<source>/``) holds the file as downloaded, an unfinished
``<file>.part`` when a transfer was interrupted, and ``manifest.json``: the source URL,
the download date, the size, the sha256 and the producer's date when known. A cached file
is used only when its size and checksum still match the manifest: a truncated or altered
file is reported and never used.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ptsm_diag.io.opendata.download import part_path, sha256_file

MANIFEST = "manifest.json"


def opendata_cache_dir() -> Path:
    """``cache_dir()/opendata`` (``PTSM_DIAG_CACHE`` or the XDG cache)."""
    from ptsm_diag.paths import cache_dir

    return cache_dir() / "opendata"


@dataclass(frozen=True)
class CacheEntry:
    """What the manifest of a cached file records.

    Attributes
    ----------
    source : str
        Registry name of the source.
    fichier : str
        File name in the source's cache folder.
    url : str
        URL it was downloaded from.
    date_telechargement : str
        ISO date and time (UTC) of the download.
    taille : int
        Size in bytes.
    sha256 : str
        Hex digest.
    date_producteur : str
        Date given by the producer (catalogue, ``Last-Modified`` or the file itself),
        ``""`` when unknown.
    details : dict
        Other facts (catalogue page, resource title...).
    """

    source: str
    fichier: str
    url: str
    date_telechargement: str
    taille: int
    sha256: str
    date_producteur: str = ""
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CacheCheck:
    """Whether a cached file can be used, and why not."""

    entry: CacheEntry | None
    path: Path | None
    ok: bool
    reason: str = ""


class OpenDataCache:
    """The open-data cache folder.

    Parameters
    ----------
    root : path, optional
        Cache folder; :func:`opendata_cache_dir` by default.
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else opendata_cache_dir()

    def folder(self, source: str) -> Path:
        """The cache folder of one source."""
        return self.root / source

    def entry(self, source: str) -> CacheEntry | None:
        """The manifest of a source, None when there is none (or it is unreadable)."""
        manifest = self.folder(source) / MANIFEST
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            return CacheEntry(**data)
        except (OSError, ValueError, TypeError):
            return None

    def check(self, source: str, *, checksum: bool = True) -> CacheCheck:
        """Whether the cached file of ``source`` is complete and unaltered.

        Parameters
        ----------
        source : str
            Registry name.
        checksum : bool
            Also recompute the sha256 (default); False checks the size only.
        """
        entry = self.entry(source)
        if entry is None:
            return CacheCheck(None, None, False, "absent du cache")
        path = self.folder(source) / entry.fichier
        if not path.is_file():
            return CacheCheck(entry, path, False, f"fichier {entry.fichier} absent du cache")
        size = path.stat().st_size
        if size != entry.taille:
            return CacheCheck(entry, path, False,
                              f"taille différente du manifeste ({size} octets au lieu de "
                              f"{entry.taille} : fichier tronqué ou modifié)")
        if checksum and sha256_file(path) != entry.sha256:
            return CacheCheck(entry, path, False,
                              "empreinte sha256 différente du manifeste (fichier modifié)")
        return CacheCheck(entry, path, True)

    def target(self, source: str, file_name: str) -> Path:
        """Where to download a new file of ``source``."""
        return self.folder(source) / file_name

    def record(self, entry: CacheEntry) -> Path:
        """Write the manifest of a downloaded file; remove the source's older files."""
        folder = self.folder(entry.source)
        for old in folder.iterdir():
            if old.name not in (entry.fichier, MANIFEST) and not old.name.endswith(".part"):
                old.unlink() if old.is_file() else shutil.rmtree(old, ignore_errors=True)
        from ptsm_diag.io.files import write_atomic

        path = folder / MANIFEST
        write_atomic(path, json.dumps(asdict(entry), ensure_ascii=False, indent=2) + "\n")
        return path

    def discard(self, source: str) -> None:
        """Forget the cached file of a source (manifest and file; ``.part`` files are kept)."""
        folder = self.folder(source)
        entry = self.entry(source)
        (folder / MANIFEST).unlink(missing_ok=True)
        if entry is not None:
            (folder / entry.fichier).unlink(missing_ok=True)

    def partial(self, source: str) -> list[Path]:
        """Unfinished downloads (``.part`` files) of a source."""
        folder = self.folder(source)
        return sorted(folder.glob("*.part")) if folder.is_dir() else []

    def sources(self) -> list[str]:
        """Names of the sources with a folder in the cache."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())


__all__ = ["CacheCheck", "CacheEntry", "OpenDataCache", "opendata_cache_dir", "part_path"]
