"""Validate one table: header, repairs, types, pandera checks, keys, warnings.

:func:`validate_table` works on cells already read (no file access);
:func:`read_table` reads a file and validates it. Every row read is either accepted or
rejected with at least one ERREUR (on its line, or for the whole file).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ptsm_diag.errors import InputError, Problem, Severity, UnknownCodeError
from ptsm_diag.io.sources import rules
from ptsm_diag.io.sources.checks import run_checks
from ptsm_diag.io.sources.parsing import (
    parse_column,
    repair_column,
    repair_vocabulary,
    strip_cells,
)
from ptsm_diag.io.sources.referentials import Referentials, bundled_referentials
from ptsm_diag.io.sources.schemas import TABLES, TableSpec
from ptsm_diag.io.sources.tabular import (
    CSV_SUFFIXES,
    LINE_INDEX_NAME,
    XLSX_SUFFIXES,
    RawTable,
    read_csv_file,
    read_xlsx_sheet,
    xlsx_sheet_names,
)
from ptsm_diag.io.sources.vocab import allowed_values

# Sheets of a workbook that never hold a table.
NON_TABLE_SHEETS = frozenset({"lisez-moi", "lisez_moi", "lisezmoi", "listes", "readme"})


@dataclass
class TableResult:
    """A validated table.

    Attributes
    ----------
    table : str
        Table name (``ressources``...).
    file : str
        File name as the user knows it.
    data : DataFrame
        Accepted rows, typed (Int64, float64, datetime64, text), indexed by line number
        (``ligne``); every column of the template, then the extra columns as text.
    problems : list of Problem
        Every problem of the file, in line order.
    n_read, n_accepted, n_rejected : int
        Data rows read (blank lines excluded); ``n_read == n_accepted + n_rejected``.
    """

    table: str
    file: str
    data: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    n_read: int = 0
    n_accepted: int = 0
    n_rejected: int = 0

    @property
    def has_errors(self) -> bool:
        """Whether any problem is an ERREUR."""
        return any(p.severity == Severity.ERREUR for p in self.problems)


def get_spec(name: str) -> TableSpec:
    """The spec of a table; UnknownCodeError naming the known tables otherwise."""
    if name not in TABLES:
        raise UnknownCodeError("de table", [name], "Tables connues : " + ", ".join(TABLES) + ".")
    return TABLES[name]


def empty_table(name: str) -> pd.DataFrame:
    """A typed table with no rows (the columns and dtypes of accepted data)."""
    spec = get_spec(name)
    index = pd.Index([], name=LINE_INDEX_NAME, dtype="int64")
    empty = pd.Series([], index=index, dtype=str)
    return pd.DataFrame({c.name: parse_column(empty, c, "")[0] for c in spec.columns},
                        index=index)


def validate_table(
    name: str, raw: RawTable, refs: Referentials | None = None
) -> TableResult:
    """Validate the cells of one table (pure: no file is read).

    Parameters
    ----------
    name : str
        Table name, a key of :data:`~ptsm_diag.io.sources.schemas.TABLES`.
    raw : RawTable
        Cells as read (see :mod:`.tabular`).
    refs : Referentials, optional
        Known codes; by default nothing is checked against a referential.
    """
    spec = get_spec(name)
    refs = refs or Referentials()
    label = raw.label
    problems = list(raw.problems)
    n_read = raw.n_records
    if raw.empty:
        return TableResult(name, label, empty_table(name), problems, 0, 0, 0)

    raw, problems = _match_column_aliases(spec, raw, problems)
    header_errors = _header_problems(spec, raw.columns, label)
    if header_errors:
        return TableResult(name, label, empty_table(name), problems + header_errors,
                           n_read, 0, n_read)
    known = set(spec.column_names)
    extras = [c for c in raw.columns if c not in known]
    problems += [
        Problem(label, None, c, None, "colonnes du modèle : " + ", ".join(spec.column_names),
                "colonne hors modèle : conservée telle quelle, non vérifiée",
                Severity.AVERTISSEMENT)
        for c in extras
    ]

    text = raw.frame.apply(strip_cells) if len(raw.frame.columns) else raw.frame
    repaired, found = _repair_cells(spec, text, label, refs)
    problems += found
    typed, found = _type_cells(spec, repaired, label)
    problems += found
    unreadable = {(p.row, p.column) for p in found}

    problems += run_checks(spec, typed, text, label, refs, unreadable)
    problems += _duplicate_problems(typed, text, spec.key, label)
    for column in spec.unique:
        problems += _duplicate_problems(typed, text, (column,), label)
    rejected = {p.row for p in problems if p.severity == Severity.ERREUR and p.row is not None}
    rejected &= set(typed.index)
    problems += rules.warnings(name, typed, label, rejected)

    accepted = rules.finish(name, typed.loc[~typed.index.isin(list(rejected))].copy())
    for column in extras:
        cells = text.loc[accepted.index, column]
        accepted[column] = cells.where(cells != "")
    order = {c: i for i, c in enumerate(raw.columns)}
    problems.sort(key=lambda p: (p.row or 0, order.get(p.column or "", -1)))
    n_rejected = len(rejected) + len(raw.bad_lines)
    return TableResult(name, label, accepted, problems, n_read, len(accepted), n_rejected)


def _repair_cells(
    spec: TableSpec, text: pd.DataFrame, label: str, refs: Referentials
) -> tuple[pd.DataFrame, list[Problem]]:
    """Documented repairs: codes that lost a zero, vocabulary spelling, codes by level."""
    repaired = text.copy()
    problems: list[Problem] = []
    for col in spec.columns:
        if col.name not in repaired:
            continue
        if col.repair:
            repaired[col.name], found = repair_column(
                repaired[col.name], col.repair, label, col.name, refs.communes)
            problems += found
        if col.vocabulary and col.kind == "code":
            repaired[col.name], found = repair_vocabulary(
                repaired[col.name], allowed_values(col.vocabulary), label, col.name)
            problems += found
    repaired, found = rules.prepare(spec.name, repaired, label, refs)
    return repaired, problems + found


def _type_cells(
    spec: TableSpec, repaired: pd.DataFrame, label: str
) -> tuple[pd.DataFrame, list[Problem]]:
    """Every column of the spec typed (absent optional columns: all missing)."""
    typed_columns: dict[str, pd.Series] = {}
    problems: list[Problem] = []
    absent = pd.Series("", index=repaired.index, dtype=str)
    for col in spec.columns:
        typed_columns[col.name], found = parse_column(repaired.get(col.name, absent), col,
                                                      label)
        problems += found
    return pd.DataFrame(typed_columns, index=repaired.index), problems


_FILLER_WORDS = frozenset({"d", "de", "du", "des", "l", "la", "le", "les", "en"})


def _match_column_aliases(
    spec: TableSpec, raw: RawTable, problems: list[Problem]
) -> tuple[RawTable, list[Problem]]:
    """``tranche_d_age`` → ``tranche_age``: unknown names that match once small words go."""
    known = set(spec.column_names)
    renames = {}
    for name in raw.columns:
        if name in known:
            continue
        short = "_".join(w for w in name.split("_") if w not in _FILLER_WORDS)
        if short in known and short not in raw.columns:
            renames[name] = short
    if not renames:
        return raw, problems
    header_line = raw.header_line
    originals = {p.column: p.value for p in problems
                 if p.severity == Severity.REPARATION and p.column in renames}
    problems = [p for p in problems if not (p.severity == Severity.REPARATION
                                            and p.column in renames and p.row == header_line)]
    for old, new in renames.items():
        original = originals.get(old, old)
        problems.append(Problem(raw.label, header_line, new, original, f"nom de colonne « {new} »",
                                f"en-tête « {original} » lu comme « {new} »",
                                Severity.REPARATION))
    columns = [renames.get(c, c) for c in raw.columns]
    frame = raw.frame.set_axis(columns, axis=1)
    return dataclasses.replace(raw, columns=columns, frame=frame), problems


def _header_problems(spec: TableSpec, columns: Sequence[str], label: str) -> list[Problem]:
    """Duplicate or missing required columns: the whole file is rejected."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            problems.append(Problem(label, None, column, column, "chaque colonne une seule fois",
                                    "colonne en double dans l'en-tête : fichier rejeté"))
        seen.add(column)
    read = ", ".join(columns) or "aucune"
    for column in spec.required_columns:
        if column not in seen:
            close = difflib.get_close_matches(column, [c for c in columns
                                                       if c not in spec.column_names], n=1)
            hint = f" (une colonne « {close[0]} » est présente : faute de frappe ?)" if close \
                else ""
            problems.append(Problem(
                label, None, column, None,
                f"colonne « {column} » dans l'en-tête (colonnes lues : {read})",
                f"colonne obligatoire absente{hint} : aucune ligne du fichier n'est acceptée",
            ))
    return problems


