"""Turn a user's CSV or XLSX file into a table of text cells, whatever its encoding.

Everything is read as text (codes keep their leading zeros); typing happens later, in
:mod:`ptsm_diag.io.sources.parsing`. Each data row keeps its line number as a spreadsheet
shows it (header = line 1), used as the index of the returned frame.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import datetime as dt
import io
import os
import re
import unicodedata
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ptsm_diag.errors import InputError, Problem, Severity

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
XLSX_SUFFIXES = (".xlsx", ".xlsm")
SEPARATORS = (";", ",", "\t")
SEPARATOR_NAMES = {";": "point-virgule", ",": "virgule", "\t": "tabulation"}
# Encodings a French user's file can realistically be in, when it is not UTF-8.
WESTERN_ENCODINGS = ["cp1252", "latin_1", "iso8859_15", "mac_roman", "cp850"]
ACCEPTED_ENCODINGS = {"utf_8", "utf-8", "utf_8_sig", "cp1252", "latin_1", "iso8859_15"}
LINE_INDEX_NAME = "ligne"
# Most malformed rows described one by one while reading (all are counted and rejected).
MAX_READ_PROBLEMS = 1000


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
    omitted : Counter
        Problems counted but not stored, by kind (severity, column, expectation): past
        :data:`MAX_READ_PROBLEMS` malformed rows, only their number is kept.
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
    omitted: Counter[tuple[Severity, str | None, str]] = field(default_factory=Counter)

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

    UTF-32 (with a BOM) and UTF-16 or UTF-32 without a BOM are decoded too, with a warning
    naming the encoding: read as UTF-8 they would give column names such as ``n_o_m``.

    Returns
    -------
    text, encoding, problems
    """
    problems: list[Problem] = []
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="replace"), "utf_8_sig", []
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):  # before UTF-16: FF FE 00 00
        return data.decode("utf-32", errors="replace"), "utf_32", [
            _wide_encoding_problem(label, "UTF-32", bom=True)]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace"), "utf_16", []
    wide = guess_wide_encoding(data)
    if wide is not None:
        name = wide.replace("_", "-").upper().replace("-LE", " (petit-boutiste)") \
            .replace("-BE", " (gros-boutiste)")
        return data.decode(wide, errors="replace"), wide, [
            _wide_encoding_problem(label, name, bom=False)]
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


def guess_wide_encoding(data: bytes, sample: int = 4096) -> str | None:
    """``"utf_16_le"``, ``"utf_16_be"``, ``"utf_32_le"`` or ``"utf_32_be"`` for text saved
    in UTF-16 or UTF-32 without a BOM (recognised by where its zero bytes fall), else None.

    Western text in these encodings has a zero byte next to (almost) every character; a
    UTF-8 or Windows-1252 file has none.
    """
    head = data[: sample - sample % 4]
    if len(head) < 4 or head.count(0) < len(head) // 4:
        return None

    def zero_share(start: int, step: int) -> float:
        part = head[start::step]
        return part.count(0) / max(len(part), 1)

    if len(head) % 4 == 0:
        if min(zero_share(k, 4) for k in (1, 2, 3)) > 0.9:
            return "utf_32_le"
        if min(zero_share(k, 4) for k in (0, 1, 2)) > 0.9:
            return "utf_32_be"
    if zero_share(1, 2) > 0.7 and zero_share(0, 2) < 0.3:
        return "utf_16_le"
    if zero_share(0, 2) > 0.7 and zero_share(1, 2) < 0.3:
        return "utf_16_be"
    return None


def _wide_encoding_problem(label: str, name: str, bom: bool) -> Problem:
    how = "avec" if bom else "sans"
    return Problem(
        label, None, None, name, "UTF-8 (recommandé) ou Windows-1252",
        f"problème d'encodage : fichier enregistré en {name} {how} BOM, lu comme tel ; "
        "enregistrez-le en « CSV UTF-8 » pour éviter toute erreur de lecture",
        Severity.AVERTISSEMENT)


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
    """Split decoded CSV text into a :class:`RawTable` (separator sniffed).

    A quote opened and never closed would swallow every following line into one value:
    such a line is rejected with an error naming it, and the lines after it are read.
    """
    separator = sniff_separator(text)
    _allow_long_fields(len(text))
    quote_problems: list[Problem] = []
    records = _csv_records(text, separator, label, quote_problems)
    table = _rows_to_table(records, label, quote_problems)
    table.separator = separator
    return table


