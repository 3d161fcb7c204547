"""Offline HTML for folium maps and plotly figures: every asset inlined, nothing fetched.

folium points every element at CDNs (Leaflet, jQuery, Bootstrap, Font Awesome...). We
point the elements we use at the vendored files of ``assets/vendor`` (instance
attributes, never the shared class lists), drop the assets our maps do not need, render,
then inline each local ``<script src>`` / ``<link href>``. Any asset left pointing at the
network is an error: a report must open in a meeting room without network.

In a report, a map's frame reads Leaflet and its outlines from blocks of the page instead
(:func:`map_to_framed_html`): one copy for all the maps of the page. plotly.js is a partial
bundle vendored by ``scripts/vendor_assets.py`` (:func:`plotly_js`).
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from jinja2.utils import htmlsafe_json_dumps

from ptsm_diag.errors import PtsmError
from ptsm_diag.viz.fast_render import literal_templates

# folium asset name → vendored file; names absent from this table are dropped.
VENDORED_ASSETS: dict[str, str] = {
    "leaflet": "leaflet.js",
    "leaflet_css": "leaflet.css",
    "jquery": "jquery.min.js",
    "markerclusterjs": "leaflet.markercluster.js",
    "markerclustercss": "MarkerCluster.css",
    "markerclusterdefaultcss": "MarkerCluster.Default.css",
    "Control.Fullscreen.js": "Control.FullScreen.js",
    "Control.FullScreen.css": "Control.FullScreen.css",
}

_LOCAL_SCRIPT = re.compile(r'<script src="(file://[^"]+)"></script>')
_LOCAL_CSS = re.compile(r'<link rel="stylesheet" href="(file://[^"]+)"\s*/>')
# A script or style URL on the network, its quotes written as such or, in an ``srcdoc``,
# as the references ``html.escape`` writes (the page is searched without unescaping it
# whole: 70 000 references in a report's map frames).
_QUOTE = r"""(?:["']|&quot;|&\#x27;|&\#39;)"""
_REMOTE_ASSET = re.compile(r"(?:src|href)\s*=\s*" + _QUOTE + r"(?:https?:)?//"
                           r"""(?:(?!&quot;|&\#x27;|&\#39;)[^"'])+?\.(?:js|css)\b""")


def vendor_dir() -> Path:
    """Folder of the vendored JavaScript and CSS files."""
    return Path(str(resources.files("ptsm_diag.assets").joinpath("vendor")))


@cache
def _read_asset(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def _localise(element: folium.Element) -> None:
    """Point one element's JS/CSS at vendored files, recursively over its children."""
    for attribute in ("default_js", "default_css"):
        links = getattr(element, attribute, None)
        if links is None:
            continue
        kept = [
            (name, (vendor_dir() / VENDORED_ASSETS[name]).as_uri())
            for name, _url in links
            if name in VENDORED_ASSETS
        ]
        setattr(element, attribute, kept)  # instance attribute: class lists untouched
    for child in element._children.values():
        _localise(child)


def _inline_local_assets(page: str) -> str:
    def script(match: re.Match[str]) -> str:
        code = _read_asset(match.group(1).removeprefix("file://"))
        return "<script>" + code.replace("</script", "<\\/script") + "</script>"

    def style(match: re.Match[str]) -> str:
        return "<style>" + _read_asset(match.group(1).removeprefix("file://")) + "</style>"

    return _LOCAL_CSS.sub(style, _LOCAL_SCRIPT.sub(script, page))


def remote_assets(page: str) -> list[str]:
    """Script or stylesheet URLs a page would fetch from the network (should be none)."""
    return [html.unescape(m.group(0)) for m in _REMOTE_ASSET.finditer(page)]


class SharedGeoJson(folium.GeoJson):
    """A ``folium.GeoJson`` layer of a GeoDataFrame whose geometries stay shapely objects
    until the page is written.

    A plain layer serialises its geometries to GeoJSON text (geopandas), parses them
    (folium), writes them into the map's script (Jinja), then :func:`map_to_framed_html`
    reads them back out of the page to share them: four passes over the coordinates of
    hundreds of communes, for each of a report's maps. This layer holds the properties
    (what the styles and tooltips read) and the geometries apart: a framed map writes its
    outlines straight from the shapely objects, a standalone page
    (:func:`map_to_html`) gets the same GeoJSON as a plain layer's.

    Parameters
    ----------
    frame : GeoDataFrame
        The features (EPSG:4326): properties and geometry.
    **kwargs
        Options of ``folium.GeoJson`` (``name``, ``style_function``, ``tooltip``...).
    """

    def __init__(self, frame: gpd.GeoDataFrame, **kwargs: object) -> None:
        geometries = np.asarray(frame.geometry.array, dtype=object)
        missing = shapely.is_missing(geometries) | shapely.is_empty(geometries)
        # A missing geometry: a plain layer (the page keeps its features as they are).
        self.geometries = None if missing.any() else geometries
        data = (json.loads(frame.to_json()) if self.geometries is None
                else _features_without_geometry(frame))
        super().__init__(data, **kwargs)

    def features_with_geometry(self) -> dict:
        """The layer's data with its geometries, as a plain layer holds it."""
        if self.geometries is None:
            return self.data
        features = [{**feature, "geometry": json.loads(text)} for feature, text in
                    zip(self.data["features"], shapely.to_geojson(self.geometries),
                        strict=True)]
        return {**self.data, "features": features}

    def _get_self_bounds(self) -> list[list[float | None]]:
        if self.geometries is None:
            return super()._get_self_bounds()
        minx, miny, maxx, maxy = shapely.total_bounds(self.geometries)
        return [[float(miny), float(minx)], [float(maxy), float(maxx)]]


def _features_without_geometry(frame: gpd.GeoDataFrame) -> dict:
    """``json.loads(frame.to_json())`` with every geometry ``None``: the same features
    (``id`` the index as text, missing values ``None``), built column by column instead of
    row by row."""
    properties = frame.drop(columns=frame.geometry.name)
    columns = []
    for name in properties.columns:
        values = properties[name].astype(object).to_numpy(copy=True)
        values[pd.isna(properties[name]).to_numpy()] = None
        columns.append(values.tolist())
    names = [str(name) for name in properties.columns]
    text = json.dumps({"type": "FeatureCollection", "features": [
        {"id": str(index), "type": "Feature", "properties": dict(zip(names, row, strict=True)),
         "geometry": None}
        for index, row in zip(frame.index, zip(*columns, strict=True) if columns
                              else ([()] * len(frame)), strict=True)]})
    return json.loads(text)  # as plain JSON values, as the text a plain layer writes


@contextmanager
def _geometries_written(m: folium.Map) -> Iterator[None]:
    """Within: the map's :class:`SharedGeoJson` layers hold their geometries, as plain
    layers do (a standalone page, a static picture)."""
    layers = [e for e in _walk(m) if isinstance(e, SharedGeoJson) and e.geometries is not None]
    kept = [layer.data for layer in layers]
    try:
        for layer in layers:
            layer.data = layer.features_with_geometry()
        yield
    finally:
        for layer, data in zip(layers, kept, strict=True):
            layer.data = data


def _rendered(m: folium.Map) -> str:
    """The map's page as folium renders it, its assets pointing at the vendored files."""
    _localise(m)
    with literal_templates():
        return m.get_root().render()


def _check_offline(page: str) -> str:
    """``page``, or a French error when it would still fetch something from the network."""
    leftovers = remote_assets(page)
    if leftovers:
        raise PtsmError(
            "La carte chargerait des ressources depuis Internet (mode hors ligne impossible) : "
            + ", ".join(leftovers)
        )
    return page


def map_to_html(m: folium.Map) -> str:
    """Standalone offline HTML page of a folium map, every asset inlined.

    Raises
    ------
    PtsmError
        When an asset would still be fetched from the network.
    """
    with _geometries_written(m):
        page = _rendered(m)
    return _check_offline(_inline_local_assets(page))


def srcdoc_attribute(page: str) -> str:
    """``srcdoc='…'``: ``page`` as an attribute value between single quotes, ``&``, ``'``
    and ``<`` escaped (the last so that no tag, ``<script>`` or ``<style>``, can be read in
    the report's markup by the export's edits), double quotes as they are.

    A map's page is mostly JavaScript and JSON, full of double quotes: between double
    quotes each is written ``&quot;`` (6 characters), a fifth of a large map's frame.
    """
    escaped = page.replace("&", "&amp;").replace("'", "&#x27;").replace("<", "&lt;")
    return f"srcdoc='{escaped}'"


def map_to_iframe(m: folium.Map, height: int = 520) -> str:
    """An ``<iframe srcdoc>`` holding the offline map, to embed in a report."""
    page = html.escape(map_to_html(m), quote=True)
    return (
        f'<iframe class="ptsm-carte" srcdoc="{page}" style="width:100%;height:{height}px;'
        'border:1px solid #ccc;" allowfullscreen></iframe>'
    )


# --------------------------------------------------------------------------- maps of a page
#
# A report holds several maps, each in its own <iframe srcdoc> (its CSS and scripts stay
# inside it). Leaflet and its plugins, and the commune outlines most maps draw, are not
# repeated in each frame: the page holds one copy of each, in non-executed <script> blocks
# (``text/plain`` code, ``application/json`` geometries), and each frame reads them from
# its parent page (a srcdoc frame has the origin of its page). ``share_page_blocks`` keeps
# the first copy of each block in the page and drops the others.

ASSET_BLOCK_ATTRIBUTE = "data-ptsm-asset"
GEOMETRY_BLOCK_ATTRIBUTE = "data-ptsm-geometries"

# Decimals of the coordinates drawn: 4 decimals are about 10 m, finer than a screen pixel
# at the zoom a territory map opens with.
COORDINATE_DECIMALS = 4
# Outlines are simplified with a tolerance of this fraction of the layer's extent (about a
# third of a pixel on a map 1,000 pixels wide showing the whole layer).
SIMPLIFY_FRACTION = 1 / 3000

_FRAME_LOADER = ("""<script>
function ptsmText(selector) {
  var node = null;
  try { node = window.parent.document.querySelector(selector); } catch (e) { node = null; }
  if (!node) { throw new Error("ptsm-diag : bloc absent de la page : " + selector); }
  return node.textContent;
}
function ptsmLoad(name) {
  var node = document.createElement(name.slice(-4) === ".css" ? "style" : "script");
  node.textContent = ptsmText('script[""" + ASSET_BLOCK_ATTRIBUTE + """="' + name + '"]');
  document.head.appendChild(node);
}
function ptsmRing(flat) {
  var ring = [], x = 0, y = 0;
  for (var i = 0; i < flat.length; i += 2) {
    x += flat[i]; y += flat[i + 1]; ring.push([x / SCALE, y / SCALE]);
  }
  return ring;
}
function ptsmGeometry(g) {
  if (!Array.isArray(g)) { return g; }
  if (g[0] === "P") { return {type: "Polygon", coordinates: g[1].map(ptsmRing)}; }
  return {type: "MultiPolygon",
          coordinates: g[1].map(function (polygon) { return polygon.map(ptsmRing); })};
}
function ptsmJson(key) {
  return JSON.parse(ptsmText('script[""" + GEOMETRY_BLOCK_ATTRIBUTE + """="' + key + '"]'));
}
function ptsmFeatures(table) {
  return {type: "FeatureCollection", features: table.rows.map(function (row, i) {
    var properties = {};
    table.columns.forEach(function (column, j) { properties[column] = row[j]; });
    return {type: "Feature", id: table.ids ? table.ids[i] : String(i),
            properties: properties, geometry: null};
  })};
}
function ptsmGeometries(key, dataKey) {
  var geometries = ptsmJson(key), data = ptsmJson(dataKey);
  if (data.columns) { data = ptsmFeatures(data); }
  data.features.forEach(function (feature, i) { feature.geometry = ptsmGeometry(geometries[i]); });
  return data;
}
</script>""").replace("SCALE", str(10 ** COORDINATE_DECIMALS))

_INDENT = re.compile(r"\n[ \t\n]+")
# The 32 hexadecimal digits folium ends each element's name with (``feature_group_<id>``,
# ``map_<id>``, ``geo_json_<id>_styler``): repeated in each of a map's hundreds of marker
# lines (``.addTo(feature_group_<id>)``).
_ELEMENT_ID = re.compile(r"(?<=_)[0-9a-f]{32}(?![0-9a-f])")


def short_element_names(page: str) -> str:
    """``page`` with folium's element identifiers numbered in order of appearance
    (``feature_group_92af…de628`` → ``feature_group_3``): the same names, distinct in the
    page as they were, 30 characters shorter each time they are written."""
    numbers: dict[str, str] = {}
    return _ELEMENT_ID.sub(lambda m: numbers.setdefault(m.group(0), str(len(numbers))), page)


_GEOJSON_CALL = re.compile(r"\b(geo_json_[0-9a-f]+)_add\((?=\{)")
# Attributes in alphabetical order: nbconvert writes a notebook's HTML outputs that way.
_BLOCK_TYPE = '(?:text/plain|application/json)'
# The opening tag of a shared block; the block ends at the first « </script> » after it.
_BLOCK_START = re.compile(
    rf'<script (?:type="{_BLOCK_TYPE}" )?'
    rf'((?:{ASSET_BLOCK_ATTRIBUTE}|{GEOMETRY_BLOCK_ATTRIBUTE})="[^"]+")'
    rf'(?: type="{_BLOCK_TYPE}")?>')
_BLOCK_END = "</script>"


def _blocks(page: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, key attribute) of each shared block of ``page``, in order.

    The end is found with ``str.find`` rather than a lazy ``.*?`` (which tests every
    character of the megabytes of Leaflet and outlines a page holds).
    """
    position = 0
    while (match := _BLOCK_START.search(page, position)) is not None:
        end = page.find(_BLOCK_END, match.end())
        if end < 0:
            return
        position = end + len(_BLOCK_END)
        yield match.start(), position, match.group(1)


@dataclass(frozen=True)
class FramedMap:
    """A map for an ``<iframe srcdoc>`` of a page, and what the page must hold once.

    Attributes
    ----------
    frame : str
        The map's HTML page; it reads Leaflet and its geometries from its parent page.
    shared : str
        The ``<script>`` blocks (vendored code, geometries) to put in the parent page;
        :func:`share_page_blocks` keeps one copy of each when a page has several maps.
    """

    frame: str
    shared: str


def _asset_block(name: str, code: str) -> str:
    return (f'<script {ASSET_BLOCK_ATTRIBUTE}="{name}" type="text/plain">'
            + code.replace("</script", "<\\/script") + "</script>")


def _geometry_block(key: str, text: str) -> str:
    return (f'<script {GEOMETRY_BLOCK_ATTRIBUTE}="{key}" type="application/json">'
            + text.replace("</", "<\\/") + "</script>")


def _loader(name: str) -> str:
    return f'<script>ptsmLoad("{name}")</script>'


@lru_cache(maxsize=32)
def _drawn_geometries(raw: str) -> str:
    """GeoJSON geometries (a JSON list) as drawn (:func:`_drawn_shapes`)."""
    return _drawn_shapes(shapely.from_geojson([json.dumps(g) for g in json.loads(raw)]))


def _drawn_shared(geometries: np.ndarray) -> str:
    """:func:`_drawn_shapes` of shapely geometries, once for the same geometries (the
    communes of a territory are drawn by several maps of its report)."""
    digest = hashlib.sha256(b"".join(shapely.to_wkb(geometries))).digest()
    text = _DRAWN.pop(digest, None) or _drawn_shapes(geometries)
    _DRAWN[digest] = text  # the most recent last
    while len(_DRAWN) > 32:
        del _DRAWN[next(iter(_DRAWN))]
    return text


_DRAWN: dict[bytes, str] = {}  # digest of the geometries (WKB) → drawn text


def _drawn_shapes(geoms: np.ndarray) -> str:
    """Geometries as drawn: coordinates rounded to :data:`COORDINATE_DECIMALS`, polygons
    simplified to the layer's scale, and polygons written compactly (:func:`_encoded`).

    Polygons forming a coverage (communes) are simplified together, so neighbours keep
    one shared border; a geometry that would come out empty or invalid keeps its shape.
    """
    polygonal = shapely.get_type_id(geoms)
    # Polygon, MultiPolygon (all empty: nothing to simplify, and GEOS would fail on them)
    if len(geoms) and np.isin(polygonal, (3, 6)).all() and not shapely.is_empty(geoms).all():
        minx, miny, maxx, maxy = shapely.total_bounds(geoms)
        tolerance = max(maxx - minx, maxy - miny) * SIMPLIFY_FRACTION
        if shapely.coverage_is_valid(geoms):
            simple = shapely.coverage_simplify(geoms, tolerance)
        else:
            simple = shapely.simplify(geoms, tolerance, preserve_topology=True)
        keep = shapely.is_empty(simple) | ~shapely.is_valid(simple)
        geoms = np.where(keep, geoms, simple)
    rounded = shapely.set_coordinates(
        geoms.copy(), np.round(shapely.get_coordinates(geoms), COORDINATE_DECIMALS))
    broken = shapely.is_empty(rounded) | ~shapely.is_valid(rounded)
    if broken.any():  # a tiny ring collapsed by rounding: that geometry is kept unrounded
        rounded = np.where(broken, geoms, rounded)
    return json.dumps(_encoded_all(rounded), separators=(",", ":"))


def _encoded_all(geoms: np.ndarray) -> list[object]:
    """:func:`_encoded` of every geometry's GeoJSON, polygons read from their coordinate
    arrays (parsing each commune's GeoJSON text cost more than the rest of a map); other
    geometries, empty ones and those off the grid go through GeoJSON as before."""
    out: list[object] = [None] * len(geoms)
    kinds = shapely.get_type_id(geoms)
    polygonal = np.isin(kinds, (3, 6)) & ~shapely.is_empty(geoms)
    scale = 10 ** COORDINATE_DECIMALS
    chosen = np.flatnonzero(polygonal)
    parts, part_of = shapely.get_parts(geoms[chosen], return_index=True)
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    coords, point_of = shapely.get_coordinates(rings, return_index=True)
    quantised = np.round(coords * scale)
    off_grid = np.abs(quantised / scale - coords) > 1e-9
    steps = np.diff(quantised, axis=0, prepend=0.0)
    starts = np.r_[0, np.flatnonzero(np.diff(point_of)) + 1] if len(point_of) else []
    steps[starts] = quantised[starts]  # each ring starts from (0, 0)
    flat = steps.astype(np.int64).ravel().tolist()
    bad_ring = np.zeros(len(rings), dtype=bool)
    np.logical_or.at(bad_ring, point_of, off_grid.any(axis=1))
    bounds = np.searchsorted(point_of, np.arange(len(rings) + 1))
    ring_lists = [flat[2 * bounds[r]:2 * bounds[r + 1]] for r in range(len(rings))]
    polygons: list[list[list[int]]] = [[] for _ in range(len(parts))]
    part_bad = np.zeros(len(parts), dtype=bool)
    for r, p in enumerate(ring_of.tolist()):
        polygons[p].append(ring_lists[r])
    np.logical_or.at(part_bad, ring_of, bad_ring)
    grouped: list[list[list[list[int]]]] = [[] for _ in range(len(chosen))]
    geom_bad = np.zeros(len(chosen), dtype=bool)
    for p, g in enumerate(part_of.tolist()):
        grouped[g].append(polygons[p])
    np.logical_or.at(geom_bad, part_of, part_bad)
    for k, g in enumerate(chosen.tolist()):
        if geom_bad[k]:
            continue
        out[g] = (["P", grouped[k][0]] if kinds[g] == 3 else ["M", grouped[k]])
    for g in range(len(geoms)):  # anything else: its GeoJSON, as :func:`_encoded` reads it
        if out[g] is None:
            out[g] = _encoded(json.loads(shapely.to_geojson(geoms[g])))
    return out


def _encoded_ring(ring: list[list[float]]) -> list[int] | None:
    scale = 10 ** COORDINATE_DECIMALS
    flat: list[int] = []
    previous_x = previous_y = 0
    for x, y, *_ in ring:
        qx, qy = round(x * scale), round(y * scale)
        if abs(qx / scale - x) > 1e-9 or abs(qy / scale - y) > 1e-9:
            return None  # not on the grid (a geometry kept unrounded)
        flat += [qx - previous_x, qy - previous_y]
        previous_x, previous_y = qx, qy
    return flat


def _encoded(geometry: dict) -> object:
    """A polygon as ``["P", rings]``, a multipolygon as ``["M", polygons]``, each ring the
    differences between its successive points in units of the last decimal kept (a few
    digits a point instead of two decimal numbers, as in TopoJSON); ``ptsmGeometry``
    decodes them. Other geometries stay GeoJSON."""
    kind = geometry.get("type")
    if kind == "Polygon":
        rings = [_encoded_ring(ring) for ring in geometry["coordinates"]]
        return geometry if any(r is None for r in rings) else ["P", rings]
    if kind == "MultiPolygon":
        polygons = [[_encoded_ring(ring) for ring in polygon]
                    for polygon in geometry["coordinates"]]
        if any(r is None for polygon in polygons for r in polygon):
            return geometry
        return ["M", polygons]
    return geometry


def _as_table(data: dict) -> dict:
    """A FeatureCollection whose features all have the same properties, as a table
    (``columns``, ``rows``, ``ids``) that ``ptsmFeatures`` turns back into features: the
    property names are written once, not once per commune. Other data is left as is."""
    features = data["features"]
    if set(data) - {"type", "features"} or not all(
            set(f) <= {"type", "id", "properties", "geometry"} and f.get("type") == "Feature"
            and isinstance(f.get("properties"), dict) for f in features):
        return data
    columns = list(features[0]["properties"])
    if any(list(f["properties"]) != columns for f in features):
        return data
    table: dict[str, object] = {"columns": columns,
                                "rows": [list(f["properties"].values()) for f in features]}
    ids = [f.get("id") for f in features]
    if ids != [str(i) for i in range(len(features))]:
        if any(i is None for i in ids):
            return data
        table["ids"] = ids
    return table


def _share_geometries(page: str, shared: dict[str, np.ndarray] | None = None
                      ) -> tuple[str, dict[str, str]]:
    """Take the GeoJSON layers' data out of a map page, as blocks of its parent page: the
    geometries (one block for every layer drawing the same ones) and the properties.

    ``shared``: the geometries of the :class:`SharedGeoJson` layers, by layer name (their
    features in the page have none)."""
    shared = shared or {}
    decoder = json.JSONDecoder()
    blocks: dict[str, str] = {}
    parts: list[str] = []
    position = 0
    for match in _GEOJSON_CALL.finditer(page):
        if match.start() < position:
            continue
        try:
            data, end = decoder.raw_decode(page, match.end())
        except ValueError:
            continue
        features = data.get("features") if isinstance(data, dict) else None
        geometries = shared.get(match.group(1))
        if geometries is not None and isinstance(features, list) \
                and len(features) == len(geometries):
            text = _drawn_shared(geometries)
        elif (not features or not isinstance(features, list)
                or not all(isinstance(f, dict) and f.get("geometry") for f in features)):
            continue
        else:
            raw = json.dumps([f["geometry"] for f in features], separators=(",", ":"))
            text = _drawn_geometries(raw)
        key = hashlib.sha256(text.encode()).hexdigest()[:20]
        blocks[key] = _geometry_block(key, text)
        for feature in features:
            feature["geometry"] = None
        # the layer's properties too: a JSON block is not escaped as a srcdoc is
        properties = str(htmlsafe_json_dumps(_as_table(data), separators=(",", ":")))
        data_key = "p" + hashlib.sha256(properties.encode()).hexdigest()[:20]
        blocks[data_key] = _geometry_block(data_key, properties)
        parts += [page[position:match.end()], f'ptsmGeometries("{key}", "{data_key}")']
        position = end
    parts.append(page[position:])
    return "".join(parts), blocks


# The options of a compact marker or line (viz.maps.CompactCircleMarker): the same few
# styles repeat over hundreds of markers.
_COMPACT_CALL = re.compile(
    r"(L\.(?:circleMarker|polyline)\(\[[^()]*?\], )(\{[^{}]*\})(\)\.addTo\()")


def _share_marker_options(page: str) -> str:
    """Write each distinct style of the page's compact markers once (``ptsmOptions``):
    Leaflet copies a marker's options, so markers may share one object."""
    styles: dict[str, int] = {}

    def shared(match: re.Match[str]) -> str:
        index = styles.setdefault(match.group(2), len(styles))
        return f"{match.group(1)}ptsmOptions[{index}]{match.group(3)}"

    page = _COMPACT_CALL.sub(shared, page)
    if not styles:
        return page
    declaration = "<script>var ptsmOptions = [" + ",".join(styles) + "];</script>"
    return page.replace("</head>", declaration + "</head>", 1)


def map_to_framed_html(m: folium.Map) -> FramedMap:
    """The map as a page for an ``<iframe srcdoc>`` that reads Leaflet, its plugins and its
    geometries from the parent page, and the blocks that parent page must hold.

    Raises
    ------
    PtsmError
        When an asset would still be fetched from the network.
    """
    page = _rendered(m)
    names: list[str] = []

    def load(match: re.Match[str]) -> str:
        name = Path(match.group(1).removeprefix("file://")).name
        names.append(name)
        return _loader(name)

    page = _check_offline(_LOCAL_CSS.sub(load, _LOCAL_SCRIPT.sub(load, page)))
    page = page.replace("<head>", "<head>" + _FRAME_LOADER, 1)
    page, geometries = _share_geometries(page, {
        layer.get_name(): layer.geometries for layer in _walk(m)
        if isinstance(layer, SharedGeoJson) and layer.geometries is not None})
    # folium's indentation: a newline ends a statement as well (no raw newline can be in
    # a JSON string; in the HTML of a tooltip, whitespace collapses anyway).
    page = short_element_names(_share_marker_options(_INDENT.sub("\n", page)))
    shared = [_asset_block(name, _read_asset(str(vendor_dir() / name)))
              for name in dict.fromkeys(names)]
    return FramedMap(frame=page, shared="".join(shared + list(geometries.values())))


def page_blocks(page: str) -> str:
    """The shared blocks of a page (Leaflet and plugins, geometries), one copy of each."""
    return "".join(dict.fromkeys(page[start:end] for start, end, _ in _blocks(page)))


def share_page_blocks(page: str) -> str:
    """Keep the first copy of each shared block of a page (Leaflet, geometries), drop the
    copies later maps brought along."""
    seen: set[str] = set()
    parts: list[str] = []
    kept = 0  # the page up to here is in parts
    for start, end, key in _blocks(page):
        if key in seen:
            parts.append(page[kept:start])
            kept = end
        seen.add(key)
    parts.append(page[kept:])
    return "".join(parts)


# --------------------------------------------------------------------------- plotly.js

PLOTLY_BUNDLE_NAME = "plotly.js"  # entry of the vendored files' manifest


@cache
def vendor_manifest() -> dict[str, dict]:
    """The manifest of the vendored files: package → version, integrity, files..."""
    return json.loads((vendor_dir() / "manifest.json").read_text(encoding="utf-8"))


@cache
def full_plotly_js() -> str:
    """The complete plotly.js bundle shipped in the plotly wheel (every trace type)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def partial_plotly_traces() -> frozenset[str]:
    """Trace types the vendored partial plotly.js bundle draws; empty when that bundle is
    missing or is not the plotly.js version the installed plotly expects."""
    from plotly.offline import get_plotlyjs_version

    entry = vendor_manifest().get(PLOTLY_BUNDLE_NAME)
    if not entry or entry.get("version") != get_plotlyjs_version():
        return frozenset()
    return frozenset(entry["traces"])


@cache
def partial_plotly_file() -> str | None:
    """File name (in ``assets/vendor``) of the partial plotly.js bundle, when usable."""
    if not partial_plotly_traces():
        return None
    return next(name for name in vendor_manifest()[PLOTLY_BUNDLE_NAME]["files"]
                if name.endswith(".js"))


@cache
def plotly_js() -> str:
    """The plotly.js a page embeds: the vendored partial bundle, which draws only the trace
    types of the package's figures (:func:`partial_plotly_traces`) and weighs a quarter of
    the complete one, or the complete bundle when the partial one is unusable. A page whose
    figures need another trace type gets the complete bundle (:func:`fit_plotly_bundle`)."""
    name = partial_plotly_file()
    if name is None:
        return full_plotly_js()
    return _read_asset(str(vendor_dir() / name))


_NEW_PLOT = re.compile(r'Plotly\.newPlot\(\s*"[^"]*",\s*(?=\[)')


def plotly_trace_types(page: str) -> set[str] | None:
    """Trace types of the plotly figures of a page; None when a figure cannot be read."""
    decoder = json.JSONDecoder()
    types: set[str] = set()
    for match in _NEW_PLOT.finditer(page):
        try:
            traces, _ = decoder.raw_decode(page, match.end())
        except ValueError:
            return None
        types.update(str(t.get("type", "scatter")) if isinstance(t, dict) else "?"
                     for t in traces)
    return types


def _plotly_script(code: str) -> str:
    return f'<script type="text/javascript">{code}</script>'


# What :func:`ptsm_diag.report.display.init_display` shows instead of plotly.js when the
# outputs are made for the exported report only: the export puts the bundle there
# (:func:`fill_plotly_placeholder`), so the 1.3 MB script is neither sent by the kernel
# nor read by every edit of the page.
PLOTLY_PLACEHOLDER = '<script type="text/javascript" data-ptsm-plotly=""></script>'


def fill_plotly_placeholder(page: str) -> str:
    """Put plotly.js where the page has :data:`PLOTLY_PLACEHOLDER`: the partial bundle, or
    the complete one when a figure of the page has a trace type the partial one lacks."""
    if PLOTLY_PLACEHOLDER not in page:
        return page
    partial = plotly_js()
    types = plotly_trace_types(page)
    fits = types is not None and types <= partial_plotly_traces()
    return page.replace(PLOTLY_PLACEHOLDER,
                        _plotly_script(partial if fits else full_plotly_js()), 1)


def fit_plotly_bundle(page: str) -> str:
    """Swap the partial plotly.js of a page for the complete one when a figure of the page
    has a trace type the partial bundle lacks (it would draw nothing, silently)."""
    partial = plotly_js()
    if partial is full_plotly_js() or _plotly_script(partial) not in page:
        return page
    types = plotly_trace_types(page)
    if types is not None and types <= partial_plotly_traces():
        return page
    return page.replace(_plotly_script(partial), _plotly_script(full_plotly_js()))


def _inline_forms(folder: str, name: str, code: str) -> list[tuple[str, str]]:
    """(inlined form, linked form) of one asset, as our pages embed it."""
    link = (f'<link rel="stylesheet" href="{folder}/{name}">' if name.endswith(".css")
            else f'<script src="{folder}/{name}"></script>')
    if name.endswith(".css"):
        inline = "<style>" + code + "</style>"
    elif name.startswith("plotly"):
        inline = f'<script type="text/javascript">{code}</script>'
    else:
        inline = "<script>" + code.replace("</script", "<\\/script") + "</script>"
    # As is in the page, and HTML-escaped inside the maps' <iframe srcdoc>: by
    # html.escape, or as nbconvert re-serialises attributes (only " becomes &quot;).
    def reserialised(text: str) -> str:
        return html.escape(text, quote=False).replace('"', "&quot;")

    def in_srcdoc(text: str) -> str:  # in a srcdoc='…' (srcdoc_attribute)
        return srcdoc_attribute(text)[len("srcdoc='"):-1]

    forms = [(inline, link),
             (html.escape(inline, quote=True), html.escape(link, quote=True)),
             (reserialised(inline), reserialised(link))]
    if name.startswith("plotly"):
        return forms
    # A framed map loads the asset from its page's block (map_to_framed_html): the frame
    # links the file instead, and the page no longer needs the block.
    loader = _loader(name)
    return [*forms, (html.escape(loader, quote=True), html.escape(link, quote=True)),
            (reserialised(loader), reserialised(link)),
            (in_srcdoc(loader), in_srcdoc(link)),
            (_asset_block(name, code), "")]


def shared_asset_files() -> dict[str, str]:
    """File name → content of every heavy asset a report embeds (plotly.js, Leaflet...)."""
    import plotly

    files = {f"plotly-{plotly.__version__}.min.js": full_plotly_js()}
    if partial_plotly_file() is not None:
        files[partial_plotly_file()] = plotly_js()
    for file_name in sorted(set(VENDORED_ASSETS.values())):
        files[file_name] = _read_asset(str(vendor_dir() / file_name))
    return files


def externalise_assets(page: str, folder: str = "assets") -> tuple[str, dict[str, str]]:
    """Replace the inlined heavy assets of a report by links to ``folder/`` files.

    Several reports written side by side then share one copy of plotly.js and Leaflet.
    The page still works offline as long as ``folder`` stays beside it.

    Returns
    -------
    page : str
        The page with ``<script src="assets/...">`` links.
    files : dict
        File name → content of the assets the page now links to.
    """
    used: dict[str, str] = {}
    for file_name, code in shared_asset_files().items():
        for inline, link in _inline_forms(folder, file_name, code):
            if inline in page:
                page = page.replace(inline, link)
                used[file_name] = code
    return page, used


# --------------------------------------------------------------------------- static preview


def _walk(element: folium.Element) -> Iterator[folium.Element]:
    yield element
    for child in element._children.values():
        yield from _walk(child)


def _rings(geometry: dict) -> list[list[list[float]]]:
    """Coordinate rings (or lines) of a GeoJSON geometry, points left out."""
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind in ("Polygon", "MultiLineString"):
        return list(coords)
    if kind == "MultiPolygon":
        return [ring for polygon in coords for ring in polygon]
    if kind == "LineString":
        return [coords]
    if kind == "GeometryCollection":
        return [ring for g in geometry.get("geometries", []) for ring in _rings(g)]
    return []


def _attr(value: object) -> str:
    return html.escape(str(value), quote=True)


def map_preview_svg(m: folium.Map, width: int = 900, height: int = 500) -> str:
    """A static SVG picture of a folium map: its GeoJSON layers and circle markers.

    What a notebook shows where the interactive map cannot run (an executed notebook
    reopened untrusted in JupyterLab drops ``<iframe>`` and scripts, keeps ``<img>``).
    Colours come from each layer's ``style_function``; tiles, labels, tooltips and
    legends are left out. Longitudes are scaled by the cosine of the mean latitude.
    """
    shapes: list[tuple[list[list[list[float]]], dict]] = []
    points: list[tuple[float, float, dict]] = []
    for element in _walk(m):
        if isinstance(element, folium.GeoJson) and isinstance(element.data, dict):
            data = (element.features_with_geometry() if isinstance(element, SharedGeoJson)
                    else element.data)
            features = data.get("features", [data])
            for feature in features:
                geometry = feature.get("geometry") or {}
                # folium sets style_function only on a layer given one
                styler = getattr(element, "style_function", None)
                style = styler(feature) if styler else {}
                shapes.append((_rings(geometry), style or {}))
        elif isinstance(element, folium.CircleMarker):
            lat, lon = element.location
            points.append((float(lon), float(lat), element.options))
    lons = [p[0] for ring, _ in shapes for r in ring for p in r] + [p[0] for p in points]
    lats = [p[1] for ring, _ in shapes for r in ring for p in r] + [p[1] for p in points]
    if not lons:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
                "</svg>")
    west, east, south, north = min(lons), max(lons), min(lats), max(lats)
    ratio = math.cos(math.radians((south + north) / 2))
    span_x = max((east - west) * ratio, 1e-9)
    span_y = max(north - south, 1e-9)
    margin = 10
    scale = min((width - 2 * margin) / span_x, (height - 2 * margin) / span_y)
    x0 = margin + ((width - 2 * margin) - span_x * scale) / 2
    y0 = margin + ((height - 2 * margin) - span_y * scale) / 2

    def xy(lon: float, lat: float) -> str:
        return f"{x0 + (lon - west) * ratio * scale:.0f},{y0 + (north - lat) * scale:.0f}"

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}"><rect width="100%" height="100%" fill="#eef1f5"/>']
    for rings, style in shapes:
        if not rings:
            continue
        path = " ".join("M" + " L".join(xy(p[0], p[1]) for p in ring) + "Z"
                        for ring in rings if ring)
        fill = style.get("fillColor", "none") if style.get("fill", True) else "none"
        parts.append(
            f'<path d="{path}" fill="{_attr(fill)}" '
            f'fill-opacity="{_attr(style.get("fillOpacity", 0.2))}" fill-rule="evenodd" '
            f'stroke="{_attr(style.get("color", "#3388ff"))}" '
            f'stroke-width="{_attr(style.get("weight", 1))}"/>')
    for lon, lat, options in points:
        x, y = xy(lon, lat).split(",")
        parts.append(
            f'<circle cx="{x}" cy="{y}" r="{_attr(options.get("radius", 6))}" '
            f'fill="{_attr(options.get("fillColor", options.get("color", "#3388ff")))}" '
            f'fill-opacity="{_attr(options.get("fillOpacity", 0.9))}" '
            f'stroke="{_attr(options.get("color", "#333333"))}" '
            f'stroke-width="{_attr(options.get("weight", 1))}"/>')
    parts.append("</svg>")
    return "".join(parts)
