"""No CSV or XLSX file written by ptsm-diag holds a formula, whatever the input text.

Every writer is checked with the hostile texts of issue 12 (a spreadsheet would run them
as formulas) while the numbers of numeric columns, negative ones included, stay numbers.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from ptsm_diag.cli import main
from ptsm_diag.io import exports
from ptsm_diag.io.sources.finess import convert_finess
from ptsm_diag.report.directory import directory_table, write_directory_xlsx
from ptsm_diag.report.gaps import export_gaps_csv, export_gaps_xlsx
from ptsm_diag.report.roadmap import export_roadmap_xlsx
from ptsm_diag.testing import write_finess_extract

TEMPLATES = Path(__file__).resolve().parents[1] / "data_templates"

HOSTILE = ['=HYPERLINK("http://x","y")', "=1+1", "\t=1+1", "\r=1+1", " =1+1", "+1", "-1+1",
           "@SUM(A1)"]

# What a spreadsheet may skip before reading a formula sign; written independently of
# ptsm_diag.io.exports so that this test does not just repeat the implementation.
_SKIPPED = " \t\r\n\x0b\x0c\xa0\ufeff"
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")


def runnable(text: str) -> bool:
    """True when a spreadsheet would read ``text`` as a formula."""
    stripped = text.lstrip(_SKIPPED)
    return stripped.startswith(("=", "+", "-", "@")) and not _NUMBER.fullmatch(stripped)


def assert_no_formula_in_workbook(path: Path) -> list[openpyxl.cell.Cell]:
    """Every cell of every sheet: no formula, no text a spreadsheet would run."""
    book = openpyxl.load_workbook(path)
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    for cell in cells:
        assert cell.data_type != "f", f"{cell.coordinate} est une formule : {cell.value!r}"
        if isinstance(cell.value, str):
            assert not cell.value.startswith("=")
            assert not runnable(cell.value), f"{cell.coordinate} : {cell.value!r}"
    return cells


def read_csv_cells(path: Path) -> list[list[str]]:
    text = path.read_text(encoding="utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


def assert_no_formula_in_csv(path: Path) -> list[list[str]]:
    rows = read_csv_cells(path)
    for row in rows:
        for value in row:
            assert not runnable(value), f"{path.name} : {value!r}"
    return rows


def hostile_payloads_kept(values: list[str]) -> int:
    """How many hostile texts reached the file (neutralised, not dropped)."""
    return sum(any(core in v for v in values) for core in
               ('HYPERLINK("http://x","y")', "1+1", "SUM(A1)"))


# --------------------------------------------------------------------------- the rule


@pytest.mark.parametrize("text", HOSTILE)
def test_every_hostile_text_is_neutralised(text):
    assert runnable(text)
    shown = exports.neutralise_cell(text)
    assert shown == "'" + text and not runnable(shown)
    assert exports.neutralise_cell(shown) == shown  # twice changes nothing


@pytest.mark.parametrize("value", [-12, -4.48, 0, 3.5, "-4,48", "-12", "12", "Saint-Malo",
                                   "CMP « Les Tilleuls »", None, pd.Timestamp("2024-06-30")])
def test_numbers_and_ordinary_text_are_left_alone(value):
    assert exports.neutralise_cell(value) is value


def test_frame_keeps_numeric_columns_as_numbers(tmp_path):
    frame = pd.DataFrame({"nom": HOSTILE, "valeur": [-1.5, -2, 3, 4, 5, 6, 7, -8]})
    path = exports.write_csv(frame, tmp_path / "t.csv")
    rows = assert_no_formula_in_csv(path)
    assert [r[1] for r in rows[1:]] == ["-1,5", "-2,0", "3,0", "4,0", "5,0", "6,0", "7,0",
                                        "-8,0"]
    assert len(rows) == 1 + len(HOSTILE)  # "\r" inside a field does not split a row
    assert hostile_payloads_kept([r[0] for r in rows]) == 3


def test_xlsx_control_characters_do_not_break_the_workbook(tmp_path):
    book = openpyxl.Workbook()
    exports.set_cell(book.active, 1, 1, "=1+1\x07")
    exports.set_cell(book.active, 2, 1, -3)
    book.active["A3"] = "=SUM(A1:A2)"  # written around set_cell: save_workbook catches it
    path = exports.save_workbook(book, tmp_path / "t.xlsx")
    assert_no_formula_in_workbook(path)
    sheet = openpyxl.load_workbook(path).active
    assert sheet["A1"].value == "'=1+1" and sheet["A2"].value == -3
    assert sheet["A3"].value == "'=SUM(A1:A2)"


# --------------------------------------------------------------------------- every writer


def _hostile_gaps() -> pd.DataFrame:
    rows = []
    for rank, text in enumerate(HOSTILE, start=1):
        rows.append({
            "rang": rank, "niveau_severite": "élevée", "severite": 2.5, "nature": text,
            "sujet": text, "constat": text, "valeur": -12.5, "reference": 3.0,
            "reference_libelle": text, "unite": text, "seuil": -0.25, "ampleur": 0.4,
            "population_concernee": 1200, "nombre_communes": 2, "communes_concernees": text,
            "priorite_ptsm": 1 + rank % 6, "axe_anap": 1 + rank % 5, "theme_action": 1,
            "points_r3224_3": text, "donnees_a_recueillir": text, "code_territoire": text})
    return pd.DataFrame(rows)


def test_gap_exports(tmp_path):
    gaps = _hostile_gaps()
    xlsx = export_gaps_xlsx(gaps, tmp_path / "insuffisances.xlsx")
    cells = assert_no_formula_in_workbook(xlsx)
    assert hostile_payloads_kept([str(c.value) for c in cells]) == 3
    sheet = openpyxl.load_workbook(xlsx)["Priorité 2"]
    header = [c.value for c in sheet[1]]
    value = sheet.cell(row=2, column=header.index("Valeur") + 1)
    assert value.value == -12.5 and value.data_type == "n"  # a negative number stays one
    rows = assert_no_formula_in_csv(export_gaps_csv(gaps, tmp_path / "insuffisances.csv"))
    assert len(rows) == 1 + len(HOSTILE)
    assert {r[rows[0].index("Valeur")] for r in rows[1:]} == {"-12,5"}
    assert hostile_payloads_kept([v for r in rows for v in r]) == 3


def test_directory_xlsx(tmp_path):
    resources = pd.read_csv(TEMPLATES / "ressources.csv", sep=";", dtype=str,
                            encoding="utf-8-sig").head(len(HOSTILE))
    resources["nom"] = HOSTILE[: len(resources)]
    resources["telephone"] = "@SUM(A1)"
    table = directory_table(resources)
    path = write_directory_xlsx(table, tmp_path / "annuaire.xlsx", "=1+1", "-1+1")
    cells = assert_no_formula_in_workbook(path)
    assert hostile_payloads_kept([str(c.value) for c in cells]) == 3


def _data_folder(tmp_path: Path, names: list[str]) -> Path:
    """The data templates, with hostile structure names in ressources.csv."""
    folder = tmp_path / "donnees"
    folder.mkdir()
    for name in ("territoires.csv", "ressources.csv"):
        shutil.copy(TEMPLATES / name, folder / name)
    resources = pd.read_csv(folder / "ressources.csv", sep=";", dtype=str,
                            encoding="utf-8-sig", keep_default_na=False)
    resources["nom"] = [names[i % len(names)] for i in range(len(resources))]
    resources.to_csv(folder / "ressources.csv", sep=";", index=False, encoding="utf-8")
    return folder


def test_annuaire_command_writes_no_formula(tmp_path, capsys):
    folder = _data_folder(tmp_path, [HOSTILE[0], " =1+1", "@SUM(A1)"])  # 3 structures
    out = tmp_path / "sortie"
    assert main(["annuaire", "--territoire", "35", "--donnees", str(folder),
                 "--sortie", str(out)]) == 0
    cells = assert_no_formula_in_workbook(out / "annuaire_35.xlsx")
    assert hostile_payloads_kept([str(c.value) for c in cells]) == 3


def test_valider_report_csv(tmp_path, capsys):
    folder = _data_folder(tmp_path, ["CMP"])
    resources = pd.read_csv(folder / "ressources.csv", sep=";", dtype=str,
                            keep_default_na=False)
    count = len(resources)
    resources["code_commune"] = HOSTILE[0]
    resources["type_ressource"] = "@SUM(A1)"
    resources["finess"] = "\t=1+1"
    resources["capacite_lits"] = ["-1+1", "-5"] + [""] * (count - 2)
    resources.to_csv(folder / "ressources.csv", sep=";", index=False, encoding="utf-8")
    target = tmp_path / "problemes.csv"
    assert main(["valider", str(folder), "--rapport", str(target)]) == 1
    rows = assert_no_formula_in_csv(target)
    header = rows[0]
    values = [r[header.index("valeur")] for r in rows[1:]]
    assert hostile_payloads_kept(values) == 3
    assert "-5" in values  # a negative number read in the data is shown as it is
    assert all(r[header.index("ligne")].isdigit() for r in rows[1:]
               if r[header.index("ligne")])


def test_roadmap_xlsx(tmp_path):
    from ptsm_diag.io.sources.folder import read_folder

    for name in ("territoires.csv", "actions.csv"):
        shutil.copy(TEMPLATES / name, tmp_path / name)
    actions = read_folder(tmp_path).actions.copy()
    actions["intitule"] = HOSTILE[0]
    actions["pilote"] = "@SUM(A1)"
    actions["partenaires"] = "\t=1+1"
    cibles = pd.DataFrame({
        "code_territoire": ["35"], "indicateur": ["rehospit_15j"], "annee_initiale": [2023],
        "valeur_initiale": [10.0], "annee_cible": [2028], "valeur_cible": [5.0],
        "annee_actuelle": [2024], "valeur_actuelle": [12.0]})  # moving away: negative
    path = export_roadmap_xlsx(actions, tmp_path / "suivi.xlsx", cibles=cibles,
                               territory="35")
    cells = assert_no_formula_in_workbook(path)
    assert hostile_payloads_kept([str(c.value) for c in cells]) == 3
    impact = openpyxl.load_workbook(path)["Indicateurs d'impact"]
    numbers = [c.value for row in impact.iter_rows(min_row=4) for c in row
               if c.data_type == "n" and c.value is not None]
    assert any(v < 0 for v in numbers)  # the negative progression is a number


def test_finess_output_csv(tmp_path):
    extract = write_finess_extract(tmp_path / "etalab.csv", [
        {"nofinesset": f"35000{i:03d}{i % 10}", "rs": text, "rslongue": text,
         "commune": "238", "departement": "35", "categetab": "156",
         "coordxet": "351000.0", "coordyet": "6789000.0"}
        for i, text in enumerate(HOSTILE)])
    target = tmp_path / "ressources.csv"
    convert_finess(extract, target)
    rows = assert_no_formula_in_csv(target)
    header = rows[0]
    assert len(rows) > 1
    assert hostile_payloads_kept([r[header.index("nom")] for r in rows[1:]]) == 3
    longitudes = [r[header.index("longitude")] for r in rows[1:]]
    assert all(re.fullmatch(r"-1,\d+", v) for v in longitudes)  # Rennes: negative, kept


def test_opendata_tables_csv():
    from ptsm_diag.io.opendata.pipeline import _csv

    text = _csv(pd.DataFrame({"nom": HOSTILE, "population": range(-4, 4)}))
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=";"))
    assert all(not runnable(v) for r in rows for v in r)
    assert [r[1] for r in rows[1:]] == [str(n) for n in range(-4, 4)]
