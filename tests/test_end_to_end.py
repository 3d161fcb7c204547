"""End to end: `ptsm-diag demo` writes a report that opens offline, without script errors.

These tests run the real notebook in a Jupyter kernel (seconds each) and, when Chromium is
installed, open the result in headless Chromium with networking off.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import pytest

from ptsm_diag.cli import main
from ptsm_diag.demo import DEMO_MARKER
from ptsm_diag.io.sources import validate_folder
from ptsm_diag.report.execute import ReportOptions, render_report
from ptsm_diag.testing import (
    assert_offline,
    chromium_path,
    map_frame_pages,
    open_in_browser,
)
from ptsm_diag.viz.offline import full_plotly_js, plotly_js

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> tuple[Path, Path]:
    """Run `ptsm-diag demo` with a fresh cache; return (report path, demo data folder)."""
    cache = tmp_path_factory.mktemp("cache")
    out = tmp_path_factory.mktemp("reports")
    previous = os.environ.get("PTSM_DIAG_CACHE")
    os.environ["PTSM_DIAG_CACHE"] = str(cache)
    try:
        assert main(["demo", "--sortie", str(out)]) == 0
    finally:
        if previous is None:
            os.environ.pop("PTSM_DIAG_CACHE")
        else:
            os.environ["PTSM_DIAG_CACHE"] = previous
    reports = list(out.glob("*.html"))
    assert len(reports) == 1
    folders = [p for p in cache.iterdir() if (p / DEMO_MARKER).is_file()]
    assert len(folders) == 1
    return reports[0], folders[0]


def test_demo_data_folder_validates_without_errors(demo_run):
    _, folder = demo_run
    report = validate_folder(folder)
    assert not report.has_errors, report.to_french_text()[:2000]


def test_demo_report_shows_every_section_and_says_fictional(demo_run):
    path, _ = demo_run
    page = path.read_text(encoding="utf-8")
    assert "Données fictives de démonstration" in page
    for title in ("Carte d'identité du territoire", "État des ressources",
                  "Rosace des indicateurs de parcours", "Sources et méthode"):
        assert html.escape(title, quote=False) in page or title in page, title
    assert "Ille-et-Vilaine" in page
    assert '<html lang="fr">' in page
    for title in ("Densités comparées à la référence", "Accessibilité", "Insuffisances",
                  "Coopérations", "Feuille de route", "Glossaire",
                  "Indicateurs masqués ou manquants", "Évolution"):
        assert html.escape(title, quote=False) in page or title in page, title
    assert "prepare_diagnostic" not in page  # no code in the report
    # density, resources, access-time, network and white-zone maps
    assert page.count('class="ptsm-carte"') == 5
    assert "Plotly.newPlot" in page
    assert_offline(page)


def test_demo_report_opens_in_browser_without_errors(demo_run, tmp_path):
    if chromium_path() is None:
        pytest.skip("Chromium absent")
    path, _ = demo_run
    result = open_in_browser(path, screenshot=tmp_path / "rapport.png", height=3000)
    assert result.script_errors == []
    # every figure and map is drawn: 5 plotly figures, 5 Leaflet maps (in their frames)
    assert result.plotly_figures == 5
    assert result.leaflet_maps == 5
    assert (tmp_path / "rapport.png").stat().st_size > 10_000
    # maps live in iframes: open the first one on its own
    page = path.read_text(encoding="utf-8")
    map_file = tmp_path / "carte.html"
    map_file.write_text(map_frame_pages(page)[0], encoding="utf-8")
    map_result = open_in_browser(map_file)
    assert map_result.script_errors == []
    assert map_result.leaflet_maps == 1


def test_demo_report_weighs_at_most_4_mb_with_one_leaflet_and_one_outline_copy(demo_run):
    """Issue 16: the self-contained report weighed 9.6 MB (plotly.js 4.8 MB, and Leaflet and
    the communes in each of the 5 map frames)."""
    path, _ = demo_run
    page = path.read_text(encoding="utf-8")
    assert path.stat().st_size <= 4_000_000
    assert page.count("* Leaflet 1.9.4") == 1  # one copy of Leaflet for the 5 maps
    assert page.count('data-ptsm-asset="leaflet.js"') == 1
    outlines = set(re.findall(r'ptsmGeometries\((?:&quot;|")([0-9a-f]+)', page))
    assert len(outlines) == 1  # the 5 maps draw the communes from one block
    assert page.count(f'data-ptsm-geometries="{outlines.pop()}"') == 1
    assert plotly_js() in page and full_plotly_js() not in page  # the partial plotly.js


def test_demo_report_with_shared_assets_weighs_at_most_1_mb(demo_run, tmp_path):
    """Issue 16: with --assets-partages, 2.97 MB before; ≤ 1 MB per territory now, plus one
    assets/ folder, and every figure and map still drawn. Nord (59) is the heaviest report
    of the demo (648 communes, 530 resources on its maps and in its lists)."""
    _, folder = demo_run
    path = render_report("59", folder, tmp_path, options=ReportOptions(shared_assets=True))
    assert path.stat().st_size <= 1_000_000
    assets = {p.name for p in (tmp_path / "assets").iterdir()}
    assert {"leaflet.js", "plotly-ptsm.min.js"} <= assets
    page = path.read_text(encoding="utf-8")
    assert "* Leaflet 1.9.4" not in page and plotly_js()[:2000] not in page
    if chromium_path() is None:
        pytest.skip("Chromium absent")
    result = open_in_browser(path)
    assert result.script_errors == []
    assert result.plotly_figures == 5
    assert result.leaflet_maps == 5


def test_report_for_corsica_keeps_the_code(demo_run, tmp_path):
    _, folder = demo_run
    path = render_report("2A", folder, tmp_path)
    assert path.name == "diagnostic_2A.html"
    assert "Corse-du-Sud" in path.read_text(encoding="utf-8")


def _user_copy(demo: Path, folder: Path, *left_out: str) -> Path:
    """The demo folder copied as a user's own (no demo marker), without ``left_out``."""
    folder.mkdir()
    for path in demo.iterdir():
        if path.name not in (DEMO_MARKER, *left_out):
            (folder / path.name).write_bytes(path.read_bytes())
    return folder


