"""The rosace ("Parcours" radar) figure, from :func:`ptsm_diag.compute.indicators.rosace_table`.

One petal per indicator, grouped by axis (porte d'entrée) and clockwise from 12 o'clock.
The petal length is the index against the reference (100 = reference, beyond the circle
= more favourable, clipped to [0, 200] so that rosaces stay comparable); its fill says
the verdict; missing, masked and reference-less petals are grey and hatched.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ptsm_diag.fmt import format_number

RADIAL_MAX = 200.0
GAP_SLOTS = 0.6  # empty space between two axes, in petal widths

# Paul Tol "muted" colours (colour-blind safe), one per axis.
AXIS_COLOURS = {1: "#332288", 2: "#117733", 3: "#44AA99", 4: "#AA4499", 5: "#882255"}

# Petal categories: fill, hatch (plotly marker.pattern shape), legend label.
CATEGORIES = {
    "meilleur": ("#0072B2", "", "Plus favorable que la référence"),
    "comparable": ("#E5D8A8", "", "Comparable à la référence"),
    "moins bon": ("#D55E00", "", "Moins favorable que la référence"),
    "non évaluable": ("#FFFFFF", "", "Écart non évaluable"),
    "sans référence": ("#EEEEEE", ".", "Référence indisponible"),
    "manquant": ("#E0E0E0", "/", "Donnée manquante"),
    "masqué": ("#E0E0E0", "x", "Donnée masquée (secret statistique)"),
}
_GREY_CATEGORIES = ("sans référence", "manquant", "masqué")

_DIRECTION_FR = {
    "higher_is_better": "une valeur plus élevée est plus favorable",
    "higher_is_worse": "une valeur plus élevée est moins favorable",
    "neutral": "pas de sens de lecture fixé",
}
CAPTION_NORMS = "Repères indicatifs, pas des normes (ANAP)."


def _plain(text: object) -> str:
    """Input text for plotly's HTML-like labels: shown as written, never as markup."""
    return html.escape(str(text), quote=False)


def rosace_figure(
    table: pd.DataFrame, *, title: str | None = None, projection: bool = False
) -> go.Figure:
    """The rosace of one territory.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`ptsm_diag.compute.indicators.rosace_table`.
    title : str, optional
        Figure title, plain text (escaped here); by default
        "Rosace des parcours – <territoire>".
    projection : bool
        Larger fonts and size, for a meeting-room projector.

    Returns
    -------
    plotly.graph_objects.Figure
        Traces carry ``meta={"role": "axis" | "petal" | "reference", ...}``.
    """
    sizes = rosace_sizes(projection)
    fig = go.Figure()
    polar = add_rosace(fig, table, "polar", showlegend=True, sizes=sizes)
    polar["domain"] = {"x": [0.0, sizes["domain"] / 100], "y": [0.09, 1.0]}
    territory = _first(table, "code_territoire") or ""
    # the layout given whole: update_layout merges key by key, three times slower
    fig.layout = go.Layout(
        title={"text": _plain(title or f"Rosace des parcours – {territory}"),
               "font": {"size": sizes["title"]}},
        polar=polar,
        font={"size": sizes["font"]},
        width=sizes["width"],
        height=sizes["height"],
        margin={"l": sizes["margin"], "r": 30, "t": sizes["margin"] + 20,
                "b": sizes["margin"]},
        legend={"font": {"size": sizes["legend"]}, "itemclick": False,
                "itemdoubleclick": False, "x": sizes["domain"] / 100 + 0.08, "y": 1.0,
                "xanchor": "left"},
        separators=", ",
        hoverlabel={"font": {"size": sizes["hover"]}, "align": "left"},
        annotations=[_caption(table, sizes)],
    )
    return fig


