"""A data folder: find the table files, validate them all, check them against each other.

Nothing is ever written into the folder.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ptsm_diag.errors import InputError, Problem, Severity
from ptsm_diag.io.sources.referentials import Referentials
from ptsm_diag.io.sources.schemas import TABLES
from ptsm_diag.io.sources.tabular import (
    CSV_SUFFIXES,
    XLSX_SUFFIXES,
    UnreadableWorkbookError,
    normalize_column_name,
    read_xlsx_sheet,
    xlsx_sheet_names,
)
from ptsm_diag.io.sources.validate import (
    MAX_PROBLEMS_PER_KIND,
    NON_TABLE_SHEETS,
    TableResult,
    read_raw,
    resolve_referentials,
    validate_table,
)

UNSUPPORTED_SUFFIXES = (".xls", ".ods", ".xlsb", ".numbers")
# Tables whose code_territoire is checked against the territoires table.
TERRITORY_TABLES = ("indicateurs", "actions", "cibles")
PROBLEM_COLUMNS = ["fichier", "ligne", "colonne", "valeur", "attendu", "message", "gravite"]
COUNT_COLUMNS = ["table", "fichier", "lues", "acceptees", "rejetees",
                 "erreurs", "avertissements", "reparations"]


@dataclass(frozen=True)
class TableSource:
    """Where a table is read from: a file, or one sheet of a workbook."""

    path: Path
    sheet: str | None = None

    @property
    def label(self) -> str:
        """The name a user recognises."""
        return self.path.name if self.sheet is None else \
            f"{self.path.name} (feuille « {self.sheet} »)"


@dataclass
class ValidationReport:
    """Every problem of every file of a folder, with counts per file.

    Attributes
    ----------
    folder : Path
        The folder checked.
    results : dict of str to TableResult
        One result per table found, in table order.
    folder_problems : list of Problem
        Problems about the folder itself (missing or doubled files...).
    """

    folder: Path
    results: dict[str, TableResult] = field(default_factory=dict)
    folder_problems: list[Problem] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        """Folder problems, then each file's problems."""
        out = list(self.folder_problems)
        for result in self.results.values():
            out += result.problems
        return out

    @property
    def has_errors(self) -> bool:
        """Whether any problem is an ERREUR."""
        return self.count(Severity.ERREUR) > 0

    def count(self, severity: Severity | None = None) -> int:
        """Exact number of problems (of one severity), including those not stored."""
        folder = sum(1 for p in self.folder_problems
                     if severity is None or p.severity == severity)
        return folder + sum(r.count(severity) for r in self.results.values())

    @property
    def n_omitted(self) -> int:
        """Problems counted but not stored (over the cap of their kind)."""
        return sum(r.n_omitted for r in self.results.values())

    def omitted_kinds(self) -> pd.DataFrame:
        """Kinds of problems with some not stored: fichier, gravite, colonne, attendu,
        total (exact), conserves (stored)."""
        rows = []
        for result in self.results.values():
            stored = Counter((p.severity, p.column, p.expected) for p in result.problems)
            for (severity, column, expected), total in result.kind_counts.items():
                if total > stored[(severity, column, expected)]:
                    rows.append({"fichier": result.file, "gravite": str(severity),
                                 "colonne": column, "attendu": expected, "total": total,
                                 "conserves": stored[(severity, column, expected)]})
        return pd.DataFrame(rows, columns=["fichier", "gravite", "colonne", "attendu",
                                           "total", "conserves"])

    def counts(self) -> pd.DataFrame:
        """Per file: rows read, accepted, rejected, and problems by severity (exact)."""
        rows = []
        for name, result in self.results.items():
            rows.append({
                "table": name, "fichier": result.file, "lues": result.n_read,
                "acceptees": result.n_accepted, "rejetees": result.n_rejected,
                "erreurs": result.count(Severity.ERREUR),
                "avertissements": result.count(Severity.AVERTISSEMENT),
                "reparations": result.count(Severity.REPARATION),
            })
        return pd.DataFrame(rows, columns=COUNT_COLUMNS)

    def to_frame(self) -> pd.DataFrame:
        """Every problem as a row: fichier, ligne, colonne, valeur, attendu, message, gravite."""
        frame = pd.DataFrame([p.as_dict() for p in self.problems], columns=PROBLEM_COLUMNS)
        frame["ligne"] = frame["ligne"].astype("Int64")
        return frame

    def conclusion(self) -> str:
        """One French sentence saying whether the data can be used."""
        errors = self.count(Severity.ERREUR)
        warnings = self.count(Severity.AVERTISSEMENT)
        repairs = self.count(Severity.REPARATION)
        rejected = sum(r.n_rejected for r in self.results.values())
        if errors:
            return (f"{errors} erreur(s) à corriger ({rejected} ligne(s) rejetée(s)) ; "
                    f"{warnings} avertissement(s), {repairs} réparation(s). Les données ne "
                    "peuvent pas être utilisées telles quelles : corrigez les erreurs puis "
                    "relancez la vérification.")
        if warnings or repairs:
            return (f"Aucune erreur : les données sont utilisables. {warnings} "
                    f"avertissement(s) à examiner, {repairs} réparation(s) appliquée(s) "
                    "automatiquement (vos fichiers ne sont pas modifiés).")
        return "Aucun problème : les données sont utilisables."

    def to_french_text(self) -> str:
        """The whole report as French text (counts, problems, conclusion)."""
        lines = [f"Vérification du dossier {self.folder}"]
        for row in self.counts().itertuples(index=False):
            lines.append(f"- {row.fichier} : {row.lues} ligne(s) lue(s), {row.acceptees} "
                         f"acceptée(s), {row.rejetees} rejetée(s)")
        if self.problems:
            lines.append("")
            lines += [p.to_french() for p in self.problems]
        for row in self.omitted_kinds().itertuples(index=False):
            lines.append(f"… {row.fichier}, colonne « {row.colonne or '-'} » : {row.total} "
                         f"problème(s) « {row.gravite} » de cette sorte, les {row.conserves} "
                         "premiers listés ci-dessus")
        lines += ["", self.conclusion()]
        return "\n".join(lines)