def _allow_long_fields(size: int) -> None:
    """Let the csv module read a field as long as the whole text (default limit: 131,072)."""
    if csv.field_size_limit() < size:
        csv.field_size_limit(min(size + 1, 2**31 - 1))


class _LineFeed:
    """The physical lines of a text, one at a time, keeping those of the current record
    so that they can be read again."""

    def __init__(self, text: str) -> None:
        self._lines = iter(io.StringIO(text, newline=""))
        self.pending: list[str] = []  # lines to give again, last first
        self.taken: list[str] = []  # lines of the record being read

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        line = self.pending.pop() if self.pending else next(self._lines)
        self.taken.append(line)
        return line

    def at_end(self) -> bool:
        """Whether every line has been given."""
        if self.pending:
            return False
        try:
            self.pending.append(next(self._lines))
        except StopIteration:
            return True
        return False


def _csv_records(
    text: str, separator: str, label: str, problems: list[Problem]
) -> Iterator[tuple[int, list[str]]]:
    """(record number, cells) of a CSV text; an unbalanced quote is reported in ``problems``
    as a rejected row ``(number, None)`` and the following lines are read again."""
    feed = _LineFeed(text)
    number, physical, width = 0, 0, 0
    while True:
        reader = csv.reader(feed, delimiter=separator)
        restarted = False
        for row in reader:
            lines, feed.taken = feed.taken, []
            number += 1
            first_line = physical + 1
            physical += len(lines)
            if len(lines) > 1 and _swallowed(row, lines, width, separator, feed.at_end()):
                problems.append(_unbalanced_quote(label, number, first_line, lines))
                yield number, _split_without_quotes(lines[0], separator)
                feed.pending.extend(reversed(lines[1:]))
                physical = first_line
                restarted = True
                break
            if not width and any(cell.strip() for cell in row):
                width = _filled_length(row)  # the header, without trailing empty cells
            yield number, row
        if not restarted:
            return


def _swallowed(row: list[str], lines: list[str], width: int, separator: str,
               at_end: bool) -> bool:
    """Whether a record spanning several lines comes from a quote that was never closed
    (rather than from a cell with line breaks, as a spreadsheet writes them)."""
    if not width or len(row) < width or _filled_length(row) > width:
        return True
    inside = lines[1:] if at_end else lines[1:-1]  # lines wholly inside the quoted value
    return any(line.count(separator) >= max(1, width - 1) for line in inside)


def _filled_length(row: list[str]) -> int:
    """Cells up to the last non-blank one."""
    length = len(row)
    while length and not row[length - 1].strip():
        length -= 1
    return length


def _split_without_quotes(line: str, separator: str) -> list[str]:
    return next(csv.reader([line.rstrip("\r\n")], delimiter=separator,
                           quoting=csv.QUOTE_NONE), [])


def _unbalanced_quote(label: str, number: int, first_line: int, lines: list[str]) -> Problem:
    where = "" if first_line == number else f" (ligne {first_line} du fichier texte)"
    return Problem(
        label, number, None, _shorten([lines[0].rstrip("\r\n")]),
        "des guillemets par paires (\"\" pour un guillemet dans une valeur)",
        f"guillemet ouvert sur cette ligne{where} et jamais refermé : ligne rejetée ; les "
        f"{len(lines) - 1} ligne(s) suivante(s), qu'il aurait avalées, sont lues normalement",
    )


