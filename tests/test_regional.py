"""Regional synthesis: heat-map classes, ranking, resources per 100,000, territory map;
and (slow) the synthesis of région 53 on the demo data, opened offline in Chromium."""

from __future__ import annotations

import html
from pathlib import Path
from types import SimpleNamespace

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from ptsm_diag.catalog import load_indicator_catalog
from ptsm_diag.compute.indicators import compute_indicator_values, rosace_table
from ptsm_diag.compute.regional import (
    Synthesis,
    heatmap_class,
    heatmap_frame,
    indicator_ranking,
    parse_codes,
    resource_rates,
    select_territories,
)
from ptsm_diag.errors import UnknownCodeError
from ptsm_diag.report.regional import heatmap, ranking
from ptsm_diag.testing import (
    assert_offline,
    chromium_path,
    map_frame_pages,
    open_in_browser,
)
from ptsm_diag.viz.offline import map_to_html
from ptsm_diag.viz.regional import ranking_figure, small_multiple_rosaces, territory_choropleth

CODES = ["A", "B", "C"]


@pytest.fixture(scope="module")
def synthesis() -> Synthesis:
    """Three territories; C has a small (masked) count on both indicators."""
    catalog = load_indicator_catalog()
    rows = [
        # rehospit_15j: higher is worse (%)
        ("A", "rehospit_15j", 300, 1000), ("B", "rehospit_15j", 100, 1000),
        ("C", "rehospit_15j", 5, 100),
        # recours_ambulatoire: higher is better (per 100,000)
        ("A", "recours_ambulatoire", 4000, 100000), ("B", "recours_ambulatoire", 2000, 100000),
        ("C", "recours_ambulatoire", 7, 1000),
    ]
    table = pd.DataFrame(rows, columns=["code_territoire", "indicateur", "numerateur",
                                        "denominateur"]).assign(annee=2023, source="test")
    values = compute_indicator_values(table, catalog, dict.fromkeys(CODES, "53"),
                                      secondary_secrecy=False)
    rosaces = {c: rosace_table(values, c, reference="france", catalog=catalog) for c in CODES}
    territories = {c: SimpleNamespace(name=f"Territoire <{c}>", population_total=100_000)
                   for c in CODES}
    return Synthesis(
        territories=territories, data=None, data_folder=Path("."), is_demo=False,  # type: ignore[arg-type]
        reference="france", region="53", catalog=catalog,
        resources=gpd.GeoDataFrame({"code_territoire": [], "id_ressource": [],
                                    "type_ressource": []}, geometry=[], crs="EPSG:4326"),
        indicator_values=values, rosaces=rosaces, year=2023,
    )


def _cell(frame: pd.DataFrame, code: str, indicator: str) -> pd.Series:
    return frame[(frame["code_territoire"] == code) & (frame["indicateur"] == indicator)].iloc[0]


def test_heatmap_classes_are_direction_aware(synthesis):
    frame = heatmap_frame(synthesis)
    # higher is worse: the highest rate is less favourable, the lowest more favourable
    assert _cell(frame, "A", "rehospit_15j")["classe"] == "moins-bon"
    assert _cell(frame, "B", "rehospit_15j")["classe"] == "mieux"
    # higher is better: the other way round
    assert _cell(frame, "A", "recours_ambulatoire")["classe"] == "mieux"
    assert _cell(frame, "B", "recours_ambulatoire")["classe"] == "moins-bon"


def test_masked_and_missing_cells_are_shown_as_such_not_as_zero(synthesis):
    frame = heatmap_frame(synthesis)
    masked = _cell(frame, "C", "rehospit_15j")
    assert masked["classe"] == "masque"
    assert masked["texte"] == "masqué"
    assert np.isnan(masked["value"])
    missing = _cell(frame, "A", "densite_cmp")  # no row at all for this indicator
    assert missing["classe"] == "manquant"
    assert missing["texte"] == "n.d."
    page = heatmap(synthesis)
    assert "hm-masque" in page and ">masqué<" in page
    assert "Territoire &lt;A&gt;" in page and "Territoire <A>" not in page  # escaped


def test_heatmap_class_rules():
    assert heatmap_class("masqué", "meilleur", 120.0) == "masque"
    assert heatmap_class("manquant", None, np.nan) == "manquant"
    assert heatmap_class("ok", "non évaluable", np.nan) == "sans-reference"
    assert heatmap_class("ok", "comparable", 101.0) == "comparable"
    assert heatmap_class("ok", "non évaluable", 101.0) == "non-evaluable"


def test_ranking_order_follows_the_direction_and_puts_masked_last(synthesis):
    worse_up = indicator_ranking(synthesis, "rehospit_15j")
    assert worse_up["code_territoire"].tolist() == ["B", "A", "C"]
    assert worse_up["rang"].tolist()[:2] == [1.0, 2.0]
    last = worse_up.iloc[-1]
    assert last["statut"] == "masqué" and np.isnan(last["rang"]) and np.isnan(last["value"])
    better_up = indicator_ranking(synthesis, "recours_ambulatoire")
    assert better_up["code_territoire"].tolist() == ["A", "B", "C"]
    page = ranking(synthesis, "rehospit_15j")
    assert page.index("Territoire &lt;B&gt;") < page.index("Territoire &lt;A&gt;")
    assert ">masqué<" in page
    figure = ranking_figure(worse_up, "Réhospitalisation")
    bar = figure.data[0]
    assert bar.x[0] is None or np.isnan(bar.x[0])  # the masked territory has no bar
    assert "masqué" in list(bar.text)