def rosace_comparison_figure(
    table_a: pd.DataFrame, table_b: pd.DataFrame, labels: Sequence[str], *,
    title: str | None = None, projection: bool = False,
) -> go.Figure:
    """Two rosaces side by side (two territories, or one territory in two years).

    Parameters
    ----------
    table_a, table_b : DataFrame
        Outputs of :func:`ptsm_diag.compute.indicators.rosace_table`, on the same scale.
    labels : sequence of two str
        Subplot titles, plain text, e.g. ``["Territoire A (2022)", "Territoire A (2024)"]``.
    title : str, optional
        Figure title, plain text.
    """
    if len(labels) != 2:
        raise ValueError("labels : deux libellés attendus")
    sizes = rosace_sizes(projection)
    fig = go.Figure()
    polar_a = add_rosace(fig, table_a, "polar", showlegend=True, sizes=sizes)
    polar_b = add_rosace(fig, table_b, "polar2", showlegend=False, sizes=sizes)
    polar_a["domain"] = {"x": [0.05, 0.45], "y": [0.3, 0.94]}
    polar_b["domain"] = {"x": [0.55, 0.95], "y": [0.3, 0.94]}
    caption = _caption(pd.concat([table_a, table_b], ignore_index=True), sizes)
    caption.update({"y": 0.2})
    titles = [{"text": f"<b>{_plain(text)}</b>", "xref": "paper", "yref": "paper", "x": x,
               "y": 1.07, "xanchor": "center", "yanchor": "bottom", "showarrow": False,
               "font": {"size": sizes["title"] - 2}}
              for text, x in zip(labels, (0.25, 0.75), strict=True)]
    fig.update_layout(
        title={"text": _plain(title or "Comparaison des rosaces"),
               "font": {"size": sizes["title"]}},
        polar=polar_a, polar2=polar_b,
        font={"size": sizes["font"]},
        width=int(sizes["width"] * 1.6), height=int(sizes["height"] * 1.15),
        margin={"l": 40, "r": 40, "t": sizes["margin"] + 60, "b": 30},
        legend={"orientation": "h", "x": 0.0, "y": 0.12, "yanchor": "top",
                "font": {"size": sizes["legend"]}, "itemclick": False,
                "itemdoubleclick": False},
        separators=", ",
        hoverlabel={"font": {"size": sizes["hover"]}, "align": "left"},
        annotations=[*titles, caption],
    )
    return fig


def index_evolution_figure(
    table_first: pd.DataFrame, table_last: pd.DataFrame, labels: Sequence[str], *,
    title: str | None = None,
) -> go.Figure:
    """The index of every rosace indicator in two years, as a dumbbell chart.

    One line per indicator (rosace order, top to bottom): a hollow dot for the first
    year, a filled dot for the last, joined by a segment; the reference is the vertical
    line at 100. Indicators without an index in either year are listed without dots.
    Reads at any width, unlike two small rosaces side by side.

    Parameters
    ----------
    table_first, table_last : DataFrame
        Outputs of :func:`ptsm_diag.compute.indicators.rosace_table` for the two years.
    labels : sequence of two str
        Legend labels of the two years, plain text, e.g. ``["2022", "2024"]``.
    title : str, optional
        Figure title, plain text.
    """
    if len(labels) != 2:
        raise ValueError("labels : deux libellés attendus")
    first = table_first.set_index("indicateur")
    last = table_last.set_index("indicateur")
    order = list(dict.fromkeys([*table_first["indicateur"], *table_last["indicateur"]]))
    short = {**first["short_label"].to_dict(), **last["short_label"].to_dict()}
    names = [_plain(short.get(code, code)) for code in order]

    def index(table: pd.DataFrame, code: str) -> float:
        if code not in table.index or table.loc[code, "statut"] != "ok":
            return float("nan")
        return float(np.clip(float(table.loc[code, "index"]), 0, RADIAL_MAX))

    a = np.array([index(first, c) for c in order])
    b = np.array([index(last, c) for c in order])
    xs, ys = [], []
    for name, x0, x1 in zip(names, a, b, strict=True):
        if np.isfinite(x0) and np.isfinite(x1):
            xs += [x0, x1, None]
            ys += [name, name, None]
    traces = [go.Scatter(x=xs, y=ys, mode="lines", line={"color": "#999999", "width": 3},
                         hoverinfo="skip", showlegend=False, meta={"role": "segment"})]
    for values, label, symbol in ((a, labels[0], "circle-open"), (b, labels[1], "circle")):
        traces.append(go.Scatter(
            x=values, y=names, mode="markers", name=_plain(label),
            marker={"symbol": symbol, "size": 12, "color": "#1f3a68",
                    "line": {"width": 2, "color": "#1f3a68"}},
            hovertemplate="%{y}<br>" + _plain(label) + " : indice %{x:.0f}<extra></extra>",
            meta={"role": "year", "label": str(label)}))
    reference = _plain(_first(table_last, "reference_label") or "la référence")
    # traces and layout given whole (adding them one by one costs twice the time)
    return go.Figure(data=traces, layout={
        "title": {"text": _plain(title or "Évolution des indices de la rosace")},
        "xaxis": {"range": [0, RADIAL_MAX + 5], "title": f"Indice (100 = {reference} ; "
                  "plus élevé = plus favorable, tronqué à 200)", "gridcolor": "#DDDDDD"},
        "yaxis": {"autorange": "reversed", "automargin": True},
        "height": max(320, 28 * len(order) + 160), "width": None, "autosize": True,
        "margin": {"l": 20, "r": 20, "t": 60, "b": 60}, "plot_bgcolor": "white",
        "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
        "separators": ", ", "font": {"size": 12},
        # the reference line at 100 (as Figure.add_vline draws it)
        "shapes": [{"type": "line", "x0": 100, "x1": 100, "xref": "x", "y0": 0, "y1": 1,
                    "yref": "y domain",
                    "line": {"color": "#222222", "dash": "dash", "width": 2}}],
    })