def read_csv_file(path: Path, label: str | None = None) -> RawTable:
    """Read a CSV file of any accepted encoding and separator.

    A file that cannot be read (broken link, folder, no permission) gives an empty table
    with an error naming it.
    """
    label = label or path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        return unreadable_table(path, label, exc)
    if data.startswith((b"PK\x03\x04", OLE2_SIGNATURE)):
        return unreadable_table(path, label, reason=(
            "c'est un classeur (XLSX ou XLS) nommé en .csv : donnez-lui l'extension .xlsx, "
            "ou enregistrez-le au format « CSV UTF-8 » depuis votre tableur"))
    text, encoding, problems = decode_bytes(data, label)
    if "\ufffd" in text:
        problems.append(Problem(
            label, None, None, encoding, "un fichier texte UTF-8 ou Windows-1252 valide",
            "caractères illisibles remplacés par « \ufffd » : vérifiez l'encodage du fichier",
            Severity.AVERTISSEMENT))
    table = read_csv_text(text, label)
    table.encoding = encoding
    table.problems[:0] = problems
    return table


def unreadable_reason(path: Path, error: OSError | None = None) -> str:
    """Why a file cannot be read, in French (broken link, folder, permission...)."""
    if path.is_symlink() and not path.exists():
        return (f"lien symbolique cassé : sa cible « {os.readlink(path)} » n'existe pas "
                "(fichier déplacé, supprimé, ou disque non monté ?)")
    if path.is_dir():
        return "c'est un dossier, pas un fichier : aucune table ne peut y être lue"
    if path.exists() and not path.is_file():
        return "ce n'est pas un fichier ordinaire (périphérique, tube…) : non lu"
    if isinstance(error, PermissionError):
        return "lecture refusée (droits d'accès insuffisants)"
    if isinstance(error, FileNotFoundError) or not path.exists():
        return "fichier introuvable"
    detail = f" ({error.strerror or error})" if error is not None else ""
    return f"fichier illisible{detail}"


def unreadable_table(path: Path, label: str, error: OSError | None = None,
                     reason: str | None = None) -> RawTable:
    """An empty table carrying one ERREUR: this file could not be read."""
    problem = Problem(label, None, None, None, "un fichier lisible (.csv ou .xlsx)",
                      f"table illisible : {reason or unreadable_reason(path, error)}")
    return RawTable(label, [], pd.DataFrame(), [problem], empty=True)


class UnreadableWorkbookError(InputError):
    """A ``.xlsx`` file that is not a readable workbook (``problems[0]`` says why)."""


def damaged_workbook_reason(path: Path, error: BaseException | None = None) -> str:
    """What is wrong with a file that openpyxl cannot open, in French, from its first bytes."""
    try:
        with path.open("rb") as handle:
            head = handle.read(64 * 1024)
    except OSError as exc:
        return unreadable_reason(path, exc)
    if not head:
        return "fichier vide (0 octet)"
    if head.startswith(OLE2_SIGNATURE):
        if "EncryptedPackage".encode("utf-16-le") in head or \
                "EncryptionInfo".encode("utf-16-le") in head:
            return ("protégé par mot de passe (chiffré), ptsm-diag ne peut pas le lire ; "
                    "enregistrez-en une copie sans mot de passe")
        return ("protégé par mot de passe, ou classeur Excel 97-2003 (.xls) renommé en .xlsx ; "
                "enregistrez-en une copie sans mot de passe au format .xlsx")
    if head.startswith(b"PK"):
        return ("tronqué ou endommagé (archive ZIP incomplète ou invalide) ; reprenez une "
                "copie intacte ou réenregistrez-le depuis votre tableur")
    if _looks_like_text(head):
        return ("fichier texte (CSV ?) renommé en .xlsx ; donnez-lui l'extension .csv, ou "
                "ouvrez-le dans votre tableur et enregistrez-le au format .xlsx")
    detail = f" ({type(error).__name__})" if error is not None else ""
    return f"contenu non reconnu, ce n'est pas un classeur XLSX{detail}"


OLE2_SIGNATURE = bytes.fromhex("D0CF11E0A1B11AE1")


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return guess_wide_encoding(head) is not None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut by the sample's end
            text = head.decode("cp1252", errors="replace")
            return sum(c.isprintable() or c in "\r\n\t" for c in text) > 0.95 * len(text)
    return True


