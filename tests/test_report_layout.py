"""Layout and wording of the diagnostic report (issue 14): what a reader sees."""

from __future__ import annotations

import json
import re
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


def test_notebook_prose_has_no_backticked_developer_names():
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    shown = [cell for cell in notebook["cells"] if cell["cell_type"] == "markdown"
             and "remove_cell" not in cell.get("metadata", {}).get("tags", [])]
    prose = "\n".join("".join(cell["source"]) for cell in shown)
    assert "Coopérations" in prose  # the prose is there
    assert re.findall(r"`[^`]+`", prose) == []
    assert "suivi_feuille_de_route.ipynb" not in prose


def test_one_diagnostic_date_shown_once(demo):
    from ptsm_diag.report import cooperation as cv
    from ptsm_diag.report import roadmap as rs

    day = f"{demo.generated_at:%d/%m/%Y}"
    title = sections.title_page(demo)
    assert "Date du diagnostic" in title and title.count(day) == 1
    assert "Produit le" not in title
    intro = cv.cooperation_intro(demo)
    summary = cv.cooperation_summary(demo)
    follow_up = rs.follow_up_from_data(demo.data, demo.territory.code,
                                       date_suivi=f"{demo.generated_at:%Y-%m-%d}")
    roadmap = rs.summary(follow_up, "À la date du diagnostic")
    figure = rs.status_by_priority_figure(follow_up, "à la date du diagnostic")
    assert intro.startswith("<p>À la date du diagnostic, le territoire compte")
    assert "À la date du diagnostic" in summary.columns
    assert list(roadmap.columns)[0] == "À la date du diagnostic"
    assert figure.layout.title.text.endswith("à la date du diagnostic")
    # no other date next to them (neither today's nor the last follow-up's)
    last_follow_up = "30/06/2025"
    for text in (intro, " ".join(summary.columns), " ".join(roadmap.columns),
                 figure.layout.title.text):
        assert day not in text and last_follow_up not in text
    # an explicit date is still said
    assert cv.cooperation_intro(demo, at="2025-06-30").startswith("<p>Au 30/06/2025,")


def _cells(html_table: str) -> list[list[str]]:
    return [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row)
            for row in re.findall(r"<tr>(.*?)</tr>", html_table)]


def test_densities_table_counts_lits_and_places_apart_and_says_sans_objet(demo):
    page = sections.densities(demo)
    head, *rows = _cells(page)
    assert "Lits" in head and "Places" in head
    assert not any(c.startswith("Capacité") for c in head)
    rows = [[cell.replace("\u00a0", " ") for cell in row] for row in rows]
    by_type = {row[0]: dict(zip(head, row, strict=True)) for row in rows}
    cmp = by_type["CMP adultes"]  # consultation: no beds, no places
    assert cmp["Lits"] == cmp["Places"] == cmp["Lits et places pour 100 000 hab."] \
        == "sans objet"
    chs = by_type["Établissement spécialisé en psychiatrie (CHS/EPSM)"]
    assert chs["Lits"] == "923" and chs["Places"] == "sans objet"
    esat = by_type["ESAT"]
    assert esat["Lits"] == "sans objet" and re.sub(r"\s", "", esat["Places"]) == "1002"
    assert not any(cell == "n.d." for row in rows for cell in row[5:7])
    assert "« sans objet » : ce type de ressource n'a ni lits ni places" in page.replace(
        "&#x27;", "'")


def test_each_density_says_its_population(demo):
    head, *rows = _cells(sections.densities(demo))
    population = {row[0]: row[head.index("Population de référence")] for row in rows}
    assert population["CMP adultes"] == "adultes (18 ans et plus)"
    assert population["CMP infanto-juvénile"] == "enfants (0-17 ans)"
    assert population["CATTP"] == "population totale"
    assert "Pour 100 000 hab. (population totale)" in sections.resources_by_type(demo).columns
    rosace = sections.rosace_table(demo).set_index("Axe")
    assert ("Centres médico-psychologiques (CMP) pour 100 000 habitants — population totale"
            in set(rosace["Indicateur"]))
