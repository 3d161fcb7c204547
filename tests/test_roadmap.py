"""Feuille de route follow-up: statuses at a date, delays, transitions, impact targets,
history checks, XLSX export, and (slow) the follow-up report of the demo territory."""

from __future__ import annotations

import math

import openpyxl
import pandas as pd
import pytest

from ptsm_diag.compute import roadmap as rm
from ptsm_diag.errors import PtsmError, Severity
from ptsm_diag.report.roadmap import export_roadmap_xlsx
from ptsm_diag.viz import roadmap as rf

BASE = {
    "code_territoire": "35", "priorite": 1, "theme": 3, "intitule": "Action",
    "pilote": "CH de référence", "partenaires": "CPTS|MDPH", "motif": None,
    "indicateurs": None, "date_debut": "2024-01-01", "date_echeance": "2025-12-31",
}


def history(*rows: dict) -> pd.DataFrame:
    """An actions table from (id_action, date_suivi, statut, avancement...) rows."""
    frame = pd.DataFrame([{**BASE, **row} for row in rows])
    for column in ("date_debut", "date_echeance", "date_suivi"):
        frame[column] = pd.to_datetime(frame[column])
    frame["avancement"] = frame.get("avancement", pd.Series(dtype=float)).astype(float)
    frame["priorite"] = frame["priorite"].astype("Int64")
    frame["theme"] = frame["theme"].astype("Int64")
    return frame


def row(action: str, date: str, status: str, progress: float | None = None, **other) -> dict:
    return {"id_action": action, "date_suivi": date, "statut": status,
            "avancement": progress, **other}


@pytest.fixture
def actions() -> pd.DataFrame:
    return history(
        row("A1", "2024-06-30", "Non commencée", 0),
        row("A1", "2025-06-30", "En cours", 40),
        row("A2", "2024-06-30", "En cours", 20),
        row("A2", "2025-06-30", "Réalisée", 100),
        row("A3", "2024-06-30", "En cours", 10, date_echeance="2025-03-31", priorite=2),
        row("A3", "2025-06-30", "En cours", 30, date_echeance="2025-03-31", priorite=2),
        row("A4", "2025-06-30", "Abandonnée", 0, date_echeance="2025-01-31", theme=5,
            motif="Financement refusé"),
        row("A5", "2024-06-30", "Suspendue", 10, date_echeance="2024-12-31",
            code_territoire="22", motif="Pilote parti"),
    )


# --------------------------------------------------------------------------- statuses


def test_status_at_takes_last_follow_up_on_or_before_the_date(actions):
    latest = rm.status_at(actions).set_index("id_action")["statut"]
    assert latest.to_dict() == {"A1": "En cours", "A2": "Réalisée", "A3": "En cours",
                                "A4": "Abandonnée", "A5": "Suspendue"}
    mid = rm.status_at(actions, "31/12/2024").set_index("id_action")["statut"]
    # A4 was not followed yet; A5 keeps its only status
    assert mid.to_dict() == {"A1": "Non commencée", "A2": "En cours", "A3": "En cours",
                             "A5": "Suspendue"}
    assert rm.status_at(actions, "2024-06-30")["id_action"].tolist() == \
        ["A5", "A1", "A2", "A3"]  # by territory (22 before 35), then priority
    assert rm.status_at(actions, "2024-01-01").empty


def test_resolve_date_defaults_to_latest_and_rejects_bad_text(actions):
    assert rm.resolve_date(actions) == pd.Timestamp("2025-06-30")
    assert rm.resolve_date(actions, "") == pd.Timestamp("2025-06-30")
    assert rm.resolve_date(actions, "01/02/2025") == pd.Timestamp("2025-02-01")
    assert rm.previous_follow_up(actions, pd.Timestamp("2025-06-30")) == \
        pd.Timestamp("2024-06-30")
    assert rm.previous_follow_up(actions, pd.Timestamp("2024-06-30")) is None
    with pytest.raises(PtsmError, match="Date de suivi illisible"):
        rm.resolve_date(actions, "juin 2025")


