"""Workshop material: projection map, standalone offline map file, GeoPackage layers;
and (slow) the workshop notebook for territory 35 on the demo data, opened in Chromium."""

from __future__ import annotations

import html
import re

import folium
import geopandas as gpd
import pyogrio
import pytest
from folium.plugins import MarkerCluster

from ptsm_diag.diagnostic import prepare_diagnostic
from ptsm_diag.report.workshop import (
    GPKG_LAYERS,
    export_layers_gpkg,
    fond_option,
    workshop_resources_map,
    write_workshop_map,
)
from ptsm_diag.testing import assert_offline, chromium_path, open_in_browser
from ptsm_diag.viz.offline import map_to_html


@pytest.fixture(scope="module")
def diag():
    return prepare_diagnostic("35", None, reference="region")


def _groups(m: folium.Map) -> list[folium.FeatureGroup]:
    return [c for c in m._children.values() if isinstance(c, folium.FeatureGroup)]


def test_resources_map_has_one_toggleable_layer_per_type(diag):
    m = workshop_resources_map(diag, cluster_threshold=5)
    groups = _groups(m)
    counts = diag.resources["type_ressource"].value_counts()
    assert len(groups) == len(counts)
    assert any(isinstance(c, folium.LayerControl) for c in m._children.values())
    clustered = [g for g in groups
                 if any(isinstance(c, MarkerCluster) for c in g._children.values())]
    assert len(clustered) == int((counts > 5).sum())
    page = map_to_html(m)
    assert_offline(page)
    assert "PTSM Ille-et-Vilaine" in page
    assert "font:bold 16px" in page  # badges at 1.6 × the normal size
    assert "Données fictives de démonstration" in page


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
    for i, srcdoc in enumerate(re.findall(r'<iframe[^>]*srcdoc="([^"]+)"', page)):
        map_file = tmp_path / f"carte{i}.html"
        map_file.write_text(html.unescape(srcdoc), encoding="utf-8")
        map_result = open_in_browser(map_file)
        assert map_result.script_errors == []
        assert map_result.leaflet_maps == 1


@pytest.mark.slow
def test_crowded_workshop_map_opens_offline_with_markers_and_layers(diag, tmp_path):
    """A département with 2,000 resources: clusters, layers and communes, no network."""
    from dataclasses import replace

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
    assert "leaflet-control-layers" in seen.dom  # one toggleable layer per type
    assert "<path" in seen.dom  # commune background and territory outline (SVG)
