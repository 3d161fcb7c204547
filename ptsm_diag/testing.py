"""Helpers for testing reports and data, public so that users can test their own.

- :func:`assert_offline` — a report must not load any script or stylesheet from the network.
- :func:`open_in_browser` — open an HTML file in headless Chromium with networking off,
  and return the uncaught script errors, the plotly figures and Leaflet maps that rendered.
- :func:`map_frame_pages` — each map of a report as a page of its own, to open it alone.
- :func:`probe_page` — open an HTML file in headless Chromium and report what its scripts
  did: page title, a ``window.__pwned`` marker in any frame, and the text of the page, of
  its map frames and of every map tooltip, popup and layer name (injection tests).
- :func:`write_csv` — write a table as a user's spreadsheet would (separator, encoding).
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ptsm_diag.report.browser import CHROMIUM_FLAGS as OFFLINE_FLAGS
from ptsm_diag.report.browser import find_chromium
from ptsm_diag.viz.offline import page_blocks, remote_assets

# Offline flags of ptsm_diag.report.browser, plus time for the page's scripts to run.
CHROMIUM_FLAGS = [*OFFLINE_FLAGS, "--virtual-time-budget=15000"]


def chromium_path() -> str | None:
    """The Chromium executable, or None when it is not installed."""
    return find_chromium()


@dataclass(frozen=True)
class BrowserResult:
    """What headless Chromium saw when opening a page."""

    script_errors: list[str]
    plotly_figures: int
    leaflet_maps: int
    dom: str
    screenshot: Path | None


def open_in_browser(
    html_path: str | Path, screenshot: str | Path | None = None, height: int = 1400
) -> BrowserResult:
    """Open ``html_path`` in headless Chromium with networking off.

    Parameters
    ----------
    html_path : path
        The page to open.
    screenshot : path, optional
        Where to write a PNG screenshot.
    height : int
        Window height in pixels for the screenshot.
    """
    chrome = chromium_path()
    if chrome is None:
        raise RuntimeError("Chromium n'est pas installé (paquet Debian « chromium »).")
    source = Path(html_path).resolve()
    url = source.as_uri()
    # The DOM is read from a copy beside the page (same relative assets/) that counts the
    # Leaflet maps of the page and of its frames once loaded.
    counted = source.with_name(f".ptsm-sonde-{source.name}")
    counted.write_text(source.read_text(encoding="utf-8") + _MAP_COUNT_SCRIPT,
                       encoding="utf-8")
    try:
        with (tempfile.TemporaryDirectory() as profile_a,
              tempfile.TemporaryDirectory() as profile_b):
            shot_args = [f"--screenshot={screenshot}"] if screenshot else []
            log = subprocess.run(
                [chrome, *CHROMIUM_FLAGS, f"--user-data-dir={profile_a}",
                 f"--window-size=1400,{height}", "--enable-logging=stderr", "--v=0",
                 *shot_args, url],
                capture_output=True, text=True, timeout=180, check=False,
            ).stderr
            dom = subprocess.run(
                [chrome, *CHROMIUM_FLAGS, f"--user-data-dir={profile_b}",
                 "--window-size=1400,1000", "--dump-dom", counted.as_uri()],
                capture_output=True, text=True, timeout=180, check=False,
            ).stdout
    finally:
        counted.unlink(missing_ok=True)
    errors = [line for line in log.splitlines() if "CONSOLE" in line and "Uncaught" in line]
    maps = re.search(r'data-ptsm-cartes="(\d+)"', dom)
    return BrowserResult(
        script_errors=errors,
        plotly_figures=len(re.findall(r'class="plot-container plotly"', dom)),
        leaflet_maps=(int(maps.group(1)) if maps
                      else len(re.findall(r'class="[^"]*leaflet-container', dom))),
        dom=dom,
        screenshot=Path(screenshot) if screenshot else None,
    )


# Counts the Leaflet maps drawn in the page and in its frames (maps are <iframe srcdoc>).
_MAP_COUNT_SCRIPT = """<script>
window.addEventListener("load", function () { setTimeout(function () {
  var count = 0;
  function walk(win, depth) {
    try {
      count += win.document.querySelectorAll(".leaflet-container").length;
      for (var i = 0; i < win.frames.length && depth < 4; i++) { walk(win.frames[i], depth + 1); }
    } catch (e) { return; }
  }
  walk(window, 0);
  document.documentElement.setAttribute("data-ptsm-cartes", String(count));
}, 500); });
</script>"""


def map_frame_pages(page: str) -> list[str]:
    """Each map of a report (``<iframe srcdoc>``) as a page of its own, holding the blocks
    the frame reads from its report (Leaflet, outlines), to open it alone."""
    blocks = page_blocks(page)
    return [html.unescape(frame).replace("<head>", "<head>" + blocks, 1)
            for frame in srcdoc_values(page)]


# An iframe's srcdoc, between double quotes (map_to_iframe) or single quotes (the report's
# maps, srcdoc_attribute).
_SRCDOC = re.compile(r"""<iframe[^>]*?srcdoc=(?:"([^"]*)"|'([^']*)')""")