def test_status_table_lists_every_priority_and_status(actions):
    table = rm.status_table(rm.status_at(actions), "priorite", rm.priority_labels())
    assert len(table) == 6
    assert list(table.columns) == [*rm.statuses(), "Total"]
    first = table.iloc[0]
    assert first["En cours"] == 1 and first["Réalisée"] == 1 and first["Total"] == 4
    assert table["Total"].sum() == 5
    assert table.iloc[5]["Total"] == 0  # priority 6: no action, still listed


def test_status_over_time_and_transitions(actions):
    over = rm.status_over_time(actions)
    assert list(over.index) == [pd.Timestamp("2024-06-30"), pd.Timestamp("2025-06-30")]
    assert over.loc["2024-06-30", "En cours"] == 2
    assert over.loc["2025-06-30"].sum() == 5
    moves = rm.status_transitions(actions, "2024-06-30", "2025-06-30")
    assert moves.loc["Non commencée", "En cours"] == 1
    assert moves.loc["En cours", "Réalisée"] == 1
    assert moves.loc["En cours", "En cours"] == 1
    assert moves.loc["Suspendue", "Suspendue"] == 1
    assert moves.loc[rm.NOT_FOLLOWED, "Abandonnée"] == 1
    assert moves.values.sum() == 5
    changed = rm.status_changes(actions, "2024-06-30", "2025-06-30")
    assert set(changed["id_action"]) == {"A1", "A2", "A4"}


def test_overdue_excludes_closed_actions_and_counts_days(actions):
    late = rm.overdue_actions(actions, "2025-06-30")
    # A3 is past due and still running; A4 is past due but abandoned; A5 suspended
    assert late["id_action"].tolist() == ["A5", "A3"]
    assert late.set_index("id_action").loc["A3", "jours_de_retard"] == 91
    assert rm.overdue_actions(actions, "2024-06-30").empty
    figures = rm.key_figures(actions)
    assert figures["actions"] == 5 and figures["en_retard"] == 2
    assert figures["part_realisees"] == pytest.approx(20)


def test_timeline_data_estimates_missing_start(actions):
    actions.loc[actions["id_action"] == "A1", "date_debut"] = pd.NaT
    data = rm.timeline_data(actions, "2025-06-30").set_index("id_action")
    assert data.loc["A1", "debut"] == pd.Timestamp("2024-06-30")
    assert bool(data.loc["A1", "debut_estime"]) is True
    assert bool(data.loc["A3", "en_retard"]) is True
    assert bool(data.loc["A4", "en_retard"]) is False


def test_territory_summary_lists_requested_territories(actions):
    table = rm.territory_summary(actions, ["22", "35", "56"], "2025-06-30")
    assert list(table.index) == ["22", "35", "56"]
    assert table.loc["35", "Total"] == 4 and table.loc["56", "Total"] == 0
    assert table.loc["35", "Part réalisées (%)"] == 25
    assert table.loc["22", "En retard"] == 1


# --------------------------------------------------------------------------- impact


def cibles(*rows: tuple) -> pd.DataFrame:
    columns = ["code_territoire", "indicateur", "annee_initiale", "valeur_initiale",
               "annee_cible", "valeur_cible", "annee_actuelle", "valeur_actuelle"]
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("annee_initiale", "annee_cible", "annee_actuelle"):
        frame[column] = frame[column].astype("Int64")
    return frame


