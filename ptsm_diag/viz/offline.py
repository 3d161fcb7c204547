"""Offline HTML for folium maps and plotly figures: every asset inlined, nothing fetched.

folium points every element at CDNs (Leaflet, jQuery, Bootstrap, Font Awesome...). We
point the elements we use at the vendored files of ``assets/vendor`` (instance
attributes, never the shared class lists), drop the assets our maps do not need, render,
then inline each local ``<script src>`` / ``<link href>``. Any asset left pointing at the
network is an error: a report must open in a meeting room without network.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path

import folium

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
_REMOTE_ASSET = re.compile(r"""(?:src|href)\s*=\s*["'](https?:)?//[^"']+\.(?:js|css)\b""")


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
    unescaped = html.unescape(page)
    return [m.group(0) for m in _REMOTE_ASSET.finditer(unescaped)]


def map_to_html(m: folium.Map) -> str:
    """Standalone offline HTML page of a folium map, every asset inlined.

    Raises
    ------
    PtsmError
        When an asset would still be fetched from the network.
    """
    _localise(m)
    with literal_templates():
        page = _inline_local_assets(m.get_root().render())
    leftovers = remote_assets(page)
    if leftovers:
        raise PtsmError(
            "La carte chargerait des ressources depuis Internet (mode hors ligne impossible) : "
            + ", ".join(leftovers)
        )
    return page


def map_to_iframe(m: folium.Map, height: int = 520) -> str:
    """An ``<iframe srcdoc>`` holding the offline map, to embed in a report."""
    page = html.escape(map_to_html(m), quote=True)
    return (
        f'<iframe class="ptsm-carte" srcdoc="{page}" style="width:100%;height:{height}px;'
        'border:1px solid #ccc;" allowfullscreen></iframe>'
    )


@cache
def plotly_js() -> str:
    """The plotly.js bundle shipped in the plotly wheel."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


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

    return [(inline, link),
            (html.escape(inline, quote=True), html.escape(link, quote=True)),
            (reserialised(inline), reserialised(link))]


def shared_asset_files() -> dict[str, str]:
    """File name → content of every heavy asset a report embeds (plotly.js, Leaflet...)."""
    import plotly

    files = {f"plotly-{plotly.__version__}.min.js": plotly_js()}
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
            features = element.data.get("features", [element.data])
            for feature in features:
                geometry = feature.get("geometry") or {}
                style = element.style_function(feature) if element.style_function else {}
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
