"""Regional synthesis: every territory of a région (or any list) side by side.

Pure computations and figures (no file written, nothing printed), from the same data
folder as a territorial diagnostic:

- :func:`prepare_synthesis` — territories, located resources, indicator values and one
  rosace table per territory, computed once;
- :func:`heatmap_frame` / :func:`heatmap_class` — indices by territory × indicator with a
  direction-aware class (more favourable, comparable, less favourable, masked, missing);
- :func:`indicator_ranking` — territories ranked on one indicator (1 = most favourable),
  masked and missing values listed last, never as zero;
- :func:`resource_rates` — resources per 100,000 inhabitants by type, side by side;
- :func:`territory_outlines`, :func:`territory_choropleth` — a map of the territories
  (dissolved outlines) coloured by their index on one indicator (offline by default);
- :func:`small_multiple_rosaces`, :func:`ranking_figure` — plotly figures.

The report pieces built from these are in :mod:`ptsm_diag.regional_sections`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ptsm_diag.catalog import Indicator, load_indicator_catalog, load_resource_types
from ptsm_diag.demo import is_demo_folder
from ptsm_diag.diagnostic import REFERENCES, load_data
from ptsm_diag.errors import PtsmError, UnknownCodeError
from ptsm_diag.indicators import (
    STATUT_MANQUANT,
    STATUT_MASQUE,
    STATUT_OK,
    compute_indicator_values,
    rosace_table,
)
from ptsm_diag.maps import RawHtml, base_map, safe_html
from ptsm_diag.resources import locate_resources, summarise_by_type
from ptsm_diag.rosace import CATEGORIES, add_rosace, format_fr, rosace_sizes
from ptsm_diag.sources import DataFolder
from ptsm_diag.territory import (
    Territory,
    main_regions,
    territories_from_table,
    territory_communes,
)

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
_VERDICT_CLASS = {"meilleur": "mieux", "comparable": "comparable", "moins bon": "moins-bon"}

DIRECTION_ARROWS = {
    "higher_is_better": "↗ plus élevé = plus favorable",
    "higher_is_worse": "↘ plus élevé = moins favorable",
    "neutral": "sans sens de lecture",
}


@dataclass
class Synthesis:
    """What a regional synthesis shows, computed once for the selected territories."""

    territories: dict[str, Territory]
    data: DataFolder
    data_folder: Path
    is_demo: bool
    reference: str
    region: str | None
    catalog: dict[str, Indicator]
    resources: gpd.GeoDataFrame
    indicator_values: pd.DataFrame
    rosaces: dict[str, pd.DataFrame]
    year: int | None
    generated_at: datetime = field(default_factory=datetime.now)

    @property
    def codes(self) -> list[str]:
        """Codes of the territories, in display order."""
        return list(self.territories)

    @property
    def names(self) -> dict[str, str]:
        """Territory code → name."""
        return {code: t.name for code, t in self.territories.items()}

    @property
    def reference_label(self) -> str:
        """French label of the reference of the indices."""
        return REFERENCES[self.reference]


# --------------------------------------------------------------------------- selection


def parse_codes(codes: str | Iterable[str] | None) -> list[str]:
    """Territory codes from a comma-separated string (or a list), stripped, deduplicated.

    >>> parse_codes(" 22, 29,,22 ")
    ['22', '29']
    """
    if codes is None:
        return []
    items = codes.split(",") if isinstance(codes, str) else [str(c) for c in codes]
    return list(dict.fromkeys(c.strip() for c in items if c.strip()))


def select_territories(
    territoires: pd.DataFrame,
    *,
    region: str | None = None,
    codes: str | Iterable[str] | None = None,
) -> list[str]:
    """Codes of the territories of a synthesis.

    Parameters
    ----------
    territoires : DataFrame
        The ``territoires`` table.
    region : str, optional
        Région code (``"53"``): its territories (main région, by population), in table
        order. Ignored when ``codes`` is given.
    codes : str or list, optional
        Territory codes (``"22,29"``), in the given order.

    Returns
    -------
    list of str
        Every territory of the table when neither is given.

    Raises
    ------
    UnknownCodeError
        A code absent from the table, or a région without any territory.
    """
    known = list(dict.fromkeys(territoires["code_territoire"].astype(str).str.strip()))
    wanted = parse_codes(codes)
    if wanted:
        unknown = [c for c in wanted if c not in set(known)]
        if unknown:
            raise UnknownCodeError("territoire", unknown,
                                   hint=f"Territoires du dossier : {', '.join(sorted(known))}")
        return wanted
    region = str(region).strip() if region is not None else ""
    if not region:
        return known
    regions = main_regions(territoires)
    selected = [c for c in known if regions.get(c) == region]
    if not selected:
        raise UnknownCodeError(
            "région", [region],
            hint=f"Régions des territoires : {', '.join(sorted(set(regions.values())))}",
        )
    return selected


def prepare_synthesis(
    donnees: str | Path | None = None,
    *,
    region: str | None = None,
    territoires: str | Iterable[str] | None = None,
    reference: str = "france",
    annee: int | None = None,
    secrecy_threshold: int = 10,
) -> Synthesis:
    """Read, validate and compute everything the regional synthesis shows.

    Parameters
    ----------
    donnees : path, optional
        Data folder (template format); empty or None uses the demo data.
    region : str, optional
        Région code; its territories are compared (see :func:`select_territories`).
    territoires : str or list, optional
        Territory codes (``"22,29,35"``); wins over ``region``.
    reference : {"france", "region"}
        Reference of the indices.
    annee : int, optional
        Year of the indicators; the latest available by default.
    secrecy_threshold : int
        Counts from 1 to this value are masked.
    """
    if reference not in REFERENCES:
        raise PtsmError(
            f"Référence « {reference} » inconnue ; attendu : {', '.join(REFERENCES)}"
        )
    data = load_data(donnees)
    if data.territoires is None:
        raise PtsmError(f"Le dossier {data.path} ne contient pas de fichier territoires.csv")
    table = data.territoires
    codes = select_territories(table, region=region, codes=territoires)
    table_codes = table["code_territoire"].astype(str).str.strip()
    built = territories_from_table(table[table_codes.isin(codes)], data.population)
    territories = {code: built[code] for code in codes}
    catalog = load_indicator_catalog()

    resources = _territory_resources(data, table[table_codes.isin(codes)], territories)
    rosaces: dict[str, pd.DataFrame] = {}
    values = pd.DataFrame()
    year = annee
    if data.indicateurs is not None and not data.indicateurs.empty:
        values = compute_indicator_values(data.indicateurs, catalog, main_regions(table),
                                          secrecy_threshold=secrecy_threshold)
        present = set(values["code_territoire"])
        for code in codes:
            if code in present:
                rosaces[code] = rosace_table(values, code, year=annee, reference=reference,
                                             catalog=catalog)
        years = pd.concat([r["annee"] for r in rosaces.values()]) if rosaces else pd.Series()
        if year is None and years.notna().any():
            year = int(years.max())
    return Synthesis(
        territories=territories, data=data, data_folder=data.path,
        is_demo=is_demo_folder(data.path), reference=reference,
        region=str(region).strip() if region and not parse_codes(territoires) else None,
        catalog=catalog, resources=resources, indicator_values=values, rosaces=rosaces,
        year=year,
    )


def _territory_resources(
    data: DataFolder, rows: pd.DataFrame, territories: Mapping[str, Territory]
) -> gpd.GeoDataFrame:
    """Located resources, one row per (territory, resource) with ``code_territoire``."""
    empty = gpd.GeoDataFrame({"code_territoire": [], "id_ressource": [], "type_ressource": []},
                             geometry=[], crs="EPSG:4326")
    if data.ressources is None or data.ressources.empty:
        return empty
    members = territory_communes(rows)[["code_territoire", "code_commune"]]
    ressources = data.ressources[data.ressources["code_commune"].isin(members["code_commune"])]
    if ressources.empty:
        return empty
    communes = pd.concat([t.communes for t in territories.values()]).drop_duplicates(
        "code_commune")
    located = locate_resources(ressources, communes)
    merged = located.merge(members, on="code_commune")
    return gpd.GeoDataFrame(merged, geometry="geometry", crs="EPSG:4326")


# --------------------------------------------------------------------------- tables


def heatmap_class(statut: str, verdict: str | None, index: float | None) -> str:
    """Heat-map class of one cell (a key of :data:`HEAT_CLASSES`).

    The verdict is already direction-aware (computed from the indicator's direction):
    "meilleur" is more favourable whether a higher value is better or worse. Masked
    and missing values get their own class, never a colour of a value.
    """
    if statut == STATUT_MASQUE:
        return "masque"
    if statut != STATUT_OK:
        return "manquant"
    if index is None or (isinstance(index, float) and math.isnan(index)):
        return "sans-reference"
    return _VERDICT_CLASS.get(str(verdict), "non-evaluable")


def heatmap_text(statut: str, index: float | None) -> str:
    """Text of one heat-map cell: the rounded index, « masqué », « n.d. » or « s. réf. »."""
    if statut == STATUT_MASQUE:
        return "masqué"
    if statut != STATUT_OK:
        return "n.d."
    if index is None or not np.isfinite(index):
        return "s. réf." if index is None or np.isnan(index) else "∞"
    return f"{index:.0f}"


def heatmap_frame(synthesis: Synthesis) -> pd.DataFrame:
    """Indices of every territory × rosace indicator, with their heat-map class.

    Returns
    -------
    DataFrame
        Long table in catalogue then territory order: ``code_territoire, territoire,
        indicateur, label, short_label, axis, axis_label, unit, direction, annee, value,
        reference, index, verdict, statut, classe, texte``.
    """
    columns = ["code_territoire", "indicateur", "label", "short_label", "axis", "axis_label",
               "unit", "direction", "annee", "value", "reference", "index", "verdict",
               "statut"]
    frames = [synthesis.rosaces[c][columns] for c in synthesis.codes if c in synthesis.rosaces]
    if not frames:
        return pd.DataFrame(columns=[*columns, "territoire", "classe", "texte"])
    frame = pd.concat(frames, ignore_index=True)
    frame.insert(1, "territoire", frame["code_territoire"].map(synthesis.names))
    index = frame["index"].astype(float)
    frame["classe"] = [heatmap_class(s, v, i) for s, v, i in
                       zip(frame["statut"], frame["verdict"], index, strict=True)]
    frame["texte"] = [heatmap_text(s, i) for s, i in zip(frame["statut"], index, strict=True)]
    return frame


def default_indicator(catalog: Mapping[str, Indicator] | None = None) -> str:
    """The first rosace indicator of the catalogue."""
    catalog = catalog if catalog is not None else load_indicator_catalog()
    return next(ind.id for ind in catalog.values() if ind.in_rosace)


def indicator_ranking(synthesis: Synthesis, indicator: str | None = None) -> pd.DataFrame:
    """Territories ranked on one rosace indicator (1 = most favourable among them).

    Direction-aware: for a "higher is worse" indicator the lowest value ranks first; for
    a neutral one, the highest. Ties share the best rank. Masked and missing values keep
    NaN (never 0), no rank, and come last with their ``statut``.

    Returns
    -------
    DataFrame
        ``rang, code_territoire, territoire, value, unit, reference, index, verdict,
        statut, direction, annee``.
    """
    indicator = indicator or default_indicator(synthesis.catalog)
    if indicator not in synthesis.catalog:
        raise UnknownCodeError("indicateur", [indicator],
                               hint="Voir le catalogue des indicateurs (catalog/indicators.yaml).")
    rows = []
    for code in synthesis.codes:
        table = synthesis.rosaces.get(code)
        found = (table[table["indicateur"] == indicator] if table is not None
                 else pd.DataFrame())
        ind = synthesis.catalog[indicator]
        if found.empty:
            rows.append({"code_territoire": code, "value": np.nan, "unit": ind.unit,
                         "reference": np.nan, "index": np.nan, "verdict": "non évaluable",
                         "statut": STATUT_MANQUANT, "direction": ind.direction,
                         "annee": pd.NA})
            continue
        row = found.iloc[0]
        rows.append({name: row[name] for name in ("code_territoire", "value", "unit",
                                                  "reference", "index", "verdict", "statut",
                                                  "direction", "annee")})
    frame = pd.DataFrame(rows)
    frame["value"] = frame["value"].astype(float)
    frame["value"] = frame["value"].where(frame["statut"] == STATUT_OK)
    ascending = synthesis.catalog[indicator].direction == "higher_is_worse"
    frame["rang"] = frame["value"].rank(ascending=ascending, method="min")
    frame.insert(1, "territoire", frame["code_territoire"].map(synthesis.names))
    order = frame["statut"].map({STATUT_OK: 0, STATUT_MASQUE: 1}).fillna(2)
    frame = frame.assign(_order=order).sort_values(["_order", "rang", "code_territoire"],
                                                   kind="stable")
    columns = ["rang", "code_territoire", "territoire", "value", "unit", "reference", "index",
               "verdict", "statut", "direction", "annee"]
    return frame[columns].reset_index(drop=True)


def resource_rates(synthesis: Synthesis) -> pd.DataFrame:
    """Resources per 100,000 inhabitants by type, one column per territory.

    Returns
    -------
    DataFrame
        ``type_ressource, libelle, champ``, then one column per territory code (rate per
        100,000) and ``ensemble`` (all selected territories pooled); every type of the
        typology appears (0 when a territory has none).
    """
    types = load_resource_types()
    base = pd.DataFrame({"type_ressource": list(types)})
    result = None
    resources = synthesis.resources
    for code, territory in synthesis.territories.items():
        subset = resources[resources["code_territoire"] == code]
        summary = summarise_by_type(_resource_columns(subset), territory.population_total or 0,
                                    types)
        if result is None:
            result = base.merge(summary[["type_ressource", "libelle", "champ"]])
        result[code] = summary["pour_100000_hab"].to_numpy()
    assert result is not None
    population = sum(t.population_total or 0 for t in synthesis.territories.values())
    pooled = resources.drop_duplicates("id_ressource") if "id_ressource" in resources else resources
    total = summarise_by_type(_resource_columns(pooled), population, types)
    result["ensemble"] = total["pour_100000_hab"].to_numpy()
    return result


def _resource_columns(resources: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame(resources).copy()
    for column in ("id_ressource", "type_ressource", "capacite_lits", "capacite_places"):
        if column not in frame:
            frame[column] = pd.Series(dtype=float)
    return frame


# --------------------------------------------------------------------------- map


def territory_outlines(synthesis: Synthesis) -> gpd.GeoDataFrame:
    """Dissolved outline of every territory: ``code_territoire, nom, population``."""
    return gpd.GeoDataFrame(
        {
            "code_territoire": synthesis.codes,
            "nom": [t.name for t in synthesis.territories.values()],
            "population": [t.population_total for t in synthesis.territories.values()],
        },
        geometry=[t.geometry for t in synthesis.territories.values()],
        crs="EPSG:4326",
    )


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
    folium.GeoJson(
        data[["code_territoire", *fields, "couleur", "tirets", "geometry"]].to_json(),
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


# --------------------------------------------------------------------------- figures


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
        Territory code → output of :func:`ptsm_diag.indicators.rosace_table`.
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
    fig = go.Figure()
    layout: dict = {}
    annotations = []
    plot_top = 1.0
    plot_bottom = legend_height / height
    cell_h = (plot_top - plot_bottom) / rows
    for i, code in enumerate(codes):
        subplot = "polar" if i == 0 else f"polar{i + 1}"
        polar = add_rosace(fig, rosaces[code], subplot, showlegend=i == 0, sizes=sizes)
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
    fig.update_layout(
        **layout,
        height=height, width=1100 if cols > 1 else 700,
        margin={"l": 20, "r": 20, "t": 40, "b": 10},
        font={"size": 12}, separators=", ",
        legend={"orientation": "h", "x": 0.0, "y": plot_bottom - 0.01, "yanchor": "top",
                "itemclick": False, "itemdoubleclick": False, "font": {"size": 11}},
        hoverlabel={"align": "left"},
        annotations=annotations,
    )
    return fig


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