def test_ranking_rejects_an_unknown_indicator(synthesis):
    with pytest.raises(UnknownCodeError):
        indicator_ranking(synthesis, "pas_un_indicateur")


def test_territory_choropleth_has_one_feature_per_territory(synthesis):
    outlines = gpd.GeoDataFrame(
        {"code_territoire": CODES, "nom": [f"Territoire <{c}>" for c in CODES],
         "population": [1, 2, 3]},
        geometry=[box(-2, 48, -1.5, 48.5), box(-1.5, 48, -1, 48.5), box(-1, 48, -0.5, 48.5)],
        crs="EPSG:4326",
    )
    m = territory_choropleth(outlines, indicator_ranking(synthesis, "rehospit_15j"),
                             "Réhospitalisation <15 j>")
    layers = [child for child in m._children.values() if isinstance(child, folium.GeoJson)]
    assert len(layers) == 1
    features = layers[0].data["features"]
    assert sorted(f["properties"]["code_territoire"] for f in features) == CODES
    colours = {f["properties"]["code_territoire"]: f["properties"]["couleur"] for f in features}
    assert len(set(colours.values())) == 3  # worse, better, masked
    page = map_to_html(m)
    assert_offline(page)
    assert "Réhospitalisation &lt;15 j&gt;" in page
    assert "<A>" not in page


def test_small_multiples_share_the_same_radial_scale(synthesis):
    fig = small_multiple_rosaces(synthesis.rosaces, synthesis.names)
    ranges = {tuple(fig.layout[f"polar{'' if i == 0 else i + 1}"].radialaxis.range)
              for i in range(len(CODES))}
    assert ranges == {(0, 200)}


def test_resource_rates_per_100000_side_by_side():
    resources = gpd.GeoDataFrame(
        {"code_territoire": ["A", "A", "B", "B"], "id_ressource": ["r1", "r2", "r3", "r2"],
         "type_ressource": ["cmp_adultes", "cmp_adultes", "gem", "cmp_adultes"]},
        geometry=[Point(0, 0)] * 4, crs="EPSG:4326")
    territories = {"A": SimpleNamespace(name="A", population_total=200_000),
                   "B": SimpleNamespace(name="B", population_total=100_000)}
    synthesis = SimpleNamespace(territories=territories, resources=resources)
    rates = resource_rates(synthesis).set_index("type_ressource")  # type: ignore[arg-type]
    assert rates.loc["cmp_adultes", "A"] == pytest.approx(1.0)
    assert rates.loc["cmp_adultes", "B"] == pytest.approx(1.0)
    assert rates.loc["gem", "A"] == 0
    # pooled over the territories, a resource shared by two of them counted once
    assert rates.loc["cmp_adultes", "ensemble"] == pytest.approx(2 / 300_000 * 100_000)


def test_select_territories_by_region_or_codes():
    table = pd.DataFrame({
        "code_territoire": ["22", "35", "75"], "nom_territoire": ["a", "b", "c"],
        "code_region": ["", "", ""], "niveau": ["departement"] * 3, "code": ["22", "35", "75"],
    })
    assert select_territories(table, region="53") == ["22", "35"]
    assert select_territories(table, region="53", codes="75, 22") == ["75", "22"]
    assert select_territories(table) == ["22", "35", "75"]
    with pytest.raises(UnknownCodeError):
        select_territories(table, codes="99")
    with pytest.raises(UnknownCodeError):
        select_territories(table, region="01")
    assert parse_codes(" 22, 29,,22 ") == ["22", "29"]


@pytest.mark.slow
def test_synthesis_of_region_53_renders_offline(tmp_path):
    from ptsm_diag.report.regional import render_synthesis

    path = render_synthesis(None, tmp_path, region="53")
    assert path == tmp_path / "synthese_region_53.html"
    page = path.read_text(encoding="utf-8")
    assert_offline(page)
    for title in ("Carte des territoires pour un indicateur", "Classement des territoires",
                  "Rosaces des territoires", "Tableau des indices par territoire",
                  "Ressources pour 100 000 habitants"):
        assert html.escape(title, quote=False) in page or title in page, title
    for name in ("Finistère", "Morbihan", "Ille-et-Vilaine"):
        assert name in page
    assert "Données fictives de démonstration" in page
    assert "prepare_synthesis" not in page  # no code in the report
    assert page.count('class="ptsm-carte"') == 1
    if chromium_path() is None:
        pytest.skip("Chromium absent")
    result = open_in_browser(path, screenshot=tmp_path / "synthese.png", height=3000)
    assert result.script_errors == []
    assert result.plotly_figures >= 2
    assert result.leaflet_maps == 1
    map_file = tmp_path / "carte.html"
    map_file.write_text(map_frame_pages(page)[0], encoding="utf-8")
    map_result = open_in_browser(map_file)
    assert map_result.script_errors == []
    assert map_result.leaflet_maps == 1
    assert "PTSM Finist" in map_frame_pages(page)[0]  # GeoJSON escapes non-ASCII
