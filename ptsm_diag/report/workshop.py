"""Workshop material: large maps and the rosace, readable on a meeting-room projector.

- the sections of ``notebooks/atelier_cartes.ipynb`` (one section per screen, large
  fonts): :func:`slide_styles`, :func:`title_slide`, :func:`rosace_slide`,
  :func:`resources_slide`, :func:`density_slide`;
- :func:`workshop_resources_map`: resources in one cluster group across types (coincident
  points spread apart), a legend grouped by champ whose types can be toggled, the main
  towns labelled, over the communes and the territory outline;
- :func:`write_workshop_map`: that map as one standalone offline HTML file;
- :func:`export_layers_gpkg`: the map layers as a GeoPackage for QGIS users.

Maps have no tiles by default (``fond="aucun"``): they work without network.
"""

from __future__ import annotations

import html
from pathlib import Path

import folium
import geopandas as gpd
import pandas as pd
import plotly.graph_objects as go
from folium.plugins import FastMarkerCluster

from ptsm_diag.catalog import load_resource_types, load_vocabularies
from ptsm_diag.diagnostic import Diagnostic, prepare_diagnostic
from ptsm_diag.io.files import write_atomic_with
from ptsm_diag.report.display import map_block
from ptsm_diag.viz.maps import (
    CHAMP_COLOURS,
    RawHtml,
    add_commune_background,
    base_map,
    commune_choropleth,
    js_string,
    resource_popup_html,
    safe_html,
)
from ptsm_diag.viz.offline import map_to_html
from ptsm_diag.viz.rosace import rosace_figure

FONT_SCALE = 1.6
CLUSTER_RADIUS = 50  # px: markers closer than this on screen are grouped
TOWN_MIN_POPULATION = 20_000  # communes above this population are labelled
TOWN_COUNT = 6  # ... and at least the most populous communes of the territory
TOWN_SPACING_KM = 8.0  # a town this close to a larger labelled one is not labelled
OUTLINE_COLOUR = "#1f3b73"

# Short badge text of each resource type, readable from the back of a room.
ABBREVIATIONS: dict[str, str] = {
    "chs": "CHS", "clinique_psy": "CLIN", "ch_psy": "CH", "cmp_adultes": "CMP",
    "cmp_enfants": "CMPI", "cattp": "CATTP", "centre_crise": "CRISE", "postcure": "POST",
    "appartement_therapeutique": "AT", "equipe_mobile": "EMP", "smpr": "SMPR",
    "centre_sante": "CDS", "msp": "MSP", "cpts": "CPTS", "dac": "DAC", "csapa": "CSAPA",
    "mdph": "MDPH", "savs": "SAVS", "samsah": "SAMSAH", "mas": "MAS", "eam": "EAM",
    "eanm": "EANM", "esat": "ESAT", "cmpp": "CMPP", "camsp": "CAMSP", "sessad": "SESSAD",
    "ime": "IME", "itep": "ITEP", "chrs": "CHRS", "pension_famille": "PF", "gem": "GEM",
    "clsm": "CLSM", "association_usagers": "ASSO", "autre": "AUTRE",
}

GPKG_LAYERS = ("communes", "territoire", "ressources")


def fond_option(fond: str | None) -> str | None:
    """The ``fond`` parameter as :mod:`ptsm_diag.viz.maps` expects it (``"aucun"`` → None)."""
    return None if fond in (None, "", "aucun") else fond


def _abbreviation(code: str) -> str:
    return ABBREVIATIONS.get(code, code.upper()[:5])