def srcdoc_values(page: str) -> list[str]:
    """The ``srcdoc`` attribute of each iframe of ``page``, as written (not unescaped)."""
    return [double or single for double, single in _SRCDOC.findall(page)]


# Run in the page after it loaded: walks every frame (maps are <iframe srcdoc>) and every
# Leaflet layer, reads tooltips and popups as text through an inert DOMParser document (no
# image loads, no script runs), and writes the findings into an attribute of <html>.
_PROBE_SCRIPT = """<script>
window.addEventListener("load", function () { setTimeout(function () {
  var found = {title: document.title, pwned: [], texts: [], errors: []};
  var parser = new DOMParser();
  function text(content) {
    if (!content) { return ""; }
    if (typeof content === "string") {
      return parser.parseFromString(content, "text/html").body.textContent;
    }
    return content.textContent || "";
  }
  function visit(win, layer, seen) {
    if (seen.has(layer)) { return; }
    seen.add(layer);
    [layer.getTooltip && layer.getTooltip(), layer.getPopup && layer.getPopup()]
      .forEach(function (item) {
        if (!item) { return; }
        try {
          var content = item.getContent();
          if (typeof content !== "function") {
            found.texts.push(text(content));
          } else if (layer.feature) {
            found.texts.push(text(content(layer)));
          } else if (layer.eachLayer) {  // a GeoJSON tooltip: read it on each feature
            layer.eachLayer(function (child) {
              if (child.feature) { found.texts.push(text(content(child))); }
            });
          }
        } catch (e) { found.errors.push(String(e)); }
      });
    if (layer.eachLayer) { layer.eachLayer(function (child) { visit(win, child, seen); }); }
  }
  function walk(win, depth) {
    try {
      if (win.__pwned !== undefined) { found.pwned.push(String(win.__pwned)); }
      if (win.document.body) { found.texts.push(win.document.body.innerText); }
      if (win.L && win.L.Map) {
        var seen = new Set();
        Object.keys(win).forEach(function (key) {
          var value;
          try { value = win[key]; } catch (e) { return; }
          if (value instanceof win.L.Map) {
            value.eachLayer(function (layer) { visit(win, layer, seen); });
          } else if (value instanceof win.L.Control.Layers) {
            (value._layers || []).forEach(function (item) { found.texts.push(text(item.name)); });
          }
        });
      }
      for (var i = 0; i < win.frames.length && depth < 4; i++) { walk(win.frames[i], depth + 1); }
    } catch (e) { found.errors.push(String(e)); }
  }
  walk(window, 0);
  document.documentElement.setAttribute("data-ptsm-sonde", JSON.stringify(found));
}, 500); });
</script>"""


@dataclass(frozen=True)
class PageProbe:
    """What the scripts of a page did, seen from inside headless Chromium."""

    title: str
    pwned: list[str]
    texts: list[str]
    script_errors: list[str]
    probe_errors: list[str]

    @property
    def text(self) -> str:
        """Every text read: page and frames, tooltips, popups, layer names."""
        return "\n".join(self.texts)


def probe_page(html_path: str | Path) -> PageProbe:
    """Open ``html_path`` in headless Chromium (offline) and report what its scripts did.

    A copy of the page gets a probe script that runs 0.5 s after the load event and
    reads, in the page and in every frame (maps are ``<iframe srcdoc>``): the page title,
    the ``window.__pwned`` marker, the visible text, and the text of every Leaflet
    tooltip, popup and layer-control name (parsed inertly: the probe runs nothing).

    Raises
    ------
    RuntimeError
        When Chromium is not installed, or the probe could not run.
    """
    chrome = chromium_path()
    if chrome is None:
        raise RuntimeError("Chromium n'est pas installé (paquet Debian « chromium »).")
    source = Path(html_path)
    page = source.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory() as profile:
        copy = Path(folder) / source.name
        copy.write_text(page + _PROBE_SCRIPT, encoding="utf-8")
        run = subprocess.run(
            [chrome, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1400,1000",
             "--enable-logging=stderr", "--v=0", "--dump-dom", copy.resolve().as_uri()],
            capture_output=True, text=True, timeout=180, check=False,
        )
    match = re.search(r'data-ptsm-sonde="([^"]*)"', run.stdout)
    if match is None:
        raise RuntimeError(f"la sonde n'a pas pu s'exécuter dans {source.name} : "
                           f"{run.stderr.strip()[-500:]}")
    found = json.loads(html.unescape(match.group(1)))
    errors = [line for line in run.stderr.splitlines() if "CONSOLE" in line and "Uncaught" in line]
    return PageProbe(title=found["title"], pwned=found["pwned"], texts=found["texts"],
                     script_errors=errors, probe_errors=found["errors"])


