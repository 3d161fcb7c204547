"""``ptsm-diag donnees``: official open data (download, cache, conversion to the templates).

Wired into :mod:`ptsm_diag.cli` with ``cli_donnees.register(sub)``: run it as
``ptsm_diag.cli.main(["donnees", ...])``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)


def cmd_telecharger(args: argparse.Namespace) -> int:
    """``ptsm-diag donnees telecharger``: fetch, check, convert, write the folder."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from ptsm_diag.io.opendata import OpenDataCache, Options, telecharger

    options = Options(hors_ligne=args.hors_ligne, url_base=args.url_base, force=args.force,
                      timeout=args.delai)
    progress = Progress(TextColumn("[bold]{task.description}[/bold]"), BarColumn(),
                        DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                        console=console, transient=False)
    tasks: dict[str, int] = {}

    def on_progress(source: str, done: int, total: int | None) -> None:
        if source not in tasks:
            tasks[source] = progress.add_task(source, total=total)
        progress.update(tasks[source], completed=done, total=total)

    def on_notify(message: str, level: str) -> None:
        style = "yellow" if level == "avertissement" else "cyan"
        progress.console.print(f"[{style}]{escape(message)}[/{style}]")

    with progress:
        report = telecharger(args.sources, sortie=args.sortie, departements=args.departements,
                             region=args.region, options=options,
                             cache=OpenDataCache(args.cache) if args.cache else None,
                             progress=on_progress, notify=on_notify)
    console.print(escape(report.to_french()))
    for problem in report.problems:
        console.print(f"[yellow]{escape(problem.to_french())}[/yellow]")
    console.print(f"Vérifiez le dossier avec : ptsm-diag valider {escape(str(args.sortie))}")
    return 0


def cmd_etat(args: argparse.Namespace) -> int:
    """``ptsm-diag donnees etat``: the cached files and whether they are intact."""
    from ptsm_diag.io.opendata import OpenDataCache, cache_status

    cache = OpenDataCache(args.cache) if args.cache else OpenDataCache()
    status = cache_status(cache)
    if status.empty:
        console.print(f"Cache vide ({escape(str(cache.root))}).")
        return 0
    table = Table(title=f"Cache des données ouvertes ({escape(str(cache.root))})")
    for column in ("Source", "Fichier", "Téléchargé le", "Date producteur", "Taille", "État"):
        table.add_column(column)
    broken = 0
    for row in status.itertuples(index=False):
        ok = row.etat == "OK"
        broken += not ok
        state = "[green]OK[/green]" if ok else f"[red]{escape(row.etat)}[/red]"
        if row.partiel:
            state += f" (+ {row.partiel / 1e6:.1f} Mo partiels)"
        table.add_row(row.source, escape(row.fichier), row.telecharge_le[:16],
                      row.date_producteur, f"{row.taille / 1e6:.1f} Mo", state)
    console.print(table)
    return 1 if broken else 0


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``donnees`` (``telecharger``, ``etat``) to the ``ptsm-diag`` sub-commands."""
    from ptsm_diag.io.opendata.registry import SOURCES, default_sources

    donnees = subparsers.add_parser(
        "donnees", help="données ouvertes officielles (FINESS, INSEE, COG)",
        description="Télécharge, met en cache, vérifie et convertit les données ouvertes "
                    "officielles au format des modèles (data_templates/).")
    sub = donnees.add_subparsers(dest="action", metavar="ACTION")
    listing = "\n".join(f"  {name} : {a.title}" for name, a in SOURCES.items())
    telecharger = sub.add_parser(
        "telecharger", help="télécharger et convertir les données ouvertes",
        description="Télécharge (ou reprend dans le cache) les fichiers officiels, vérifie "
                    "leur intégrité et leur format, puis écrit territoires.csv, "
                    "ressources.csv et population.csv dans le dossier de sortie.",
        epilog=f"Sources :\n{listing}\n\nExemple :\n  ptsm-diag donnees telecharger "
               "--departements 29 --sortie donnees_29/",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    telecharger.add_argument("--sources", default=None,
                             help="sources séparées par des virgules (défaut : "
                                  f"{','.join(default_sources())})")
    chosen = telecharger.add_mutually_exclusive_group()
    chosen.add_argument("--departements", default=None,
                        help="codes des départements séparés par des virgules, ex. 29,35")
    chosen.add_argument("--region", default=None, help="code INSEE de la région, ex. 53")
    telecharger.add_argument("--sortie", type=Path, required=True, metavar="DOSSIER",
                             help="dossier où écrire les tables au format des modèles")
    telecharger.add_argument("--hors-ligne", action="store_true",
                             help="n'utiliser que les fichiers déjà en cache (aucun accès "
                                  "réseau)")
    telecharger.add_argument("--url-base", default=None, metavar="URL",
                             help="miroir servant chaque source sous <URL>/<fichier> (proxy, "
                                  "réseau interne, tests)")
    telecharger.add_argument("--force", action="store_true",
                             help="télécharger à nouveau même si le cache est intact")
    telecharger.add_argument("--delai", type=float, default=60.0, metavar="SECONDES",
                             help="délai d'attente réseau (défaut : 60 s)")
    telecharger.add_argument("--cache", type=Path, default=None, metavar="DOSSIER",
                             help="dossier du cache (défaut : cache de ptsm-diag/opendata)")
    telecharger.set_defaults(func=cmd_telecharger)

    etat = sub.add_parser("etat", help="état du cache des données ouvertes",
                          description="Liste les fichiers en cache : date, taille, "
                                      "intégrité (taille et empreinte sha256).")
    etat.add_argument("--cache", type=Path, default=None, metavar="DOSSIER",
                      help="dossier du cache (défaut : cache de ptsm-diag/opendata)")
    etat.set_defaults(func=cmd_etat)
    donnees.set_defaults(func=lambda args: (donnees.print_help(), 2)[1])
    return donnees
