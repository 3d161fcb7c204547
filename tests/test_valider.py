"""Folder-level validation and ``ptsm-diag valider``: every bad-input case at once,
cross-table checks, row conservation, and the user's files left untouched."""

from __future__ import annotations

import hashlib
import io
import shutil
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook
from rich.console import Console

from ptsm_diag.cli.valider import run_valider
from ptsm_diag.errors import InputError, Severity
from ptsm_diag.io.sources import read_folder, validate_folder

TEMPLATES = Path(__file__).resolve().parents[1] / "data_templates"

# (file as reported, line, column, severity) of every case seeded in `bad_folder`.
SEEDED = {
    # territoires.csv: cp1252, "," separator, lost zero, reserved code
    ("territoires.csv", 3, "code", Severity.REPARATION),
    ("territoires.csv", 4, "code_territoire", Severity.ERREUR),
    # population.csv: UTF-8 BOM, lost zero, unknown age band, negative, duplicate
    ("population.csv", 2, "code_commune", Severity.REPARATION),
    ("population.csv", 3, "tranche_age", Severity.ERREUR),
    ("population.csv", 4, "population", Severity.ERREUR),
    ("population.csv", 5, None, Severity.ERREUR),
    ("population.csv", 6, "code_commune", Severity.ERREUR),
    # ressources.xlsx: FINESS typed as a number, unknown type, duplicate FINESS, extra column
    ("ressources.xlsx", None, "commentaire", Severity.AVERTISSEMENT),
    ("ressources.xlsx", 2, "finess", Severity.REPARATION),
    ("ressources.xlsx", 3, "type_ressource", Severity.ERREUR),
    ("ressources.xlsx", 4, "finess", Severity.ERREUR),
    # indicateurs.csv: tab separator, decimal commas, num > den, unknown territory/indicator
    ("indicateurs.csv", 3, "numerateur", Severity.ERREUR),
    ("indicateurs.csv", 4, "code_territoire", Severity.ERREUR),
    ("indicateurs.csv", 5, "indicateur", Severity.ERREUR),
    # actions.csv: both date formats, impossible date, end before start, no motive
    ("actions.csv", 3, "date_suivi", Severity.ERREUR),
    ("actions.csv", 4, "date_echeance", Severity.ERREUR),
    ("actions.csv", 5, "motif", Severity.AVERTISSEMENT),
    # cibles.csv: a required column missing
    ("cibles.csv", None, "valeur_cible", Severity.ERREUR),
}
ROWS = {"territoires": 3, "population": 5, "ressources": 3, "indicateurs": 4, "actions": 4,
        "cibles": 2}


def _write(path: Path, lines: list[str], encoding: str = "utf-8") -> None:
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))


@pytest.fixture
def bad_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "donnees"
    folder.mkdir()
    _write(folder / "territoires.csv", [
        "code_territoire,nom_territoire,code_region,niveau,code",
        "35,PTSM d'Ille-et-Vilaine,53,departement,35",
        "01,PTSM de l'Ain – Bresse,84,departement,1",
        "FRANCE,Référence,,departement,29",
    ], encoding="cp1252")
    _write(folder / "population.csv", [
        "code_commune;annee;tranche_age;population",
        "1001;2021;65+;150",
        "35238;2021;18-65;150 000",
        "35238;2021;0-17;-4",
        "01001;2021;65+;151",
        "99999;2021;65+;10",
    ], encoding="utf-8-sig")
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["id_ressource", "finess", "nom", "type_ressource", "code_commune",
                  "commentaire"])
    sheet.append(["R1", 10000123, "Clinique de l'Ain", "clinique_psy", "01001", "ok"])
    sheet.append(["R2", None, "Maison des usagers", "maison_usagers", "35238", None])
    sheet.append(["R3", "010000123", "Doublon", "chs", "35238", None])
    workbook.save(folder / "ressources.xlsx")
    _write(folder / "indicateurs.csv", [
        "code_territoire\tindicateur\tannee\tnumerateur\tdenominateur\tvaleur",
        "35\trehospit_15j\t2023\t312\t2 450,0\t",
        "35\turgences_sans_suivi\t2023\t30\t20\t",
        "56\tdensite_cmp\t2023\t1\t20\t",
        "35\tdensite_inconnue\t2023\t\t\t12,5",
    ])
    _write(folder / "actions.csv", [
        "id_action;code_territoire;priorite;theme;intitule;pilote;statut;date_debut;"
        "date_echeance;date_suivi;avancement;motif",
        "A1;35;1;3;Former les généralistes;CH Exemple;En cours;15/01/2024;2026-12-31;"
        "2024-06-30;20;",
        "A1;35;1;3;Former les généralistes;CH Exemple;En cours;15/01/2024;2026-12-31;"
        "31/06/2025;40;",
        "A2;35;2;4;Créer une commission;CH Exemple;En cours;2025-01-01;2024-12-31;"
        "2025-06-30;0;",
        "A3;01;5;5;Soutenir un GEM;Association Exemple;Suspendue;;;2025-06-30;10;",
    ])
    _write(folder / "cibles.csv", [
        "code_territoire;indicateur;annee_initiale;valeur_initiale;annee_cible",
        "35;rehospit_15j;2023;12,7;2028",
        "35;delai_mdph;2023;120;2028",
    ])
    return folder


