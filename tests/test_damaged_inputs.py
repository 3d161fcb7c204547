"""Damaged or hostile input files: each is named with what is wrong, nothing crashes,
nothing is silently lost, and nothing reaches the terminal as a control sequence."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from ptsm_diag.cli import main
from ptsm_diag.errors import Severity
from ptsm_diag.io.sources import read_table, validate_folder

HEADER = "id_ressource;nom;type_ressource;code_commune"


def _row(i: int, name: str | None = None) -> str:
    return f"R{i};{name or f'CMP numéro {i}'};cmp_adultes;35238"


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "donnees"
    folder.mkdir()
    return folder


@pytest.fixture
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A terminal wide enough for rich not to fold the words the tests look for."""
    monkeypatch.setenv("COLUMNS", "400")


def _whole_file_errors(report, label: str) -> list:
    return [p for p in report.problems
            if p.file == label and p.row is None and p.severity == Severity.ERREUR]


# --- item 9: a table name on something that is not a readable file ------------------------


def test_dangling_symlink_named_like_a_table_is_an_error_naming_it(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "ressources.csv").symlink_to(tmp_path / "disparu.csv")
    report = validate_folder(folder)
    errors = _whole_file_errors(report, "ressources.csv")
    assert len(errors) == 1
    assert "lien symbolique cassé" in errors[0].message
    assert "disparu.csv" in errors[0].message
    assert report.has_errors
    assert "Aucune erreur" not in report.conclusion()


def test_directory_named_like_a_table_is_an_error_naming_it(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "ressources.csv").mkdir()
    report = validate_folder(folder)
    errors = _whole_file_errors(report, "ressources.csv")
    assert len(errors) == 1 and "dossier" in errors[0].message
    assert report.counts().set_index("table").loc["ressources", "lues"] == 0


def test_unreadable_table_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    folder = _folder(tmp_path)
    path = folder / "ressources.csv"
    path.write_text(HEADER + "\n" + _row(1) + "\n", encoding="utf-8")
    if os.geteuid() == 0:  # root reads every file: refuse it the way the system would
        read_bytes = Path.read_bytes

        def refused(self: Path) -> bytes:
            if self.name == "ressources.csv":
                raise PermissionError(13, "Permission denied", str(self))
            return read_bytes(self)

        monkeypatch.setattr(Path, "read_bytes", refused)
    path.chmod(0)
    try:
        report = validate_folder(folder)
    finally:
        path.chmod(0o644)
    errors = _whole_file_errors(report, "ressources.csv")
    assert len(errors) == 1 and "droits" in errors[0].message


# --- item 10: damaged workbooks -------------------------------------------------------------


def _good_workbook(path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "ressources"
    sheet.append(HEADER.split(";"))
    for i in range(1, 200):
        sheet.append(_row(i).split(";"))
    workbook.save(path)


def _damage(kind: str, path: Path, tmp_path: Path) -> None:
    if kind == "tronque":
        whole = tmp_path / "entier.xlsx"
        _good_workbook(whole)
        data = whole.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "octets_aleatoires":
        path.write_bytes(bytes((i * 7919 + 13) % 256 for i in range(5000)))
    elif kind == "vide":
        path.write_bytes(b"")
    elif kind == "csv_renomme":
        path.write_text(HEADER + "\n" + _row(1) + "\n", encoding="utf-8")
    elif kind == "mot_de_passe":  # an encrypted OOXML file is an OLE2 (CFB) container
        path.write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + bytes(504)
                         + "EncryptedPackage".encode("utf-16-le") + bytes(1000))
    elif kind == "ole2_sans_chiffrement":
        path.write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + bytes(2000))


