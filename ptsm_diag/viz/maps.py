"""folium maps of a territory: communes choropleth and resources, offline-capable.

By default the maps have no tile layer (``fond=None``): the commune boundaries are the
background, so the map works in a meeting room without network. ``fond="osm"`` adds
OpenStreetMap tiles for online use.

Text from input files never reaches a folium template as template source: folium renders
every element's output once more as a Jinja template, and puts tooltips and popups inside
JavaScript backtick strings. :func:`safe_html` makes a text inert in all of those places
(HTML-escaped, with ``{ } $ ` \\`` as character references), :func:`js_string` makes a
JavaScript string literal of it, and :class:`RawHtml` adds markup to a map's page without
any template rendering. Every map of the package builds its text with them.
"""

from __future__ import annotations

import html
import json

import branca
import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from folium.plugins import Fullscreen
from folium.template import Template

from ptsm_diag.catalog import load_resource_types, load_vocabularies
from ptsm_diag.fmt import format_number
from ptsm_diag.viz.offline import SharedGeoJson

# Colour of each champ (colour-blind-friendly Okabe-Ito palette), as data.
CHAMP_COLOURS: dict[str, str] = {
    "sanitaire": "#D55E00",
    "medico-social": "#0072B2",
    "social": "#009E73",
    "ville": "#CC79A7",
    "usagers": "#E69F00",
    "coordination": "#56B4E9",
}

# Sequential palette for choropleths (ColorBrewer YlGnBu, 6 classes).
SEQUENTIAL = ["#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#2c7fb8", "#253494"]

# Characters that start a Jinja expression, statement or comment ({{ {% {#), a JavaScript
# template substitution (${) or string end (`), or an escape sequence (\\), as HTML
# character references: the browser shows them as written, no template sees them.
_INERT = str.maketrans({"{": "&#123;", "}": "&#125;", "$": "&#36;", "`": "&#96;",
                        "\\": "&#92;"})


def safe_html(text: object) -> str:
    """Input text as HTML that stays text wherever folium puts it.

    HTML-escaped (``< > & " '``), and ``{ } $ ` \\`` written as character references,
    so that the text is never evaluated: not as HTML, not as a Jinja template (folium
    renders each element's output as a template a second time), not as a JavaScript
    template string (folium builds tooltips and popups inside backticks). Use it for every
    text from a data file (names, labels, notes) that goes into a tooltip, a popup, a
    layer name, a legend, a title or GeoJSON properties shown in a tooltip.

    Examples
    --------
    >>> safe_html("CMP {{ 7*191 }} <b>")
    'CMP &#123;&#123; 7*191 &#125;&#125; &lt;b&gt;'
    """
    return html.escape(str(text), quote=True).translate(_INERT)


def js_string(text: object) -> str:
    """A JavaScript string literal of ``text``, safe inline in a ``<script>`` and in a
    folium template: ``<`` and ``{ }`` as ``\\x`` escapes (no ``</script>``, ``<!--``
    nor Jinja delimiter can appear; ``>`` and ``&`` mean nothing in a script)."""
    return (json.dumps(str(text), ensure_ascii=False).replace("<", "\\x3c")
            .replace("{", "\\x7b").replace("}", "\\x7d").replace("\u2028", "\\u2028")
            .replace("\u2029", "\\u2029"))


class RawHtml(branca.element.Element):
    """Markup added to a folium page as is, never rendered as a Jinja template.

    ``branca.element.Element(markup)`` compiles ``markup`` as a template; this element
    returns it unchanged. Build the markup with :func:`safe_html` for input text.
    """

    def __init__(self, markup: str) -> None:
        super().__init__()
        self._name = "RawHtml"
        self.markup = markup

    def render(self, **kwargs: object) -> str:
        """The markup, unchanged."""
        return self.markup


# Leaflet options a compact marker or line writes (the others keep Leaflet's defaults).
_COMPACT_OPTIONS = ("radius", "color", "weight", "opacity", "fill", "fillColor", "fillOpacity")


def _compact_line(constructor: str, coordinates: object, options: dict, parent: str,
                  popup: str | None, popup_max_width: int, tooltip: str | None) -> str:
    kept = {k: v for k, v in options.items() if k in _COMPACT_OPTIONS and v is not None}
    if kept.get("fill") is False:
        kept = {k: v for k, v in kept.items() if not k.startswith("fill")} | {"fill": False}
    line = (f"L.{constructor}({json.dumps(coordinates)}, {json.dumps(kept)})"
            f".addTo({parent})")
    if popup is not None:  # Leaflet's default width (300 px) is not written
        width = "" if int(popup_max_width) == 300 else f", {{maxWidth: {int(popup_max_width)}}}"
        line += f".bindPopup({js_string(popup)}{width})"
    if tooltip is not None:
        line += f".bindTooltip({js_string(tooltip)}, {{sticky: true}})"
    return line + ";\n"