def _map_css(font_scale: float, panel: bool) -> str:
    """Styles of a projection map; ``panel`` puts the layer control beside the map."""
    size = round(13 * font_scale)
    width = round(260 * font_scale)
    side = (
        f".folium-map{{width:calc(100% - {width}px)!important}}"
        ".ptsm-panneau{position:fixed!important;top:0!important;right:0!important;"
        f"bottom:0!important;width:{width}px!important;margin:0!important;float:none!important;"
        "border-radius:0!important;box-sizing:border-box;overflow-y:auto;border:0!important;"
        "border-left:2px solid #999!important;box-shadow:none!important;z-index:1000;"
        "padding:10px 12px!important}"
        ".ptsm-panneau .leaflet-control-layers-list{height:auto!important;"
        "max-height:none!important;overflow:visible!important}"
    ) if panel else ".leaflet-control-layers{max-height:80vh;overflow-y:auto}"
    return (
        "<style>"
        f"{side}"
        f".leaflet-control-layers{{font:{size}px/1.2 sans-serif}}"
        ".leaflet-control-layers label{margin:1px 0}"
        f".leaflet-control-layers input{{width:{size}px;height:{size}px;margin:0 4px 0 0;"
        "vertical-align:middle}"
        f".leaflet-popup-content{{font:{size}px/1.35 sans-serif}}"
        f".leaflet-tooltip{{font-size:{size}px}}"
        f".leaflet-control-scale-line{{font-size:{round(11 * font_scale)}px}}"
        f".leaflet-control-zoom a{{width:{round(30 * font_scale)}px!important;"
        f"height:{round(30 * font_scale)}px!important;line-height:{round(30 * font_scale)}px"
        f"!important;font-size:{round(18 * font_scale)}px!important}}"
        ".ptsm-badge{border:2px solid #222;border-radius:6px;color:#fff;"
        f"font:bold {round(10 * font_scale)}px/1 sans-serif;padding:3px 4px;"
        "white-space:nowrap;transform:translate(-50%,-50%);display:inline-block;"
        "box-shadow:0 0 0 1px #fff}"
        ".ptsm-grappe{background:#1f3b73;color:#fff;border:3px solid #fff;border-radius:50%;"
        f"box-shadow:0 0 0 2px #1f3b73;font:bold {round(13 * font_scale)}px/1 sans-serif;"
        f"min-width:{round(22 * font_scale)}px;height:{round(22 * font_scale)}px;"
        f"line-height:{round(22 * font_scale)}px;text-align:center;padding:2px;"
        "transform:translate(-50%,-50%);display:inline-block}"
        ".ptsm-ville{color:#111;font-weight:bold;font-family:sans-serif;white-space:nowrap;"
        f"transform:translate(-50%,calc(-100% - {round(14 * font_scale)}px));display:inline-block;"
        "pointer-events:none;"
        "background:rgba(255,255,255,.85);border-radius:4px;padding:0 5px;"
        "box-shadow:0 0 0 1px rgba(0,0,0,.25)}"
        f".ptsm-legende{{max-height:min(100vh,1080px);overflow-y:auto;background:#fff;"
        f"font-size:min({round(11 * font_scale)}px,1.7vh)!important}}"
        ".ptsm-legende-titre{font-weight:bold;margin-bottom:6px}"
        ".ptsm-legende details{margin:0 0 4px}"
        ".ptsm-legende summary{cursor:pointer;font-weight:bold;padding:2px 0}"
        ".ptsm-legende label{display:block;margin:1px 0 1px 1.1em;white-space:nowrap;"
        "overflow:hidden;text-overflow:ellipsis}"
        ".ptsm-legende .ptsm-badge{padding:1px 4px;font-size:.9em}"
        ".ptsm-legende-titre small{display:block;font-weight:normal;font-size:.85em}"
        ".ptsm-puce{display:inline-block;width:.9em;height:.9em;"
        "border-radius:50%;margin-right:6px;vertical-align:middle}"
        ".ptsm-carte-titre{position:absolute;top:10px;left:50%;transform:translateX(-50%);"
        "z-index:1000;background:rgba(255,255,255,.92);border:1px solid #999;"
        f"border-radius:4px;padding:6px 14px;font:bold {round(16 * font_scale)}px sans-serif;"
        f"color:{OUTLINE_COLOUR};text-align:center;pointer-events:none}}"
        f".ptsm-carte-titre small{{display:block;font-weight:normal;"
        f"font-size:{round(11 * font_scale)}px;color:#7a5a00}}"
        "</style>"
    )


