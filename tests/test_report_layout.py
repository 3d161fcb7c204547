"""Layout and wording of the diagnostic report (issue 14): what a reader sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from ptsm_diag.diagnostic import prepare_diagnostic
from ptsm_diag.report import sections

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "diagnostic_territorial.ipynb"


@pytest.fixture(scope="module")
def demo():
    return prepare_diagnostic("35")


def test_evolution_is_a_dumbbell_chart_not_a_second_rosace(demo):
    fig = sections.rosace_evolution(demo)
    kinds = {trace.type for trace in fig.data}
    assert kinds == {"scatter"}, kinds  # no barpolar: no second polar figure
    assert "polar" not in fig.layout.to_plotly_json()
    years = [t for t in fig.data if isinstance(t.meta, dict) and t.meta.get("role") == "year"]
    assert [t.name for t in years] == ["2022", "2023"]
    # one line per rosace indicator, labelled with its short label
    rows = list(years[1].y)
    assert "Densité de CMP" in rows and len(rows) == len(set(rows)) == len(demo.rosace)