class CompactCircleMarker(folium.CircleMarker):
    """A circle marker with its popup and tooltip bound in one short line of JavaScript.

    A folium ``CircleMarker`` with a ``Popup`` and a tooltip writes about 1.5 kB of
    JavaScript; this one about a fifth (a report's maps hold hundreds of markers). The
    popup and tooltip are HTML built with :func:`safe_html`, written as JavaScript string
    literals (:func:`js_string`).
    """

    _template = Template("{% macro script(this, kwargs) %}{{ this.script_line }}"
                         "{% endmacro %}")

    def __init__(self, location: list[float], *, popup_html: str | None = None,
                 tooltip_html: str | None = None, popup_max_width: int = 300,
                 **style: object) -> None:
        super().__init__([round(float(x), 6) for x in location], **style)
        self._name = "CompactCircleMarker"
        self.popup_html, self.tooltip_html = popup_html, tooltip_html
        self.popup_max_width = popup_max_width
        self.script_line = ""

    def render(self, **kwargs: object) -> None:
        """Write the marker's line of JavaScript into the map's script."""
        self.script_line = _compact_line(
            "circleMarker", self.location, self.options, self._parent.get_name(),
            self.popup_html, self.popup_max_width, self.tooltip_html)
        super().render(**kwargs)


class CompactPolyLine(folium.PolyLine):
    """A line with its tooltip bound in one short line of JavaScript (see
    :class:`CompactCircleMarker`)."""

    _template = Template("{% macro script(this, kwargs) %}{{ this.script_line }}"
                         "{% endmacro %}")

    def __init__(self, locations: list[list[float]], *, tooltip_html: str | None = None,
                 **style: object) -> None:
        super().__init__([[round(float(x), 6) for x in point] for point in locations], **style)
        self._name = "CompactPolyLine"
        self.tooltip_html = tooltip_html
        self.script_line = ""

    def render(self, **kwargs: object) -> None:
        """Write the line's JavaScript into the map's script."""
        self.script_line = _compact_line(
            "polyline", self.locations, self.options, self._parent.get_name(), None, 0,
            self.tooltip_html)
        super().render(**kwargs)


TILE_LAYERS: dict[str | None, dict[str, str] | None] = {
    None: None,
    "osm": {
        "tiles": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "attr": "© contributeurs OpenStreetMap",
    },
}


def base_map(bounds: tuple[float, float, float, float], fond: str | None) -> folium.Map:
    """An empty offline map fitted to ``bounds`` (lon/lat), with scale and fullscreen;
    OpenStreetMap tiles only when ``fond`` is ``"osm"``."""
    minx, miny, maxx, maxy = bounds
    m = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        tiles=None,
        zoom_start=8,
        max_zoom=18,
        prefer_canvas=True,
        control_scale=True,
        zoom_snap=0.25,
    )
    layer = TILE_LAYERS[fond]
    if layer is not None:
        folium.TileLayer(tiles=layer["tiles"], attr=layer["attr"], name="Fond de carte").add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    Fullscreen(title="Plein écran", title_cancel="Quitter le plein écran").add_to(m)
    return m


def add_commune_background(
    m: folium.Map, communes: pd.DataFrame, *, names: bool = False
) -> folium.GeoJson:
    """Light grey commune outlines under the map's layers: the offline background.

    With ``names``, hovering a commune shows its name (:func:`safe_html`).
    """
    columns = ["code_commune", "nom", "geometry"] if names else ["code_commune", "geometry"]
    data = communes[columns]
    if names:
        data = data.assign(nom=data["nom"].map(safe_html))
    return SharedGeoJson(
        data,
        name="Communes",
        style_function=lambda f: {"fillColor": "#f4f4f4", "color": "#aaaaaa", "weight": 0.6,
                                  "fillOpacity": 0.65},
        tooltip=folium.GeoJsonTooltip(fields=["nom"], aliases=["Commune"]) if names else None,
        control=False,
    ).add_to(m)


def quantile_bins(values: pd.Series, n_classes: int = 6) -> list[float]:
    """Class limits by quantiles, deduplicated (a legend never shows two equal limits)."""
    finite = values.replace([np.inf, -np.inf], np.nan).dropna()
    if finite.empty:
        return [0.0, 1.0]
    limits = np.unique(np.quantile(finite, np.linspace(0, 1, n_classes + 1)))
    if len(limits) == 1:
        limits = np.array([limits[0], limits[0] + 1])
    return [float(x) for x in limits]


def _legend(
    title: str, limits: list[float], colours: list[str], decimals: int, *,
    font_scale: float = 1.0,
) -> RawHtml:
    width, height, font = (round(x * font_scale) for x in (18, 12, 13))
    rows = "".join(
        f'<div><span style="background:{colours[i]};width:{width}px;height:{height}px;'
        f'display:inline-block;border:1px solid #777;margin-right:6px"></span>'
        f"{format_number(low, decimals)} – {format_number(high, decimals)}</div>"
        for i, (low, high) in enumerate(zip(limits[:-1], limits[1:], strict=True))
    )
    box = (
        '<div style="position:absolute;bottom:28px;right:10px;z-index:1000;background:white;'
        f'padding:8px 10px;border:1px solid #999;border-radius:4px;font:{font}px sans-serif">'
        f"<b>{safe_html(title)}</b>{rows}</div>"
    )
    return RawHtml(box)


