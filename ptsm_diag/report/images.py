"""Static export of plotly figures (PNG, SVG, PDF) for slides, when the machine allows it.

plotly's image export needs the ``kaleido`` package and a Chrome or Chromium browser. When
either is missing, :func:`export_figure` raises a French error saying what to install; the
interactive HTML report never depends on it.
"""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go

from ptsm_diag.errors import ArgumentError, PtsmError
from ptsm_diag.io.files import write_atomic

IMAGE_FORMATS = {"png": "image PNG", "svg": "image vectorielle SVG", "pdf": "PDF"}


def export_figure(fig: go.Figure, path: str | Path, *, scale: float = 2.0) -> Path:
    """Write ``fig`` as an image; the format comes from the file suffix.

    Parameters
    ----------
    fig : plotly Figure
        The figure (its layout width and height are kept).
    path : path
        ``.png``, ``.svg`` or ``.pdf`` file, written atomically.
    scale : float
        Pixel density of PNG images (2 = sharp on a projector).

    Raises
    ------
    PtsmError
        Unknown format, or image export unavailable (kaleido or Chromium missing).
    """
    target = Path(path)
    fmt = target.suffix.lower().lstrip(".")
    if fmt not in IMAGE_FORMATS:
        raise ArgumentError(f"Format d'image « {target.suffix} » non pris en charge ; attendu : "
                        + ", ".join(f".{f}" for f in IMAGE_FORMATS))
    try:
        data = fig.to_image(format=fmt, scale=scale)
    except Exception as exc:  # kaleido absent, no browser, browser crash...
        raise PtsmError(
            "Export d'image impossible sur cette machine : plotly a besoin du paquet "
            "« kaleido » et de Chrome ou Chromium (paquet Debian « chromium »). "
            f"Détail : {type(exc).__name__} : {str(exc)[:300]}. "
            "Le rapport HTML, lui, reste complet et interactif."
        ) from exc
    write_atomic(target, data)
    return target
