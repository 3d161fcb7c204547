"""Workshop material: large maps and the rosace, readable on a meeting-room projector.

- the sections of ``notebooks/atelier_cartes.ipynb`` (one section per screen, large
  fonts): :func:`slide_styles`, :func:`title_slide`, :func:`rosace_slide`,
  :func:`resources_slide`, :func:`density_slide`;
- :func:`workshop_resources_map`: resources by type in toggleable layers with a large
  legend, clustered when numerous, over the communes and the territory outline;
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
CLUSTER_THRESHOLD = 5  # a type with more resources than this is clustered
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
        ".leaflet-control-layers-overlays::before{content:'Ressources par type "
        "(cocher / décocher)';display:block;font-weight:bold;margin-bottom:6px}"
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
        ".ptsm-grappe{border-width:3px;border-style:double;padding:5px 6px}"
        ".ptsm-carte-titre{position:absolute;top:10px;left:50%;transform:translateX(-50%);"
        "z-index:1000;background:rgba(255,255,255,.92);border:1px solid #999;"
        f"border-radius:4px;padding:6px 14px;font:bold {round(16 * font_scale)}px sans-serif;"
        f"color:{OUTLINE_COLOUR};text-align:center;pointer-events:none}}"
        f".ptsm-carte-titre small{{display:block;font-weight:normal;"
        f"font-size:{round(11 * font_scale)}px;color:#7a5a00}}"
        "</style>"
    )


# A cluster reads like the badges it groups: « CMP ×6 » in the colour of the champ.
# OPEN and CLOSE are JavaScript string literals (:func:`ptsm_diag.viz.maps.js_string`).
_CLUSTER_ICON = """function(cluster) {
  return L.divIcon({html: OPEN + ' ×' + cluster.getChildCount() + CLOSE,
                    className: '', iconSize: [0, 0]});
}"""

# One badge marker, built in the browser for FastMarkerCluster: row = [lat, lon, tooltip,
# popup], both HTML made inert by safe_html (JSON-encoded by folium); BADGE is a
# JavaScript string literal of the badge's HTML.
_BADGE_MARKER = """function (row) {
    var icon = L.divIcon({html: BADGE, iconSize: [0, 0], className: 'empty'});
    var marker = L.marker(new L.LatLng(row[0], row[1]), {icon: icon});
    marker.bindTooltip(row[2]);
    marker.bindPopup(row[3], {maxWidth: MAXWIDTH});
    return marker;
}"""

# Move the layer control (the legend) beside the map, out of its way.
_PANEL_SCRIPT = """<script>
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".leaflet-control-layers").forEach(function (control) {
    control.classList.add("ptsm-panneau");
    document.body.appendChild(control);
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


def workshop_resources_map(
    diag: Diagnostic,
    *,
    fond: str | None = None,
    font_scale: float = FONT_SCALE,
    cluster_threshold: int = CLUSTER_THRESHOLD,
    title: str | None = None,
) -> folium.Map:
    """Resources of the territory by type, for a projector.

    One toggleable layer per resource type (colour of its champ, a short badge such as
    « CMP »), clustered when the type has more than ``cluster_threshold`` resources; the
    communes as background, the territory outline, fullscreen, scale, large legend.

    Parameters
    ----------
    diag : Diagnostic
        The territory's diagnostic (:func:`ptsm_diag.diagnostic.prepare_diagnostic`).
    fond : {None, "osm"}
        Background tiles; None works offline.
    font_scale : float
        Multiplier of every font size.
    cluster_threshold : int
        Types with more resources than this are clustered.
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

    vocab = load_vocabularies()
    types = load_resource_types()
    type_labels = {code: t.label for code, t in types.items()}
    resources = diag.resources
    champ_order = {champ: i for i, champ in enumerate(vocab.champs)}
    order = sorted(types, key=lambda c: champ_order.get(types[c].champ, 99))
    order += sorted(set(resources.get("type_ressource", [])) - set(types))
    for code in order:
        subset = resources[resources["type_ressource"] == code]
        if subset.empty:
            continue
        champ = types[code].champ if code in types else str(subset["champ"].iloc[0])
        colour = CHAMP_COLOURS.get(champ, "#555555")
        badge_text = safe_html(_abbreviation(code))
        badge = f'<div class="ptsm-badge" style="background:{colour}">{badge_text}</div>'
        swatch = (f'<span class="ptsm-badge" style="background:{colour};transform:none">'
                  f"{badge_text}</span>")
        label = safe_html(_short_label(type_labels.get(code, code)))
        group = folium.FeatureGroup(name=f"{swatch} {label} ({len(subset)})").add_to(m)
        if len(subset) > cluster_threshold:
            # Clustered types: markers built in the browser from one JSON array (a few
            # seconds and MB less per thousand markers than one folium.Marker each).
            rows = [[row.geometry.y, row.geometry.x, safe_html(row["nom"]),
                     resource_popup_html(row, type_labels, vocab.champs)]
                    for _, row in subset.iterrows()]
            cluster_open = (f'<div class="ptsm-badge ptsm-grappe" style="background:{colour}">'
                            f"{badge_text}")
            FastMarkerCluster(
                rows,
                callback=_BADGE_MARKER.replace("BADGE", js_string(badge))
                .replace("MAXWIDTH", str(round(320 * font_scale))),
                options={"maxClusterRadius": 50, "disableClusteringAtZoom": 13,
                         "showCoverageOnHover": False},
                icon_create_function=_CLUSTER_ICON.replace("OPEN", js_string(cluster_open))
                .replace("CLOSE", js_string("</div>")),
            ).add_to(group)
            continue
        for _, row in subset.iterrows():
            icon = folium.DivIcon(html=badge, icon_size=(0, 0))
            folium.Marker(
                location=[row.geometry.y, row.geometry.x], icon=icon,
                tooltip=safe_html(row["nom"]),
                popup=folium.Popup(resource_popup_html(row, type_labels, vocab.champs),
                                   max_width=round(320 * font_scale)),
            ).add_to(group)
    folium.LayerControl(collapsed=False).add_to(m)
    root = m.get_root()
    root.header.add_child(RawHtml(_map_css(font_scale, panel=True)))
    root.html.add_child(RawHtml(_PANEL_SCRIPT))
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
    page = html.escape(map_to_html(m), quote=True)
    return (f'<iframe class="ptsm-carte ptsm-carte-atelier" srcdoc="{page}" '
            'allowfullscreen></iframe>')


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
    "density_map", "density_slide", "export_layers_gpkg", "fond_option", "map_layers",
    "resources_slide", "rosace_slide", "slide_styles", "title_slide", "workshop_resources_map",
    "write_workshop_map",
]