@dataclass
class DataFolder:
    """The accepted rows of every table of a folder (None for an absent table)."""

    path: Path
    territoires: pd.DataFrame | None = None
    population: pd.DataFrame | None = None
    ressources: pd.DataFrame | None = None
    indicateurs: pd.DataFrame | None = None
    actions: pd.DataFrame | None = None
    cibles: pd.DataFrame | None = None
    partenariats: pd.DataFrame | None = None
    references_nationales: pd.DataFrame | None = None
    population_nationale: pd.DataFrame | None = None
    contexte: pd.DataFrame | None = None
    problems: list[Problem] = field(default_factory=list)
    counts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=COUNT_COLUMNS))

    def table(self, name: str) -> pd.DataFrame | None:
        """One table by name."""
        if name not in TABLES:
            raise KeyError(name)
        return getattr(self, name)


def discover(folder: Path) -> tuple[dict[str, list[TableSource]], list[Problem]]:
    """The sources of each table in a folder, and problems with the folder's files."""
    found: dict[str, list[TableSource]] = {name: [] for name in TABLES}
    problems: list[Problem] = []
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith((".", "~$")))
    for path in entries:
        stem, suffix = normalize_column_name(path.stem), path.suffix.lower()
        if not path.is_file():
            # A table's name on a folder or a broken link is read, and reported unreadable.
            if stem in TABLES and (suffix in CSV_SUFFIXES or suffix in XLSX_SUFFIXES):
                found[stem].append(TableSource(path))
            continue
        if stem in TABLES:
            if suffix in CSV_SUFFIXES or suffix in XLSX_SUFFIXES:
                found[stem].append(TableSource(path))
            elif suffix in UNSUPPORTED_SUFFIXES:
                problems.append(Problem(
                    path.name, None, None, path.suffix, "un fichier .csv ou .xlsx",
                    "format non pris en charge : enregistrez ce fichier en CSV ou XLSX"))
            continue
        if suffix in XLSX_SUFFIXES:
            try:
                sheets = xlsx_sheet_names(path)
            except UnreadableWorkbookError as exc:  # not a table: noted, not fatal
                reason = exc.problems[0].message
                problems.append(_ignored(path.name, f"fichier non reconnu, ignoré ({reason})"))
                continue
            for sheet in sheets:
                key = normalize_column_name(sheet)
                if key in TABLES:
                    found[key].append(TableSource(path, sheet))
                elif sheet.strip().lower() not in NON_TABLE_SHEETS:
                    problems.append(_ignored(f"{path.name} (feuille « {sheet} »)"))
        elif suffix in CSV_SUFFIXES[:2] or suffix in UNSUPPORTED_SUFFIXES:
            problems.append(_ignored(path.name))
    for sources in found.values():  # a table's own file first, CSV before XLSX
        sources.sort(key=lambda s: (s.sheet is not None, s.path.suffix.lower() != ".csv",
                                    s.path.name))
    return found, problems


