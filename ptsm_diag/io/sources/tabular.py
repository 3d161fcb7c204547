"""Turn a user's CSV or XLSX file into a table of text cells, whatever its encoding.

Everything is read as text (codes keep their leading zeros); typing happens later, in
:mod:`ptsm_diag.io.sources.parsing`. Each data row keeps its line number as a spreadsheet
shows it (header = line 1), used as the index of the returned frame.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ptsm_diag.errors import Problem, Severity

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
XLSX_SUFFIXES = (".xlsx", ".xlsm")
SEPARATORS = (";", ",", "\t")
SEPARATOR_NAMES = {";": "point-virgule", ",": "virgule", "\t": "tabulation"}
# Encodings a French user's file can realistically be in, when it is not UTF-8.
WESTERN_ENCODINGS = ["cp1252", "latin_1", "iso8859_15", "mac_roman", "cp850"]
ACCEPTED_ENCODINGS = {"utf_8", "utf-8", "utf_8_sig", "cp1252", "latin_1", "iso8859_15"}
LINE_INDEX_NAME = "ligne"


@dataclass
class RawTable:
    """A file's cells as text, before any check.

    Attributes
    ----------
    label : str
        File name as the user knows it (with the sheet for a workbook).
    columns : list of str
        Normalised column names (see :func:`normalize_column_name`).
    frame : DataFrame
        Text cells (``""`` when empty), indexed by line number (``ligne``).
    problems : list of Problem
        Problems met while decoding (header, malformed rows, encoding).
    bad_lines : list of int
        Lines that could not be split into cells; read, and rejected.
    empty : bool
        True when the file holds no header at all.
    encoding, separator : str or None
        What was detected (None for XLSX).
    header_line : int
        Line of the header (the first non-blank line).
    """

    label: str
    columns: list[str]
    frame: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    bad_lines: list[int] = field(default_factory=list)
    empty: bool = False
    encoding: str | None = None
    separator: str | None = None
    header_line: int = 1

    @property
    def n_records(self) -> int:
        """Data rows read (blank lines excluded), including malformed ones."""
        return len(self.frame) + len(self.bad_lines)


def normalize_column_name(name: str) -> str:
    """``"Capacité lits "`` → ``"capacite_lits"``: lower case, no accents, ``_`` separators."""
    text = unicodedata.normalize("NFKD", str(name).replace("\ufeff", ""))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def decode_bytes(data: bytes, label: str) -> tuple[str, str, list[Problem]]:
    """Decode a text file: UTF-8 (with or without BOM), UTF-16 with BOM, else Western.

    Returns
    -------
    text, encoding, problems
    """
    problems: list[Problem] = []
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="replace"), "utf_8_sig", []
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace"), "utf_16", []
    try:
        return data.decode("utf-8"), "utf_8", []
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=WESTERN_ENCODINGS).best()
    encoding = best.encoding if best is not None else "cp1252"
    text = data.decode(encoding, errors="replace")
    if encoding not in ACCEPTED_ENCODINGS:
        problems.append(Problem(
            label, None, None, encoding,
            "UTF-8 (recommandé) ou Windows-1252 / Latin-1",
            f"encodage inhabituel détecté ({encoding}) : vérifiez que les accents sont "
            "correctement lus",
            Severity.AVERTISSEMENT,
        ))
    return text, encoding, problems


def sniff_separator(text: str) -> str:
    """The separator of the first non-blank line (the header): ``;``, ``,`` or tab."""
    for line in text.splitlines():
        if line.strip():
            counts = {sep: _count_outside_quotes(line, sep) for sep in SEPARATORS}
            best = max(SEPARATORS, key=lambda sep: counts[sep])  # ties → ";" first
            return best if counts[best] > 0 else ";"
    return ";"


def _count_outside_quotes(line: str, sep: str) -> int:
    count, quoted = 0, False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == sep and not quoted:
            count += 1
    return count


def read_csv_text(text: str, label: str) -> RawTable:
    """Split decoded CSV text into a :class:`RawTable` (separator sniffed)."""
    separator = sniff_separator(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    table = _rows_to_table(((n, row) for n, row in enumerate(reader, start=1)), label)
    table.separator = separator
    return table


def read_csv_file(path: Path, label: str | None = None) -> RawTable:
    """Read a CSV file of any accepted encoding and separator."""
    label = label or path.name
    text, encoding, problems = decode_bytes(path.read_bytes(), label)
    if "\ufffd" in text:
        problems.append(Problem(
            label, None, None, encoding, "un fichier texte UTF-8 ou Windows-1252 valide",
            "caractères illisibles remplacés par « \ufffd » : vérifiez l'encodage du fichier",
            Severity.AVERTISSEMENT))
    table = read_csv_text(text, label)
    table.encoding = encoding
    table.problems[:0] = problems
    return table


def xlsx_sheet_names(path: Path) -> list[str]:
    """Sheet names of a workbook."""
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True)
    try:
        return list(workbook.sheetnames)
    finally:
        workbook.close()


def read_xlsx_sheet(path: Path, sheet: str, label: str | None = None) -> RawTable:
    """Read one sheet of a workbook (cached formula results, cells as text)."""
    from openpyxl import load_workbook

    label = label or f"{path.name} (feuille « {sheet} »)"
    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = (
            (n, [_cell_text(v) for v in row])
            for n, row in enumerate(workbook[sheet].iter_rows(values_only=True), start=1)
        )
        return _rows_to_table(rows, label)
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    """An XLSX cell as the text a user sees: 1001.0 → "1001", dates → AAAA-MM-JJ."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "VRAI" if value else "FAUX"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _rows_to_table(rows: Iterable[tuple[int, list[str]]], label: str) -> RawTable:
    """Header + data rows → RawTable; blank rows skipped, ragged rows handled."""
    problems: list[Problem] = []
    iterator: Iterator[tuple[int, list[str]]] = iter(rows)
    header: list[str] | None = None
    header_line = 0
    for number, row in iterator:
        if any(cell.strip() for cell in row):
            header, header_line = row, number
            break
    if header is None:
        problem = Problem(
            label, None, None, None, "une ligne d'en-tête avec les noms des colonnes",
            "fichier vide : aucune ligne d'en-tête", Severity.ERREUR,
        )
        return RawTable(label, [], pd.DataFrame(), [problem], empty=True)

    raw_names = [cell.strip().replace("\ufeff", "") for cell in header]
    while raw_names and not raw_names[-1]:
        raw_names.pop()  # "a;b;c;" → trailing empty header cells
    width = len(raw_names)
    names: list[str] = []
    for position, raw in enumerate(raw_names, start=1):
        name = normalize_column_name(raw) or f"colonne_{position}"
        if name != raw:
            problems.append(Problem(
                label, header_line, name, raw, f"nom de colonne « {name} »",
                f"en-tête « {raw} » lu comme « {name} »", Severity.REPARATION,
            ))
        names.append(name)

    kept: list[list[str]] = []
    lines: list[int] = []
    bad_lines: list[int] = []
    for number, row in iterator:
        if len(row) != width:
            if len(row) > width and "".join(row[width:]).strip():
                bad_lines.append(number)
                problems.append(Problem(
                    label, number, None, _shorten(row), f"{width} valeurs, comme l'en-tête",
                    f"ligne de {len(row)} valeurs pour {width} colonnes (séparateur ou "
                    "virgule décimale dans une valeur non entourée de guillemets ?)",
                ))
                continue
            row = row[:width] + [""] * (width - len(row))
        if not "".join(row).strip():
            continue
        kept.append(row)
        lines.append(number)
    index = pd.Index(lines, name=LINE_INDEX_NAME, dtype="int64")
    columns = list(zip(*kept, strict=True)) if kept else [()] * width
    frame = pd.DataFrame(
        {position: pd.Series(list(values), index=index, dtype=str)
         for position, values in enumerate(columns)},
        index=index,
    )
    frame.columns = names
    return RawTable(label, names, frame, problems, bad_lines, header_line=header_line)


def _shorten(row: list[str], limit: int = 80) -> str:
    text = " | ".join(row)
    return text if len(text) <= limit else text[: limit - 1] + "…"