def rosace_accessible_table(table: pd.DataFrame) -> pd.DataFrame:
    """What the rosace shows, as a table with French column names (screen reader, print).

    Masked and missing values are empty (NaN); the "Statut" column says why.
    """
    statut = table["statut"].map({"ok": "disponible", "manquant": "donnée manquante",
                                  "masqué": "masquée (secret statistique)"})
    axis = table["axis"].astype("Int64").astype(str) + " – " + table["axis_label"]
    return pd.DataFrame({
        "Axe": axis.to_numpy(),
        "Indicateur": table["label"].to_numpy(),
        "Année": table["annee"].to_numpy(),
        "Valeur": table["value"].to_numpy(dtype=float),
        "Unité": table["unit"].to_numpy(),
        "IC 95 % (borne basse)": table["ci_low"].to_numpy(dtype=float),
        "IC 95 % (borne haute)": table["ci_high"].to_numpy(dtype=float),
        f"Référence ({_first(table, 'reference_label') or 'référence'})":
            table["reference"].to_numpy(dtype=float),
        "Indice (100 = référence)": table["index"].to_numpy(dtype=float).round(0),
        "Appréciation": table["verdict"].to_numpy(),
        "Rang (1 = plus favorable)": table["rank"].to_numpy(dtype=float),
        "Territoires classés": table["rank_count"].to_numpy(dtype=float),
        "Sens de lecture": table["direction"].map(_DIRECTION_FR).to_numpy(),
        "Statut": statut.to_numpy(),
        "Source": table["source"].to_numpy(),
    })


# --------------------------------------------------------------------------- building


def rosace_sizes(projection: bool) -> dict[str, int]:
    """Font sizes and dimensions of a rosace: on screen, or large for a projector."""
    if projection:
        return {"font": 20, "tick": 16, "title": 30, "legend": 17, "caption": 17, "domain": 57,
                "width": 1600, "height": 1150, "margin": 130, "hover": 20, "line": 3}
    return {"font": 12, "tick": 11, "title": 18, "legend": 11, "caption": 11, "domain": 64,
            "width": 1100, "height": 800, "margin": 80, "hover": 13, "line": 2}


def _layout_angles(axes: Sequence[int]) -> tuple[np.ndarray, float]:
    """Centre angle (degrees, 0 = 12 o'clock) of each petal, and the petal slot width."""
    axes = list(axes)
    n_gaps = len(set(axes))
    slot = 360.0 / (len(axes) + GAP_SLOTS * n_gaps)
    thetas, position = [], GAP_SLOTS * slot / 2
    for i, axis in enumerate(axes):
        if i > 0 and axis != axes[i - 1]:
            position += GAP_SLOTS * slot
        thetas.append(position + slot / 2)
        position += slot
    return np.array(thetas), slot


def _category(row: Mapping[str, Any]) -> str:
    if row["statut"] == "masqué":
        return "masqué"
    if row["statut"] != "ok":
        return "manquant"
    if pd.isna(row["index"]):
        return "sans référence"
    return row["verdict"] if row["verdict"] in CATEGORIES else "non évaluable"


