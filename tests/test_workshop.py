"""Workshop material: projection map, standalone offline map file, GeoPackage layers;
and (slow) the workshop notebook for territory 35 on the demo data, opened in Chromium."""

from __future__ import annotations

import html
import json
import re
from dataclasses import replace

import folium
import geopandas as gpd
import pyogrio
import pytest
from folium.plugins import MarkerCluster

from ptsm_diag.diagnostic import prepare_diagnostic
from ptsm_diag.report import workshop
from ptsm_diag.report.workshop import (
    GPKG_LAYERS,
    export_layers_gpkg,
    fond_option,
    main_towns,
    workshop_resources_map,
    write_workshop_map,
)
from ptsm_diag.testing import (
    assert_offline,
    chromium_path,
    map_frame_pages,
    open_in_browser,
)
from ptsm_diag.viz.offline import map_to_html


@pytest.fixture(scope="module")
def diag():
    return prepare_diagnostic("35", None, reference="region")


def _groups(m: folium.Map) -> list[folium.FeatureGroup]:
    return [c for c in m._children.values() if isinstance(c, folium.FeatureGroup)]


def test_resources_map_clusters_all_types_together_and_spiderfies(diag):
    m = workshop_resources_map(diag)
    clusters = [c for c in m._children.values() if isinstance(c, MarkerCluster)]
    assert len(clusters) == 1  # one cluster group across types, not one per type
    assert not _groups(m) or all(g.control is False for g in _groups(m))
    options = clusters[0].options
    assert options["spiderfyOnMaxZoom"] is True
    assert "disableClusteringAtZoom" not in options  # it would turn spiderfy off
    rows = clusters[0].data
    assert len(rows) == len(diag.resources)
    assert len({row[4] for row in rows}) == diag.resources["type_ressource"].nunique()
    page = map_to_html(m)
    assert_offline(page)
    assert "PTSM Ille-et-Vilaine" in page
    assert "font:bold 16px" in page  # badges at 1.6 × the normal size
    assert "Données fictives de démonstration" in page


def test_legend_groups_the_types_by_champ_in_collapsible_boxes(diag):
    page = map_to_html(workshop_resources_map(diag))
    legend = re.search(r'<div class="[^"]*ptsm-legende">.*?</details></div>', page, re.S)
    assert legend is not None
    boxes = re.findall(r"<details[^>]*><summary>.*?</summary>(.*?)</details>", legend.group(0),
                       re.S)
    assert len(boxes) == diag.resources["champ"].nunique()
    checkboxes = sum(box.count('type="checkbox"') for box in boxes)
    assert checkboxes == diag.resources["type_ressource"].nunique()
    assert "Médico-social" in legend.group(0)
    assert ".ptsm-legende{max-height:min(100vh,1080px);overflow-y:auto" in page


def test_main_towns_are_labelled(diag):
    towns = main_towns(diag.territory.communes)
    names = towns["nom"].tolist()
    assert names[0] == "Rennes"  # the chef-lieu, most populous commune of the territory
    assert {"Saint-Malo", "Fougères", "Vitré"} <= set(names)
    assert "Cesson-Sévigné" not in names  # 6 km from Rennes: its label would overlap
    assert (towns["population"] >= 20_000).sum() >= 3
    page = map_to_html(workshop_resources_map(diag))
    for name in ("Rennes", "Saint-Malo"):
        assert re.search(rf'class=\\"ptsm-ville\\"[^>]*\\u003e{name}\\u003c', page), name


def test_town_names_are_escaped(diag):
    communes = diag.territory.communes.copy()
    biggest = communes["population"].astype(float).idxmax()
    communes.loc[biggest, "nom"] = "<img src=x onerror=alert(1)>{{ 7*191 }}"
    territory = replace(diag.territory, communes=communes)
    page = map_to_html(workshop_resources_map(replace(diag, territory=territory)))
    assert "<img src=x" not in page
    label = re.search(r'ptsm-ville\\"[^>]*?\\u003e(.*?)\\u003c/div', page)
    assert label is not None  # shown as written, never as markup or a template
    assert html.unescape(json.loads(f'"{label.group(1)}"')) == communes.loc[biggest, "nom"]


def test_resource_names_are_escaped(diag):
    hostile = diag.resources.copy()
    hostile.loc[hostile.index[0], "nom"] = "<script>alert(1)</script>"
    fake = type(diag)(**{**diag.__dict__, "resources": hostile})
    page = map_to_html(workshop_resources_map(fake))
    assert "<script>alert(1)</script>" not in page