def assert_offline(page: str) -> None:
    """Fail when ``page`` would load a script or stylesheet from the network."""
    leftovers = remote_assets(page)
    assert not leftovers, f"ressources chargées depuis le réseau : {leftovers}"


def write_csv(
    frame: pd.DataFrame, path: str | Path, *, sep: str = ";", encoding: str = "utf-8"
) -> Path:
    """Write ``frame`` as a user's spreadsheet would (e.g. ``encoding="cp1252"``)."""
    path = Path(path)
    frame.to_csv(path, sep=sep, index=False, encoding=encoding)
    return path


def write_finess_extract(
    path: str | Path,
    rows: Iterable[Mapping[str, str] | str],
    *,
    encoding: str = "utf-8",
    date: str = "2026-05-12",
    trailing_separator: bool = True,
) -> Path:
    """Write a FINESS extract in the official ``etalab-cs1100507`` layout.

    Parameters
    ----------
    path : path
        Where to write.
    rows : iterable of mapping or str
        One mapping per establishment, keyed by ``structureet`` field names
        (``nofinesset``, ``rs``, ``commune``, ``departement``, ``categetab``...; missing
        fields are written empty, ``nofinessej`` and ``rs`` get defaults). When it holds
        ``coordxet``, a ``geolocalisation`` line is written too, with ``coordyet`` and
        ``sourcecoordet`` (default: the Lambert-93 label). A str is written verbatim
        among the ``structureet`` lines (malformed lines for tests).
    encoding : str
        ``"utf-8"`` (recent files) or ``"latin-1"`` (older ones).
    date : str
        Extraction date of the metadata line.
    trailing_separator : bool
        End ``structureet`` lines with ``;``, as the official files do.
    """
    from ptsm_diag.io.sources.finess import STRUCTURE_FIELDS

    path = Path(path)
    structures: list[str] = []
    geolocations: list[str] = []
    end = ";" if trailing_separator else ""
    for row in rows:
        if isinstance(row, str):
            structures.append(row)
            continue
        finess = row.get("nofinesset", "")
        values = {"structureet": "structureet", "nofinessej": finess,
                  "rs": f"ETABLISSEMENT {finess}", **row}
        structures.append(";".join(str(values.get(name, "")) for name in STRUCTURE_FIELDS)
                          + end)
        if "coordxet" in row:
            source = row.get("sourcecoordet",
                             "1,ATLASANTE,100,BAN,EPSG:2154 RGF93 / Lambert-93 (Métropole)")
            geolocations.append(
                f"geolocalisation;{finess};{row['coordxet']};{row.get('coordyet', '')};"
                f"{source};{row.get('datemaj_geo', date)}")
    lines = [f"finess;etalab;{len(structures)};{date}", *structures, *geolocations]
    with path.open("w", encoding=encoding, newline="") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def many_resources(territory, count: int, seed: int = 0):
    """``count`` fictional resources of every type, in the communes of ``territory``.

    For tests and benchmarks of crowded maps: a GeoDataFrame shaped like
    :attr:`ptsm_diag.diagnostic.Diagnostic.resources`.
    """
    import geopandas as gpd
    import numpy as np

    from ptsm_diag.catalog import load_resource_types

    rng = np.random.default_rng(seed)
    communes = territory.communes.reset_index(drop=True)
    points = communes.geometry.representative_point()
    chosen = rng.integers(0, len(communes), size=count)
    types = list(load_resource_types())
    kinds = [types[i] for i in rng.integers(0, len(types), size=count)]
    champs = {code: t.champ for code, t in load_resource_types().items()}
    jitter = rng.normal(0, 0.01, size=(count, 2))
    return gpd.GeoDataFrame(
        {
            "id_ressource": [f"TEST-{i:05d}" for i in range(count)],
            "nom": [f"Structure fictive n° {i}" for i in range(count)],
            "type_ressource": kinds,
            "champ": [champs[k] for k in kinds],
            "code_commune": communes["code_commune"].to_numpy()[chosen],
            "adresse": "",
            "capacite_lits": np.nan,
            "capacite_places": np.nan,
            "position_approchee": False,
        },
        geometry=gpd.points_from_xy(points.x.to_numpy()[chosen] + jitter[:, 0],
                                    points.y.to_numpy()[chosen] + jitter[:, 1]),
        crs="EPSG:4326",
    )
