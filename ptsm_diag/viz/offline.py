"""Offline HTML for folium maps and plotly figures: every asset inlined, nothing fetched.

folium points every element at CDNs (Leaflet, jQuery, Bootstrap, Font Awesome...). We
point the elements we use at the vendored files of ``assets/vendor`` (instance
attributes, never the shared class lists), drop the assets our maps do not need, render,
then inline each local ``<script src>`` / ``<link href>``. Any asset left pointing at the
network is an error: a report must open in a meeting room without network.
"""

from __future__ import annotations

import html
import re
from functools import cache
from importlib import resources
from pathlib import Path

import folium

from ptsm_diag.errors import PtsmError

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
