"""Show figures, maps and tables in a notebook: offline in the exported report, and
visible in JupyterLab when an executed notebook is reopened from disk (untrusted).

plotly ≥ 6 figures vanish from nbconvert HTML with the default renderer, and the
``notebook`` renderer fetches MathJax from a CDN; folium maps fetch Leaflet from CDNs.
:func:`show` writes its own outputs instead:

- a figure is a bundle of plotly's MIME type (``application/vnd.plotly.v1+json``, drawn
  by JupyterLab's plotly extension, trusted or not) and HTML (the exported report: plotly.js
  once per notebook from :func:`init_display`, each figure without it);
- a map is an offline ``<iframe srcdoc>`` over a static SVG picture of it: an untrusted
  JupyterLab drops iframes and scripts (its HTML sanitizer) but shows ``<img>``; the
  export removes the picture (:func:`strip_map_previews`);
- a table carries its alignment and colours as inline styles, which JupyterLab's
  sanitizer keeps (``<style>`` blocks and the report's CSS do not reach a notebook).

When the executed notebook is not kept (a batch, a report without ``--garder-notebook``),
the kernel runs with ``PTSM_DIAG_SORTIES=rapport`` (:data:`OUTPUTS_VARIABLE`): every output
is then the exported report's HTML only, as the export would leave it (no picture under
the maps, no per-cell styles, no plotly MIME bundle), which spares drawing, sending and
removing what nobody would see.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
from collections.abc import Callable
from numbers import Real
from typing import Any

import folium
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from IPython.display import HTML, display

from ptsm_diag.fmt import format_number
from ptsm_diag.viz.offline import (
    PLOTLY_PLACEHOLDER,
    map_preview_svg,
    map_to_framed_html,
    plotly_js,
    srcdoc_attribute,
)

PLOTLY_MIME = "application/vnd.plotly.v1+json"
MAP_HEIGHT = 520

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}

OUTPUTS_VARIABLE = "PTSM_DIAG_SORTIES"
REPORT_ONLY = "rapport"


def report_only() -> bool:
    """Whether outputs are made for the exported HTML report only (the executed notebook
    is not kept): ``PTSM_DIAG_SORTIES=rapport`` in the environment (see the module)."""
    return os.environ.get(OUTPUTS_VARIABLE) == REPORT_ONLY


def init_display() -> None:
    """Emit plotly.js once (inline); call it first. With outputs for the exported report
    only, a placeholder that the export fills (:data:`PLOTLY_PLACEHOLDER`)."""
    if report_only():
        display(HTML(PLOTLY_PLACEHOLDER))
        return
    display(HTML(f'<script type="text/javascript">{plotly_js()}</script>'))


def figure_spec(fig: go.Figure) -> dict[str, Any]:
    """The figure as plotly JSON, with French separators, its template keeping the trace
    defaults of the figure's own trace types only (plotly's default template holds them
    for 24 types: 4 kB in every figure of a report, for nothing)."""
    fig.update_layout(separators=", ")
    spec = json.loads(pio.to_json(fig, validate=False))
    template = spec.get("layout", {}).get("template")
    if isinstance(template, dict) and isinstance(template.get("data"), dict):
        used = {trace.get("type", "scatter") for trace in spec.get("data", [])}
        template["data"] = {kind: v for kind, v in template["data"].items() if kind in used}
    return spec


def _figure_html(fig: go.Figure | dict[str, Any]) -> str:
    spec = fig if isinstance(fig, dict) else figure_spec(fig)
    return pio.to_html(spec, full_html=False, include_plotlyjs=False, include_mathjax=False,
                       config=PLOTLY_CONFIG, validate=False)


def _figure_bundle(fig: go.Figure) -> dict[str, Any]:
    """plotly's own MIME bundle (what JupyterLab draws natively) plus the report's HTML."""
    spec = figure_spec(fig)
    html_part = _figure_html(spec)
    return {PLOTLY_MIME: {**spec, "config": PLOTLY_CONFIG}, "text/html": html_part,
            "text/plain": "Figure plotly"}


MAP_NOTE = ("Aperçu statique de la carte : la carte interactive s'affiche dans le rapport "
            "HTML, ou ici après exécution du notebook.")
_PREVIEW_END = "<!--/ptsm-carte-apercu-->"
_PREVIEW = re.compile(r'(<div class="ptsm-carte-apercu"[^>]*>).*?' + re.escape(_PREVIEW_END),
                      re.S)


def _map_html(m: folium.Map) -> str:
    """The offline map in an iframe laid over a static picture of it (same box)."""
    return map_block(m)


def map_block(m: folium.Map, height: str = f"{MAP_HEIGHT}px", *,
              iframe_class: str = "ptsm-carte", preview_px: int = MAP_HEIGHT - 40) -> str:
    """The offline map in an ``<iframe srcdoc>`` laid over a static SVG picture of it.

    The frame reads Leaflet and the map's outlines from blocks placed beside it
    (:func:`ptsm_diag.viz.offline.map_to_framed_html`); the exported page keeps one copy
    of each block for all its maps.

    JupyterLab drops iframes from an untrusted notebook (one reopened from disk): the
    picture stays, with a note. The exported report removes the picture
    (:func:`strip_map_previews`) and keeps the interactive map over an empty box.

    Parameters
    ----------
    m : folium.Map
        The map.
    height : str
        CSS height of the box (``"520px"``, ``"calc(100vh - 9rem)"`` for a slide).
    iframe_class : str
        CSS classes of the iframe.
    preview_px : int
        Height of the SVG picture drawn, in pixels.
    """
    framed = map_to_framed_html(m)
    frame = (f'<iframe class="{html.escape(iframe_class, quote=True)}" '
             f"{srcdoc_attribute(framed.frame)} "
             f'style="position:absolute;top:0;left:0;z-index:1;width:100%;height:{height};'
             'border:1px solid #ccc;box-sizing:border-box" allowfullscreen></iframe>')
    box = f'<div class="ptsm-carte-apercu" style="height:{height}">'
    if report_only():  # the box as strip_map_previews leaves it
        preview = box + "</div>"
    else:
        svg = base64.b64encode(map_preview_svg(m, height=preview_px).encode()).decode()
        preview = (f'{box}<img alt="Aperçu statique de la carte" '
                   f'src="data:image/svg+xml;base64,{svg}" '
                   f'style="max-width:100%;height:calc({height} - 40px);border:1px solid #ccc">'
                   f'<p style="color:#5b6573;font-size:.9rem;margin:.2rem 0">'
                   f"{html.escape(MAP_NOTE)}</p></div>{_PREVIEW_END}")
    return (f'<div class="ptsm-carte-bloc" style="position:relative">{preview}'
            f"{framed.shared}{frame}</div>")


def strip_map_previews(page: str) -> str:
    """Empty the static map pictures of an exported page (the interactive map covers them)."""
    if _PREVIEW_END not in page:  # none (outputs made for the report only)
        return page
    return _PREVIEW.sub(lambda match: match.group(1) + "</div>", page)


def column_decimals(values: pd.Series) -> int:
    """Decimals that suit a numeric column: none for counts, more for small values."""
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    numbers = numbers[numbers.map(lambda v: isinstance(v, int | float) and math.isfinite(v))]
    if numbers.empty or (numbers == numbers.round()).all():
        return 0
    largest = numbers.abs().max()
    return 2 if largest < 10 else 1 if largest < 1000 else 0


# Numeric columns shown as plain text (a year is not « 2 023 »).
PLAIN_COLUMN_PREFIXES = ("année", "annee", "code", "finess")


def _is_numeric_column(values: pd.Series) -> bool:
    if str(values.name).strip().lower().startswith(PLAIN_COLUMN_PREFIXES):
        return False
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def table_html(frame: pd.DataFrame, decimals: int | None = None,
               caption: str | None = None) -> str:
    """An HTML table of ``frame`` with French number formatting; cell text escaped.

    Numeric columns are right-aligned, with ``decimals`` or, by default, the decimals
    that suit each column; a missing number reads « n.d. », a missing text stays empty.
    """
    numeric = {c: _is_numeric_column(frame[c].rename(c)) for c in frame.columns}
    digits = {c: decimals if decimals is not None else column_decimals(frame[c])
              for c in frame.columns if numeric[c]}
    opening = {c: '<td class="num">' if numeric[c] else "<td>" for c in frame.columns}
    head = "".join(('<th class="num">' if numeric[c] else "<th>") + f"{html.escape(str(c))}</th>"
                   for c in frame.columns)
    rows = []
    for values in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, values, strict=True):
            if numeric[column]:
                text = format_number(value, digits[column])
            elif value is None or value is pd.NA or (
                    isinstance(value, Real) and not math.isfinite(value)):
                text = ""
            elif isinstance(value, Real) and not isinstance(value, bool) and value == int(value):
                text = str(int(value))  # a year or a code stored as a number
            else:
                text = str(value)
            # text of a cell: its quotes need no escaping (a table of 500 resources)
            cells.append(f"{opening[column]}{html.escape(text, quote=False)}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return (f'<div class="ptsm-table-wrap"><table class="ptsm-table">{cap}'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def collapsible(summary: str, obj: Any) -> str:
    """``obj`` (table, figure...) folded under a clickable ``summary`` line."""
    return (f'<details class="ptsm-details"><summary>{html.escape(summary)}</summary>'
            f"{to_html(obj)}</details>")


# Registry: how each kind of object becomes offline HTML.
RENDERERS: dict[type, Callable[[Any], str]] = {
    go.Figure: _figure_html,
    folium.Map: _map_html,
    pd.DataFrame: table_html,
    str: lambda markup: markup,  # HTML built (and escaped) by the library
}


def to_html(obj: Any) -> str:
    """Offline HTML of a plotly figure, a folium map, a DataFrame or library HTML."""
    for kind, render in RENDERERS.items():
        if isinstance(obj, kind):
            return render(obj)
    raise TypeError(f"Type d'objet non affichable : {type(obj).__name__}")


# Inline styles of the report's tables (ptsm.css): JupyterLab right-aligns every cell
# and its sanitizer drops <style> blocks from untrusted outputs, not style attributes.
_TH_STYLE = "background:#1f3a68;color:white;vertical-align:bottom;"
_CELL_STYLES = {
    ("th", True): _TH_STYLE + "text-align:right;white-space:nowrap",
    ("th", False): _TH_STYLE + "text-align:left",
    ("td", True): "text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums",
    ("td", False): "text-align:left;vertical-align:top",
}
_TABLE = re.compile(r'<table class="ptsm-table[^"]*">.*?</table>', re.S)
_CELL = re.compile(r'<(td|th)((?:\s+class="([^"]*)")?)>')


def inline_table_styles(markup: str) -> str:
    """Give the cells of the report's tables (``ptsm-table``) their alignment and colours
    as ``style`` attributes, so that they look the same in JupyterLab as in the report."""
    def cell(match: re.Match[str]) -> str:
        numeric = "num" in (match.group(3) or "").split()
        return (f"<{match.group(1)}{match.group(2)} "
                f'style="{_CELL_STYLES[match.group(1), numeric]}">')

    return _TABLE.sub(lambda table: _CELL.sub(cell, table.group(0)), markup)


_INLINE_CELL_STYLE = re.compile(
    " style=\"(?:" + "|".join(re.escape(v) for v in sorted(set(_CELL_STYLES.values()))) + ")\"")


def strip_table_styles(page: str) -> str:
    """Remove from an exported page the cell styles :func:`inline_table_styles` added for
    JupyterLab: the report's style sheet gives the same look, once for all cells."""
    if not any(f' style="{style}"' in page for style in _CELL_STYLES.values()):
        return page
    return _TABLE.sub(lambda table: _INLINE_CELL_STYLE.sub("", table.group(0)), page)


def show(obj: Any) -> None:
    """Display a figure, map or table (see the module's docstring for what each becomes)."""
    if report_only():
        display(HTML(to_html(obj)))
        return
    if isinstance(obj, go.Figure):
        display(_figure_bundle(obj), raw=True)
        return
    display(HTML(inline_table_styles(to_html(obj))))

