"""Files written atomically: a temporary file beside the target, then a rename.

An interrupted run (error, Ctrl-C, killed batch) never leaves a half-written report,
workbook or GeoPackage: the previous file stays, or there is none.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomic_with(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary_path)`` then rename it onto ``path``: never a half-written file.

    The temporary file sits beside ``path`` (same folder, same suffix, so that writers
    choosing a format from the suffix, like GeoPackage or XLSX, work) and does not exist
    when ``write`` is called, so the writer creates it with the mode the umask gives (0644
under the usual umask: reports are meant to be shared); the process umask is never changed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        Path(tmp).unlink()
        write(Path(tmp))  # the writer creates the file: its mode follows the umask
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_atomic(path: Path, content: str | bytes) -> None:
    """Write text or bytes through a temporary file and a rename."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    write_atomic_with(Path(path), lambda tmp: tmp.write_bytes(data))