def commune_choropleth(
    communes: gpd.GeoDataFrame,
    column: str,
    title: str,
    *,
    fond: str | None = None,
    decimals: int = 0,
    font_scale: float = 1.0,
) -> folium.Map:
    """Communes coloured by ``column`` (quantile classes), with tooltip and legend.

    Parameters
    ----------
    communes : GeoDataFrame
        Communes with ``code_commune``, ``nom`` and ``column`` (EPSG:4326).
    column : str
        The numeric column to map.
    title : str
        French legend title, e.g. ``"Densité (hab./km²)"``.
    fond : {None, "osm"}
        Background tiles; None works offline.
    decimals : int
        Decimals of the values in the tooltip and legend (French format).
    font_scale : float
        Multiplier of the legend and tooltip font sizes (1.6 or more for a projector).
    """
    data = communes[["code_commune", "nom", column, "geometry"]].copy()
    data = data[~data.geometry.is_empty & data.geometry.notna()]
    limits = quantile_bins(data[column])
    colours = SEQUENTIAL[: len(limits) - 1]
    classes = np.clip(np.searchsorted(limits, data[column], side="right") - 1, 0, len(colours) - 1)
    data["couleur"] = [colours[c] if pd.notna(v) else "#dddddd" for c, v in
                       zip(classes, data[column], strict=True)]
    data["nom"] = data["nom"].map(safe_html)
    data["code_commune"] = data["code_commune"].map(safe_html)
    data["valeur"] = data[column].map(lambda v: format_number(v, decimals))
    m = base_map(tuple(data.total_bounds), fond)
    SharedGeoJson(
        data[["code_commune", "nom", "valeur", "couleur", "geometry"]],
        name=safe_html(title),
        style_function=lambda f: {
            "fillColor": f["properties"]["couleur"],
            "color": "#555555",
            "weight": 0.5,
            "fillOpacity": 0.75,
        },
        highlight_function=lambda f: {"weight": 2, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(
            fields=["nom", "code_commune", "valeur"],
            aliases=["Commune", "Code INSEE", safe_html(title)],
            **({"style": f"font-size:{round(13 * font_scale)}px"} if font_scale != 1.0 else {}),
        ),
    ).add_to(m)
    m.get_root().html.add_child(_legend(title, limits, colours, decimals,
                                        font_scale=font_scale))
    return m


def resource_popup_html(
    row: pd.Series, type_labels: dict[str, str], champ_labels: dict[str, str]
) -> str:
    """The popup of one resource: name, type, champ, address, capacity (:func:`safe_html`)."""
    parts = [f"<b>{safe_html(row['nom'])}</b>",
             safe_html(type_labels.get(row["type_ressource"], row["type_ressource"])),
             f"Champ : {safe_html(champ_labels.get(row['champ'], str(row['champ'])))}"]
    for column, label in (("capacite_lits", "lits"), ("capacite_places", "places")):
        value = row.get(column)
        if value is not None and pd.notna(value):
            parts.append(f"{int(value)} {label}")
    if row.get("finess") and pd.notna(row.get("finess")):
        parts.append(f"FINESS {safe_html(row['finess'])}")
    if row.get("position_approchee"):
        parts.append("<i>Position approchée (centre de la commune)</i>")
    return "<br>".join(parts)


def resources_map(
    resources: gpd.GeoDataFrame,
    outline: gpd.GeoDataFrame,
    *,
    fond: str | None = None,
) -> folium.Map:
    """Resources as circle markers, one layer per champ, over the territory's communes.

    Parameters
    ----------
    resources : GeoDataFrame
        Located resources (see :func:`ptsm_diag.compute.resources.locate_resources`).
    outline : GeoDataFrame
        Communes of the territory (background, works offline).
    """
    vocab = load_vocabularies()
    type_labels = {code: t.label for code, t in load_resource_types().items()}
    m = base_map(tuple(outline.total_bounds), fond)
    add_commune_background(m, outline)
    for champ, label in vocab.champs.items():
        subset = resources[resources["champ"] == champ]
        if subset.empty:
            continue
        colour = CHAMP_COLOURS[champ]
        swatch = f'<span style="color:{colour};font-size:1.3em">●</span>'
        group = folium.FeatureGroup(name=f"{swatch} {safe_html(label)} ({len(subset)})")
        group.add_to(m)
        for _, row in subset.iterrows():
            CompactCircleMarker(
                [row.geometry.y, row.geometry.x],
                radius=6,
                color="#333333",
                weight=1,
                fill=True,
                fill_color=colour,
                fill_opacity=0.9,
                tooltip_html=safe_html(row["nom"]),
                popup_html=resource_popup_html(row, type_labels, vocab.champs),
                popup_max_width=300,
            ).add_to(group)
    folium.LayerControl(collapsed=False).add_to(m)
    return m