def _fingerprint(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_every_seeded_case_is_reported_and_files_are_untouched(bad_folder: Path) -> None:
    before = _fingerprint(bad_folder)
    report = validate_folder(bad_folder)
    assert _fingerprint(bad_folder) == before  # same files, same bytes, nothing added
    reported = {(p.file, p.row, p.column, p.severity) for p in report.problems}
    assert reported >= SEEDED, SEEDED - reported
    errors = {(p.file, p.row) for p in report.problems if p.severity == Severity.ERREUR}
    counts = report.counts().set_index("table")
    for name, rows in ROWS.items():
        assert counts.loc[name, "lues"] == rows
        assert counts.loc[name, "acceptees"] + counts.loc[name, "rejetees"] == rows
        data = report.results[name].data
        assert len(data) == counts.loc[name, "acceptees"]
        file = counts.loc[name, "fichier"]
        assert not {(file, line) for line in data.index} & errors  # accepted = no error
    assert counts.loc["cibles", "rejetees"] == 2
    assert report.has_errors


def test_cross_table_checks_use_the_accepted_territories(bad_folder: Path) -> None:
    report = validate_folder(bad_folder)
    unknown = next(p for p in report.problems
                   if p.file == "indicateurs.csv" and p.column == "code_territoire")
    assert unknown.value == "56" and "35" in unknown.expected and "01" in unknown.expected
    actions = report.results["actions"].data
    assert sorted(actions["code_territoire"].unique()) == ["01", "35"]


def test_report_exports(bad_folder: Path) -> None:
    report = validate_folder(bad_folder)
    frame = report.to_frame()
    assert list(frame.columns) == ["fichier", "ligne", "colonne", "valeur", "attendu",
                                   "message", "gravite"]
    assert len(frame) == len(report.problems)
    text = report.to_french_text()
    assert "population.csv : 5 ligne(s) lue(s), 1 acceptée(s), 4 rejetée(s)" in text
    assert "corrigez les erreurs" in text


def test_read_folder_raises_with_every_problem_unless_not_strict(bad_folder: Path) -> None:
    with pytest.raises(InputError) as caught:
        read_folder(bad_folder)
    assert len(caught.value.problems) == len(validate_folder(bad_folder).problems)
    data = read_folder(bad_folder, strict=False)
    assert data.population["code_commune"].tolist() == ["01001"]
    assert data.ressources["finess"].tolist() == ["010000123"]
    assert data.ressources["commentaire"].tolist() == ["ok"]
    assert data.cibles is not None and data.cibles.empty
    assert data.table("territoires")["code"].tolist() == ["35", "01"]


def test_clean_folder_reads_every_table(tmp_path: Path) -> None:
    for path in TEMPLATES.glob("*.csv"):
        shutil.copy(path, tmp_path)
    data = read_folder(tmp_path)
    assert len(data.ressources) == 3
    assert pd.api.types.is_datetime64_dtype(data.actions["date_suivi"])
    assert data.counts["rejetees"].sum() == 0


def test_folder_level_problems(tmp_path: Path) -> None:
    (tmp_path / "population.csv").write_bytes(b"")
    shutil.copy(TEMPLATES / "territoires.csv", tmp_path)
    shutil.copy(TEMPLATES / "modele_ptsm.xlsx", tmp_path)  # territoires a second time
    (tmp_path / "ressource.csv").write_text("id_ressource\n", encoding="utf-8")
    (tmp_path / "actions.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    (tmp_path / "LISEZ-MOI.txt").write_text("notes", encoding="utf-8")
    report = validate_folder(tmp_path)
    by_message = {p.message: p for p in report.problems}
    assert any("fournie plusieurs fois" in m for m in by_message)
    assert any(p.file == "population.csv" and "vide" in p.message for p in report.problems)
    ignored = next(p for p in report.problems if p.file == "ressource.csv")
    assert ignored.severity == Severity.AVERTISSEMENT and "ressources" in ignored.expected
    unsupported = next(p for p in report.problems if p.file == "actions.xls")
    assert unsupported.severity == Severity.ERREUR
    assert report.results["territoires"].file == "territoires.csv"  # own file first
    assert not any(p.file == "LISEZ-MOI.txt" for p in report.problems)


def test_folder_without_data_files_is_an_error(tmp_path: Path) -> None:
    report = validate_folder(tmp_path)
    assert report.has_errors and "aucun fichier" in report.problems[0].message
    with pytest.raises(InputError, match="introuvable"):
        validate_folder(tmp_path / "absent")


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=200, color_system=None), buffer


def test_valider_exit_codes_and_output(bad_folder: Path, tmp_path: Path) -> None:
    console, out = _console()
    assert run_valider(bad_folder, console) == 1
    text = out.getvalue()
    for expected in ("Problèmes trouvés", "population.csv", "18-65", "Résumé par fichier",
                     "Lues", "Rejetées", "corrigez les erreurs"):
        assert expected in text
    clean = tmp_path / "propre"
    clean.mkdir()
    for path in TEMPLATES.glob("*.csv"):
        shutil.copy(path, clean)
    console, out = _console()
    assert run_valider(clean, console) == 0
    assert "Aucun problème" in out.getvalue()
    assert run_valider(tmp_path / "absent", _console()[0]) == 2


def test_valider_writes_the_csv_report_outside_the_data_folder(
    bad_folder: Path, tmp_path: Path
) -> None:
    before = _fingerprint(bad_folder)
    target = tmp_path / "rapports" / "problemes.csv"
    assert run_valider(bad_folder, _console()[0], rapport_csv=target) == 1
    written = pd.read_csv(target, sep=";", encoding="utf-8-sig", dtype=str)
    assert len(written) == len(validate_folder(bad_folder).problems)
    assert "18-65" in set(written["valeur"].dropna())
    console, out = _console()
    assert run_valider(bad_folder, console, rapport_csv=bad_folder / "p.csv") == 2
    assert "en dehors" in out.getvalue()
    assert _fingerprint(bad_folder) == before


def test_valider_caps_the_terminal_table_but_not_the_report(
    bad_folder: Path, tmp_path: Path
) -> None:
    console, out = _console()
    run_valider(bad_folder, console, rapport_csv=tmp_path / "all.csv", max_lines=3)
    assert "autre(s) problème(s) non affiché(s)" in out.getvalue()
    written = pd.read_csv(tmp_path / "all.csv", sep=";", encoding="utf-8-sig", dtype=str)
    assert len(written) == len(validate_folder(bad_folder).problems)


def test_unreadable_territories_do_not_cascade(tmp_path: Path) -> None:
    _write(tmp_path / "territoires.csv", ["code_territoire;nom", "35;Ille-et-Vilaine"])
    shutil.copy(TEMPLATES / "indicateurs.csv", tmp_path)
    report = validate_folder(tmp_path)
    assert report.results["indicateurs"].n_rejected == 0
    warning = next(p for p in report.problems if p.file == "indicateurs.csv")
    assert warning.severity == Severity.AVERTISSEMENT and "non vérifiés" in warning.message