def test_progress_to_target_and_on_track_rule():
    table = cibles(
        # rehospit_15j (lower is better): 10 → 5 by 2027; 2 years of 5 elapsed → 40 %
        ("35", "rehospit_15j", 2022, 10.0, 2027, 5.0, 2024, 8.5),  # 30 %: on track (≥ 30)
        ("22", "rehospit_15j", 2022, 10.0, 2027, 5.0, 2024, 9.5),  # 10 %: late
        ("29", "rehospit_15j", 2022, 10.0, 2027, 5.0, 2024, 11.0),  # −20 %: away
        ("56", "rehospit_15j", 2022, 10.0, 2027, 5.0, 2026, 4.0),  # 120 %: reached
        # higher is better: 60 → 100; no current value
        ("35", "suivi_15j_sortie", 2022, 60.0, 2027, 100.0, None, None),
        ("35", "surmortalite", 2022, 2.0, 2027, 1.5, 2023, 1.9),  # not an impact indicator
    )
    progress = rm.impact_progress(table).set_index(["code_territoire", "indicateur"])
    assert ("35", "surmortalite") not in progress.index
    ok = progress.loc[("35", "rehospit_15j")]
    assert ok["progression"] == pytest.approx(30)
    assert ok["progression_attendue"] == pytest.approx(40)
    assert ok["appreciation"] == "En bonne voie" and bool(ok["en_bonne_voie"])
    assert ok["sens"] == "à la baisse"
    late = progress.loc[("22", "rehospit_15j")]
    assert late["appreciation"] == "En retard" and not bool(late["en_bonne_voie"])
    away = progress.loc[("29", "rehospit_15j")]
    assert away["progression"] == pytest.approx(-20)
    assert away["appreciation"] == "S'éloigne de la cible"
    assert progress.loc[("56", "rehospit_15j"), "appreciation"] == "Cible atteinte"
    missing = progress.loc[("35", "suivi_15j_sortie")]
    assert missing["appreciation"] == "Non évaluable" and pd.isna(missing["en_bonne_voie"])
    only_35 = rm.impact_progress(table, "35")
    assert set(only_35["code_territoire"]) == {"35"}


def test_target_equal_to_baseline_is_not_assessable():
    table = cibles(("35", "rehospit_15j", 2022, 10.0, 2027, 10.0, 2024, 9.0))
    progress = rm.impact_progress(table)
    assert progress["appreciation"].tolist() == ["Non évaluable"]
    assert math.isnan(progress["progression"].iloc[0])


def test_action_indicator_links(actions):
    actions.loc[actions["id_action"] == "A1", "indicateurs"] = "rehospit_15j|surmortalite"
    table = cibles(("35", "rehospit_15j", 2022, 10.0, 2027, 5.0, 2024, 8.5))
    links = rm.action_indicator_links(actions, progress=rm.impact_progress(table, "35"))
    assert links["indicateur"].tolist() == ["rehospit_15j", "surmortalite"]
    assert links["categorie"].tolist() == ["impact", "résultat"]
    assert links["appreciation"].iloc[0] == "En bonne voie"
    assert pd.isna(links["appreciation"].iloc[1])


# --------------------------------------------------------------------------- validation


def test_consistent_history_has_no_problem(actions):
    assert rm.roadmap_problems(actions) == []


def test_history_problems_name_file_row_and_column():
    frame = history(
        row("A1", "2024-06-30", "En cours", 50),
        row("A1", "2025-06-30", "En cours", 30, priorite=2),  # line 3: priority, progress
        row("A2", "2024-06-30", "Réalisée", 80),  # line 4: done below 100 %
        row("A2", "2025-06-30", "En cours", 90),  # line 5: reopened
        row("A3", "2023-06-30", "En cours", 0),  # line 6: followed before start
        row("A4", "2024-06-30", "Non commencée", 20),  # line 7: not started with progress
    )
    problems = rm.roadmap_problems(frame, "feuille.csv")
    found = {(p.row, p.column) for p in problems}
    assert found == {(3, "priorite"), (3, "avancement"), (4, "avancement"), (5, "statut"),
                     (6, "statut"), (7, "avancement")}
    assert all(p.file == "feuille.csv" for p in problems)
    assert all(p.severity == Severity.AVERTISSEMENT for p in problems)
    reopened = next(p for p in problems if p.row == 5)
    assert "rouverte" in reopened.message and reopened.value == "En cours"
    assert "30/06/2024" in reopened.expected
    text = next(p for p in problems if (p.row, p.column) == (3, "priorite")).to_french()
    assert "feuille.csv, ligne 3, colonne « priorite »" in text