def test_write_workshop_map_writes_one_offline_file(diag, tmp_path):
    path = write_workshop_map("35", None, tmp_path)
    assert path == tmp_path / "carte_atelier_35.html"
    page = path.read_text(encoding="utf-8")
    assert_offline(page)
    assert "<title>PTSM Ille-et-Vilaine" in page
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left
    named = write_workshop_map("35", None, tmp_path / "salle.html")
    assert named == tmp_path / "salle.html" and named.is_file()


def test_geopackage_reopens_with_the_expected_layers(diag, tmp_path):
    path = export_layers_gpkg(diag, tmp_path / "couches.gpkg")
    assert [name for name, _ in pyogrio.list_layers(path)] == list(GPKG_LAYERS)
    communes = gpd.read_file(path, layer="communes")
    assert len(communes) == len(diag.territory.communes)
    assert {"code_commune", "nom", "population", "densite"} <= set(communes.columns)
    outline = gpd.read_file(path, layer="territoire")
    assert outline["code_territoire"].tolist() == ["35"]
    resources = gpd.read_file(path, layer="ressources")
    assert len(resources) == len(diag.resources)
    assert {"id_ressource", "type_ressource", "type_libelle", "champ"} <= set(resources.columns)
    assert resources.crs.to_epsg() == 4326
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    export_layers_gpkg(diag, path)  # overwriting works (atomic replace)
    assert len(gpd.read_file(path, layer="communes")) == len(communes)


def test_fond_option():
    assert fond_option("aucun") is None and fond_option("") is None
    assert fond_option("osm") == "osm"


@pytest.mark.slow
def test_workshop_notebook_renders_offline(tmp_path):
    from ptsm_diag.report.execute import ReportOptions, render_report

    path = render_report("35", None, tmp_path,
                         parameters={"reference": "region", "fond": "aucun"},
                         options=ReportOptions(notebook="atelier_cartes.ipynb"))
    page = path.read_text(encoding="utf-8")
    assert_offline(page)
    for title in ("Rosace des parcours", "Les ressources du territoire",
                  "Où vit la population ?"):
        assert title in page or html.escape(title, quote=False) in page, title
    assert "break-before: page" in page
    assert page.count('class="ptsm-carte ptsm-carte-atelier"') == 2
    if chromium_path() is None:
        pytest.skip("Chromium absent")
    result = open_in_browser(path, screenshot=tmp_path / "atelier.png")
    assert result.script_errors == []
    assert result.plotly_figures == 1
    assert result.leaflet_maps == 3  # resources, density and network slides
    for i, frame in enumerate(map_frame_pages(page)):
        map_file = tmp_path / f"carte{i}.html"
        map_file.write_text(frame, encoding="utf-8")
        map_result = open_in_browser(map_file)
        assert map_result.script_errors == []
        assert map_result.leaflet_maps == 1


@pytest.mark.slow
def test_crowded_workshop_map_opens_offline_with_markers_and_layers(diag, tmp_path):
    """A département with 2,000 resources: clusters, layers and communes, no network."""
    from ptsm_diag.testing import many_resources

    crowded = replace(diag, resources=many_resources(diag.territory, 2_000))
    page = map_to_html(workshop_resources_map(crowded))
    assert_offline(page)
    path = tmp_path / "carte_2000.html"
    path.write_text(page, encoding="utf-8")
    if chromium_path() is None:
        pytest.skip("Chromium absent : rendu navigateur non vérifié")
    seen = open_in_browser(path, screenshot=tmp_path / "carte.png")
    assert seen.script_errors == []
    assert seen.leaflet_maps == 1
    assert "marker-cluster" in seen.dom  # the 2,000 markers are clustered
    assert "leaflet-control-layers" in seen.dom  # the legend, types toggleable
    assert "<path" in seen.dom  # commune background and territory outline (SVG)


def test_slides_keep_a_static_picture_for_an_untrusted_notebook(diag):
    """A reopened (untrusted) JupyterLab drops iframes: the slide keeps an SVG picture under
    its map, which the exported report removes (the interactive map covers the same box)."""
    from ptsm_diag.report.display import strip_map_previews

    slide = workshop.resources_slide(diag)
    picture = '<img alt="Aperçu statique de la carte" src="data:image/svg+xml;base64,'
    assert 'class="ptsm-carte-apercu"' in slide and picture in slide
    assert 'class="ptsm-carte ptsm-carte-atelier"' in slide  # the interactive map is there
    exported = strip_map_previews(slide)
    assert picture not in exported and "srcdoc=" in exported
