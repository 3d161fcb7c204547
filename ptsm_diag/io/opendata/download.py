"""HTTP download with ``urllib.request``: resumable, checked, with French errors.

A file is downloaded into ``<target>.part``; when that file already holds bytes (an
interrupted download), the request asks for the rest with a ``Range`` header and appends
(``206 Partial Content``) or starts again when the server ignores the range (``200``).
The size received is checked against ``Content-Length`` (or ``Content-Range``): a short
file raises :class:`DownloadError` and stays in ``.part`` to be resumed next time; a
complete file is renamed to ``target`` atomically.
"""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import json
import os
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ptsm_diag import __version__
from ptsm_diag.errors import PtsmError

DEFAULT_TIMEOUT = 60.0  # seconds without data before giving up
CHUNK_BYTES = 1 << 16
USER_AGENT = f"ptsm-diag/{__version__} (+https://github.com/) urllib"
OFFLINE_HINT = ("Vérifiez la connexion (ou le proxy : variables HTTPS_PROXY / HTTP_PROXY), "
                "utilisez un miroir avec --url-base, ou travaillez avec le cache seul avec "
                "--hors-ligne.")
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")

Progress = Callable[[int, int | None], None]


class DownloadError(PtsmError):
    """A file could not be downloaded (network, HTTP error, truncated transfer)."""

    def __init__(self, url: str, message: str, hint: str = "") -> None:
        self.url = url
        self.message = message
        self.hint = hint
        super().__init__(f"Téléchargement de {url} impossible : {message}. {hint}".strip())


class FormatChangedError(PtsmError):
    """A downloaded file is not in the expected format any more.

    Parameters
    ----------
    source : str
        Name of the source (registry key).
    file : str
        File name.
    changes : list of str
        What differs, in French (one item per change: missing column, header line...).
    hint : str
        Where to look (the catalogue page of the source).
    """

    def __init__(self, source: str, file: str, changes: list[str], hint: str = "") -> None:
        self.source = source
        self.file = file
        self.changes = list(changes)
        lines = [f"Le format du fichier {file} (source « {source} ») a changé ; il n'est pas "
                 "utilisé :", *(f"- {change}" for change in self.changes)]
        if hint:
            lines.append(hint)
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class DownloadResult:
    """A completed download.

    Attributes
    ----------
    path : Path
        The file (complete, renamed from ``.part``).
    url : str
        The URL requested.
    size : int
        Bytes on disk.
    sha256 : str
        Hex digest of the whole file.
    resumed_from : int
        Bytes already in ``.part`` that the server agreed to skip (0: full download).
    last_modified : str
        ``Last-Modified`` of the response as ISO date (``AAAA-MM-JJ``), ``""`` if absent.
    """

    path: Path
    url: str
    size: int
    sha256: str
    resumed_from: int
    last_modified: str


def part_path(target: Path) -> Path:
    """The ``.part`` file of an unfinished download of ``target``."""
    return target.with_name(target.name + ".part")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _request(url: str, headers: dict[str, str] | None = None) -> urllib.request.Request:
    return urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})


def _network_error(url: str, exc: BaseException) -> DownloadError:
    """A French error for what urllib raises."""
    if isinstance(exc, urllib.error.HTTPError):
        return DownloadError(url, f"le serveur répond {exc.code} ({exc.reason})",
                             "L'adresse a peut-être changé : vérifiez la page du jeu de "
                             "données, ou utilisez --hors-ligne pour travailler avec le cache.")
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError | socket.timeout):
        return DownloadError(url, "délai d'attente dépassé (réseau lent ou indisponible)",
                             OFFLINE_HINT)
    return DownloadError(url, f"réseau indisponible ({reason})", OFFLINE_HINT)


def fetch_json(url: str, *, timeout: float = DEFAULT_TIMEOUT) -> dict:
    """GET a JSON document (a catalogue entry)."""
    try:
        with urllib.request.urlopen(_request(url, {"Accept": "application/json"}),
                                    timeout=timeout) as response:
            data = response.read()
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _network_error(url, exc) from exc
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DownloadError(url, f"réponse JSON illisible ({exc})") from exc


def _iso_date(header: str | None) -> str:
    if not header:
        return ""
    try:
        return email.utils.parsedate_to_datetime(header).date().isoformat()
    except (TypeError, ValueError):
        return ""


def _expected_total(response, start: int) -> int | None:
    """Total size of the file announced by the response (None when unknown)."""
    content_range = response.headers.get("Content-Range")
    if response.status == 206 and content_range:
        match = _CONTENT_RANGE.fullmatch(content_range.strip())
        if match and match.group(3) != "*":
            return int(match.group(3))
    length = response.headers.get("Content-Length")
    if length is None or not length.strip().isdigit():
        return None
    return int(length) + (start if response.status == 206 else 0)


def download(
    url: str,
    target: str | Path,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress | None = None,
    resume: bool = True,
) -> DownloadResult:
    """Download ``url`` into ``target``, resuming an interrupted ``.part`` file.

    Parameters
    ----------
    url : str
        ``http://``, ``https://`` (or ``file://``) URL.
    target : path
        Final file; its folder is created.
    timeout : float
        Seconds without an answer or data before giving up.
    progress : callable, optional
        ``progress(bytes_done, bytes_total_or_None)`` after each block.
    resume : bool
        Ask for the rest of an existing ``.part`` file (default); False starts again.

    Raises
    ------
    DownloadError
        Network unavailable, HTTP error, or fewer bytes than announced (the ``.part`` file
        is kept and resumed by the next call).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(target)
    start = part.stat().st_size if resume and part.is_file() else 0
    if not resume:
        part.unlink(missing_ok=True)
    headers = {"Range": f"bytes={start}-"} if start else {}
    try:
        response = urllib.request.urlopen(_request(url, headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start:  # the part file is bigger than the file: start again
            part.unlink(missing_ok=True)
            return download(url, target, timeout=timeout, progress=progress, resume=False)
        raise _network_error(url, exc) from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _network_error(url, exc) from exc
    with response:
        status = getattr(response, "status", 200) or 200
        if status != 206:
            start = 0  # the server sent the whole file
        total = _expected_total(response, start)
        done = start
        try:
            with part.open("ab" if start else "wb") as handle:
                while True:
                    block = response.read(CHUNK_BYTES)
                    if not block:
                        break
                    handle.write(block)
                    done += len(block)
                    if progress is not None:
                        progress(done, total)
        except (OSError, http.client.HTTPException) as exc:
            raise DownloadError(
                url, f"transfert interrompu après {done} octets ({exc})",
                "Relancez la commande : le téléchargement reprendra où il s'est arrêté.",
            ) from exc
        last_modified = _iso_date(response.headers.get("Last-Modified"))
    size = part.stat().st_size
    if total is not None and size != total:
        raise DownloadError(
            url, f"fichier tronqué : {size} octets reçus sur {total} annoncés "
            "(Content-Length)",
            "Le fichier incomplet n'est pas utilisé ; relancez la commande pour reprendre "
            "le téléchargement.")
    if size == 0:
        part.unlink(missing_ok=True)
        raise DownloadError(url, "le serveur a renvoyé un fichier vide")
    os.replace(part, target)
    return DownloadResult(target, url, size, sha256_file(target), start, last_modified)