def _duplicate_problems(
    typed: pd.DataFrame, text: pd.DataFrame, key: Sequence[str], label: str
) -> list[Problem]:
    """An ERREUR on each line whose key repeats an earlier line (naming that line)."""
    keyed = typed[list(key)]
    keyed = keyed[keyed.notna().all(axis=1)]
    duplicated = keyed.duplicated(keep="first")
    if not duplicated.any():
        return []
    lines = pd.Series(keyed.index, index=keyed.index)
    first = lines.groupby([keyed[c] for c in key], sort=False).transform("first")
    what = " + ".join(key)
    column = key[0] if len(key) == 1 else None
    if key == ("finess",):
        message, expected = "numéro FINESS déjà présent ligne {}", "un numéro FINESS par ligne"
    else:
        message = f"ligne en double : même {what} que la ligne {{}}"
        expected = f"une seule ligne par {what}"
    return [
        Problem(label, int(line), column,
                " ; ".join(f"{c}={text.at[line, c]}" for c in key) if column is None
                else str(text.at[line, column]),
                expected, message.format(int(first[line])))
        for line in keyed.index[duplicated]
    ]


# --- file entry point ---------------------------------------------------------------------


def resolve_referentials(**given: Collection[str] | None) -> Referentials:
    """The bundled referentials, overridden by ``given`` (None disables a check)."""
    return bundled_referentials().with_(**given)


