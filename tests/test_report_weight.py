"""Report weight (issue 16): partial plotly.js, one Leaflet and one copy of the outlines per
page, and no figure or map losing content."""

from __future__ import annotations

import ast
import hashlib
import html
import re
from pathlib import Path

import folium
import geopandas as gpd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs_version
from shapely.geometry import box

import ptsm_diag
from ptsm_diag.report.display import map_block
from ptsm_diag.testing import srcdoc_values
from ptsm_diag.viz.maps import commune_choropleth
from ptsm_diag.viz.offline import (
    fit_plotly_bundle,
    full_plotly_js,
    map_to_framed_html,
    page_blocks,
    partial_plotly_traces,
    plotly_js,
    share_page_blocks,
    vendor_dir,
    vendor_manifest,
)


def _communes() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code_commune": ["35001", "35002"], "nom": ["Alpha", "Bêta"], "population": [1, 2]},
        geometry=[box(-1.8, 48.0, -1.7, 48.1), box(-1.7, 48.0, -1.6, 48.1)], crs="EPSG:4326")


def test_partial_bundle_is_the_plotly_js_version_plotly_expects():
    entry = vendor_manifest()["plotly.js"]
    assert entry["version"] == get_plotlyjs_version()
    bundle = vendor_dir() / "plotly-ptsm.min.js"
    assert hashlib.sha256(bundle.read_bytes()).hexdigest() == entry["sha256"]
    assert (vendor_dir() / "LICENSE-plotly.txt").is_file()
    assert plotly_js() != full_plotly_js()  # the partial bundle is in use
    assert len(plotly_js()) < len(full_plotly_js()) / 3


def test_partial_bundle_draws_every_trace_type_the_package_builds():
    """Every go.<Trace>(...) of the package (viz, report, notebooks' helpers)."""
    root = Path(ptsm_diag.__file__).parent
    used: set[str] = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "go"
                    and node.func.attr not in ("Figure", "Layout")):
                used.add(getattr(go, node.func.attr)().type)
    assert used  # bar, scatter, barpolar, scatterpolar, heatmap...
    assert used <= partial_plotly_traces()


def test_a_page_with_a_trace_the_partial_bundle_lacks_gets_the_complete_one():
    def page(fig: go.Figure) -> str:
        figure = fig.to_html(full_html=False, include_plotlyjs=False)
        return f'<script type="text/javascript">{plotly_js()}</script>{figure}'

    bars = page(go.Figure(go.Bar(x=[1], y=[2])))
    assert fit_plotly_bundle(bars) == bars
    pie = fit_plotly_bundle(page(go.Figure(go.Pie(values=[1, 2]))))
    assert full_plotly_js() in pie and plotly_js() not in pie


def test_maps_of_a_page_share_one_leaflet_and_one_copy_of_the_outlines():
    communes = _communes()
    first = map_block(commune_choropleth(communes, "population", "Population"))
    second = map_block(commune_choropleth(communes.assign(population=[5, 6]), "population",
                                          "Autre"))
    page = share_page_blocks(first + second)
    assert page.count('data-ptsm-asset="leaflet.js"') == 1
    assert page.count("Leaflet 1.9.4") == 1
    outlines = re.findall(r'data-ptsm-geometries="([0-9a-f]+)"', page)
    assert len(outlines) == 1  # both maps draw the same communes from one block
    frames = [html.unescape(f) for f in srcdoc_values(page)]
    assert all(f'ptsmGeometries("{outlines[0]}"' in frame for frame in frames)
    assert all('"coordinates"' not in frame for frame in frames)  # no geometry left in frames
    assert "Bêta" in page_blocks(page) or "B\\u00eata" in page_blocks(page)


def test_shared_blocks_end_at_their_own_script_end_and_the_text_between_is_kept():
    """A block ends at the first « </script> » after its tag; a later copy of the same
    block goes, everything else (other scripts, text between blocks) stays in order."""
    leaflet = '<script type="text/plain" data-ptsm-asset="leaflet.js">L = 1;</script>'
    outlines = ('<script data-ptsm-geometries="ab12" type="application/json">'
                '[["P",[[1,2]]]]</script>')
    other = '<script>var x = "<script data-ptsm-asset=\\"no\\">";</script>'
    page = (f"<p>a</p>{leaflet}{outlines}<p>b</p>{other}{leaflet}<p>c</p>{outlines}"
            f"<p>d</p>")
    shared = share_page_blocks(page)
    assert shared == f"<p>a</p>{leaflet}{outlines}<p>b</p>{other}<p>c</p><p>d</p>"
    assert page_blocks(page) == leaflet + outlines
    assert share_page_blocks("<p>no block</p>") == "<p>no block</p>"
    unclosed = '<p>a</p><script data-ptsm-asset="x">never closed'
    assert share_page_blocks(unclosed) == unclosed


