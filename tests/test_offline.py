"""Maps and figures must open without network: every asset inlined, user text escaped."""

from __future__ import annotations

import folium
import geopandas as gpd
import pandas as pd
import plotly.graph_objects as go
import pytest
from folium.plugins import Fullscreen
from shapely.geometry import Point, box

from ptsm_diag.errors import PtsmError
from ptsm_diag.report.display import format_number, table_html, to_html
from ptsm_diag.testing import assert_offline
from ptsm_diag.viz.maps import commune_choropleth, quantile_bins, resources_map
from ptsm_diag.viz.offline import map_to_html, map_to_iframe, remote_assets


def _communes() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code_commune": ["35001", "35002"], "nom": ["Alpha", "Bêta <b>"],
         "population": [1200, 30000]},
        geometry=[box(-1.8, 48.0, -1.7, 48.1), box(-1.7, 48.0, -1.6, 48.1)],
        crs="EPSG:4326",
    )


def test_map_html_has_no_network_asset_and_keeps_folium_class_lists():
    class_js = list(folium.Map.default_js)
    m = folium.Map(tiles=None, location=[48, -1.7], zoom_start=9, max_zoom=18)
    Fullscreen().add_to(m)
    folium.CircleMarker([48.05, -1.75], radius=5, popup="x").add_to(m)
    page = map_to_html(m)
    assert_offline(page)
    assert "L.map(" in page
    assert "<script src=" not in page  # every script inlined
    assert folium.Map.default_js == class_js  # the shared class list is untouched


def test_remote_assets_detected_even_inside_srcdoc():
    page = '<iframe srcdoc="&lt;script src=&quot;https://cdn.example.org/x.js&quot;&gt;">'
    assert remote_assets(page) == ['src="https://cdn.example.org/x.js']


def test_map_with_unvendorable_remote_asset_is_refused():
    m = folium.Map(tiles=None, location=[48, -1.7], zoom_start=9)
    m.get_root().header.add_child(
        folium.elements.JavascriptLink("https://cdn.example.org/plugin.js")
    )
    with pytest.raises(PtsmError, match="Internet"):
        map_to_html(m)


def test_choropleth_escapes_commune_names_and_shows_legend():
    page = map_to_html(commune_choropleth(_communes(), "population", "Population"))
    # html-escaped, then JSON-escaped inside the GeoJSON
    assert "B\\u00eata \\u0026lt;b\\u0026gt;" in page
    assert "B\\u00eata <b>" not in page
    assert "Population" in page and "1200" in page.replace("\u202f", "")


def test_resources_map_escapes_popups():
    resources = gpd.GeoDataFrame(
        {"id_ressource": ["r1"], "nom": ["<script>alert(1)</script>"], "type_ressource": ["gem"],
         "champ": ["usagers"], "code_commune": ["35001"], "finess": [""],
         "capacite_lits": [None], "capacite_places": [None], "position_approchee": [True]},
        geometry=[Point(-1.75, 48.05)], crs="EPSG:4326",
    )
    page = map_to_html(resources_map(resources, _communes()))
    assert "<script>alert(1)</script>" not in page
    assert "Position approchée" in page
    assert "Associatif / usagers (1)" in page


def test_iframe_is_escaped_srcdoc():
    m = folium.Map(tiles=None, location=[48, -1.7], zoom_start=9)
    frame = map_to_iframe(m)
    assert frame.startswith('<iframe class="ptsm-carte" srcdoc="&lt;!DOCTYPE html&gt;')


def test_plotly_figure_html_does_not_embed_plotlyjs_or_mathjax():
    fig = go.Figure(go.Bar(x=["a"], y=[1]))
    page = to_html(fig)
    assert "Plotly.newPlot" in page
    assert len(page) < 50_000  # plotly.js (4.8 MB) is emitted once by init_display
    assert_offline(page)


def test_table_html_escapes_and_formats_french_numbers():
    frame = pd.DataFrame({"Nom": ["<i>x</i>"], "Population": [12345.0], "Taux": [float("nan")],
                          "Code": [None]})
    page = table_html(frame, decimals=1)
    assert "&lt;i&gt;x&lt;/i&gt;" in page
    assert "12\u202f345,0" in page
    assert "n.d." in page  # a missing number
    assert page.endswith("<td></td></tr></tbody></table></div>")  # missing text: empty
    assert format_number(1234567) == "1\u202f234\u202f567"


def test_quantile_bins_never_repeat_limits():
    assert quantile_bins(pd.Series([5, 5, 5])) == [5.0, 6.0]
    limits = quantile_bins(pd.Series(range(100)))
    assert limits == sorted(set(limits)) and limits[0] == 0 and limits[-1] == 99


def test_column_decimals_follow_the_values():
    from ptsm_diag.report.display import column_decimals

    assert column_decimals(pd.Series([12, 3400])) == 0
    assert column_decimals(pd.Series([2.17, 4.5])) == 2
    assert column_decimals(pd.Series([38.6, 152.4])) == 1
    assert table_html(pd.DataFrame({"n": [2.17]})).count("2,17") == 1


def test_years_are_not_formatted_as_amounts():
    page = table_html(pd.DataFrame({"Année": [2023.0, float("nan")], "Population": [2023, 1]}))
    assert "<td>2023</td>" in page
    assert "2\u202f023" in page  # the population keeps its thousands separator


def test_identity_card_figures_are_in_french_format():
    from ptsm_diag.diagnostic import prepare_diagnostic
    from ptsm_diag.report.sections import identity_card

    card = identity_card(prepare_diagnostic("35")).set_index("Caractéristique")["Valeur"]
    population = next(v for k, v in card.items() if k.startswith("Population municipale"))
    assert population == "1\u202f120\u202f666"  # thin space, not 1120666
    assert card["Densité (hab./km²)"] == "163,9"  # decimal comma


def test_outlines_are_encoded_as_their_geojson_reads_whatever_their_shape():
    """Polygons are encoded from their coordinate arrays: the result is the encoding of
    their GeoJSON text (independent path), for holes, multipolygons, rings off the grid
    (kept as GeoJSON), points and lines; a layer of empty polygons is drawn, not failed."""
    import json

    import numpy as np
    import shapely

    from ptsm_diag.catalog.geography import cached_layer
    from ptsm_diag.viz.offline import _drawn_shapes, _encoded, _encoded_all

    hole = shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)],
                           [[(2, 2), (3, 2), (3, 3), (2, 2)]])
    shapes = [hole, shapely.MultiPolygon([hole, box(20, 20, 21.5, 21.25)]),
              box(5.00001, 5.00001, 5.00002, 5.00002),  # off the 4-decimal grid
              Point(1.12345, 2.1), shapely.LineString([(0, 0), (1.00005, 1)]),
              shapely.Polygon(), *cached_layer("communes").geometry.iloc[:200]]
    geoms = np.array(shapes, dtype=object)
    expected = [_encoded(json.loads(text)) for text in shapely.to_geojson(geoms)]
    got = _encoded_all(geoms)
    assert got == expected
    assert got[0][0] == "P" and len(got[0][1]) == 2  # exterior and hole
    assert got[1][0] == "M" and len(got[1][1]) == 2
    assert got[2]["type"] == "Polygon"  # off the grid: GeoJSON, as before
    assert json.loads(_drawn_shapes(np.array([shapely.Polygon()], dtype=object))) == [
        ["P", [[]]]]
