"""The validated tables of a batch, cached in a file that cannot run code.

A batch validates its data folder once, in the parent process, and writes the accepted
tables to ``.ptsm-lot/<empreinte>.donnees.zip`` in the output folder; every notebook of
the batch reads that file instead of validating the folder again. The file is a ZIP
archive holding one Parquet file per table and a JSON manifest (folder, problems, format
version): reading it decodes data, never code (unlike a pickle, a planted file cannot run
anything). The archive's CRC, the manifest and each Parquet file are checked on reading; a
file that does not read raises :class:`DataCacheError`, and the batch then rebuilds it.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import fields
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from ptsm_diag import __version__
from ptsm_diag.errors import Problem, PtsmError, Severity
from ptsm_diag.io.files import write_atomic
from ptsm_diag.io.sources import DataFolder

CACHE_SUFFIX = ".donnees.zip"
MANIFEST = "manifeste.json"
FORMAT = "ptsm-diag/donnees-validees"
FORMAT_VERSION = 1

_SCALAR_FIELDS = ("path", "problems")


class DataCacheError(PtsmError):
    """A batch's data cache that cannot be read (truncated, altered, another format).

    Parameters
    ----------
    path : Path
        The cache file.
    reason : str
        What is wrong, in French.
    """

    def __init__(self, path: Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(
            f"Cache des données du lot illisible : « {self.path} » ({reason}). Relancez "
            "ptsm-diag batch : il reconstruit ce fichier à partir du dossier de données.")

    def __reduce__(self) -> tuple[type, tuple[Path, str]]:
        return (type(self), (self.path, self.reason))


def is_data_cache(path: Path) -> bool:
    """Whether ``path`` names a batch's data cache file (by its name; content unchecked)."""
    return path.name.endswith(CACHE_SUFFIX)


def _table_fields() -> list[str]:
    return [f.name for f in fields(DataFolder) if f.name not in _SCALAR_FIELDS]


def data_cache_bytes(data: DataFolder) -> bytes:
    """The cache file's content for ``data``: a ZIP of Parquet tables and a manifest."""
    buffer = io.BytesIO()
    tables: dict[str, str | None] = {}
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in _table_fields():
            table = getattr(data, name)
            if table is None:
                tables[name] = None
                continue
            if not isinstance(table, pd.DataFrame):
                raise TypeError(f"DataFolder.{name} n'est pas une table : {type(table)}")
            member = f"{name}.parquet"
            payload = io.BytesIO()
            table.to_parquet(payload, engine="pyarrow")  # Parquet is compressed already
            archive.writestr(member, payload.getvalue())
            tables[name] = member
        manifest = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "ptsm_diag": __version__,
            "dossier": str(data.path),
            "tables": tables,
            "problemes": [_problem_to_json(p) for p in data.problems],
        }
        archive.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
    return buffer.getvalue()


def write_data_cache(data: DataFolder, path: Path) -> Path:
    """Write ``data`` to the cache file ``path`` atomically (never a half-written cache)."""
    write_atomic(path, data_cache_bytes(data))
    return path


def read_data_cache(path: str | Path) -> DataFolder:
    """The tables of a cache file written by :func:`write_data_cache`, checked.

    Raises
    ------
    DataCacheError
        When the file is missing, truncated, altered, or of another format or version:
        the French message names the file and says the next batch rebuilds it.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = _manifest(path, archive)
            declared = manifest["tables"]
            expected = set(_table_fields())
            if not isinstance(declared, dict) or set(declared) != expected:
                raise DataCacheError(path, "liste des tables inattendue")
            values: dict[str, Any] = {}
            for name, member in declared.items():
                if member is None:
                    values[name] = None
                elif member != f"{name}.parquet":
                    raise DataCacheError(path, f"table « {name} » mal nommée")
                else:
                    payload = archive.read(member)  # checks the CRC
                    values[name] = pq.read_table(io.BytesIO(payload)).to_pandas()
            problems = [_problem_from_json(p) for p in manifest["problemes"]]
    except DataCacheError:
        raise
    except FileNotFoundError as exc:
        raise DataCacheError(path, "fichier introuvable") from exc
    except zipfile.BadZipFile as exc:
        raise DataCacheError(path, f"archive tronquée ou altérée : {exc}") from exc
    except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
        # ValueError covers pyarrow.ArrowInvalid and json.JSONDecodeError
        raise DataCacheError(path, f"{type(exc).__name__} : {exc}") from exc
    return DataFolder(path=Path(manifest["dossier"]), problems=problems, **values)


def _manifest(path: Path, archive: zipfile.ZipFile) -> dict[str, Any]:
    manifest = json.loads(archive.read(MANIFEST).decode("utf-8"))
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DataCacheError(path, "ce n'est pas un cache de données ptsm-diag")
    if manifest.get("version") != FORMAT_VERSION:
        raise DataCacheError(path, f"version de format {manifest.get('version')} ; "
                                   f"attendu : {FORMAT_VERSION}")
    if manifest.get("ptsm_diag") != __version__:  # validation rules may have changed
        raise DataCacheError(path, f"écrit par ptsm-diag {manifest.get('ptsm_diag')} ; "
                                   f"version installée : {__version__}")
    return manifest


def _problem_to_json(problem: Problem) -> dict[str, Any]:
    row = None if problem.row is None else int(problem.row)
    return {"file": problem.file, "row": row, "column": problem.column,
            "value": problem.value, "expected": problem.expected,
            "message": problem.message, "severity": str(problem.severity)}


def _problem_from_json(item: dict[str, Any]) -> Problem:
    return Problem(file=str(item["file"]), row=item["row"], column=item["column"],
                   value=item["value"], expected=str(item["expected"]),
                   message=str(item["message"]), severity=Severity(item["severity"]))