# A cluster mixes types: a dark round badge with its count, readable from the back of a room.
_CLUSTER_ICON = """function(cluster) {
  return L.divIcon({html: '<div class="ptsm-grappe">' + cluster.getChildCount() + '</div>',
                    className: '', iconSize: [0, 0]});
}"""

# One badge marker, built in the browser for FastMarkerCluster: row = [lat, lon, tooltip,
# popup, type index], tooltip and popup HTML made inert by safe_html (JSON-encoded by
# folium); BADGES is a JavaScript array of string literals, the badge HTML of each type.
_BADGE_MARKER = """function (row) {
    var badges = BADGES;
    var icon = L.divIcon({html: badges[row[4]], iconSize: [0, 0], className: 'empty'});
    var marker = L.marker(new L.LatLng(row[0], row[1]), {icon: icon});
    marker.ptsmType = row[4];
    marker.bindTooltip(row[2]);
    marker.bindPopup(row[3], {maxWidth: MAXWIDTH});
    return marker;
}"""

# The legend (beside the map): ticking a type adds its markers to the one cluster group,
# unticking removes them. CLUSTER is the cluster group's JavaScript variable name.
_LEGEND_SCRIPT = """<script>
document.addEventListener("DOMContentLoaded", function () {
  var cluster = CLUSTER, byType = {};
  cluster.getLayers().forEach(function (marker) {
    (byType[marker.ptsmType] = byType[marker.ptsmType] || []).push(marker);
  });
  document.querySelectorAll(".ptsm-legende input[data-type]").forEach(function (box) {
    box.addEventListener("change", function () {
      var markers = byType[box.dataset.type] || [];
      if (box.checked) { cluster.addLayers(markers); } else { cluster.removeLayers(markers); }
    });
  });
});
</script>"""


def _short_label(label: str, limit: int = 34) -> str:
    """A type label without its parenthesis when long (the badge names it already)."""
    if len(label) <= limit or "(" not in label:
        return label
    return label.split("(")[0].strip()


def _title_box(title: str, subtitle: str | None) -> RawHtml:
    sub = f"<small>{safe_html(subtitle)}</small>" if subtitle else ""
    return RawHtml(f'<div class="ptsm-carte-titre">{safe_html(title)}{sub}</div>')


def main_towns(
    communes: gpd.GeoDataFrame, *, count: int = TOWN_COUNT,
    min_population: int = TOWN_MIN_POPULATION, min_distance_km: float = TOWN_SPACING_KM,
) -> gpd.GeoDataFrame:
    """The communes labelled on a workshop map, most populous first.

    The ``count`` most populous communes and any above ``min_population`` inhabitants
    (the bundled geography has no chef-lieu column; the most populous commune is the
    chef-lieu in most départements), except those closer than ``min_distance_km`` to a
    more populous labelled one, whose label would overlap it.

    Parameters
    ----------
    communes : GeoDataFrame
        Communes with ``nom``, ``population`` and geometry (EPSG:4326).
    count : int
        How many of the most populous communes are labelled at least.
    min_population : int
        Communes with at least this population are labelled too.
    min_distance_km : float
        Minimum distance between two labelled towns.

    Returns
    -------
    GeoDataFrame
        The labelled communes, ``population`` numeric.
    """
    population = pd.to_numeric(communes["population"], errors="coerce")
    ranked = communes.assign(population=population).dropna(subset=["population"])
    ranked = ranked[ranked.geometry.notna() & ~ranked.geometry.is_empty]
    ranked = ranked.sort_values("population", ascending=False)
    wanted = (pd.Series(range(len(ranked)), index=ranked.index) < count) | (
        ranked["population"] >= min_population)
    ranked = ranked[wanted]
    points = ranked.geometry.representative_point().to_crs("EPSG:2154")
    kept: list[object] = []
    for index, point in points.items():
        if all(point.distance(points[k]) >= min_distance_km * 1000 for k in kept):
            kept.append(index)
    return ranked.loc[kept]