def _open_workbook(path: Path, data_only: bool = False):  # openpyxl Workbook
    from openpyxl import load_workbook

    try:
        return load_workbook(path, read_only=True, data_only=data_only)
    except OSError as exc:
        reason = unreadable_reason(path, exc) if not path.is_file() else \
            damaged_workbook_reason(path, exc)
        raise UnreadableWorkbookError([_workbook_problem(path, reason)]) from exc
    except Exception as exc:  # zipfile, XML, openpyxl: the file is not a usable workbook
        raise UnreadableWorkbookError(
            [_workbook_problem(path, damaged_workbook_reason(path, exc))]) from exc


def _workbook_problem(path: Path, reason: str) -> Problem:
    return Problem(path.name, None, None, None, "un classeur .xlsx lisible",
                   f"classeur illisible : {reason}")


def xlsx_sheet_names(path: Path) -> list[str]:
    """Sheet names of a workbook.

    Raises
    ------
    UnreadableWorkbookError
        When the file is not a readable workbook (empty, truncated, password-protected,
        a CSV renamed .xlsx...); its problem names the file and says what is wrong.
    """
    workbook = _open_workbook(path)
    try:
        return list(workbook.sheetnames)
    finally:
        workbook.close()


def read_xlsx_sheet(path: Path, sheet: str, label: str | None = None) -> RawTable:
    """Read one sheet of a workbook (cached formula results, cells as text).

    A formula cell saved without its result (a workbook written by a program, never
    recalculated by a spreadsheet) reads empty: each one is reported as a warning. A
    damaged workbook gives an empty table with an error naming the file.
    """
    label = label or f"{path.name} (feuille « {sheet} »)"
    try:
        formulas = _formula_cells(path, sheet)
        workbook = _open_workbook(path, data_only=True)
    except UnreadableWorkbookError as exc:
        return RawTable(label, [], pd.DataFrame(), [dataclasses.replace(
            exc.problems[0], file=label)], empty=True)
    except Exception as exc:  # a workbook damaged past its directory (bad CRC, XML…)
        return _damaged_table(path, label, exc)
    uncomputed: list[tuple[int, int, str]] = []

    def rows() -> Iterator[tuple[int, list[str]]]:
        for n, row in enumerate(workbook[sheet].iter_rows(values_only=True), start=1):
            for position, formula in formulas.get(n, ()):
                if position < len(row) and row[position] is None:
                    uncomputed.append((n, position, formula))
            yield n, [_cell_text(v) for v in row]

    try:
        table = _rows_to_table(rows(), label)
    except Exception as exc:
        return _damaged_table(path, label, exc)
    finally:
        workbook.close()
    table.problems += _uncomputed_problems(table, uncomputed)
    return table


def _damaged_table(path: Path, label: str, error: Exception) -> RawTable:
    problem = _workbook_problem(path, damaged_workbook_reason(path, error))
    return RawTable(label, [], pd.DataFrame(), [dataclasses.replace(problem, file=label)],
                    empty=True)


def _formula_cells(path: Path, sheet: str) -> dict[int, list[tuple[int, str]]]:
    """{line: [(position, "=formula")]} of a sheet; empty when the workbook has none."""
    try:
        with zipfile.ZipFile(path) as archive:
            has_formula = any(
                _has_formula_tag(archive, name) for name in archive.namelist()
                if name.startswith("xl/worksheets/") and name.endswith(".xml"))
    except (OSError, zipfile.BadZipFile, zlib.error, ValueError):
        has_formula = True  # let the reader say what is wrong
    if not has_formula:
        return {}
    workbook = _open_workbook(path)
    found: dict[int, list[tuple[int, str]]] = {}
    try:
        for n, row in enumerate(workbook[sheet].iter_rows(values_only=True), start=1):
            for position, value in enumerate(row):
                if isinstance(value, str) and value.startswith("="):
                    found.setdefault(n, []).append((position, value))
    finally:
        workbook.close()
    return found


def _has_formula_tag(archive: zipfile.ZipFile, name: str, chunk: int = 1 << 20) -> bool:
    """Whether a sheet's XML holds a formula (``<f>``), read by chunks."""
    tail = b""
    with archive.open(name) as member:
        while block := member.read(chunk):
            if _FORMULA_TAG.search(tail + block):
                return True
            tail = block[-8:]
    return False