def add_rosace(
    fig: go.Figure | list, table: pd.DataFrame, subplot: str, *, showlegend: bool,
    sizes: dict[str, int], in_legend: set[str] | None = None,
) -> dict:
    """Add the traces of one rosace to ``fig``; return its polar layout.

    ``fig`` may be a list, to which the traces are appended: a figure of many rosaces
    is faster built from all its traces at once (each addition to a figure checks the
    traces it already holds again).

    With ``showlegend=False``, only the petal categories not yet in the legend are added
    to it: those of ``in_legend`` when given (a set the caller keeps across rosaces, to
    which this rosace adds its own), read from ``fig``'s traces otherwise (slow on a
    figure of a hundred rosaces: every trace read again for each rosace).
    """
    if in_legend is None:
        held = fig if isinstance(fig, list) else fig.data
        in_legend = {t.meta.get("category") for t in held
                     if isinstance(t.meta, dict) and t.showlegend is not False}
    table = table.reset_index(drop=True)
    records = table.to_dict("records")  # rows as dicts: much faster to read than Series
    thetas, slot = _layout_angles(table["axis"].tolist())
    categories = np.array([_category(row) for row in records], dtype=object)
    radius = np.clip(table["index"].to_numpy(dtype=float), 0, RADIAL_MAX)
    radius = np.where(np.isnan(radius), RADIAL_MAX, radius)  # also +inf → clipped above
    hover = [_hover(row) for row in records]
    line_colours = [AXIS_COLOURS.get(int(a), "#555555") for a in table["axis"]]
    indicators = table["indicateur"].tolist()

    traces: list[go.Barpolar | go.Scatterpolar] = []  # added at once: faster than each
    for axis in dict.fromkeys(table["axis"]):
        members = (table["axis"] == axis).to_numpy()
        span = thetas[members]
        label = next((str(row["axis_label"]) for row, m in zip(records, members, strict=True)
                      if m and not pd.isna(row["axis_label"])), "")
        traces.append(go.Barpolar(
            r=[RADIAL_MAX], theta=[(span.min() + span.max()) / 2],
            width=[span.max() - span.min() + slot * (1 + GAP_SLOTS * 0.8)],
            marker={"color": AXIS_COLOURS.get(int(axis), "#999999"), "opacity": 0.10,
                    "line": {"width": 0}},
            name=f"Axe {int(axis)} : {_plain(label)}", legendgroup="axes",
            legendgrouptitle={"text": "Portes d'entrée"},
            hoverinfo="skip", showlegend=showlegend, subplot=subplot,
            meta={"role": "axis", "axis": int(axis)},
        ))

    for category, (fill, hatch, legend) in CATEGORIES.items():
        members = categories == category
        if not members.any():
            continue
        grey = category in _GREY_CATEGORIES
        listed = showlegend or category not in in_legend
        pattern = ({"shape": hatch, "fgcolor": "#7F7F7F", "bgcolor": fill, "solidity": 0.25}
                   if hatch else None)
        traces.append(go.Barpolar(
            r=radius[members], theta=thetas[members], width=[slot * 0.92] * members.sum(),
            marker={"color": fill, "opacity": 0.55 if grey else 0.9,
                    "line": {"color": [c for c, m in zip(line_colours, members, strict=True)
                                       if m], "width": sizes["line"]},
                    "pattern": pattern},
            name=legend, legendgroup="categories",
            legendgrouptitle={"text": "Lecture"},
            customdata=[h for h, m in zip(hover, members, strict=True) if m],
            hovertemplate="%{customdata}<extra></extra>",
            showlegend=listed, subplot=subplot,
            meta={"role": "petal", "category": category,
                  "indicators": [i for i, m in zip(indicators, members, strict=True)
                                 if m]},
        ))
        if listed:
            in_legend.add(category)

    reference = _first(table, "reference_label") or "référence"
    circle = np.linspace(0, 360, 181)
    traces.append(go.Scatterpolar(
        r=np.full(circle.size, 100.0), theta=circle, mode="lines",
        line={"color": "#222222", "width": sizes["line"], "dash": "dash"},
        name=f"Référence ({_plain(reference)}) = 100", hoverinfo="skip", showlegend=showlegend,
        subplot=subplot, meta={"role": "reference", "reference": reference},
    ))

    if isinstance(fig, list):
        fig.extend(traces)
    else:
        fig.add_traces(traces)

    ticktext = [_tick(row) for row in records]
    return {
        "bgcolor": "white",
        "barmode": "overlay",
        "radialaxis": {"range": [0, RADIAL_MAX], "tickvals": [50, 100, 150, 200],
                       "ticktext": ["50", "100", "150", "≥ 200"], "angle": 90,
                       "tickangle": 90, "tickfont": {"size": sizes["tick"] - 2},
                       "gridcolor": "#DDDDDD", "showline": False},
        "angularaxis": {"rotation": 90, "direction": "clockwise", "tickmode": "array",
                        "tickvals": thetas.tolist(), "ticktext": ticktext,
                        "tickfont": {"size": sizes["tick"]}, "showgrid": False,
                        "linecolor": "#BBBBBB", "thetaunit": "degrees"},
    }


# --------------------------------------------------------------------------- text


def format_fr(value: float, unit: str = "") -> str:
    """A number in French, decimals by magnitude (:func:`ptsm_diag.fmt.format_number`)."""
    return format_number(value, None, unit=unit)


