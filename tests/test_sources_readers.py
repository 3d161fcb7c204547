"""Reading badly formed user files: separators, encodings, numbers, codes, XLSX, empty files.

Every test builds its files in tmp_path and checks row conservation:
rows in the file == accepted + rejected.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ptsm_diag.errors import InputError, Severity
from ptsm_diag.io.sources import TABLES, read_table

REFS = {
    "communes": {"01001", "35238", "35288", "2A004", "75056", "97105"},
    "departements": {"01", "35", "2A", "971"},
    "regions": {"53", "84", "94"},
    "indicators": {"densite_cmp", "rehospit_15j"},
}
RESSOURCES_HEADER = ["id_ressource", "finess", "nom", "type_ressource", "code_commune",
                     "capacite_lits", "etp"]
RESSOURCES_ROWS = [
    ["R1", "350000001", "Clinique Sainte-Thérèse", "clinique_psy", "35238", "40", "12,5"],
    ["R2", "350000002", "Hôpital Élise Régnier", "chs", "35288", "1 250", "3"],
    ["R3", "", "GEM « L'Éclaircie »", "gem", "01001", "", ""],
]


def write(path: Path, rows: list[list[str]], sep: str = ";", encoding: str = "utf-8") -> Path:
    """Write rows as a spreadsheet program would (no quoting beyond what is needed)."""
    text = "\n".join(sep.join(row) for row in rows) + "\n"
    path.write_bytes(text.encode(encoding))
    return path


def read(name: str, path: Path, **refs):
    result = read_table(name, path, **{**REFS, **refs})
    assert result.n_read == result.n_accepted + result.n_rejected
    assert len(result.data) == result.n_accepted
    rejected_lines = {p.row for p in result.problems
                      if p.severity == Severity.ERREUR and p.row is not None}
    file_errors = [p for p in result.problems if p.severity == Severity.ERREUR and p.row is None]
    assert len(rejected_lines) == result.n_rejected or (file_errors and result.n_accepted == 0)
    return result


def errors(result, column: str | None = None):
    return [p for p in result.problems if p.severity == Severity.ERREUR
            and (column is None or p.column == column)]


@pytest.mark.parametrize("sep", [";", ",", "\t"])
def test_separators_give_the_same_table(tmp_path: Path, sep: str) -> None:
    rows = [RESSOURCES_HEADER] + [[f'"{c}"' if sep in c else c for c in row]
                                  for row in RESSOURCES_ROWS]
    result = read("ressources", write(tmp_path / "ressources.csv", rows, sep=sep))
    assert result.n_read == 3 and result.n_accepted == 3, result.problems
    assert result.data["etp"].tolist()[:2] == [12.5, 3.0]
    assert result.data["capacite_lits"].tolist()[:2] == [40, 1250]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
def test_encodings_keep_accents(tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path / "ressources.csv", [RESSOURCES_HEADER, *RESSOURCES_ROWS],
                 encoding=encoding)
    result = read("ressources", path)
    assert result.n_accepted == 3, result.problems
    assert result.data["nom"].tolist() == [
        "Clinique Sainte-Thérèse", "Hôpital Élise Régnier", "GEM « L'Éclaircie »"]
    assert list(result.data.columns[:2]) == ["id_ressource", "finess"]  # no BOM in the name


def test_longer_cp1252_file_is_detected(tmp_path: Path) -> None:
    rows = [RESSOURCES_HEADER] + [
        [f"R{i}", "", f"Résidence accueil « Les Mûriers » n°{i} à Fougères", "pension_famille",
         "35238", "", ""] for i in range(200)
    ]
    result = read("ressources", write(tmp_path / "ressources.csv", rows, encoding="cp1252"))
    assert result.n_accepted == 200
    assert result.data["nom"].iloc[0] == "Résidence accueil « Les Mûriers » n°0 à Fougères"
    assert not result.problems


def test_decimal_commas_and_thousand_spaces(tmp_path: Path) -> None:
    rows = [["code_territoire", "indicateur", "annee", "numerateur", "denominateur", "valeur"],
            ["35", "densite_cmp", "2023", "1 024", "1\u00a0094\u202f000", ""],
            ["35", "rehospit_15j", "2 023", "", "", "12,75"],
            ["35", "rehospit_15j", "2022", "", "", "1.234,5"]]
    result = read("indicateurs", write(tmp_path / "indicateurs.csv", rows))
    assert result.n_read == 3 and result.n_accepted == 2
    assert result.data.loc[2, "numerateur"] == 1024
    assert result.data.loc[2, "denominateur"] == 1_094_000
    assert result.data.loc[3, "valeur"] == 12.75
    assert result.data.loc[3, "annee"] == 2023
    (bad,) = errors(result)
    assert (bad.row, bad.column, bad.value) == (4, "valeur", "1.234,5")


def test_lost_leading_zeros_are_repaired_and_reported(tmp_path: Path) -> None:
    rows = [RESSOURCES_HEADER,
            ["R1", "10000123", "CMP de Bourg", "cmp_adultes", "1001", "", ""],
            ["R2", "2a0000001", "CMP d'Ajaccio", "cmp_adultes", "2a004", "", ""]]
    result = read("ressources", write(tmp_path / "ressources.csv", rows))
    assert result.n_accepted == 2
    assert result.data["code_commune"].tolist() == ["01001", "2A004"]
    assert result.data["finess"].tolist() == ["010000123", "2A0000001"]
    repairs = {(p.row, p.column, p.value) for p in result.problems
               if p.severity == Severity.REPARATION}
    assert repairs == {(2, "finess", "10000123"), (2, "code_commune", "1001"),
                       (3, "finess", "2a0000001"), (3, "code_commune", "2a004")}


def test_unknown_codes_name_the_value_and_the_allowed_values(tmp_path: Path) -> None:
    rows = [RESSOURCES_HEADER,
            ["R1", "", "CMP", "cmp_adulte", "35238", "", ""],
            ["R2", "", "CMP", "cmp_adultes", "99999", "", ""],
            ["R3", "", "CMP", "cmp_adultes", "35238", "", ""]]
    result = read("ressources", write(tmp_path / "ressources.csv", rows))
    assert (result.n_accepted, result.n_rejected) == (1, 2)
    (type_error,) = errors(result, "type_ressource")
    assert type_error.row == 2 and type_error.value == "cmp_adulte"
    assert "cmp_adultes" in type_error.message  # suggestion
    assert "chs" in type_error.expected and "README" in type_error.expected
    (commune_error,) = errors(result, "code_commune")
    assert commune_error.row == 3 and "99999" in commune_error.message


def test_unknown_vocabulary_value_in_population(tmp_path: Path) -> None:
    rows = [["code_commune", "annee", "tranche_age", "population"],
            ["35238", "2021", "0-17", "41250"],
            ["35238", "2021", "18-65", "150000"]]
    result = read("population", write(tmp_path / "population.csv", rows))
    (bad,) = errors(result)
    assert (bad.row, bad.column, bad.value) == (3, "tranche_age", "18-65")
    assert "0-17" in bad.expected and "65+" in bad.expected


def test_duplicate_ids_are_errors_after_the_first(tmp_path: Path) -> None:
    rows = [RESSOURCES_HEADER,
            ["R1", "350000001", "A", "chs", "35238", "", ""],
            ["R2", "350000001", "B", "chs", "35238", "", ""],
            ["R1", "", "C", "chs", "35238", "", ""],
            ["R1", "", "D", "chs", "35238", "", ""]]
    result = read("ressources", write(tmp_path / "ressources.csv", rows))
    assert result.data["nom"].tolist() == ["A"]
    found = {(p.row, p.column, p.message) for p in errors(result)}
    assert found == {
        (3, "finess", "numéro FINESS déjà présent ligne 2"),
        (4, "id_ressource", "ligne en double : même id_ressource que la ligne 2"),
        (5, "id_ressource", "ligne en double : même id_ressource que la ligne 2"),
    }


def test_missing_required_column_rejects_the_file(tmp_path: Path) -> None:
    rows = [["id_ressource", "nom", "code_comune"], ["R1", "A", "35238"], ["R2", "B", "35238"]]
    result = read("ressources", write(tmp_path / "ressources.csv", rows))
    assert (result.n_read, result.n_accepted, result.n_rejected) == (2, 0, 2)
    missing = {p.column: p for p in errors(result)}
    assert set(missing) == {"type_ressource", "code_commune"}
    assert all(p.row is None for p in missing.values())
    assert "code_comune" in missing["code_commune"].message  # typo pointed out
    assert list(result.data.columns) == TABLES["ressources"].column_names


def test_extra_columns_are_kept_and_reported(tmp_path: Path) -> None:
    rows = [[*RESSOURCES_HEADER, "commentaire"],
            [*RESSOURCES_ROWS[0], "à revoir"], [*RESSOURCES_ROWS[1], ""]]
    result = read("ressources", write(tmp_path / "ressources.csv", rows))
    assert result.n_accepted == 2
    assert result.data["commentaire"].iloc[0] == "à revoir"
    (warning,) = [p for p in result.problems if p.severity == Severity.AVERTISSEMENT]
    assert warning.column == "commentaire" and warning.row is None


def test_header_names_are_normalised_and_reported(tmp_path: Path) -> None:
    rows = [["Code commune", "Année", "Tranche d'âge", "POPULATION"],
            ["35238", "2021", "65+", "30125"]]
    result = read("population", write(tmp_path / "population.csv", rows))
    assert result.n_accepted == 1
    assert list(result.data.columns) == ["code_commune", "annee", "tranche_age", "population"]
    assert {p.value for p in result.problems if p.severity == Severity.REPARATION} == {
        "Code commune", "Année", "Tranche d'âge", "POPULATION"}


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"\xef\xbb\xbf"])
def test_empty_file_is_a_clear_problem(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "population.csv"
    path.write_bytes(content)
    result = read("population", path)
    (problem,) = result.problems
    assert problem.severity == Severity.ERREUR and "vide" in problem.message
    assert (result.n_read, result.n_accepted, result.n_rejected) == (0, 0, 0)


def test_header_only_is_fine(tmp_path: Path) -> None:
    path = write(tmp_path / "population.csv",
                 [["code_commune", "annee", "tranche_age", "population"]])
    result = read("population", path)
    assert not result.problems and result.n_read == 0 and result.data.empty
    assert str(result.data["population"].dtype) == "Int64"


def test_blank_lines_keep_spreadsheet_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "population.csv"
    path.write_text("code_commune;annee;tranche_age;population\n"
                    "35238;2021;0-17;1\n\n;;;\n35238;2021;0-17;2\n", encoding="utf-8")
    result = read("population", path)
    assert result.n_read == 2
    (duplicate,) = errors(result)
    assert duplicate.row == 5 and "ligne 2" in duplicate.message


def test_row_with_too_many_values_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "indicateurs.csv"
    path.write_text("code_territoire,indicateur,annee,valeur\n"
                    "35,densite_cmp,2023,2,5\n35,rehospit_15j,2023,\"12,5\"\n", encoding="utf-8")
    result = read("indicateurs", path)
    assert (result.n_read, result.n_accepted, result.n_rejected) == (2, 1, 1)
    (bad,) = errors(result)
    assert bad.row == 2 and "5 valeurs pour 4 colonnes" in bad.message
    assert result.data["valeur"].tolist() == [12.5]


def test_xlsx_input_with_numbers_typed_by_excel(tmp_path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Feuil1"
    sheet.append(RESSOURCES_HEADER + ["date_maj"])
    sheet.append(["R1", 10000123, "Clinique Sainte-Thérèse", "clinique_psy", 1001, 40, 12.5,
                  pd.Timestamp("2024-06-30").to_pydatetime()])
    sheet.append(["R2", None, "CMP", "cmp_adultes", "35238", 12.0, None, None])
    sheet.append([None] * 8)
    sheet.append(["R3", None, "CMP", "inconnu", "35238", None, None, None])
    path = tmp_path / "ressources.xlsx"
    workbook.save(path)
    result = read("ressources", path)
    assert (result.n_read, result.n_accepted, result.n_rejected) == (3, 2, 1)
    assert result.file == "ressources.xlsx"
    assert result.data["code_commune"].tolist() == ["01001", "35238"]
    assert result.data["finess"].iloc[0] == "010000123"
    assert result.data["capacite_lits"].tolist() == [40, 12]
    assert result.data["etp"].iloc[0] == 12.5
    assert result.data["date_maj"].iloc[0] == "2024-06-30"
    assert errors(result)[0].row == 5  # sheet row, blank row 4 counted


def test_accepted_data_is_typed(tmp_path: Path) -> None:
    rows = [["id_action", "code_territoire", "priorite", "theme", "intitule", "pilote",
             "statut", "date_debut", "date_suivi", "avancement"],
            ["A1", "35", "1", "3", "Former", "CH Exemple", "En cours", "15/01/2024",
             "2024-06-30", "12,5"]]
    result = read("actions", write(tmp_path / "actions.csv", rows))
    data = result.data
    assert str(data["priorite"].dtype) == "Int64"
    assert pd.api.types.is_float_dtype(data["avancement"])
    assert pd.api.types.is_datetime64_dtype(data["date_debut"])
    assert pd.api.types.is_string_dtype(data["code_territoire"])
    assert data["date_debut"].iloc[0] == pd.Timestamp("2024-01-15")
    assert data["date_echeance"].isna().all()  # absent optional column: present, empty
    assert data.index.name == "ligne" and data.index.tolist() == [2]


def test_missing_file_raises_a_french_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="introuvable"):
        read_table("ressources", tmp_path / "absent.csv")


def test_undecodable_bytes_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "population.csv"
    path.write_bytes(b"\xef\xbb\xbfcode_commune;annee;tranche_age;population\n"
                     b"35238;2021;65+;30125\n\xff\xfe;2021;65+;1\n")
    result = read("population", path)
    assert any(p.severity == Severity.AVERTISSEMENT and "illisibles" in p.message
               for p in result.problems)
    assert result.n_read == 2 and result.n_rejected == 1