def test_report_on_user_data_without_indicators(demo_run, tmp_path):
    """A user's folder (not the demo) with no indicateurs.csv still gives a full report."""
    _, demo = demo_run
    folder = _user_copy(demo, tmp_path / "mes_donnees", "indicateurs.csv", "cibles.csv")
    report = render_report("29", folder, tmp_path / "out")
    page = report.read_text(encoding="utf-8")
    assert "Finistère" in page
    # no indicateurs.csv: the petals that open data allows are computed from the resources,
    # the populations and the national table, and the report says where each comes from
    assert "données ouvertes (calcul ptsm-diag)" in page
    assert "Données fictives de démonstration" not in page
    assert "Sources et méthode" in page and "Insuffisances" in page


@pytest.mark.parametrize("header_only", [True, False], ids=["en-tête seul", "absent"])
def test_report_on_a_folder_without_resources(demo_run, tmp_path, header_only):
    """A folder whose ressources.csv has only its header (or no such file, and no
    partnerships) still gives a full report: zero resources, every section there."""
    _, demo = demo_run
    folder = _user_copy(demo, tmp_path / "sans_ressources", "ressources.csv",
                        "partenariats.csv")
    if header_only:
        header = (demo / "ressources.csv").read_text(encoding="utf-8").splitlines()[0]
        (folder / "ressources.csv").write_text(header + "\n", encoding="utf-8")
    report = render_report("29", folder, tmp_path / "out")
    page = report.read_text(encoding="utf-8")
    assert "Liste des 0 ressources" in page
    for section in ("État des ressources", "Insuffisances", "Feuille de route", "Glossaire"):
        assert section in page