def _ignored(label: str, message: str = "fichier ou feuille non reconnu, ignoré") -> Problem:
    return Problem(label, None, None, None,
                   "un nom de table : " + ", ".join(TABLES) + " (ex. ressources.csv)",
                   message, Severity.AVERTISSEMENT)


def _read_source(name: str, source: TableSource, refs: Referentials,
                 max_per_kind: int | None = MAX_PROBLEMS_PER_KIND) -> TableResult:
    raw = read_raw(source.path, name) if source.sheet is None else \
        read_xlsx_sheet(source.path, source.sheet, source.label)
    return validate_table(name, raw, refs, max_per_kind)


def validate_folder(
    path: str | Path,
    *,
    max_per_kind: int | None = MAX_PROBLEMS_PER_KIND,
    **referentials: Collection[str] | None,
) -> ValidationReport:
    """Check every table file of a folder and report every problem at once.

    Parameters
    ----------
    path : path
        The data folder (``territoires.csv``, ``ressources.xlsx``, or a workbook whose
        sheets are named after the tables...).
    max_per_kind : int or None
        Most problems stored per kind and file (see :func:`.validate_table`); every
        problem is counted. None stores them all.
    **referentials
        As for :func:`~ptsm_diag.io.sources.read_table`; ``territories`` defaults to the
        territory codes accepted in the folder's ``territoires`` table.

    Raises
    ------
    InputError
        When the folder does not exist.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise InputError([Problem(str(folder), None, None, str(folder), "un dossier existant",
                                  "dossier de données introuvable")])
    refs = resolve_referentials(**referentials)
    sources, problems = discover(folder)
    report = ValidationReport(folder, {}, problems)
    for name, candidates in sources.items():
        if len(candidates) > 1:
            report.folder_problems.append(Problem(
                " / ".join(s.label for s in candidates), None, None, None,
                f"une seule source pour la table « {name} »",
                f"table « {name} » fournie plusieurs fois : seule « {candidates[0].label} » "
                "est lue"))
    if not any(sources.values()):
        report.folder_problems.append(Problem(
            folder.name, None, None, None,
            "au moins un fichier nommé d'après une table : " + ", ".join(TABLES),
            "aucun fichier de données reconnu dans ce dossier"))
        return report

    for name in TABLES:
        if not sources[name]:
            continue
        table_refs = refs
        if name in TERRITORY_TABLES and "territories" not in referentials:
            territoires = report.results.get("territoires")
            unusable = territoires is None or any(
                p.severity == Severity.ERREUR and p.row is None for p in territoires.problems)
            if unusable:
                report.folder_problems.append(Problem(
                    sources[name][0].label, None, "code_territoire", None,
                    "un fichier territoires lisible", "table territoires absente ou "
                    "illisible : codes de territoire non vérifiés", Severity.AVERTISSEMENT))
            else:
                codes = territoires.data["code_territoire"].dropna().unique()
                table_refs = refs.with_(territories=codes)
        if name == "partenariats" and "resources" not in referentials:
            table_refs = _with_resource_ids(report, sources[name][0].label, table_refs)
        report.results[name] = _read_source(name, sources[name][0], table_refs,
                                            max_per_kind)
    return report


def _with_resource_ids(report: ValidationReport, label: str, refs: Referentials) -> Referentials:
    """``refs`` with the accepted resource ids, for the actors of ``partenariats``."""
    ressources = report.results.get("ressources")
    if ressources is None or any(p.severity == Severity.ERREUR and p.row is None
                                 for p in ressources.problems):
        report.folder_problems.append(Problem(
            label, None, "id_ressource_1", None, "un fichier ressources lisible",
            "table ressources absente ou illisible : identifiants des acteurs non vérifiés",
            Severity.AVERTISSEMENT))
        return refs
    return refs.with_(resources=ressources.data["id_ressource"].dropna().unique())


def read_folder(
    path: str | Path, *, strict: bool = True, **referentials: Collection[str] | None
) -> DataFolder:
    """Read and validate every table of a data folder.

    Parameters
    ----------
    path : path
        The data folder.
    strict : bool
        Raise :class:`~ptsm_diag.errors.InputError` when any ERREUR exists (default);
        with False, return the accepted rows anyway.
    **referentials
        As for :func:`validate_folder`.
    """
    report = validate_folder(path, **referentials)
    if strict and report.has_errors:
        raise InputError(report.problems)
    tables = {name: result.data for name, result in report.results.items()}
    return DataFolder(Path(path), **tables, problems=report.problems, counts=report.counts())