def _add_town_labels(m: folium.Map, communes: gpd.GeoDataFrame, font_scale: float) -> None:
    """Names of the main towns, above the markers and letting clicks through."""
    towns = main_towns(communes)
    if towns.empty:
        return
    folium.map.CustomPane("villes", z_index=650, pointer_events=False).add_to(m)
    group = folium.FeatureGroup(name="Villes", control=False).add_to(m)
    largest = towns["population"].iloc[0]
    for _, town in towns.iterrows():
        point = town.geometry.representative_point()
        size = round((15 if town["population"] < largest else 19) * font_scale)
        label = (f'<div class="ptsm-ville" style="font-size:{size}px">'
                 f'{safe_html(town["nom"])}</div>')
        folium.Marker(location=[point.y, point.x], icon=folium.DivIcon(
            html=label, icon_size=(0, 0), class_name="ptsm-ville-icone"),
            interactive=False, pane="villes").add_to(group)


def _legend_html(entries: list[tuple[str, str, list[tuple[int, str, str, int]]]]) -> str:
    """The legend beside the map: one collapsible ``<details>`` per champ listing its types
    (checkbox, badge, label, count). ``entries``: (champ colour, champ label, [(type index,
    badge HTML, label, count)]), all text already made inert by :func:`safe_html`."""
    parts = ['<div class="leaflet-control-layers ptsm-panneau ptsm-legende">',
             '<div class="ptsm-legende-titre">Ressources par type'
             "<small>cocher / décocher ; cliquer un champ pour le replier</small></div>"]
    for colour, champ_label, types in entries:
        total = sum(n for *_, n in types)
        parts.append(f'<details class="ptsm-champ" open><summary>'
                     f'<span class="ptsm-puce" style="background:{colour}"></span>'
                     f"{champ_label} ({total})</summary>")
        for index, swatch, label, n in types:
            parts.append(f'<label title="{label}">'
                         f'<input type="checkbox" checked data-type="{index}">'
                         f"{swatch} {label} ({n})</label>")
        parts.append("</details>")
    parts.append("</div>")
    return "".join(parts)