def _with_unit(value: float, unit: str) -> str:
    text = format_fr(value, unit)
    if unit == "%" or text == "n.d.":
        return text
    return f"{text} {unit}"


def _compact_unit(unit: str) -> str:
    if unit == "%":
        return ""
    if unit == "jours":
        return "\u00a0j"
    for per in ("100 000", "1 000"):
        if f"pour {per}" in unit:
            return f"\u00a0/{per}".replace(" ", "\u202f")
    return ""


def _tick(row: Mapping[str, Any]) -> str:
    """Angular label: wrapped short label and the raw value."""
    if row["statut"] == "masqué":
        value = "masqué"
    elif row["statut"] != "ok":
        value = "n.d."
    else:
        value = format_fr(row["value"], row["unit"]) + _compact_unit(row["unit"])
    label = "<br>".join(_plain(part) for part in str(row["label_wrapped"]).split("<br>"))
    return f"{label}<br><i>{value}</i>"


def _ordinal(rank: float) -> str:
    rank = int(rank)
    return "1er" if rank == 1 else f"{rank}e"


def _hover(row: Mapping[str, Any]) -> str:
    unit = row["unit"]
    lines = [f"<b>{_plain(row['label'])}</b>",
             f"Axe {int(row['axis'])} : {_plain(row['axis_label'])}"]
    year = "" if pd.isna(row["annee"]) else str(int(row["annee"]))
    if row["statut"] == "masqué":
        lines.append("Valeur masquée (secret statistique : effectif trop faible)")
    elif row["statut"] != "ok":
        lines.append("Donnée manquante")
    else:
        value = f"Valeur : {_with_unit(row['value'], unit)}"
        if pd.notna(row["ci_low"]) and pd.notna(row["ci_high"]):
            value += (f" (IC 95 % : {format_fr(row['ci_low'], unit)} – "
                      f"{format_fr(row['ci_high'], unit)})")
        lines.append(value)
    reference = _plain(row["reference_label"])
    if pd.notna(row["reference"]):
        origin = ("" if pd.isna(row["reference_source"])
                  else f" ({_plain(row['reference_source'])})")
        lines.append(f"Référence {reference} : {_with_unit(row['reference'], unit)}{origin}")
    elif row["reference_source"] == "masquée":
        lines.append(f"Référence {reference} : masquée (secret statistique)")
    else:
        lines.append(f"Référence {reference} : non disponible")
    if row["statut"] == "ok" and pd.notna(row["index"]):
        index = f"Indice : {format_fr(row['index'])} (100 = référence ; > 100 = plus favorable)"
        if not np.isfinite(row["index"]) or row["index"] > RADIAL_MAX:
            index += f", affiché tronqué à {int(RADIAL_MAX)}"
        lines.append(index)
        lines.append(f"Appréciation : {_plain(row['verdict'])}")
    if row["statut"] == "ok" and pd.notna(row["rank"]):
        lines.append(f"Rang : {_ordinal(row['rank'])} sur {int(row['rank_count'])} territoires "
                     "(1er = plus favorable)")
    lines.append(f"Sens de lecture : {_DIRECTION_FR.get(row['direction'], '')}")
    lines.append(f"Source : {_plain(row['source'])}" + (f" – {year}" if year else ""))
    return "<br>".join(lines)


def _caption(table: pd.DataFrame, sizes: dict[str, int]) -> dict:
    years = sorted({int(y) for y in table["annee"].dropna()})
    present = table.loc[table["statut"] != "manquant", "source"].dropna()
    sources = sorted({s.strip() for text in present for s in str(text).split(",")})
    reference = _plain(_first(table, "reference_label") or "la référence")
    sources = [_plain(source) for source in sources]
    period = (f"{years[0]}" if len(years) == 1 else f"{years[0]}–{years[-1]}") if years else "n.d."
    text = (f"Indice 100 = {reference} ; au-delà du cercle, situation plus favorable que la "
            f"référence (sens de lecture de chaque indicateur pris en compte), indices tronqués "
            f"à {int(RADIAL_MAX)}.<br>Sources : {', '.join(sources) or 'n.d.'} ; années : "
            f"{period}. {CAPTION_NORMS}")
    return {"text": text, "xref": "paper", "yref": "paper", "x": 0, "y": -0.03,
            "xanchor": "left", "yanchor": "top", "showarrow": False, "align": "left",
            "font": {"size": sizes["caption"], "color": "#444444"}}


def _first(table: pd.DataFrame, column: str) -> str | None:
    if column not in table or table[column].dropna().empty:
        return None
    return str(table[column].dropna().iloc[0])