def test_history_problems_use_the_line_index_of_the_sources():
    frame = history(row("A1", "2024-06-30", "Réalisée", 50))
    frame.index = pd.Index([12], name="ligne")
    (problem,) = rm.roadmap_problems(frame)
    assert problem.row == 12 and problem.file == "actions.csv"


# --------------------------------------------------------------------------- outputs


def test_export_xlsx_sheets_and_atomic_write(actions, tmp_path):
    actions.loc[actions["id_action"] == "A1", "intitule"] = "=HYPERLINK(\"x\")"
    table = cibles(("35", "rehospit_15j", 2022, 10.0, 2027, 5.0, 2024, 8.5))
    path = export_roadmap_xlsx(actions, tmp_path / "copil" / "suivi.xlsx", "2025-06-30",
                                  cibles=table, territory="35")
    assert path.is_file()
    assert [p.name for p in path.parent.iterdir()] == ["suivi.xlsx"]  # no temp file left
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Actions", "Par priorité", "En retard",
                               "Indicateurs d'impact"]
    sheet = book["Actions"]
    assert "30/06/2025" in sheet["A1"].value
    header = [c.value for c in sheet[3]]
    assert header[:2] == ["Action", "Territoire"]
    titles = [sheet.cell(row=r, column=5) for r in range(4, sheet.max_row + 1)]
    injected = next(c for c in titles if str(c.value).startswith("'="))
    assert injected.data_type == "s"  # text, not a formula (neutralised: ptsm_diag.io.exports)
    late = book["En retard"]
    assert [late.cell(row=r, column=2).value for r in (4, 5)] == ["A5", "A3"]
    impact = book["Indicateurs d'impact"]
    assert impact.cell(row=4, column=1).value == "rehospit_15j"
    assert impact.cell(row=4, column=14).value == "En bonne voie"


def test_figures_escape_input_text_and_use_status_colours(actions):
    actions["intitule"] = "<script>alert(1)</script>"
    fig = rf.timeline_figure(rm.timeline_data(actions), pd.Timestamp("2025-06-30"), "T")
    assert "<script>" not in fig.to_json()
    assert {t.name for t in fig.data} == {"En cours", "Réalisée", "Abandonnée", "Suspendue"}
    bars = rf.status_bars(rm.status_table(rm.status_at(actions), "code_territoire"), "S")
    colours = {t.name: t.marker.color for t in bars.data}
    assert colours["Réalisée"] == rf.STATUS_COLOURS["Réalisée"]
    assert [t.name for t in bars.data] == rm.statuses()
    table = cibles(("35", "rehospit_15j", 2022, 10.0, 2027, 5.0, 2024, 8.5))
    progress = rf.progress_figure(rm.impact_progress(table), "P")
    assert progress.data[0].name == "En bonne voie"


# --------------------------------------------------------------------------- sections


MINI_FOLDER = {
    "territoires.csv": """code_territoire;nom_territoire;code_region;niveau;code
35;PTSM <b>Ille</b>;53;departement;35
22;PTSM Côtes;53;departement;22
29;PTSM Finistère;53;departement;29
""",
    "actions.csv": """id_action;code_territoire;priorite;theme;intitule;pilote;partenaires;\
statut;date_debut;date_echeance;date_suivi;avancement;motif;indicateurs
A1;35;1;3;<script>alert(1)</script>;CH;CPTS;En cours;2024-01-01;2024-12-31;2024-06-30;10;;\
rehospit_15j
A1;35;1;3;<script>alert(1)</script>;CH;CPTS;En cours;2024-01-01;2024-12-31;2025-06-30;5;;\
rehospit_15j
A2;22;2;1;Autre;CH;;Réalisée;2024-01-01;2025-12-31;2025-06-30;100;;
""",
    "cibles.csv": """code_territoire;indicateur;annee_initiale;valeur_initiale;annee_cible;\
valeur_cible;annee_actuelle;valeur_actuelle
35;rehospit_15j;2022;10;2027;5;2024;8,5
""",
}


