"""Show figures, maps and tables in a notebook so that the exported report works offline.

plotly ≥ 6 figures vanish from nbconvert HTML with the default renderer, and the
``notebook`` renderer fetches MathJax from a CDN; folium maps fetch Leaflet from CDNs.
:func:`show` writes plain HTML outputs instead: plotly.js once per notebook
(:func:`init_display`), each figure without it, each map as an offline iframe.
The same outputs display in JupyterLab.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from numbers import Real
from typing import Any

import folium
import pandas as pd
import plotly.graph_objects as go
from IPython.display import HTML, display

from ptsm_diag.fmt import format_number
from ptsm_diag.viz.offline import map_to_iframe, plotly_js

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}


def init_display() -> None:
    """Emit plotly.js once (inline) and the report's table styles; call it first."""
    display(HTML(f'<script type="text/javascript">{plotly_js()}</script>'))


def _figure_html(fig: go.Figure) -> str:
    fig.update_layout(separators=", ")
    return fig.to_html(full_html=False, include_plotlyjs=False, include_mathjax=False,
                       config=PLOTLY_CONFIG)


def _map_html(m: folium.Map) -> str:
    return map_to_iframe(m)


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
    head = "".join(
        f'<th class="{"num" if numeric[c] else ""}">{html.escape(str(c))}</th>'
        for c in frame.columns
    )
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
            cells.append(f'<td class="{"num" if numeric[column] else ""}">'
                         f"{html.escape(text)}</td>")
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


def show(obj: Any) -> None:
    """Display a figure, map or table as offline HTML."""
    display(HTML(to_html(obj)))