def test_map_frames_are_single_quoted_with_short_names_and_read_back_unchanged():
    communes = _communes()
    m = commune_choropleth(communes, "population", "Population")
    framed = map_to_framed_html(m)
    assert not re.search(r"_[0-9a-f]{32}", framed.frame)  # folium's ids, numbered
    assert re.search(r"var map_\d+ = L\.map\(\s*\"map_\d+\"", framed.frame)
    page = map_block(commune_choropleth(communes, "population", "Population"))  # the same
    [written] = srcdoc_values(page)
    assert "srcdoc='" in page and "<" not in written and "'" not in written
    assert "&quot;" not in written  # double quotes as they are: 6 times shorter
    assert html.unescape(written) == framed.frame


def test_figures_carry_the_template_defaults_of_their_own_trace_types_only():
    from ptsm_diag.report.display import figure_spec, to_html

    fig = go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))
    template = figure_spec(fig)["layout"]["template"]
    assert set(template["data"]) == {"bar"}
    assert template["layout"]["font"]  # the look (fonts, colours, grid) is kept
    page = to_html(fig)
    assert '"bar":[' in page and "histogram2dcontour" not in page
    assert '"separators":", "' in page


def test_outlines_are_rounded_to_about_ten_metres_and_stay_valid():
    communes = gpd.GeoDataFrame(
        {"code_commune": ["1"], "nom": ["x"], "population": [1]},
        geometry=[box(-1.812345678, 48.012345678, -1.7, 48.1)], crs="EPSG:4326")
    framed = map_to_framed_html(commune_choropleth(communes, "population", "P"))
    # the first point in units of 1e-4 degree, then the differences to the next ones:
    # (-1.7, 48.0123), (-1.7, 48.1), (-1.8123, 48.1), (-1.8123, 48.0123), back to the first
    assert '["P",[[-17000,480123,0,877,-1123,0,0,-877,1123,0]]]' in framed.shared
    assert "-1.812345" not in framed.shared and "-18123457" not in framed.shared


def test_framed_map_refuses_a_network_asset():
    import pytest

    from ptsm_diag.errors import PtsmError

    m = folium.Map(tiles=None, location=[48, -1.7], zoom_start=9)
    m.get_root().header.add_child(
        folium.elements.JavascriptLink("https://cdn.example.org/plugin.js"))
    with pytest.raises(PtsmError, match="Internet"):
        map_to_framed_html(m)


def test_unused_style_rules_leave_the_page_and_scripts_stay_untouched():
    from ptsm_diag.report.execute import drop_lab_icons, drop_unused_css

    page = ('<style>.used{color:red}.toolbar{color:blue}p:not(.x){margin:0}'
            '@media print{.used{color:black}.menu{color:red}}body{margin:0}'
            ':root{--jp-icon-add: url(data:image/svg+xml;base64,PHN2Zz4=);--jp-ui: 1px;}'
            '</style><script>var r = /<script|<style|<link/i, s = ".toolbar{x:y}";</script>'
            '<p class="used">texte</p>')
    out = drop_unused_css(drop_lab_icons(page))
    assert ".used{color:red}" in out and "body{margin:0}" in out
    assert "p:not(.x){margin:0}" in out  # may match without its class: kept
    assert ".toolbar{color:blue}" not in out and ".menu" not in out
    assert "@media print{.used{color:black}}" in out
    assert "--jp-icon-add" not in out and "--jp-ui" in out
    assert 'var r = /<script|<style|<link/i, s = ".toolbar{x:y}";' in out  # script untouched


def test_exported_tables_lose_the_cell_styles_meant_for_jupyterlab():
    import pandas as pd

    from ptsm_diag.report.display import inline_table_styles, strip_table_styles, table_html

    styled = inline_table_styles(table_html(pd.DataFrame({"Nom": ["a"], "Lits": [3]})))
    assert 'style="text-align:right' in styled
    stripped = strip_table_styles(styled)
    assert "style=" not in stripped and 'class="num"' in stripped
    other = '<div style="text-align:left;vertical-align:top">x</div>'
    assert strip_table_styles(other) == other  # only the report's tables


def test_export_keeps_outputs_focusable_without_reparsing_the_page():
    """The report's exporter skips nbconvert's BeautifulSoup pass (half the export time)
    and still makes every output and text cell focusable, as nbconvert does."""
    import nbformat

    from ptsm_diag.report.execute import export_html

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Titre\n\nTexte"),
        nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output(
            "display_data", data={"text/html": "<p>Sortie <b>1</b></p>"})]),
    ])
    page = export_html(nb)
    assert page.count('tabindex="0"') == 2
    assert '<p>Sortie <b>1</b></p>' in page
    import nbconvert.exporters.html as nbconvert_html

    assert nbconvert_html.BeautifulSoup.__name__ == "BeautifulSoup"  # put back


