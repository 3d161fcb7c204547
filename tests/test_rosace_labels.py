"""The petal labels of the rosace never collide: measured in headless Chromium.

The rosace is drawn at a fixed size (``viz.rosace.rosace_sizes``: 1100 px on screen, 1600 px
for the projector); the report shows it as is in a 1400 px window and, for print, scales
it whole (``zoom: .62`` in ``ptsm.css``). The test opens the figure in Chromium at
1400 px, at both zooms, reads the bounding box of every angular label (each petal's
wrapped label and value) and checks that no two overlap, that none leaves the figure
and that none covers the legend.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest

from ptsm_diag.catalog import load_indicator_catalog
from ptsm_diag.compute.indicators import compute_indicator_values, rosace_table
from ptsm_diag.testing import CHROMIUM_FLAGS, chromium_path
from ptsm_diag.viz.offline import plotly_js
from ptsm_diag.viz.rosace import rosace_figure

pytestmark = pytest.mark.skipif(chromium_path() is None, reason="Chromium absent")

PRINT_ZOOM = 0.62  # ptsm.css, @media print
TOLERANCE = 1.0  # px: boxes that touch are not a collision

_MEASURE = """<script>
window.addEventListener("load", function () { setTimeout(function () {
  function box(el) { var r = el.getBoundingClientRect();
    return {x: r.left, y: r.top, w: r.width, h: r.height}; }
  var gd = document.getElementById("rosace");
  var found = {
    figure: box(gd.querySelector(".main-svg")),
    legend: gd.querySelector(".legend") ? box(gd.querySelector(".legend .bg")) : null,
    labels: Array.from(gd.querySelectorAll(".angularaxistick text")).map(function (t) {
      var b = box(t); b.text = t.textContent; return b; })
  };
  document.documentElement.setAttribute("data-boites", JSON.stringify(found));
}, 300); });
</script>"""


def _label_boxes(fig: go.Figure, zoom: float) -> dict:
    """Bounding boxes (CSS px) of the figure, its legend and its angular labels."""
    div = fig.to_html(full_html=False, include_plotlyjs=False, div_id="rosace",
                      config={"displaylogo": False, "responsive": True})
    page = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><script>{plotly_js()}</script>'
            f'</head><body style="margin:0"><div style="zoom:{zoom}">{div}</div>'
            f"{_MEASURE}</body></html>")
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory() as profile:
        path = Path(folder) / "rosace.html"
        path.write_text(page, encoding="utf-8")
        run = subprocess.run(
            [chromium_path(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
             "--window-size=1400,1000", "--dump-dom", path.resolve().as_uri()],
            capture_output=True, text=True, timeout=180, check=False)
    match = re.search(r'data-boites="([^"]*)"', run.stdout)
    assert match, f"mesure impossible : {run.stderr[-500:]}"
    return json.loads(html.unescape(match.group(1)))


def _overlap(a: dict, b: dict) -> bool:
    return (a["x"] + a["w"] - TOLERANCE > b["x"] and b["x"] + b["w"] - TOLERANCE > a["x"]
            and a["y"] + a["h"] - TOLERANCE > b["y"] and b["y"] + b["h"] - TOLERANCE > a["y"])


def _inside(inner: dict, outer: dict) -> bool:
    return (inner["x"] >= outer["x"] - TOLERANCE and inner["y"] >= outer["y"] - TOLERANCE
            and inner["x"] + inner["w"] <= outer["x"] + outer["w"] + TOLERANCE
            and inner["y"] + inner["h"] <= outer["y"] + outer["h"] + TOLERANCE)


@pytest.fixture(scope="module")
def worst_case_table() -> pd.DataFrame:
    """Every rosace indicator with a long value (``1 234,5`` and its unit), one masked
    and one missing: the longest labels the rosace can carry."""
    ids = [i.id for i in load_indicator_catalog().values() if i.in_rosace]
    rows = []
    for position, code in enumerate(ids):
        if position == 3:
            rows += [("A", code, 2023, 4, 100, None, "RIM-P"),  # masked (4 patients)
                     ("B", code, 2023, 40, 100, None, "RIM-P")]
        elif position == 11:
            continue  # missing
        else:
            rows += [("A", code, 2023, None, None, 1234.5, "source A"),
                     ("B", code, 2023, None, None, 987.6, "source B")]
    table = pd.DataFrame(rows, columns=["code_territoire", "indicateur", "annee", "numerateur",
                                        "denominateur", "valeur", "source"])
    values = compute_indicator_values(table, regions={"A": "53", "B": "53"})
    return rosace_table(values, "A")


def _check(boxes: dict, count: int) -> None:
    labels = boxes["labels"]
    assert len(labels) == count
    assert all(b["w"] > 0 and b["h"] > 0 for b in labels)
    collisions = [(a["text"], b["text"]) for a, b in itertools.combinations(labels, 2)
                  if _overlap(a, b)]
    assert collisions == []
    outside = [b["text"] for b in labels if not _inside(b, boxes["figure"])]
    assert outside == []
    if boxes["legend"] is not None:
        assert [b["text"] for b in labels if _overlap(b, boxes["legend"])] == []


@pytest.mark.parametrize("zoom", [1.0, PRINT_ZOOM], ids=["ecran-1400px", "impression"])
@pytest.mark.parametrize("projection", [False, True], ids=["rapport", "projecteur"])
def test_petal_labels_never_overlap(worst_case_table, zoom: float, projection: bool) -> None:
    fig = rosace_figure(worst_case_table, projection=projection)
    _check(_label_boxes(fig, zoom), len(worst_case_table))


def test_the_measure_sees_a_collision_when_there_is_one(worst_case_table) -> None:
    """The same figure squeezed to 500 px: its labels do overlap, and the test says so."""
    fig = rosace_figure(worst_case_table).update_layout(width=500, height=420)
    with pytest.raises(AssertionError):
        _check(_label_boxes(fig, 1.0), len(worst_case_table))
