"""The rosace figure and its accessible table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from ptsm_diag.catalog import load_indicator_catalog
from ptsm_diag.compute.indicators import compute_indicator_values, rosace_table
from ptsm_diag.viz.rosace import (
    RADIAL_MAX,
    add_rosace,
    format_fr,
    rosace_accessible_table,
    rosace_comparison_figure,
    rosace_figure,
    rosace_sizes,
)

ROSACE_IDS = [i.id for i in load_indicator_catalog().values() if i.in_rosace]


@pytest.fixture(scope="module")
def values() -> pd.DataFrame:
    rows = [
        # territory A: one favourable, one masked (7 patients), one far beyond the scale
        ("A", "recours_ambulatoire", 2023, 3300, 100000, None, "RIM-P (ATIH) 2023"),
        ("B", "recours_ambulatoire", 2023, 2800, 100000, None, "RIM-P (ATIH) 2023"),
        ("A", "isolement_contention", 2023, 7, 100, None, "RIM-P (ATIH) 2023"),
        ("B", "isolement_contention", 2023, 3, 100, None, "RIM-P (ATIH) 2023"),
        ("A", "soins_sans_consentement", 2023, 20, 100000, None, "RIM-P (ATIH) 2023"),
        ("B", "soins_sans_consentement", 2023, 400, 100000, None, "RIM-P (ATIH) 2023"),
        ("FRANCE", "soins_sans_consentement", 2023, None, None, 170.0, "DREES"),
        ("A", "delai_premier_rdv_cmp", 2023, None, None, 30.0, "Enquête ARS"),
    ]
    table = pd.DataFrame(rows, columns=["code_territoire", "indicateur", "annee", "numerateur",
                                        "denominateur", "valeur", "source"])
    return compute_indicator_values(table, regions={"A": "53", "B": "53"})


@pytest.fixture(scope="module")
def table(values) -> pd.DataFrame:
    return rosace_table(values, "A")


@pytest.fixture(scope="module")
def figure(table) -> go.Figure:
    return rosace_figure(table)


def _role(fig: go.Figure, role: str) -> list:
    return [t for t in fig.data if isinstance(t.meta, dict) and t.meta.get("role") == role]


def _petal(fig: go.Figure, indicator: str) -> tuple:
    for trace in _role(fig, "petal"):
        if indicator in trace.meta["indicators"]:
            i = trace.meta["indicators"].index(indicator)
            return trace, i
    raise AssertionError(indicator)


def test_one_petal_per_rosace_indicator(figure):
    petals = _role(figure, "petal")
    shown = [ind for trace in petals for ind in trace.meta["indicators"]]
    assert sorted(shown) == sorted(ROSACE_IDS)
    assert sum(len(trace.r) for trace in petals) == len(ROSACE_IDS) == 20
    assert {t.meta["axis"] for t in _role(figure, "axis")} == {1, 2, 3, 4, 5}


def test_petals_run_clockwise_from_noon_in_catalogue_order(figure):
    angular = figure.layout.polar.angularaxis
    assert angular.rotation == 90 and angular.direction == "clockwise"
    assert list(angular.tickvals) == sorted(angular.tickvals)
    first, i = _petal(figure, ROSACE_IDS[0])
    assert first.theta[i] == min(angular.tickvals) < 30


def test_masked_and_missing_petals_are_grey_and_hatched(figure):
    masked, _ = _petal(figure, "isolement_contention")
    assert masked.meta["category"] == "masqué"
    assert masked.marker.pattern.shape and masked.marker.color == "#E0E0E0"
    assert "masquée" in masked.customdata[0] and "7" not in masked.customdata[0].split(
        "Source")[0]
    missing, _ = _petal(figure, "densite_cmp")
    assert missing.meta["category"] == "manquant" and missing.marker.pattern.shape
    no_reference, _ = _petal(figure, "delai_premier_rdv_cmp")  # a lone mean, no France row
    assert no_reference.meta["category"] == "sans référence"
    assert no_reference.marker.pattern.shape


def test_verdict_drives_the_fill(figure, values):
    better, _ = _petal(figure, "recours_ambulatoire")
    assert better.meta["category"] == "meilleur"
    worse, _ = _petal(rosace_figure(rosace_table(values, "B")), "recours_ambulatoire")
    assert worse.meta["category"] == "moins bon"
    assert better.marker.color != worse.marker.color


def test_reference_circle_at_100_and_fixed_radial_range(figure):
    (circle,) = _role(figure, "reference")
    assert set(np.asarray(circle.r)) == {100.0}
    assert "France" in circle.name
    assert list(figure.layout.polar.radialaxis.range) == [0, RADIAL_MAX]


def test_index_beyond_the_scale_is_clipped_and_says_so(figure, table):
    row = table.set_index("indicateur").loc["soins_sans_consentement"]
    assert row["index"] == pytest.approx(100 * 170 / 20)
    trace, i = _petal(figure, "soins_sans_consentement")
    assert trace.r[i] == RADIAL_MAX
    assert "tronqué" in trace.customdata[i]


def test_hover_gives_value_unit_interval_reference_rank_source_and_year(figure, table):
    trace, i = _petal(figure, "recours_ambulatoire")
    text = trace.customdata[i]
    assert f"Valeur : {format_fr(3300.0)} pour 100 000 habitants" in text
    assert "IC 95 %" in text and "Référence France" in text
    assert "Rang : 1er sur 2" in text
    assert "Source : RIM-P (ATIH) 2023 – 2023" in text
    assert format_fr(3300.0) == "3\u202f300"
    assert format_fr(12.345, "%") == "12,3\u00a0%"


def test_caption_says_indicative_not_norms(figure):
    caption = " ".join(a.text for a in figure.layout.annotations)
    assert "pas des normes" in caption and "2023" in caption


def test_projection_mode_is_larger(table, figure):
    big = rosace_figure(table, projection=True, title="Atelier")
    assert big.layout.font.size > figure.layout.font.size
    assert big.layout.width > figure.layout.width
    assert big.layout.title.text == "Atelier"


def test_figure_serialises_for_offline_html(figure):
    payload = json.loads(figure.to_json())
    assert len(payload["data"]) == len(figure.data)


def test_accessible_table_has_one_row_per_indicator(table):
    access = rosace_accessible_table(table)
    assert len(access) == 20
    assert {"Indicateur", "Valeur", "Unité", "Référence (France)", "Appréciation",
            "Statut", "Source"} <= set(access.columns)
    masked = access[access["Indicateur"].str.startswith("Patients ayant fait l'objet")]
    assert masked["Valeur"].isna().all()
    assert masked["Statut"].iloc[0].startswith("masquée")


def test_comparison_figure_has_two_rosaces(values):
    table_a = rosace_table(values, "A")
    table_b = rosace_table(values, "B", reference="region")
    fig = rosace_comparison_figure(table_a, table_b, ["A", "B"])
    petals = _role(fig, "petal")
    assert {t.subplot for t in petals} == {"polar", "polar2"}
    assert sum(len(t.r) for t in petals) == 40
    names = [t.name for t in fig.data if t.showlegend is not False]
    assert len(names) == len(set(names))  # each legend entry once
    with pytest.raises(ValueError):
        rosace_comparison_figure(table_a, table_b, ["A"])


def test_the_report_says_why_each_grey_petal_is_grey():
    from types import SimpleNamespace

    from ptsm_diag.report.sections import rosace_not_shown

    rosace = pd.DataFrame({
        "label": ["A", "B", "C", "D"],
        "statut": ["ok", "masqué", "masqué", "manquant"],
        "masking": [None, "primaire", "secondaire", None],
    })
    table = rosace_not_shown(SimpleNamespace(rosace=rosace))
    assert list(table["Indicateur"]) == ["B", "C", "D"]
    reasons = list(table["Pourquoi"])
    assert "secret statistique" in reasons[0]
    assert "secondaire" in reasons[1]
    assert "aucune valeur" in reasons[2]


def test_rosaces_gathered_in_a_list_make_the_figure_added_one_by_one(values):
    """A figure of several rosaces built from a list of traces (the synthesis) is the one
    built by adding each rosace to the figure: same traces, same legend entries."""
    sizes = rosace_sizes(False)
    added, gathered = go.Figure(), []
    seen: set[str] = set()
    for i, code in enumerate(["A", "B"]):
        table = rosace_table(values, code)
        subplot = "polar" if i == 0 else "polar2"
        one = add_rosace(added, table, subplot, showlegend=i == 0, sizes=sizes)
        other = add_rosace(gathered, table, subplot, showlegend=i == 0, sizes=sizes,
                           in_legend=seen)
        assert one == other
    built = go.Figure(data=gathered)
    assert built.to_plotly_json()["data"] == added.to_plotly_json()["data"]
    legend = [t.name for t in built.data if t.showlegend is not False]
    assert len(legend) == len(set(legend))  # each petal category listed once
    assert any(t.meta["role"] == "petal" and t.subplot == "polar2" for t in built.data)