def test_sections_on_a_small_folder_escape_input_text(tmp_path):
    from ptsm_diag.report import roadmap as s
    from ptsm_diag.report.display import to_html

    for name, text in MINI_FOLDER.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    f = s.prepare_follow_up("35", tmp_path)
    assert f.date == pd.Timestamp("2025-06-30")
    assert f.previous_date == pd.Timestamp("2024-06-30")
    assert f.region_name == "Bretagne" and set(f.comparison_names) == {"22", "29", "35"}
    pages = [to_html(getattr(s, name)(f)) for name in s.__all__
             if name not in ("FollowUp", "prepare_follow_up", "has_actions")]
    page = "".join(pages)
    assert "<script>alert" not in page and "<b>Ille" not in page
    assert "&lt;b&gt;Ille&lt;/b&gt;" in page
    assert "181" in page  # A1 is 181 days late on 30/06/2025
    assert "« A1 » diminue" in page  # history check shown
    early = s.prepare_follow_up("35", tmp_path, date_suivi="2020-01-01")
    assert not s.has_actions(early)
    assert "premier point de suivi du territoire date du 30/06/2024" in to_html(
        s.summary(early))
    with pytest.raises(PtsmError, match="Référence"):
        s.prepare_follow_up("35", tmp_path, reference="monde")


# --------------------------------------------------------------------------- report


@pytest.mark.slow
def test_follow_up_report_of_demo_territory(tmp_path):
    from ptsm_diag.report.execute import ReportOptions, render_report
    from ptsm_diag.testing import assert_offline, chromium_path, open_in_browser

    path = render_report("35", None, tmp_path,
                         options=ReportOptions(notebook="suivi_feuille_de_route.ipynb"))
    assert path.name == "suivi_35.html"
    page = path.read_text(encoding="utf-8")
    assert "Données fictives de démonstration" in page
    for title in ("Synthèse", "Actions par priorité et par thème", "Évolution des statuts",
                  "Actions en retard", "Calendrier des actions",
                  "Indicateurs d'impact et cibles à 5 ans", "Suivi des territoires comparés"):
        assert title in page or title.replace("'", "&#39;") in page, title
    assert "Ille-et-Vilaine" in page and "Finistère" in page  # région Bretagne compared
    assert "prepare_follow_up" not in page and "roadmap_sections" not in page  # no code
    assert page.count("Plotly.newPlot") >= 5
    assert_offline(page)
    if chromium_path() is None:
        return
    result = open_in_browser(path, screenshot=tmp_path / "suivi.png", height=3000)
    assert result.script_errors == []
    assert result.plotly_figures >= 5


def test_impact_table_lists_priority_6_indicator_without_target():
    """Priority 6's impact indicator (seed 003: actions on psychosocial skills and
    parenting) has no 5-year target in the ANAP method: the follow-up still shows it, as
    data to document, instead of leaving priority 6 out."""
    from ptsm_diag.catalog import load_indicator_catalog
    from ptsm_diag.diagnostic import load_data
    from ptsm_diag.report import roadmap as rs

    catalog = load_indicator_catalog()
    assert catalog["part_actions_cps_parentalite"].priority == 6
    assert catalog["part_actions_cps_parentalite"].category == "impact"
    table = rs.impact_table(rs.follow_up_from_data(load_data(None), "35"))
    six = table[table["Priorité"] == 6]
    assert len(six) == 1
    assert six.iloc[0]["Appréciation"] == "aucune donnée de suivi : à documenter"
    assert six.iloc[0]["Cible (année)"] == "à fixer (table cibles)"
    assert "compétences psychosociales" in six.iloc[0]["Indicateur d'impact"]
