"""Headless Chromium, when installed: PDF export of a report, offline.

Chromium is optional: without it, :func:`html_to_pdf` raises a clear French error and the
HTML report stays the deliverable.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from ptsm_diag.errors import PtsmError

# Offline and quiet: no first-run, no background fetches, any request goes to a dead proxy.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-quic", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
]


def find_chromium() -> str | None:
    """The Chromium executable, or None when it is not installed."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def html_to_pdf(html_path: str | Path, pdf_path: str | Path | None = None,
                *, timeout: int = 300) -> Path:
    """Print an HTML report to PDF with headless Chromium (A4, print stylesheet).

    Parameters
    ----------
    html_path : path
        The report.
    pdf_path : path, optional
        Where to write the PDF (default: beside the report, ``.pdf``).

    Raises
    ------
    PtsmError
        When Chromium is not installed or fails.
    """
    chrome = find_chromium()
    source = Path(html_path).resolve()
    target = Path(pdf_path) if pdf_path else source.with_suffix(".pdf")
    if chrome is None:
        raise PtsmError(
            "Export PDF impossible : Chromium n'est pas installé (paquet Debian « chromium »). "
            f"Le rapport HTML reste disponible : {source}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ptsm-chromium-") as profile:
        partial = target.with_name(f".{target.name}.tmp")
        completed = subprocess.run(
            [chrome, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
             "--virtual-time-budget=20000", "--no-pdf-header-footer",
             f"--print-to-pdf={partial}", source.as_uri()],
            capture_output=True, text=True, timeout=timeout, check=False,
        )
        if completed.returncode != 0 or not partial.is_file() or partial.stat().st_size == 0:
            partial.unlink(missing_ok=True)
            raise PtsmError(f"Chromium n'a pas pu produire le PDF de {source.name} : "
                            f"{completed.stderr.strip()[-500:]}")
        partial.replace(target)
    return target
