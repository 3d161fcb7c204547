"""``ptsm-diag valider DOSSIER``: check a data folder and print every problem in French."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ptsm_diag.errors import Problem, Severity, printable
from ptsm_diag.io.sources.folder import ValidationReport, validate_folder

SEVERITY_STYLES = {
    Severity.ERREUR: "bold red",
    Severity.AVERTISSEMENT: "yellow",
    Severity.REPARATION: "cyan",
}
SEVERITY_ORDER = {Severity.ERREUR: 0, Severity.AVERTISSEMENT: 1, Severity.REPARATION: 2}
DEFAULT_MAX_LINES = 500
# Longest value, and expectation or message (which may quote a value), shown in the
# terminal: the rest is cut, with its length; the CSV report keeps them whole.
VALUE_LIMIT = 160
TEXT_LIMIT = 600


def run_valider(
    folder: Path,
    console: Console,
    rapport_csv: Path | None = None,
    max_lines: int | None = DEFAULT_MAX_LINES,
) -> int:
    """Validate ``folder``, print the problems, a per-file summary and a conclusion.

    Parameters
    ----------
    folder : Path
        The data folder (never modified).
    console : Console
        Where to print.
    rapport_csv : Path, optional
        Also write every problem to this CSV file (``;``, UTF-8 with BOM); refused inside
        the data folder.
    max_lines : int, optional
        Most problems shown in the terminal (errors first); the CSV report has them all.
        None shows every problem.

    Returns
    -------
    int
        0 no error, 1 errors present, 2 folder missing or report path refused.
    """
    folder = Path(folder)
    if not folder.is_dir():
        console.print(Text(f"Dossier de données introuvable : {printable(str(folder))}",
                           style="bold red"))
        return 2
    if rapport_csv is not None and _inside(Path(rapport_csv), folder):
        console.print(Text(
            f"Le rapport {printable(str(rapport_csv))} serait écrit dans le dossier de "
            "données : choisissez un chemin en dehors de ce dossier (ptsm-diag n'écrit "
            "jamais dans vos données).",
            style="bold red"))
        return 2
    with console.status(Text(f"Vérification de {printable(str(folder))}…")):
        report = validate_folder(folder)
    print_report(report, console, max_lines)
    if rapport_csv is not None:
        path = write_problems_csv(report, Path(rapport_csv))
        if report.n_omitted:
            console.print(Text(
                f"Problèmes écrits dans : {printable(str(path))} ({report.count()} au total, "
                f"dont {report.n_omitted} non listés : voir « Problèmes trop nombreux »)"))
        else:
            console.print(Text(f"Liste complète des problèmes écrite dans : "
                               f"{printable(str(path))}"))
    return 1 if report.has_errors else 0


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def write_problems_csv(report: ValidationReport, path: Path) -> Path:
    """Every problem as CSV (``;`` separator, UTF-8 with BOM, opens in French Excel).

    Written atomically; values read in the data that a spreadsheet would run as a formula
    (``=…``, ``+…``, ``@…``) are neutralised (:func:`ptsm_diag.io.exports.write_csv`).
    """
    from ptsm_diag.io.exports import write_csv

    return write_csv(report.to_frame(), path, lineterminator="\n")


def print_report(report: ValidationReport, console: Console, max_lines: int | None) -> None:
    """Problems table, per-file summary and conclusion."""
    problems = sorted(report.problems, key=lambda p: SEVERITY_ORDER[p.severity])
    shown = problems if max_lines is None else problems[:max_lines]
    if shown:
        console.print(_problems_table(shown))
    if len(shown) < len(problems):
        console.print(Text(
            f"… et {len(problems) - len(shown)} autre(s) problème(s) non affiché(s) : "
            "écrivez la liste avec --rapport FICHIER.csv", style="italic"))
    if report.n_omitted:
        console.print(_omitted_table(report))
    console.print(_summary_table(report))
    style = "bold red" if report.has_errors else "bold green"
    console.print(Text(printable(report.conclusion()), style=style))


def _omitted_table(report: ValidationReport) -> Table:
    """Kinds of problems too numerous to be all listed, with their exact counts."""
    table = Table(title=f"Problèmes trop nombreux : {report.n_omitted} non listé(s), "
                  "comptés ci-dessous (les premiers de chaque sorte sont listés)")
    for header in ("Fichier", "Colonne", "Attendu", "Gravité"):
        table.add_column(header, overflow="fold")
    table.add_column("Total", justify="right")
    table.add_column("Listés", justify="right")
    for row in report.omitted_kinds().itertuples(index=False):
        table.add_row(Text(printable(row.fichier)), Text(printable(row.colonne or "")),
                      Text(printable(row.attendu, TEXT_LIMIT)), Text(row.gravite),
                      str(row.total), str(row.conserves))
    return table


def _problems_table(problems: list[Problem]) -> Table:
    table = Table(title="Problèmes trouvés", show_lines=False, expand=True)
    table.add_column("Fichier", ratio=2, overflow="fold")
    table.add_column("Ligne", justify="right", no_wrap=True)
    for header, ratio in (("Colonne", 2), ("Valeur", 2), ("Attendu", 4), ("Message", 4)):
        table.add_column(header, ratio=ratio, overflow="fold")
    table.add_column("Gravité", no_wrap=True)
    for p in problems:
        table.add_row(
            Text(printable(p.file)), Text("" if p.row is None else str(p.row)),
            Text(printable(p.column or "")), Text(printable(p.value or "", VALUE_LIMIT)),
            Text(printable(p.expected, TEXT_LIMIT)), Text(printable(p.message, TEXT_LIMIT)),
            Text(str(p.severity), style=SEVERITY_STYLES[p.severity]),
        )
    return table


def _summary_table(report: ValidationReport) -> Table:
    table = Table(title=f"Résumé par fichier — {printable(str(report.folder))}")
    for header in ("Fichier", "Lues", "Acceptées", "Rejetées", "Erreurs", "Avertissements",
                   "Réparations"):
        table.add_column(header, justify="left" if header == "Fichier" else "right")
    for row in report.counts().itertuples(index=False):
        table.add_row(
            Text(printable(row.fichier)), str(row.lues), str(row.acceptees),
            Text(str(row.rejetees), style="red" if row.rejetees else ""),
            str(row.erreurs), str(row.avertissements), str(row.reparations),
        )
    if not len(table.rows):
        table.add_row(Text("aucun fichier de données reconnu"), "", "", "", "", "", "")
    return table