def workshop_resources_map(
    diag: Diagnostic,
    *,
    fond: str | None = None,
    font_scale: float = FONT_SCALE,
    title: str | None = None,
) -> folium.Map:
    """Resources of the territory by type, for a projector.

    Every resource is a short badge (« CMP ») in the colour of its champ; all types share
    one cluster group, so that a city's resources make one cluster rather than a pile of
    per-type clusters, and coincident resources spread apart (spiderfy) when a cluster is
    clicked at the deepest zoom. The legend beside the map lists the types grouped by champ
    (collapsible, scrolling within the screen height), each with a checkbox showing or
    hiding its resources. The main towns are labelled (:func:`main_towns`); the communes
    are the background, with the territory outline, fullscreen and scale.

    Parameters
    ----------
    diag : Diagnostic
        The territory's diagnostic (:func:`ptsm_diag.diagnostic.prepare_diagnostic`).
    fond : {None, "osm"}
        Background tiles; None works offline.
    font_scale : float
        Multiplier of every font size.
    title : str, optional
        Title shown on the map (the territory name by default).
    """
    territory = diag.territory
    communes = territory.communes
    m = base_map(tuple(communes.total_bounds), fond)
    m.options["max_zoom"] = 18  # the clusters need it on the map (there may be no tiles)
    add_commune_background(m, communes, names=True)
    folium.GeoJson(
        gpd.GeoSeries([territory.geometry], crs="EPSG:4326").to_json(),
        name="Contour du territoire",
        style_function=lambda f: {"fill": False, "color": OUTLINE_COLOUR, "weight": 4},
        interactive=False,
        control=False,
    ).add_to(m)
    _add_town_labels(m, communes, font_scale)

    vocab = load_vocabularies()
    types = load_resource_types()
    type_labels = {code: t.label for code, t in types.items()}
    resources = diag.resources
    champ_order = {champ: i for i, champ in enumerate(vocab.champs)}
    present = list(dict.fromkeys(resources.get("type_ressource", pd.Series(dtype=object))))
    champ_of = {code: types[code].champ if code in types else
                str(resources.loc[resources["type_ressource"] == code, "champ"].iloc[0])
                for code in present}
    order = sorted(present, key=lambda c: (champ_order.get(champ_of[c], 99),
                                           list(types).index(c) if c in types else 999, c))
    badges: list[str] = []
    rows: list[list[object]] = []
    legend: dict[str, tuple[str, str, list[tuple[int, str, str, int]]]] = {}
    for index, code in enumerate(order):
        subset = resources[resources["type_ressource"] == code]
        champ = champ_of[code]
        colour = CHAMP_COLOURS.get(champ, "#555555")
        badge_text = safe_html(_abbreviation(code))
        badges.append(f'<div class="ptsm-badge" style="background:{colour}">{badge_text}</div>')
        swatch = (f'<span class="ptsm-badge" style="background:{colour};transform:none">'
                  f"{badge_text}</span>")
        label = safe_html(_short_label(type_labels.get(code, code)))
        champ_label = safe_html(vocab.champs.get(champ, champ))
        legend.setdefault(champ, (colour, champ_label, []))[2].append(
            (index, swatch, label, len(subset)))
        rows += [[row.geometry.y, row.geometry.x, safe_html(row["nom"]),
                  resource_popup_html(row, type_labels, vocab.champs), index]
                 for _, row in subset.iterrows()]
    cluster = None
    if rows:
        # One cluster group across types, markers built in the browser from one JSON
        # array (a few seconds and MB less per thousand markers than one folium.Marker
        # each); no disableClusteringAtZoom, which would turn spiderfy off.
        cluster = FastMarkerCluster(
            rows,
            name="Ressources",
            control=False,
            callback=_BADGE_MARKER.replace("BADGES", "[" + ", ".join(map(js_string, badges))
                                           + "]")
            .replace("MAXWIDTH", str(round(320 * font_scale))),
            options={"maxClusterRadius": CLUSTER_RADIUS, "spiderfyOnMaxZoom": True,
                     "showCoverageOnHover": False, "zoomToBoundsOnClick": True,
                     "spiderfyDistanceMultiplier": 2},
            icon_create_function=_CLUSTER_ICON,
        ).add_to(m)
    root = m.get_root()
    root.header.add_child(RawHtml(_map_css(font_scale, panel=True)))
    root.html.add_child(RawHtml(_legend_html(list(legend.values()))))
    if cluster is not None:
        root.html.add_child(RawHtml(_LEGEND_SCRIPT.replace("CLUSTER", cluster.get_name())))
    subtitle = "Données fictives de démonstration" if diag.is_demo else None
    root.html.add_child(_title_box(title or f"Ressources — {territory.name}", subtitle))
    return m


def density_map(
    diag: Diagnostic, *, fond: str | None = None, font_scale: float = FONT_SCALE
) -> folium.Map:
    """Population density of the communes, large legend and tooltips."""
    communes = diag.territory.communes.copy()
    area = communes.to_crs("EPSG:6933").area / 1e6
    communes["densite"] = pd.to_numeric(communes["population"], errors="coerce") / area
    m = commune_choropleth(communes, "densite", "Densité (hab./km²)", fond=fond,
                           font_scale=font_scale)
    folium.GeoJson(
        gpd.GeoSeries([diag.territory.geometry], crs="EPSG:4326").to_json(),
        name="Contour du territoire",
        style_function=lambda f: {"fill": False, "color": OUTLINE_COLOUR, "weight": 4},
        interactive=False, control=False,
    ).add_to(m)
    root = m.get_root()
    root.header.add_child(RawHtml(_map_css(font_scale, panel=False)))
    subtitle = "Population municipale INSEE"
    root.html.add_child(_title_box(f"Densité de population — {diag.territory.name}", subtitle))
    return m