_FORMULA_TAG = re.compile(rb"<f[ >/]")


def _uncomputed_problems(table: RawTable, cells: list[tuple[int, int, str]]) -> list[Problem]:
    lines = set(table.frame.index)
    return [
        Problem(table.label, line, table.columns[position], formula,
                "une valeur, ou le classeur ouvert et enregistré dans un tableur (Excel, "
                "LibreOffice) pour calculer ses formules",
                "formule sans valeur calculée : cellule lue vide (classeur écrit par un "
                "programme et jamais recalculé ?)", Severity.AVERTISSEMENT)
        for line, position, formula in cells
        if line in lines and position < len(table.columns)
    ]


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


def _rows_to_table(
    rows: Iterable[tuple[int, list[str]]], label: str, rejected: list[Problem] | None = None
) -> RawTable:
    """Header + data rows → RawTable; blank rows skipped, ragged rows handled.

    ``rejected`` holds problems the reader adds while ``rows`` is consumed: the rows on
    their lines are rejected (counted as malformed).
    """
    problems: list[Problem] = []
    rejected = rejected if rejected is not None else []
    rejected_seen = 0
    iterator: Iterator[tuple[int, list[str]]] = iter(rows)
    header: list[str] | None = None
    header_line = 0
    for number, row in iterator:
        if any(cell.strip() for cell in row):
            header, header_line = row, number
            break
    problems += rejected[rejected_seen:]  # a quote never closed in the header itself
    rejected_seen = len(rejected)
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

    builder = _ColumnBuilder(width)
    bad_lines: list[int] = []
    omitted: Counter[tuple[Severity, str | None, str]] = Counter()
    for number, row in iterator:
        if len(rejected) > rejected_seen and rejected[-1].row == number:
            problems += rejected[rejected_seen:]
            rejected_seen = len(rejected)
            bad_lines.append(number)
            continue
        if len(row) != width:
            if len(row) > width and "".join(row[width:]).strip():
                bad_lines.append(number)
                expected = f"{width} valeurs, comme l'en-tête"
                if len(bad_lines) > MAX_READ_PROBLEMS:  # counted, not stored
                    omitted[(Severity.ERREUR, None, expected)] += 1
                    continue
                problems.append(Problem(
                    label, number, None, _shorten(row), expected,
                    f"ligne de {len(row)} valeurs pour {width} colonnes (séparateur ou "
                    "virgule décimale dans une valeur non entourée de guillemets ?)",
                ))
                continue
            row = row[:width] + [""] * (width - len(row))
        if not "".join(row).strip():
            continue
        builder.add(number, row)
    frame = builder.frame()
    frame.columns = names
    return RawTable(label, names, frame, problems, bad_lines, header_line=header_line,
                    omitted=omitted)


class _ColumnBuilder:
    """Rows → a frame of text columns, converted by chunks so that a large file never
    holds every cell as a separate Python string at once."""

    CHUNK = 50_000

    def __init__(self, width: int) -> None:
        self.width = width
        self.cells: list[list[str]] = [[] for _ in range(width)]
        self.lines: list[int] = []
        self.chunks: list[list[pd.Series]] = [[] for _ in range(width)]

    def add(self, number: int, row: list[str]) -> None:
        self.lines.append(number)
        for position, cells in enumerate(self.cells):
            cells.append(row[position])
        if len(self.cells[0] if self.width else ()) >= self.CHUNK:
            self._flush()

    def _flush(self) -> None:
        for position in range(self.width):
            self.chunks[position].append(pd.Series(self.cells[position], dtype=str))
            self.cells[position] = []

    def frame(self) -> pd.DataFrame:
        self._flush()
        index = pd.Index(self.lines, name=LINE_INDEX_NAME, dtype="int64")
        columns = {}
        for position, chunks in enumerate(self.chunks):
            column = pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
            columns[position] = column.set_axis(index)
        return pd.DataFrame(columns, index=index)


def _shorten(row: list[str], limit: int = 80) -> str:
    text = " | ".join(row)
    return text if len(text) <= limit else text[: limit - 1] + "…"