def test_export_writes_accented_letters_as_characters_outside_scripts():
    import nbformat

    from ptsm_diag.report.execute import export_html

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("## Carte d'identité\n\nÉté à Brest, 3 < 4"),
        nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output(
            "display_data", data={"text/html": "<script>var s = '&#233;';</script>"})]),
    ])
    page = export_html(nb)
    assert "Carte d'identité" in page and "Été à Brest" in page
    assert "3 &lt; 4" in page or "3 &#60; 4" in page  # markup characters stay escaped
    assert "var s = '&#233;';" in page  # script text untouched


def _plain_and_shared(frame: gpd.GeoDataFrame) -> tuple[folium.Map, folium.Map]:
    """The same map with a plain folium layer (GeoJSON text) and a SharedGeoJson layer."""
    from ptsm_diag.viz.offline import SharedGeoJson

    maps = []
    for layer in (lambda **kw: folium.GeoJson(frame.to_json(), **kw),
                  lambda **kw: SharedGeoJson(frame, **kw)):
        m = folium.Map(location=[48.05, -1.7], zoom_start=9, tiles=None)
        layer(name="Communes", style_function=lambda f: {
            "fillColor": "#d95f02" if f["properties"]["population"] > 1 else "#1b9e77"},
            tooltip=folium.GeoJsonTooltip(fields=["nom"])).add_to(m)
        maps.append(m)
    return maps[0], maps[1]


def _same_ids(page: str) -> str:
    return re.sub(r"geo_json_[0-9a-f]+|map_[0-9a-f]+|geo_json_tooltip_[0-9a-f]+", "id", page)


def test_a_shared_geojson_layer_draws_what_a_plain_layer_draws():
    """Its geometries never go through GeoJSON text, yet the framed map, the standalone
    page and the notebook's picture are those of a plain layer, its bounds too; a missing
    geometry makes it a plain layer."""
    from ptsm_diag.viz.offline import map_preview_svg, map_to_html

    communes = _communes()
    communes.index = [3, 7]  # ids from the index, as geopandas writes them
    plain, shared = _plain_and_shared(communes)
    layer = next(c for c in shared._children.values() if hasattr(c, "geometries"))
    assert all("geometry" not in f or f["geometry"] is None for f in layer.data["features"])
    framed = [map_to_framed_html(m) for m in (plain, shared)]
    assert _same_ids(framed[0].frame) == _same_ids(framed[1].frame)
    assert framed[0].shared == framed[1].shared  # the same geometry and property blocks
    assert _same_ids(map_to_html(plain)) == _same_ids(map_to_html(shared))
    assert map_preview_svg(plain) == map_preview_svg(shared)
    assert "d95f02" in map_preview_svg(shared) and "<path" in map_preview_svg(shared)
    assert layer.get_bounds() == [[48.0, -1.8], [48.1, -1.6]]
    holed = communes.copy()
    holed.loc[7, "geometry"] = None
    plain, shared = _plain_and_shared(holed)
    assert _same_ids(map_to_framed_html(plain).frame) == _same_ids(
        map_to_framed_html(shared).frame)


def test_a_shared_layer_keeps_every_property_as_geopandas_writes_it():
    """Text, whole numbers, decimals, booleans and missing values of every kind come out
    as in ``GeoDataFrame.to_json`` (ids from the index, missing values null)."""
    import json

    import pandas as pd

    from ptsm_diag.viz.offline import SharedGeoJson

    frame = gpd.GeoDataFrame({
        "nom": ["Rennes", None, "Bruz"],
        "code": pd.array(["35238", "35047", pd.NA], dtype="string"),
        "population": [220488, 18000, 0],
        "taux": [1.5, float("nan"), 1 / 3],
        "places": pd.array([4, pd.NA, 0], dtype="Int64"),
        "ouvert": [True, False, True],
    }, geometry=[box(-1.7, 48.1, -1.6, 48.2), box(-1.8, 48.0, -1.7, 48.1),
                 box(-1.75, 48.0, -1.65, 48.05)], crs="EPSG:4326", index=[10, 3, 7])
    layer = SharedGeoJson(frame)
    expected = json.loads(frame.to_json())
    for feature in expected["features"]:
        feature["geometry"] = None
    assert layer.data == expected
    assert layer.data["features"][1]["properties"] == {
        "nom": None, "code": "35047", "population": 18000, "taux": None, "places": None,
        "ouvert": False}


def test_a_map_whose_layer_has_no_style_shows_its_outlines_in_the_notebook_preview():
    """A consultant's own ``folium.GeoJson`` without a style function (folium then gives
    the layer no ``style_function`` attribute) is drawn in the notebook's picture with
    Leaflet's default style instead of failing the cell."""
    from ptsm_diag.viz import offline
    from ptsm_diag.viz.offline import map_preview_svg

    for layer in (lambda: folium.GeoJson(_communes().to_json()),
                  lambda: offline.SharedGeoJson(_communes())):
        m = folium.Map(location=[48.05, -1.7], zoom_start=9, tiles=None)
        layer().add_to(m)
        assert map_preview_svg(m).count("<path") == 2
        assert "ptsm-carte-apercu" in map_block(m)