# --------------------------------------------------------------------------- slides


SLIDE_CSS = """<style>
body.ptsm-rapport main { max-width: none; padding: 0 2.5rem 2rem; }
body.ptsm-rapport .jp-RenderedHTMLCommon { font-size: 1.45rem; line-height: 1.45; }
body.ptsm-rapport .jp-RenderedHTMLCommon h1 { font-size: 3.2rem; }
body.ptsm-rapport .jp-RenderedHTMLCommon h2 { font-size: 2.6rem; margin: 0 0 .6rem;
  padding-top: 1.2rem; }
.jp-Cell.jp-MarkdownCell:has(h2) { break-before: page; page-break-before: always;
  scroll-snap-align: start; margin-top: 3rem; }
html { scroll-snap-type: y proximity; }
.ptsm-diapo-titre { min-height: 55vh; display: flex; flex-direction: column;
  justify-content: center; }
.ptsm-diapo-titre .sous-titre { font-size: 1.8rem; color: #555; }
.ptsm-diapo-titre .ptsm-demo { font-size: 1.3rem; }
.ptsm-sommaire { font-size: 1.4rem; }
iframe.ptsm-carte-atelier { display: block; width: 100%; height: calc(100vh - 9rem);
  min-height: 560px; border: 1px solid #999; box-sizing: border-box; }
@media print { iframe.ptsm-carte-atelier { height: 180mm; } }
</style>"""


def slide_styles() -> str:
    """The workshop page styles: one section per screen (page break), large fonts."""
    return SLIDE_CSS


def title_slide(diag: Diagnostic) -> str:
    """First screen: territory, date, demo warning (escaped HTML, with the page styles)."""
    t = diag.territory
    banner = ('<div class="ptsm-demo" role="note">Données fictives de démonstration — seules '
              "la géographie et les populations communales sont réelles.</div>"
              if diag.is_demo else "")
    return (
        f"{SLIDE_CSS}"
        '<header class="ptsm-page-titre ptsm-diapo-titre">'
        f"<h1>Atelier PTSM — {html.escape(t.name)}</h1>"
        '<p class="sous-titre">Cartes et rosace du diagnostic territorial partagé en santé '
        f"mentale — {diag.generated_at.strftime('%d/%m/%Y')}</p>{banner}</header>"
    )


def rosace_slide(diag: Diagnostic) -> go.Figure:
    """The rosace in its projection variant (large fonts, sized for a 1920 × 1080 screen)."""
    return rosace_figure(diag.rosace, title=f"{diag.territory.name} — référence : "
                         f"{diag.reference_label}", projection=True)


def _large_iframe(m: folium.Map) -> str:
    # over a static picture: an untrusted JupyterLab (reopened notebook) shows the picture
    return map_block(m, "calc(100vh - 9rem)", iframe_class="ptsm-carte ptsm-carte-atelier",
                     preview_px=900)


def resources_slide(diag: Diagnostic, fond: str | None = None) -> str:
    """The resources map, full screen height (offline iframe HTML)."""
    return _large_iframe(workshop_resources_map(diag, fond=fond_option(fond)))


def density_slide(diag: Diagnostic, fond: str | None = None) -> str:
    """The population density map, full screen height (offline iframe HTML)."""
    return _large_iframe(density_map(diag, fond=fond_option(fond)))


# --------------------------------------------------------------------------- files


