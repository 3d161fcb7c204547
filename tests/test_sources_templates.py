"""The committed templates: they pass their own validation, carry drop-down lists, and are
up to date with the specs and the catalogue."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from ptsm_diag.catalog import load_resource_types, load_vocabularies
from ptsm_diag.io.sources import TABLES, validate_folder
from ptsm_diag.io.sources.templates import (
    WORKBOOK_NAME,
    build_workbook_bytes,
    dictionary_markdown,
    template_csv_text,
)
from ptsm_diag.io.sources.vocab import allowed_values

TEMPLATES = Path(__file__).resolve().parents[1] / "data_templates"
REGENERATE = "relancez : python scripts/build_xlsx_template.py"
DROP_DOWN_COLUMNS = {
    "territoires": ["niveau"],
    "population": ["tranche_age"],
    "ressources": ["type_ressource", "champ", "public"],
    "actions": ["priorite", "theme", "statut"],
}


@pytest.fixture(scope="module")
def csv_report():
    return _validate_copy(["*.csv"])


@pytest.fixture(scope="module")
def xlsx_report():
    return _validate_copy([WORKBOOK_NAME])


def _validate_copy(patterns: list[str]):
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for pattern in patterns:
            for path in TEMPLATES.glob(pattern):
                shutil.copy(path, tmp)
        return validate_folder(tmp)


def test_csv_templates_validate_without_any_problem(csv_report) -> None:
    assert csv_report.problems == []
    counts = csv_report.counts().set_index("table")
    assert list(counts.index) == list(TABLES)
    assert (counts["lues"] >= 2).all() and (counts["rejetees"] == 0).all()


def test_workbook_validates_and_matches_the_csv_templates(csv_report, xlsx_report) -> None:
    assert xlsx_report.problems == []
    for name in TABLES:
        from_csv = csv_report.results[name].data
        from_xlsx = xlsx_report.results[name].data
        pd.testing.assert_frame_equal(from_csv, from_xlsx, check_dtype=False)


def test_workbook_has_drop_down_lists_from_the_catalogue() -> None:
    workbook = load_workbook(TEMPLATES / WORKBOOK_NAME)
    assert workbook.sheetnames[0] == "Lisez-moi"
    assert set(TABLES) <= set(workbook.sheetnames)
    lists = workbook["listes"]
    for name, columns in DROP_DOWN_COLUMNS.items():
        sheet = workbook[name]
        header = [c.value for c in sheet[1]]
        validations = {str(v.sqref).split(":")[0]: v for v in sheet.data_validations.dataValidation}
        for column in columns:
            letter = chr(ord("A") + header.index(column))
            validation = validations[f"{letter}2"]
            assert validation.type == "list" and validation.showErrorMessage
            ref = validation.formula1.split("!")[1].replace("$", "")
            listed = [c.value for row in lists[ref] for c in row]
            spec = TABLES[name].column(column)
            assert listed == allowed_values(spec.vocabulary, as_int=spec.kind == "int")
    listed_types = {c.value for col in lists.iter_cols() for c in col}
    assert set(load_resource_types()) <= listed_types
    assert set(load_vocabularies().action_statuses) <= listed_types


def test_code_columns_are_text_in_the_workbook() -> None:
    workbook = load_workbook(TEMPLATES / WORKBOOK_NAME)
    sheet = workbook["ressources"]
    header = [c.value for c in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("code_commune") + 1)
    assert cell.value == "35238" and cell.number_format == "@"


@pytest.mark.parametrize("name", list(TABLES))
def test_csv_template_is_up_to_date(name: str) -> None:
    committed = (TEMPLATES / f"{name}.csv").read_bytes()
    assert committed == template_csv_text(name).encode("utf-8-sig"), REGENERATE


def test_dictionary_is_up_to_date_and_complete() -> None:
    text = (TEMPLATES / "README.md").read_text(encoding="utf-8")
    assert text == dictionary_markdown(), REGENERATE
    for spec in TABLES.values():
        for column in spec.column_names:
            assert f"| `{column}` |" in text
    for code in load_resource_types():
        assert f"| `{code}` |" in text


def test_workbook_is_up_to_date_and_reproducible() -> None:
    built = build_workbook_bytes()
    assert built == build_workbook_bytes()
    assert (TEMPLATES / WORKBOOK_NAME).read_bytes() == built, REGENERATE


def test_indicator_columns_have_a_drop_down_of_the_catalogue_ids() -> None:
    from ptsm_diag.catalog import load_indicator_catalog

    workbook = load_workbook(TEMPLATES / WORKBOOK_NAME)
    lists = workbook["listes"]
    for name in ("indicateurs", "cibles"):
        sheet = workbook[name]
        header = [c.value for c in sheet[1]]
        letter = chr(ord("A") + header.index("indicateur"))
        validations = {str(v.sqref).split(":")[0]: v
                       for v in sheet.data_validations.dataValidation}
        ref = validations[f"{letter}2"].formula1.split("!")[1].replace("$", "")
        assert [c.value for row in lists[ref] for c in row] == list(load_indicator_catalog())


def test_dictionary_documents_every_indicator_id() -> None:
    from ptsm_diag.catalog import load_indicator_catalog

    text = (TEMPLATES / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Identifiants des indicateurs"):]
    for ind in load_indicator_catalog().values():
        line = next(row for row in section.splitlines() if row.startswith(f"| `{ind.id}` |"))
        assert ind.unit in line and ind.sources[0] in line
    assert "| `places_esat` |" in section and "oui (esat)" in section
    assert "## Références nationales" in text