DAMAGE = {
    "tronque": "tronqué",
    "octets_aleatoires": "non reconnu",
    "vide": "0 octet",
    "csv_renomme": "fichier texte (CSV ?) renommé",
    "mot_de_passe": "protégé par mot de passe",
    "ole2_sans_chiffrement": "mot de passe",
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_damaged_table_workbook_is_named_with_what_is_wrong(kind: str, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    _damage(kind, folder / "ressources.xlsx", tmp_path)
    report = validate_folder(folder)
    errors = _whole_file_errors(report, "ressources.xlsx")
    assert len(errors) == 1, report.to_french_text()
    assert errors[0].message.startswith("classeur illisible")
    assert DAMAGE[kind] in errors[0].message


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_unrelated_damaged_workbook_is_ignored_with_a_note(kind: str, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "ressources.csv").write_text(
        "\n".join([HEADER, _row(1), _row(2)]) + "\n", encoding="utf-8")
    _damage(kind, folder / "notes.xlsx", tmp_path)
    report = validate_folder(folder)
    assert report.results["ressources"].n_accepted == 2
    notes = [p for p in report.problems if p.file == "notes.xlsx"]
    assert len(notes) == 1 and notes[0].severity == Severity.AVERTISSEMENT
    assert "ignoré" in notes[0].message and DAMAGE[kind] in notes[0].message
    assert not report.has_errors


def test_valider_names_a_damaged_workbook_instead_of_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], wide_terminal: None
) -> None:
    folder = _folder(tmp_path)
    _damage("tronque", folder / "ressources.xlsx", tmp_path)
    assert main(["valider", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "ressources.xlsx" in out and "tronqué" in out
    assert "BadZipFile" not in out


def test_workbook_damaged_inside_a_sheet_is_named(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    path = folder / "ressources.xlsx"
    _good_workbook(path)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    data = bytearray(path.read_bytes())
    name_length = int.from_bytes(data[info.header_offset + 26: info.header_offset + 28], "little")
    extra_length = int.from_bytes(data[info.header_offset + 28: info.header_offset + 30],
                                  "little")
    start = info.header_offset + 30 + name_length + extra_length
    middle = start + info.compress_size // 2
    data[middle: middle + 64] = bytes(64)  # the directory is intact, the sheet is not
    path.write_bytes(bytes(data))
    report = validate_folder(folder)
    errors = _whole_file_errors(report, "ressources.xlsx")
    assert len(errors) == 1 and "endommagé" in errors[0].message


def test_workbook_named_csv_is_named_as_such(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    _good_workbook(folder / "ressources.csv")
    report = validate_folder(folder)
    errors = _whole_file_errors(report, "ressources.csv")
    assert len(errors) == 1 and "classeur (XLSX ou XLS) nommé en .csv" in errors[0].message


# --- item 11: very long fields ----------------------------------------------------------------


def test_a_field_longer_than_the_csv_module_default_is_read(tmp_path: Path) -> None:
    path = tmp_path / "ressources.csv"
    long_name = "x" * 200_000
    path.write_text("\n".join([HEADER, _row(1, long_name), _row(2)]) + "\n", encoding="utf-8")
    result = read_table("ressources", path)
    assert result.n_read == 2 and result.n_accepted == 2
    assert result.data.loc[2, "nom"] == long_name


def test_valider_shows_a_very_long_value_cut_and_does_not_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], wide_terminal: None
) -> None:
    folder = _folder(tmp_path)
    (folder / "ressources.csv").write_text(
        "\n".join([HEADER, f"R1;CMP;{'t' * 200_000};35238"]) + "\n", encoding="utf-8")
    assert main(["valider", str(folder)]) == 1
    out = capsys.readouterr().out
    compact = re.sub(r"[\s│]", "", out)  # the table folds the cell over several lines
    assert "t…(200000caractères)" in compact
    assert len(out) < 20_000


# --- item 12: a quote that is never closed ----------------------------------------------------


def test_unbalanced_quote_names_its_line_and_loses_no_other_row(tmp_path: Path) -> None:
    lines = [HEADER] + [_row(i) for i in range(1, 301)]  # 300 data rows
    lines[4] = 'R4;"CMP du centre;cmp_adultes;35238'  # line 5 of the file
    path = tmp_path / "ressources.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = read_table("ressources", path)
    quote = [p for p in result.problems if "guillemet" in p.message]
    assert len(quote) == 1
    assert quote[0].row == 5 and quote[0].severity == Severity.ERREUR
    assert "ligne 5 :" in quote[0].to_french()
    assert result.n_read == 300
    assert result.n_rejected == 1 and result.n_accepted == 299
    assert 5 not in result.data.index and {4, 6, 301} <= set(result.data.index)


def test_quoted_cells_with_line_breaks_are_not_taken_for_an_unbalanced_quote(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ressources.csv"
    path.write_text("\n".join([HEADER, 'R1;"CMP\nbâtiment B";cmp_adultes;35238', _row(2),
                               'R3;"Le ""Phare""";cmp_adultes;35238']) + "\n",
                    encoding="utf-8")
    result = read_table("ressources", path)
    assert not [p for p in result.problems if "guillemet" in p.message]
    assert result.n_accepted == 3
    assert result.data.loc[2, "nom"] == "CMP\nbâtiment B"
    assert result.data.loc[4, "nom"] == 'Le "Phare"'


def test_line_breaks_in_cells_with_a_trailing_separator_in_the_header(tmp_path: Path) -> None:
    path = tmp_path / "ressources.csv"
    path.write_text("\n".join([HEADER + ";", 'R1;"CMP\nbâtiment B";cmp_adultes;35238',
                               _row(2) + ";"]) + "\n", encoding="utf-8")
    result = read_table("ressources", path)
    assert not [p for p in result.problems if "guillemet" in p.message]
    assert result.n_accepted == 2


def test_unbalanced_quote_closed_by_a_later_quote_is_detected(tmp_path: Path) -> None:
    lines = [HEADER] + [_row(i) for i in range(1, 30)]
    lines[2] = 'R2;"CMP du centre;cmp_adultes;35238'
    lines[20] = 'R20;CMP "Les Pins";cmp_adultes;35238'  # a quote inside a value
    path = tmp_path / "ressources.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = read_table("ressources", path)
    quote = [p for p in result.problems if "guillemet" in p.message]
    assert [p.row for p in quote] == [3]
    assert result.n_read == 29 and result.n_accepted == 28


# --- item 13: wide encodings, NUL bytes, formulas without values ----------------------------


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32"])
def test_wide_encodings_are_read_and_named_as_an_encoding_problem(
    encoding: str, tmp_path: Path
) -> None:
    path = tmp_path / "ressources.csv"
    text = "\n".join([HEADER, _row(1, "Hôpital de jour"), _row(2)]) + "\n"
    path.write_bytes(text.encode(encoding))  # "utf-32" writes a BOM, the others none
    result = read_table("ressources", path)
    assert not [p for p in result.problems if p.severity == Severity.ERREUR]
    assert result.data.loc[2, "nom"] == "Hôpital de jour"
    encoding_notes = [p for p in result.problems if "problème d'encodage" in p.message]
    assert len(encoding_notes) == 1
    assert encoding_notes[0].value.startswith(encoding[:6].upper())


def test_nul_byte_inside_an_id_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "ressources.csv"
    path.write_bytes(("\n".join([HEADER, _row(1).replace("R1", "R\x001"), _row(2)]) + "\n")
                     .encode("utf-8"))
    result = read_table("ressources", path)
    nul = [p for p in result.problems if "caractère nul" in p.message]
    assert len(nul) == 1
    assert (nul[0].row, nul[0].column, nul[0].severity) == \
        (2, "id_ressource", Severity.AVERTISSEMENT)


def test_formula_without_cached_value_is_a_warning(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "ressources"
    sheet.append([*HEADER.split(";"), "capacite_lits"])
    sheet.append([*_row(1).split(";"), 10])
    sheet.append([*_row(2).split(";"), "=E2*2"])  # openpyxl writes no cached value
    workbook.save(folder / "ressources.xlsx")
    report = validate_folder(folder)
    assert report.conclusion() != "Aucun problème : les données sont utilisables."
    formula = [p for p in report.problems if "formule" in p.message]
    assert len(formula) == 1
    assert (formula[0].row, formula[0].column, formula[0].value, formula[0].severity) == \
        (3, "capacite_lits", "=E2*2", Severity.AVERTISSEMENT)


def test_workbook_without_formulas_has_no_formula_warning(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    _good_workbook(folder / "ressources.xlsx")
    with zipfile.ZipFile(folder / "ressources.xlsx") as archive:
        assert not any(b"<f>" in archive.read(n) for n in archive.namelist())
    report = validate_folder(folder)
    assert report.conclusion() == "Aucun problème : les données sont utilisables."


# --- item 5: terminal control sequences -------------------------------------------------------


def test_valider_shows_control_sequences_instead_of_sending_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], wide_terminal: None
) -> None:
    folder = _folder(tmp_path)
    (folder / "ressources.csv").write_text("\n".join([
        HEADER,
        "R1;CMP;type\x1b[2J;35238",
        'R2;CMP;"type\x1b]0;title\x07";35238',
        "R3;CMP;type\x9b31m;35238",
    ]) + "\n", encoding="utf-8")
    assert main(["valider", str(folder)]) == 1
    out = capsys.readouterr().out
    for raw in ("\x1b", "\x07", "\x9b"):
        assert raw not in out
    for shown in ("type\\x1b[2J", "\\x1b]0;title\\x07", "type\\x9b31m"):
        assert shown in out


# --- item 14: many invalid rows -----------------------------------------------------------------


def test_problems_are_capped_per_kind_and_counted_exactly(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    n = 50_000
    with (folder / "ressources.csv").open("w", encoding="utf-8") as out:
        out.write(HEADER + ";capacite_lits\n")
        for i in range(n):
            out.write(f"R{i};CMP {i};type_inconnu;35238;{'beaucoup' if i % 2 else 3}\n")
    report = validate_folder(folder, max_per_kind=20)
    result = report.results["ressources"]
    assert len(result.problems) == 40  # two kinds, 20 each
    kinds = {(column, severity): count
             for (severity, column, _expected), count in result.kind_counts.items()}
    assert kinds == {("type_ressource", Severity.ERREUR): n,
                     ("capacite_lits", Severity.ERREUR): n // 2}
    assert result.n_rejected == n and result.n_accepted == 0
    counts = report.counts().set_index("table").loc["ressources"]
    assert counts["erreurs"] == n + n // 2
    assert report.n_omitted == n + n // 2 - 40
    assert report.conclusion().startswith(f"{n + n // 2} erreur(s)")
    omitted = report.omitted_kinds()
    assert sorted(omitted["total"]) == [n // 2, n]
    assert f"colonne « type_ressource » : {n} problème(s)" in report.to_french_text()
    assert [p.row for p in result.problems if p.column == "type_ressource"] == \
        list(range(2, 22))


def test_malformed_rows_are_counted_exactly_past_the_cap(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    n = 3000
    rows = [_row(i) + ";en trop" for i in range(n)] + [_row(n)]
    (folder / "ressources.csv").write_text("\n".join([HEADER, *rows]) + "\n",
                                           encoding="utf-8")
    report = validate_folder(folder, max_per_kind=50)
    result = report.results["ressources"]
    assert (result.n_read, result.n_rejected, result.n_accepted) == (n + 1, n, 1)
    assert result.count(Severity.ERREUR) == n
    assert len(result.problems) == 50
    assert [p.row for p in result.problems] == list(range(2, 52))