def write_workshop_map(
    territoire: str,
    donnees: str | Path | None,
    sortie: str | Path,
    *,
    fond: str = "aucun",
) -> Path:
    """Write the workshop resources map of ``territoire`` as one offline HTML file.

    Parameters
    ----------
    territoire : str
        Territory code (a string: ``"01"``).
    donnees : path or None
        Data folder; empty or None uses the demo data.
    sortie : path
        Output folder (the file is ``carte_atelier_<territoire>.html``), or an ``.html``
        file path.
    fond : {"aucun", "osm"}
        ``"aucun"`` works offline; ``"osm"`` adds OpenStreetMap tiles (network needed).

    Returns
    -------
    Path
        The HTML file written.
    """
    from ptsm_diag.report.execute import safe_file_stem

    diag = prepare_diagnostic(str(territoire), donnees or None)
    m = workshop_resources_map(diag, fond=fond_option(fond))
    page = map_to_html(m)
    page = page.replace("<head>", f"<head><title>{html.escape(diag.territory.name)} — "
                        "carte des ressources (atelier PTSM)</title>", 1)
    target = Path(sortie)
    if target.suffix.lower() != ".html":
        target = target / f"carte_atelier_{safe_file_stem(str(territoire))}.html"
    write_atomic_with(target, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    return target


def map_layers(diag: Diagnostic) -> dict[str, gpd.GeoDataFrame]:
    """The layers of the workshop map: ``communes``, ``territoire``, ``ressources``."""
    t = diag.territory
    communes = t.communes[["code_commune", "nom", "code_departement", "population",
                           "geometry"]].copy()
    area = communes.to_crs("EPSG:6933").area / 1e6
    communes["population"] = pd.to_numeric(communes["population"], errors="coerce")
    communes["superficie_km2"] = area.round(2)
    communes["densite"] = (communes["population"] / area).round(1)
    outline = gpd.GeoDataFrame(
        {"code_territoire": [t.code], "nom": [t.name], "population": [t.population_total],
         "superficie_km2": [round(t.area_km2, 1)], "densite": [round(t.density, 1)]},
        geometry=[t.geometry], crs="EPSG:4326")
    labels = {code: r.label for code, r in load_resource_types().items()}
    champs = load_vocabularies().champs
    wanted = ["id_ressource", "finess", "nom", "type_ressource", "champ", "public",
              "code_commune", "capacite_lits", "capacite_places", "etp", "position_approchee"]
    resources = diag.resources
    frame = pd.DataFrame({c: resources[c] for c in wanted if c in resources}).reset_index(
        drop=True)
    if "type_ressource" in frame:
        frame.insert(frame.columns.get_loc("type_ressource") + 1, "type_libelle",
                     frame["type_ressource"].map(labels))
    if "champ" in frame:
        frame["champ_libelle"] = frame["champ"].map(champs)
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(lambda v: None if v is None or
                                              (isinstance(v, float) and pd.isna(v)) else str(v))
    points = gpd.GeoDataFrame(frame, geometry=resources.geometry.to_numpy(), crs="EPSG:4326")
    return {"communes": communes, "territoire": outline, "ressources": points}


def export_layers_gpkg(diag: Diagnostic, path: str | Path) -> Path:
    """Write the map layers as one GeoPackage (EPSG:4326) for QGIS, atomically.

    Layers: ``communes`` (code, name, population, area, density), ``territoire``
    (outline), ``ressources`` (one point per resource with type and champ labels).
    """
    target = Path(path)
    layers = map_layers(diag)

    def write(tmp: Path) -> None:
        for name in GPKG_LAYERS:
            layers[name].to_file(tmp, layer=name, driver="GPKG", engine="pyogrio")

    write_atomic_with(target, write)
    return target


__all__ = [
    "density_map", "density_slide", "export_layers_gpkg", "fond_option", "main_towns",
    "map_layers",
    "resources_slide", "rosace_slide", "slide_styles", "title_slide", "workshop_resources_map",
    "write_workshop_map",
]
