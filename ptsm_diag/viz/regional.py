"""Figures and maps of the regional synthesis, drawn from its tables.

- :func:`territory_choropleth` — the territories coloured by their index on one indicator
  (offline by default);
- :func:`small_multiple_rosaces`, :func:`ranking_figure` — plotly figures;
- :func:`rosace_key` — the key of the numbered petals.

The tables come from :mod:`ptsm_diag.compute.regional`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ptsm_diag.compute.indicators import STATUT_MANQUANT, STATUT_MASQUE, STATUT_OK
from ptsm_diag.compute.regional import DIRECTION_ARROWS, heatmap_class, heatmap_text
from ptsm_diag.viz.maps import RawHtml, base_map, safe_html
from ptsm_diag.viz.offline import SharedGeoJson
from ptsm_diag.viz.rosace import CATEGORIES, add_rosace, format_fr, rosace_sizes

# Heat-map classes: key → (CSS class, French legend, background, text colour).
# Colours are those of the rosace petals (Okabe-Ito, colour-blind safe).
HEAT_CLASSES: dict[str, tuple[str, str, str, str]] = {
    "mieux": ("hm-mieux", "Plus favorable que la référence", CATEGORIES["meilleur"][0],
              "#FFFFFF"),
    "comparable": ("hm-comparable", "Comparable à la référence",
                   CATEGORIES["comparable"][0], "#222222"),
    "moins-bon": ("hm-moins-bon", "Moins favorable que la référence",
                  CATEGORIES["moins bon"][0], "#FFFFFF"),
    "non-evaluable": ("hm-non-evaluable", "Écart non évaluable", "#FFFFFF", "#222222"),
    "sans-reference": ("hm-sans-reference", "Référence indisponible", "#EEEEEE", "#444444"),
    "masque": ("hm-masque", "Donnée masquée (secret statistique)", "#D9D9D9", "#333333"),
    "manquant": ("hm-manquant", "Donnée manquante", "#F2F2F2", "#555555"),
}


def territory_choropleth(
    outlines: gpd.GeoDataFrame,
    ranking: pd.DataFrame,
    title: str,
    *,
    fond: str | None = None,
    font_scale: float = 1.0,
) -> folium.Map:
    """The territories coloured by their position against the reference, one feature each.

    Same classes and colours as the heat-map (:func:`heatmap_class`, direction-aware);
    each territory is labelled with its name and value.

    Parameters
    ----------
    outlines : GeoDataFrame
        Output of :func:`territory_outlines`.
    ranking : DataFrame
        Output of :func:`indicator_ranking` for the indicator.
    title : str
        French title of the legend (the indicator's label).
    fond : {None, "osm"}
        Background tiles; None works offline.
    font_scale : float
        Multiplier of the label and legend font sizes (projection).
    """
    data = outlines.merge(ranking.drop(columns=["territoire"]), on="code_territoire",
                          how="left")
    data["statut"] = data["statut"].fillna(STATUT_MANQUANT)
    data["classe"] = [heatmap_class(s, v, i) for s, v, i in
                      zip(data["statut"], data["verdict"], data["index"].astype(float),
                          strict=True)]
    data["couleur"] = data["classe"].map(lambda c: HEAT_CLASSES[c][2])
    data["tirets"] = np.where(data["statut"] == STATUT_MASQUE, "6 4", "")
    data["nom_html"] = data["nom"].map(safe_html)
    data["valeur"] = [_value_text(s, v, u) for s, v, u in
                      zip(data["statut"], data["value"], data["unit"].fillna(""), strict=True)]
    data["indice"] = [heatmap_text(s, i) for s, i in
                      zip(data["statut"], data["index"].astype(float), strict=True)]
    data["rang_texte"] = [f"{int(r)}e / {int(data['rang'].notna().sum())}" if pd.notna(r)
                          else "—" for r in data["rang"]]
    data["reference_texte"] = [format_fr(v, u) for v, u in
                               zip(data["reference"], data["unit"].fillna(""), strict=True)]
    m = base_map(tuple(data.total_bounds), fond)
    fields = ["nom_html", "valeur", "reference_texte", "indice", "rang_texte"]
    SharedGeoJson(
        data[["code_territoire", *fields, "couleur", "tirets", "geometry"]],
        name=safe_html(title),
        style_function=lambda f: {
            "fillColor": f["properties"]["couleur"], "color": "#333333",
            "weight": 1.5, "fillOpacity": 0.85, "dashArray": f["properties"]["tirets"],
        },
        highlight_function=lambda f: {"weight": 4, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(
            fields=fields,
            aliases=["Territoire", "Valeur", "Référence", "Indice", "Rang"],
            style=f"font-size:{round(13 * font_scale)}px",
        ),
    ).add_to(m)
    size = round(13 * font_scale)
    for _, row in data.iterrows():
        point = row.geometry.representative_point()
        label = (f'<div style="font:bold {size}px sans-serif;text-align:center;'
                 "white-space:nowrap;transform:translate(-50%,-50%);color:#111;"
                 'text-shadow:0 0 3px #fff,0 0 3px #fff,0 0 3px #fff">'
                 f"{row['nom_html']}<br>{safe_html(row['valeur'])}</div>")
        folium.Marker([point.y, point.x], icon=folium.DivIcon(html=label, icon_size=(0, 0)),
                      interactive=False).add_to(m)
    present = [c for c in HEAT_CLASSES if c in set(data["classe"])
               or c in ("mieux", "comparable", "moins-bon")]
    m.get_root().html.add_child(_class_legend(title, present, font_scale))
    return m


def _value_text(statut: str, value: float, unit: str) -> str:
    if statut == STATUT_MASQUE:
        return "masqué"
    if statut != STATUT_OK:
        return "n.d."
    text = format_fr(value, unit)
    return text if unit == "%" else f"{text} {unit}".strip()


def _class_legend(title: str, classes: list[str], font_scale: float) -> RawHtml:
    size = round(13 * font_scale)
    swatch = (f"width:{round(18 * font_scale)}px;height:{round(12 * font_scale)}px;"
              "display:inline-block;border:1px solid #777;margin-right:6px;vertical-align:middle")
    rows = []
    for key in classes:
        _css, label, colour, _fg = HEAT_CLASSES[key]
        dashed = ";border-style:dashed" if key == "masque" else ""
        rows.append(f'<div><span style="background:{colour};{swatch}{dashed}"></span>'
                    f"{safe_html(label)}</div>")
    box = (
        '<div style="position:absolute;bottom:28px;right:10px;z-index:1000;background:white;'
        f"padding:8px 10px;border:1px solid #999;border-radius:4px;font:{size}px sans-serif;"
        f'max-width:{round(300 * font_scale)}px"><b>{safe_html(title)}</b>'
        f"{''.join(rows)}</div>"
    )
    return RawHtml(box)


def _grid_columns(n: int) -> int:
    return 1 if n == 1 else 2 if n <= 4 else 3 if n <= 9 else 4


def small_multiple_rosaces(
    rosaces: Mapping[str, pd.DataFrame],
    names: Mapping[str, str],
    *,
    columns: int | None = None,
) -> go.Figure:
    """One small rosace per territory, all on the same radial scale (0 to 200).

    Petals are numbered (1 = first indicator of the catalogue); the key is given by
    :func:`rosace_key`. Hovering a petal shows the indicator, value and reference.

    Parameters
    ----------
    rosaces : dict
        Territory code → output of :func:`ptsm_diag.compute.indicators.rosace_table`.
    names : dict
        Territory code → name (subplot titles).
    columns : int, optional
        Rosaces per row; by default 2 up to 4 territories, 3 up to 9, then 4.
    """
    codes = list(rosaces)
    if not codes:
        return go.Figure()
    cols = columns or _grid_columns(len(codes))
    rows = math.ceil(len(codes) / cols)
    sizes = {**rosace_sizes(False), "tick": 12, "line": 1}
    row_height = 430 if cols <= 2 else 360
    legend_height = 150
    height = rows * row_height + legend_height
    traces: list = []  # the figure is built from all of them at once (much faster)
    layout: dict = {}
    annotations = []
    in_legend: set[str] = set()  # petal categories already in the legend
    plot_top = 1.0
    plot_bottom = legend_height / height
    cell_h = (plot_top - plot_bottom) / rows
    for i, code in enumerate(codes):
        subplot = "polar" if i == 0 else f"polar{i + 1}"
        polar = add_rosace(traces, rosaces[code], subplot, showlegend=i == 0, sizes=sizes,
                           in_legend=in_legend)
        numbers = [str(n) for n in range(1, len(rosaces[code]) + 1)]
        polar["angularaxis"]["ticktext"] = numbers
        polar["radialaxis"]["tickfont"] = {"size": 9}
        r, c = divmod(i, cols)
        top = plot_top - r * cell_h - 0.06 * cell_h
        bottom = plot_top - (r + 1) * cell_h + 0.08 * cell_h
        left, right = c / cols + 0.04 / cols, (c + 1) / cols - 0.04 / cols
        polar["domain"] = {"x": [left, right], "y": [bottom, top - 0.05 * cell_h]}
        layout[subplot] = polar
        annotations.append({
            "text": f"<b>{html.escape(str(names.get(code, code)))}</b>", "xref": "paper",
            "yref": "paper", "x": (left + right) / 2, "y": top + 0.02 * cell_h,
            "xanchor": "center", "yanchor": "bottom", "showarrow": False,
            "font": {"size": 15},
        })
    return go.Figure(data=traces, layout={
        **layout,
        "height": height, "width": 1100 if cols > 1 else 700,
        "margin": {"l": 20, "r": 20, "t": 40, "b": 10},
        "font": {"size": 12}, "separators": ", ",
        "legend": {"orientation": "h", "x": 0.0, "y": plot_bottom - 0.01, "yanchor": "top",
                   "itemclick": False, "itemdoubleclick": False, "font": {"size": 11}},
        "hoverlabel": {"align": "left"},
        "annotations": annotations,
    })


def rosace_key(rosace: pd.DataFrame) -> pd.DataFrame:
    """Key of the numbered petals: ``N°, Axe, Indicateur, Sens de lecture``."""
    return pd.DataFrame({
        "N°": [str(n) for n in range(1, len(rosace) + 1)],
        "Axe": [f"{int(a)} – {label}" for a, label in
                zip(rosace["axis"], rosace["axis_label"], strict=True)],
        "Indicateur": rosace["label"].to_numpy(),
        "Sens de lecture": rosace["direction"].map(DIRECTION_ARROWS).to_numpy(),
    })


def ranking_figure(ranking: pd.DataFrame, title: str) -> go.Figure:
    """Horizontal bars of the territories' values on one indicator, reference dashed.

    Bars are coloured by verdict against the reference; a masked or missing territory
    has no bar and reads « masqué » or « n.d. » (never a zero-length bar).
    """
    frame = ranking.iloc[::-1].reset_index(drop=True)
    unit = str(frame["unit"].dropna().iloc[0]) if frame["unit"].notna().any() else ""
    verdict_colour = {"meilleur": CATEGORIES["meilleur"][0],
                      "comparable": CATEGORIES["comparable"][0],
                      "moins bon": CATEGORIES["moins bon"][0]}
    colours = [verdict_colour.get(v, "#BBBBBB") for v in frame["verdict"]]
    labels = [_value_text(s, v, "%" if unit == "%" else "") for s, v in
              zip(frame["statut"], frame["value"], strict=True)]
    names = [f"{int(r)}. {n}" if pd.notna(r) else str(n)
             for r, n in zip(frame["rang"], frame["territoire"], strict=True)]
    fig = go.Figure(go.Bar(
        x=frame["value"].where(frame["statut"] == STATUT_OK),
        y=names, orientation="h", marker={"color": colours, "line": {"color": "#333",
                                                                        "width": 1}},
        text=labels, textposition="outside", cliponaxis=False,
        hovertemplate="%{y} : %{text}<extra></extra>",
    ))
    masked = [(n, t) for n, t, s in zip(names, labels, frame["statut"], strict=True)
              if s != STATUT_OK]
    annotations = [{"x": 0, "y": n, "xref": "x", "yref": "y", "text": f"<i>{t}</i>",
                    "showarrow": False, "xanchor": "left"} for n, t in masked]
    reference = frame["reference"].dropna()
    shapes = []
    if not reference.empty:
        ref = float(reference.iloc[0])
        shapes.append({"type": "line", "x0": ref, "x1": ref, "yref": "paper", "y0": 0,
                       "y1": 1, "line": {"dash": "dash", "color": "#222", "width": 2}})
        annotations.append({"x": ref, "y": 1.02, "yref": "paper", "xref": "x",
                            "text": f"Référence : {_value_text(STATUT_OK, ref, unit)}",
                            "showarrow": False, "yanchor": "bottom"})
    fig.update_layout(
        title={"text": html.escape(title)}, height=140 + 42 * len(frame), width=1000,
        margin={"l": 20, "r": 120, "t": 80, "b": 40}, separators=", ",
        xaxis={"title": html.escape(unit), "rangemode": "tozero"},
        yaxis={"automargin": True}, shapes=shapes, annotations=annotations,
        showlegend=False,
    )
    return fig
