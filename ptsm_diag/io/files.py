"""Files written atomically: a temporary file beside the target, then a rename.

An interrupted run (error, Ctrl-C, killed batch) never leaves a half-written report,
workbook or GeoPackage: the previous file stays, or there is none. A write that fails
for a reason of the system (read-only folder, full disk, a file where a folder is expected)
ends in :class:`OutputWriteError`, whose message is French.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from ptsm_diag.errors import PtsmError

_REASONS = {
    errno.ENOSPC: "le disque est plein ; libérez de la place ou choisissez un autre dossier "
                  "de sortie",
    errno.EDQUOT: "le quota de disque est atteint ; libérez de la place ou choisissez un autre "
                  "dossier de sortie",
    errno.EROFS: "le dossier est en lecture seule ; choisissez un autre dossier de sortie",
    errno.EACCES: "droits insuffisants pour écrire dans ce dossier ; choisissez un autre "
                  "dossier de sortie",
    errno.EPERM: "opération non permise dans ce dossier ; choisissez un autre dossier de sortie",
    errno.ENOTDIR: "un élément du chemin est un fichier, pas un dossier",
    errno.EEXIST: "un fichier existe déjà à la place du dossier de sortie",
    errno.EISDIR: "ce chemin est un dossier, pas un fichier",
    errno.ENAMETOOLONG: "le nom de fichier est trop long",
    errno.EIO: "erreur d'entrée-sortie du disque",
}


def file_version(path: Path) -> tuple[str, int, int]:
    """(resolved path, modification time in ns, size) of a file: a key under which what
    is read from it can be kept until the file changes.

    Raises
    ------
    OSError
        When the file cannot be read (missing, no permission).
    """
    stat = path.stat()
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size


def os_error_reason(exc: OSError) -> str:
    """The reason of an :class:`OSError`, in French (``le disque est plein``...)."""
    code = exc.errno
    reason = _REASONS.get(code) if code is not None else None
    if reason is None:
        name = errno.errorcode.get(code, "inconnue") if code is not None else "inconnue"
        reason = f"erreur du système de fichiers ({name} : {exc.strerror or exc})"
    return reason


class OutputWriteError(PtsmError, OSError):
    """A file could not be written (read-only folder, full disk...); ``str()`` is French.

    Also an :class:`OSError` (same ``errno``), so that code catching ``OSError`` still does.
    No partial file is left: the temporary file has been removed.

    Parameters
    ----------
    path : Path
        The file that was being written.
    cause : OSError
        The error of the system.
    """

    def __init__(self, path: Path, cause: OSError) -> None:
        self.path = Path(path)
        self.cause = cause
        message = (f"Impossible d'écrire « {self.path} » : {os_error_reason(cause)}. "
                   "Aucun fichier partiel n'a été laissé.")
        OSError.__init__(self, cause.errno, message)
        self.args = (message,)

    def __str__(self) -> str:
        return self.args[0]

    def __reduce__(self) -> tuple[type, tuple[Path, OSError]]:
        return (type(self), (self.path, self.cause))


def write_atomic_with(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary_path)`` then rename it onto ``path``: never a half-written file.

    The temporary file sits beside ``path`` (same folder, same suffix, so that writers
    choosing a format from the suffix, like GeoPackage or XLSX, work) and does not exist
    when ``write`` is called, so the writer creates it with the mode the umask gives (0644
    under the usual umask: reports are meant to be shared); the process umask is never
    changed.

    Raises
    ------
    OutputWriteError
        The folder cannot be created or written, the disk is full...: French message, the
        temporary file removed, ``path`` unchanged.
    """
    path = Path(path)
    try:
        return _write_atomic_with(path, write)
    except OutputWriteError:
        raise
    except OSError as exc:
        raise OutputWriteError(path, exc) from exc


def _write_atomic_with(path: Path, write: Callable[[Path], None]) -> Path:
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
