"""Validate one table: header, repairs, types, pandera checks, keys, warnings.

:func:`validate_table` works on cells already read (no file access);
:func:`read_table` reads a file and validates it. Every row read is either accepted or
rejected with at least one ERREUR (on its line, or for the whole file).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ptsm_diag.errors import InputError, Problem, Severity, UnknownCodeError
from ptsm_diag.io.sources import rules
from ptsm_diag.io.sources.checks import run_checks
from ptsm_diag.io.sources.parsing import (
    control_character_problems,
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
    UnreadableWorkbookError,
    read_csv_file,
    read_xlsx_sheet,
    unreadable_table,
    xlsx_sheet_names,
)
from ptsm_diag.io.sources.vocab import allowed_values

# Most problems stored per kind (severity, column, expectation); all are counted.
MAX_PROBLEMS_PER_KIND = 1000
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
        The problems of the file, in line order: all of them, or the first ones of each
        kind when there are more than the cap (see :func:`validate_table`).
    n_read, n_accepted, n_rejected : int
        Data rows read (blank lines excluded); ``n_read == n_accepted + n_rejected``.
    kind_counts : Counter
        Exact number of problems per kind (severity, column, expectation).
    """

    table: str
    file: str
    data: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    n_read: int = 0
    n_accepted: int = 0
    n_rejected: int = 0
    kind_counts: Counter[tuple[Severity, str | None, str]] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        if not self.kind_counts and self.problems:  # built by hand: count what is given
            self.kind_counts = Counter((p.severity, p.column, p.expected)
                                       for p in self.problems)

    @property
    def has_errors(self) -> bool:
        """Whether any problem is an ERREUR."""
        return self.count(Severity.ERREUR) > 0

    def count(self, severity: Severity | None = None) -> int:
        """Exact number of problems (of one severity), stored or not."""
        return sum(n for kind, n in self.kind_counts.items()
                   if severity is None or kind[0] == severity)

    @property
    def n_omitted(self) -> int:
        """Problems counted but not stored (over the cap of their kind)."""
        return self.count() - len(self.problems)


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
    name: str,
    raw: RawTable,
    refs: Referentials | None = None,
    max_per_kind: int | None = MAX_PROBLEMS_PER_KIND,
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
    max_per_kind : int or None
        Most problems kept of each kind (same severity, column and expectation), the
        first lines first; every problem is still counted (``TableResult.kind_counts``)
        and rejects its row. None keeps them all.
    """
    spec = get_spec(name)
    refs = refs or Referentials()
    label = raw.label
    n_read = raw.n_records
    log = ProblemLog(max_per_kind)
    if raw.empty:
        log.add(raw.problems)
        return log.result(name, label, empty_table(name), 0, 0, 0)

    raw, first = _match_column_aliases(spec, raw, list(raw.problems))
    log.add(first)
    log.kind_counts.update(raw.omitted)  # malformed rows counted, not described, when read
    header_errors = _header_problems(spec, raw.columns, label)
    if header_errors:
        log.add(header_errors)
        return log.result(name, label, empty_table(name), n_read, 0, n_read)
    known = set(spec.column_names)
    extras = [c for c in raw.columns if c not in known]
    log.add(
        Problem(label, None, c, None, "colonnes du modèle : " + ", ".join(spec.column_names),
                "colonne hors modèle : conservée telle quelle, non vérifiée",
                Severity.AVERTISSEMENT)
        for c in extras
    )

    text = raw.frame.apply(strip_cells) if len(raw.frame.columns) else raw.frame
    log.add(control_character_problems(text, label))
    repaired, found = _repair_cells(spec, text, label, refs)
    log.add(found)
    typed, unreadable = _type_cells(spec, repaired, label, log)
    del repaired, found

    log.add(run_checks(spec, typed, text, label, refs, unreadable))
    log.add(_duplicate_problems(typed, text, spec.key, label))
    for column in spec.unique:
        log.add(_duplicate_problems(typed, text, (column,), label))
    rejected = log.rejected_rows & set(typed.index)
    log.add(rules.warnings(name, typed, label, rejected))

    accepted = rules.finish(name, typed.loc[~typed.index.isin(list(rejected))].copy())
    for column in extras:
        cells = text.loc[accepted.index, column]
        accepted[column] = cells.where(cells != "")
    order = {c: i for i, c in enumerate(raw.columns)}
    log.stored.sort(key=lambda p: (p.row or 0, order.get(p.column or "", -1)))
    n_rejected = len(rejected) + len(raw.bad_lines)
    return log.result(name, label, accepted, n_read, len(accepted), n_rejected)


ProblemKind = tuple[Severity, str | None, str]


@dataclass
class ProblemLog:
    """Problems as they are found: counted exactly by kind, stored up to a cap per kind.

    A kind is (severity, column, expectation): e.g. every unknown resource type. The rows
    with an ERREUR are all remembered (they are rejected), stored or not.
    """

    max_per_kind: int | None = MAX_PROBLEMS_PER_KIND
    stored: list[Problem] = field(default_factory=list)
    kind_counts: Counter[ProblemKind] = field(default_factory=Counter)
    rejected_rows: set[int] = field(default_factory=set)

    def add(self, problems: Iterable[Problem]) -> None:
        """Count, and store while under the cap, each of ``problems``."""
        cap, counts = self.max_per_kind, self.kind_counts
        for problem in problems:
            kind = (problem.severity, problem.column, problem.expected)
            seen = counts[kind]
            counts[kind] = seen + 1
            if problem.severity == Severity.ERREUR and problem.row is not None:
                self.rejected_rows.add(problem.row)
            if cap is None or seen < cap:
                self.stored.append(problem)

    def result(self, name: str, label: str, data: pd.DataFrame, n_read: int,
               n_accepted: int, n_rejected: int) -> TableResult:
        """The :class:`TableResult` holding these problems."""
        return TableResult(name, label, data, self.stored, n_read, n_accepted, n_rejected,
                           kind_counts=self.kind_counts)


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
    spec: TableSpec, repaired: pd.DataFrame, label: str, log: ProblemLog
) -> tuple[pd.DataFrame, set[tuple[int, str]]]:
    """Every column of the spec typed (absent optional columns: all missing); the cells
    that could not be read go to ``log`` and are returned as (line, column)."""
    typed_columns: dict[str, pd.Series] = {}
    unreadable: set[tuple[int, str]] = set()
    absent = pd.Series("", index=repaired.index, dtype=str)
    for col in spec.columns:
        typed_columns[col.name], found = parse_column(repaired.get(col.name, absent), col,
                                                      label)
        log.add(_noting_cells(found, unreadable))
    return pd.DataFrame(typed_columns, index=repaired.index), unreadable


def _noting_cells(problems: Iterable[Problem], cells: set[tuple[int, str]]) -> Iterator[Problem]:
    """``problems`` unchanged, each one's (line, column) added to ``cells`` on the way."""
    for problem in problems:
        cells.add((problem.row, problem.column))
        yield problem


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
    """Read a CSV file, or the sheet of a workbook named after the table.

    A path that cannot be read (broken link, folder, damaged workbook...) gives an empty
    table whose error names the file and says what is wrong.
    """
    suffix = path.suffix.lower()
    if not path.is_file():
        return unreadable_table(path, path.name)
    if suffix in XLSX_SUFFIXES:
        try:
            sheets = xlsx_sheet_names(path)
        except UnreadableWorkbookError as exc:
            return RawTable(path.name, [], pd.DataFrame(), list(exc.problems), empty=True)
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