def read_raw(path: Path, name: str) -> RawTable:
    """Read a CSV file, or the sheet of a workbook named after the table."""
    suffix = path.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        sheets = xlsx_sheet_names(path)
        named = [s for s in sheets if s.strip().lower() == name]
        candidates = named or [s for s in sheets if s.strip().lower() not in NON_TABLE_SHEETS]
        if len(candidates) != 1:
            problem = Problem(
                path.name, None, None, ", ".join(sheets),
                f"une feuille nommée « {name} »",
                "impossible de choisir la feuille à lire dans ce classeur")
            return RawTable(path.name, [], pd.DataFrame(), [problem], empty=True)
        return read_xlsx_sheet(path, candidates[0],
                               path.name if len(sheets) == 1 else None)
    if suffix in CSV_SUFFIXES:
        return read_csv_file(path)
    problem = Problem(path.name, None, None, path.suffix, "un fichier .csv ou .xlsx",
                      "format de fichier non pris en charge (enregistrez-le en CSV ou XLSX)")
    return RawTable(path.name, [], pd.DataFrame(), [problem], empty=True)


def read_table(name: str, path: str | Path, **referentials: Collection[str] | None) -> TableResult:
    """Read and validate one input file.

    Parameters
    ----------
    name : str
        Table name: territoires, population, ressources, indicateurs, actions, cibles.
    path : path
        A CSV file (any accepted encoding and separator) or an XLSX workbook (the sheet
        named after the table, or its only sheet).
    **referentials
        Known codes, by name: ``communes``, ``departements``, ``regions``, ``indicators``,
        ``territories``, ``proportions`` (see :class:`.Referentials`). Those not given come
        from the bundled geography and indicator catalogue (``territories``: not checked);
        pass None to skip a check.

    Returns
    -------
    TableResult
        Accepted rows, problems and counts. Errors are reported, not raised.

    Raises
    ------
    InputError
        When the file does not exist.
    """
    get_spec(name)
    path = Path(path)
    if not path.is_file():
        raise InputError([Problem(path.name, None, None, str(path), "un fichier existant",
                                  "fichier introuvable")])
    return validate_table(name, read_raw(path, name), resolve_referentials(**referentials))
