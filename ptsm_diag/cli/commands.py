"""The ``ptsm-diag`` command (French interface).

Each sub-command maps 1:1 to a library function: ``demo`` and ``rapport`` to
:func:`ptsm_diag.report.execute.render_report`, ``valider`` to
:func:`ptsm_diag.io.sources.validate_folder`, ``generer-demo`` to
:func:`ptsm_diag.demo.generate_demo_data`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from ptsm_diag import __version__
from ptsm_diag.cli import donnees as cli_donnees
from ptsm_diag.errors import PtsmError
from ptsm_diag.io.files import os_error_reason

console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False, emoji=False)

DEFAULT_OUTPUT = Path("reports")


def _existing_ancestor(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _output_folder(sortie: Path, donnees: Path | None = None, *,
                   option: str = "--sortie") -> Path:
    """Check an output folder before any work; a French :class:`PtsmError` when it is unusable.

    Refused: an existing file (or a path under a file), the data folder or a folder inside
    it (ptsm-diag never writes into the user's data), a folder the user cannot write to.
    A missing folder is fine (it is created when the first file is written).
    """
    sortie = Path(sortie)
    if sortie.exists() and not sortie.is_dir():
        raise PtsmError(f"{option} « {sortie} » est un fichier existant, pas un dossier : "
                        "indiquez un dossier (il sera créé s'il n'existe pas).")
    existing = _existing_ancestor(sortie)
    if not existing.is_dir():
        raise PtsmError(f"{option} « {sortie} » : « {existing} » est un fichier, pas un "
                        "dossier ; indiquez un autre dossier de sortie.")
    if donnees is not None and sortie.resolve().is_relative_to(Path(donnees).resolve()):
        raise PtsmError(f"{option} « {sortie} » est le dossier de données « {donnees} » ou un "
                        "dossier qu'il contient : choisissez un dossier de sortie en dehors "
                        "(ptsm-diag n'écrit jamais dans vos données).")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PtsmError(f"{option} « {sortie} » : impossible d'écrire dans « {existing} » "
                        "(dossier en lecture seule ou droits insuffisants) ; choisissez un "
                        "autre dossier de sortie.")
    return sortie


def _output_file(target: Path, donnees: Path | None = None, *,
                 option: str = "--sortie") -> Path:
    """Check a file to write (CSV, HTML) like :func:`_output_folder` checks its folder."""
    target = Path(target)
    if target.is_dir():
        raise PtsmError(f"{option} « {target} » est un dossier : indiquez un nom de fichier.")
    existing = _existing_ancestor(target.parent)
    if not existing.is_dir():
        raise PtsmError(f"{option} « {target} » : « {existing} » est un fichier, pas un "
                        "dossier ; indiquez un autre chemin.")
    if donnees is not None and target.resolve().is_relative_to(Path(donnees).resolve()):
        raise PtsmError(f"{option} « {target} » serait écrit dans le dossier de données "
                        f"« {donnees} » : choisissez un chemin en dehors (ptsm-diag n'écrit "
                        "jamais dans vos données).")
    _output_folder(target.parent, option=option)
    return target


def _file_size(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} Mo"


def _run_report(territoire: str, donnees: Path | None, args: argparse.Namespace) -> int:
    from ptsm_diag.report.execute import ReportOptions, notebook_path, render_report

    _output_folder(args.sortie, donnees)
    notebook_path(args.notebook)  # a French error before any kernel starts
    started = time.perf_counter()
    with console.status(f"Production du rapport du territoire « {territoire} »…"):
        path = render_report(
            territoire, donnees, args.sortie,
            parameters={"reference": args.reference or "france", "fond": args.fond},
            options=ReportOptions(notebook=args.notebook, keep_notebook=args.garder_notebook),
        )
    elapsed = time.perf_counter() - started
    console.print(f"Rapport écrit en {elapsed:.1f} s ({_file_size(path)}) :")
    print(path)
    if args.pdf:
        from ptsm_diag.report.browser import html_to_pdf

        with console.status("Impression PDF avec Chromium…"):
            pdf = html_to_pdf(path)
        console.print(f"PDF ({_file_size(pdf)}) :")
        print(pdf)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """``ptsm-diag demo``: report of the demo territory on the fictional data."""
    from ptsm_diag.demo import DEMO_TERRITORY

    return _run_report(args.territoire or DEMO_TERRITORY, _data_folder(None), args)


def cmd_rapport(args: argparse.Namespace) -> int:
    """``ptsm-diag rapport``: report of one territory of a data folder."""
    if not args.donnees.is_dir():
        folder = escape(str(args.donnees))
        err_console.print(f"[red]Dossier de données introuvable :[/red] {folder}")
        return 2
    return _run_report(args.territoire, args.donnees, args)


def cmd_valider(args: argparse.Namespace) -> int:
    """``ptsm-diag valider``: check every file of a data folder, print every problem."""
    from ptsm_diag.cli.valider import run_valider

    if args.rapport is not None:
        _output_file(args.rapport, args.dossier if args.dossier.is_dir() else None,
                     option="--rapport")
    return run_valider(args.dossier, console, rapport_csv=args.rapport)


def cmd_batch(args: argparse.Namespace) -> int:
    """``ptsm-diag batch``: one report per territory, in parallel, plus the index."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from ptsm_diag.report.batch import FAILED, SYNTHESIS_CODE, BatchOptions, run_batch
    from ptsm_diag.report.execute import notebook_path

    folder = _data_folder(args.donnees)
    codes = [c for c in (args.territoires or "").split(",") if c.strip()] or None
    if not (codes or args.region or args.tous):
        err_console.print("Indiquez --territoires, --region ou --tous.")
        return 2
    _output_folder(args.sortie, folder)
    notebook_path(args.notebook)  # a French error before the output folder is touched
    options = BatchOptions(
        jobs=args.jobs, force=args.force, notebook=args.notebook,
        parameters={"fond": args.fond,
                    **({"reference": args.reference} if args.reference else {})},
        shared_assets=args.assets_partages, pdf=args.pdf, scheduler=args.scheduler,
        synthesis=not args.sans_synthese, in_process=not args.noyaux,
    )
    counts = {"ok": 0, "failed": 0}
    # The bar's console holds on to this terminal: with --jobs 1 a notebook's cells run in
    # this process with sys.stdout recording into the report, and rich's redirection of
    # sys.stdout would then draw the bar through the cell's stream.
    progress = Progress(
        TextColumn("[bold]Rapports[/bold]"), BarColumn(), MofNCompleteColumn(),
        TextColumn("réussis {task.fields[ok]} · échecs {task.fields[failed]}"),
        TimeElapsedColumn(), TextColumn("reste"), TimeRemainingColumn(),
        console=Console(file=sys.stdout, highlight=False), transient=False,
    )
    task = progress.add_task("lot", total=None, ok=0, failed=0)

    def started(total: int) -> None:
        progress.update(task, total=total)

    def done(outcome) -> None:
        if outcome.code == SYNTHESIS_CODE:
            colour = "red" if outcome.status == FAILED else "green"
            progress.console.print(f"Synthèse : [{colour}]{escape(outcome.status)}[/{colour}]"
                                   + (f" — {escape(outcome.error)}" if outcome.error else ""))
            return
        if outcome.status == "inchangé":
            return
        counts["failed" if outcome.status == FAILED else "ok"] += 1
        progress.update(task, advance=1, ok=counts["ok"], failed=counts["failed"])
        if outcome.status == FAILED:
            progress.console.print(f"[red]Échec[/red] {escape(outcome.code)} : "
                                   f"{escape((outcome.error or '').splitlines()[0])}")

    with progress:
        result = run_batch(folder, args.sortie, codes=codes, region=args.region,
                           options=options, on_start=started, on_done=done)
    unchanged = sum(o.status == "inchangé" for o in result.outcomes)
    console.print(f"{counts['ok']} rapport(s) produit(s), {unchanged} inchangé(s), "
                  f"{len(result.failed)} échec(s) en {result.seconds:.0f} s. Index :")
    print(result.index)
    return 1 if result.failed else 0


def _data_folder(donnees: Path | None) -> Path:
    """The data folder asked for, or the demo data (generated on first use)."""
    if donnees is not None:
        if not donnees.is_dir():
            raise PtsmError(f"Dossier de données introuvable : {donnees}")
        return donnees
    from ptsm_diag.demo import demo_data_dir

    with console.status("Préparation des données fictives de démonstration…"):
        folder = demo_data_dir()
    console.print(f"Données fictives de démonstration : {folder}")
    return folder


def cmd_synthese(args: argparse.Namespace) -> int:
    """``ptsm-diag synthese``: the synthesis of a région's (or a list of) territories."""
    from ptsm_diag.report.execute import ReportOptions
    from ptsm_diag.report.regional import render_synthesis

    folder = _data_folder(args.donnees)
    _output_folder(args.sortie, folder)
    codes = [c.strip() for c in (args.territoires or "").split(",") if c.strip()] or None
    with console.status("Production de la synthèse…"):
        path = render_synthesis(folder, args.sortie, region=args.region, territoires=codes,
                                parameters={"reference": args.reference or "france",
                                            "fond": args.fond},
                                options=ReportOptions(notebook="synthese_regionale.ipynb"))
    console.print(f"Synthèse écrite ({_file_size(path)}) :")
    print(path)
    return 0


def cmd_notebooks(args: argparse.Namespace) -> int:
    """``ptsm-diag notebooks``: copy the shipped notebooks into a folder, to open them in
    JupyterLab after installing from a wheel (they live inside the package then)."""
    from ptsm_diag.io.files import write_atomic
    from ptsm_diag.report.execute import notebooks_dir

    shipped = sorted(notebooks_dir().glob("*.ipynb"))
    if not shipped:
        raise PtsmError(f"Aucun notebook fourni dans {notebooks_dir()} (installation "
                        "incomplète ?) ; réinstallez ptsm-diag.")
    target = _output_folder(args.dossier, option="DOSSIER")
    existing = [p.name for p in shipped if (target / p.name).exists()]
    if existing and not args.remplacer:
        raise PtsmError(f"« {target} » contient déjà {', '.join(existing)} : choisissez un "
                        "autre dossier, ou ajoutez --remplacer pour les écraser (vos "
                        "modifications de ces notebooks seraient perdues).")
    target.mkdir(parents=True, exist_ok=True)
    for notebook in shipped:
        write_atomic(target / notebook.name, notebook.read_bytes())
    console.print(f"{len(shipped)} notebook(s) copié(s) dans {escape(str(target))} :")
    for notebook in shipped:
        print(target / notebook.name)
    console.print("Ouvrez-les avec : [bold]jupyter lab "
                  f"{escape(str(target))}[/bold] (paquet jupyterlab : "
                  "pip install \"ptsm-diag\\[lab]\"), puis « Run All ». Sans dossier de "
                  "données (donnees = \"\"), ils utilisent les données fictives.")
    return 0


def cmd_carte(args: argparse.Namespace) -> int:
    """``ptsm-diag carte``: the workshop map of a territory (offline HTML, large fonts)."""
    from ptsm_diag.diagnostic import prepare_diagnostic
    from ptsm_diag.report.workshop import export_layers_gpkg, write_workshop_map

    folder = _data_folder(args.donnees)
    if args.sortie.suffix.lower() == ".html":
        _output_file(args.sortie, folder)
    else:
        _output_folder(args.sortie, folder)
    with console.status("Carte d'atelier…"):
        path = write_workshop_map(args.territoire, folder, args.sortie, fond=args.fond)
    console.print(f"Carte écrite ({_file_size(path)}) :")
    print(path)
    if args.gpkg:
        with console.status("Couches GeoPackage…"):
            gpkg = export_layers_gpkg(prepare_diagnostic(args.territoire, folder),
                                      path.with_suffix(".gpkg"))
        console.print("Couches pour QGIS (GeoPackage) :")
        print(gpkg)
    return 0


def cmd_insuffisances(args: argparse.Namespace) -> int:
    """``ptsm-diag insuffisances``: the ranked gaps of a territory as XLSX and CSV."""
    from ptsm_diag.diagnostic import prepare_diagnostic
    from ptsm_diag.report import sections
    from ptsm_diag.report.gaps import export_gaps_csv, export_gaps_xlsx, gaps_export_name

    folder = _data_folder(args.donnees)
    _output_folder(args.sortie, folder)
    with console.status("Analyse des insuffisances…"):
        diag = prepare_diagnostic(args.territoire, folder, reference=args.reference)
        analysis = sections.gap_analysis(diag)
    stem = args.sortie / gaps_export_name(diag.territory.code)  # the name the report cites
    xlsx = export_gaps_xlsx(analysis.gaps, stem.with_suffix(".xlsx"), analysis.config)
    csv = export_gaps_csv(analysis.gaps, stem.with_suffix(".csv"))
    console.print(f"{len(analysis.gaps)} insuffisance(s) ; classeur pour l'atelier "
                  "(colonne « action proposée » à remplir) :")
    print(xlsx)
    print(csv)
    return 0


def cmd_rosace(args: argparse.Namespace) -> int:
    """``ptsm-diag rosace``: the rosace of a territory as an image for slides."""
    from ptsm_diag.diagnostic import prepare_diagnostic
    from ptsm_diag.report import sections
    from ptsm_diag.report.execute import safe_file_stem
    from ptsm_diag.report.images import export_figure

    folder = _data_folder(args.donnees)
    _output_folder(args.sortie, folder)
    diag = prepare_diagnostic(args.territoire, folder, reference=args.reference)
    figure = sections.rosace(diag, projection=args.projection)
    if isinstance(figure, str):
        raise PtsmError(f"Pas de rosace pour le territoire {args.territoire} : aucun indicateur.")
    target = args.sortie / f"rosace_{safe_file_stem(diag.territory.code)}.{args.format}"
    with console.status("Export de l'image (plotly + Chromium)…"):
        path = export_figure(figure, target)
    console.print(f"Rosace écrite ({_file_size(path)}) :")
    print(path)
    return 0


def cmd_annuaire(args: argparse.Namespace) -> int:
    """``ptsm-diag annuaire``: the directory of actors of a territory (HTML and XLSX)."""
    from ptsm_diag.diagnostic import prepare_diagnostic
    from ptsm_diag.report.directory import write_directory

    folder = _data_folder(args.donnees)
    _output_folder(args.sortie, folder)
    with console.status("Annuaire des acteurs…"):
        written = write_directory(prepare_diagnostic(args.territoire, folder), args.sortie)
    console.print("Annuaire (page HTML consultable hors ligne, et classeur imprimable) :")
    for path in written.values():
        print(path)
    return 0


def cmd_finess(args: argparse.Namespace) -> int:
    """``ptsm-diag finess``: an official FINESS extract → the ressources template."""
    from ptsm_diag.io.sources.finess import convert_finess

    _output_file(args.sortie)
    if args.fichier.exists() and args.sortie.resolve() == args.fichier.resolve():
        raise PtsmError(f"--sortie « {args.sortie} » est l'extraction FINESS lue : choisissez "
                        "un autre fichier (ptsm-diag ne modifie jamais vos données).")
    with console.status("Lecture de l'extraction FINESS…"):
        summary = convert_finess(args.fichier, args.sortie, types=args.types,
                                 rapport=args.rapport)
    console.print(summary.to_french(), markup=False)
    if args.rapport is None and (summary.lignes_rejetees or summary.hors_territoire_ars):
        console.print("Pour la liste des lignes rejetées ou signalées : --rapport FICHIER.csv",
                      style="italic")
    console.print("Fichier écrit :")
    print(args.sortie)
    return 0


def cmd_generer_demo(args: argparse.Namespace) -> int:
    """``ptsm-diag generer-demo``: write the fictional data set into a folder."""
    from ptsm_diag.demo import DEMO_SEED, generate_demo_data

    with console.status("Génération des données fictives…") as status:
        generate_demo_data(args.dossier, seed=args.graine or DEMO_SEED,
                           progress=lambda table: status.update(f"Génération : {table}…"))
    console.print(f"Données fictives de démonstration écrites dans {args.dossier}")
    return 0


def _add_report_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sortie", type=Path, default=DEFAULT_OUTPUT,
                        help="dossier où écrire le rapport HTML (défaut : reports/)")
    parser.add_argument("--reference", choices=["france", "region"], default=None,
                        help="référence des comparaisons (défaut : france ; dans un lot "
                             "--region, le suivi de feuille de route compare à la région)")
    parser.add_argument("--fond", choices=["aucun", "osm"], default="aucun",
                        help="fond de carte : « aucun » fonctionne hors ligne (défaut), "
                             "« osm » utilise les tuiles OpenStreetMap (réseau requis)")
    parser.add_argument("--garder-notebook", action="store_true",
                        help="garder aussi le notebook exécuté (.ipynb) à côté du rapport")
    parser.add_argument("--pdf", action="store_true",
                        help="imprimer aussi le rapport en PDF (Chromium headless requis)")
    parser.add_argument("--notebook", default="diagnostic_territorial.ipynb",
                        help="notebook à exécuter : nom d'un notebook fourni "
                             "(diagnostic_territorial.ipynb, atelier_cartes.ipynb, "
                             "suivi_feuille_de_route.ipynb) ou chemin d'une copie adaptée")


def _territory_command(sub, name: str, help_text: str, description: str,
                       func: Callable[[argparse.Namespace], int], *,
                       sortie_help: str = "dossier de sortie (défaut : reports/)",
                       reference: bool = False) -> argparse.ArgumentParser:
    """A sub-command about one territory: ``--territoire``, ``--donnees``, ``--sortie``."""
    command = sub.add_parser(name, help=help_text, description=description)
    command.add_argument("--territoire", required=True,
                         help="code du territoire (tel que dans territoires.csv), ex. 35 ou 2A")
    command.add_argument("--donnees", type=Path, default=None,
                         help="dossier des données (défaut : données fictives)")
    command.add_argument("--sortie", type=Path, default=DEFAULT_OUTPUT, help=sortie_help)
    if reference:
        command.add_argument("--reference", choices=["france", "region"], default="france",
                             help="référence des comparaisons (défaut : france)")
    command.set_defaults(func=func)
    return command


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ptsm-diag``."""
    parser = argparse.ArgumentParser(
        prog="ptsm-diag",
        description="Diagnostic territorial des Projets Territoriaux de Santé Mentale (PTSM) : "
                    "rosace des indicateurs, cartes des ressources, rapports HTML hors ligne.",
        epilog="Exemples :\n"
               "  ptsm-diag demo\n"
               "  ptsm-diag valider mes_donnees/\n"
               "  ptsm-diag rapport --territoire 29 --donnees mes_donnees/ --sortie rapports/\n"
               "  ptsm-diag batch --region 53 --sortie rapports/\n"
               "  ptsm-diag donnees telecharger --departements 29 --sortie donnees_29/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ptsm-diag {__version__}")
    sub = parser.add_subparsers(dest="commande", metavar="COMMANDE")

    demo = sub.add_parser("demo", help="rapport de démonstration sur données fictives",
                          description="Produit le rapport d'un territoire de démonstration "
                                      "(données fictives) et affiche son chemin.")
    demo.add_argument("--territoire", default=None,
                      help="code du territoire de démonstration (défaut : 35)")
    _add_report_options(demo)
    demo.set_defaults(func=cmd_demo)

    rapport = sub.add_parser("rapport", help="rapport HTML d'un territoire",
                             description="Exécute le notebook de diagnostic pour un territoire "
                                         "et l'exporte en un fichier HTML autonome.")
    rapport.add_argument("--territoire", required=True,
                         help="code du territoire (tel que dans territoires.csv), ex. 29 ou 2A")
    rapport.add_argument("--donnees", type=Path, required=True,
                         help="dossier des données au format des modèles (data_templates/)")
    _add_report_options(rapport)
    rapport.set_defaults(func=cmd_rapport)

    valider = sub.add_parser("valider", help="vérifier un dossier de données",
                             description="Vérifie tous les fichiers d'un dossier de données et "
                                         "liste chaque problème (fichier, ligne, colonne, valeur, "
                                         "attendu). Ne modifie jamais les fichiers.")
    valider.add_argument("dossier", type=Path, help="dossier de données à vérifier")
    valider.add_argument("--rapport", type=Path, default=None,
                         help="écrire aussi la liste des problèmes dans ce fichier CSV")
    valider.set_defaults(func=cmd_valider)

    batch = sub.add_parser("batch", help="un rapport par territoire, en parallèle",
                           description="Produit le rapport de plusieurs territoires (une "
                                       "liste, une région ou tous), en parallèle, avec un "
                                       "index. Un territoire en échec a une page d'erreur et "
                                       "le lot continue ; un territoire dont les données, "
                                       "les paramètres et le notebook n'ont pas changé "
                                       "n'est pas refait (sauf --force).")
    batch.add_argument("--donnees", type=Path, default=None,
                       help="dossier des données (défaut : données fictives de démonstration)")
    chosen = batch.add_mutually_exclusive_group()
    chosen.add_argument("--territoires", default=None,
                        help="codes des territoires séparés par des virgules, ex. 22,29,35,56")
    chosen.add_argument("--region", default=None,
                        help="code INSEE de la région, ex. 53 (Bretagne)")
    chosen.add_argument("--tous", action="store_true", help="tous les territoires du dossier")
    batch.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                       help="nombre de processus en parallèle (défaut : nombre de cœurs)")
    batch.add_argument("--force", action="store_true",
                       help="refaire aussi les territoires inchangés")
    batch.add_argument("--assets-partages", action="store_true",
                       help="plotly.js et Leaflet dans un dossier assets/ commun aux rapports "
                            "(rapports plus légers ; garder le dossier avec eux)")
    batch.add_argument("--sans-synthese", action="store_true",
                       help="ne pas produire la synthèse des territoires du lot")
    batch.add_argument("--noyaux", action="store_true",
                       help="exécuter les notebooks dans des noyaux Jupyter (un par processus, "
                            "réutilisé) plutôt que dans les processus du lot : environ un "
                            "tiers plus lent, mais un notebook adapté qui fait planter "
                            "l'interpréteur n'arrête que son rapport")
    batch.add_argument("--scheduler", default=None, metavar="ADRESSE",
                       help="adresse d'un ordonnanceur Dask distributed (tcp://hote:8786) ; "
                            "les workers doivent voir le dossier de sortie")
    _add_report_options(batch)
    batch.set_defaults(func=cmd_batch, sortie_defaut=True)

    synthese = sub.add_parser("synthese", help="synthèse régionale de plusieurs territoires",
                              description="Carte des territoires, rosaces côte à côte, "
                                          "tableau des indices, classement et densités, pour "
                                          "une région ou une liste de territoires.")
    synthese.add_argument("--donnees", type=Path, default=None,
                          help="dossier des données (défaut : données fictives)")
    chosen_syn = synthese.add_mutually_exclusive_group()
    chosen_syn.add_argument("--region", default=None, help="code INSEE de la région, ex. 53")
    chosen_syn.add_argument("--territoires", default=None,
                            help="codes des territoires séparés par des virgules")
    _add_report_options(synthese)
    synthese.set_defaults(func=cmd_synthese)

    carte = _territory_command(
        sub, "carte", "carte d'atelier d'un territoire (HTML hors ligne)",
        "Carte des ressources en grands caractères pour la projection en atelier, hors ligne ; "
        "couches GeoPackage pour QGIS en option.", cmd_carte,
        sortie_help="dossier (ou fichier .html) de sortie (défaut : reports/)")
    carte.add_argument("--fond", choices=["aucun", "osm"], default="aucun",
                       help="« aucun » fonctionne hors ligne (défaut) ; « osm » : tuiles en ligne")
    carte.add_argument("--gpkg", action="store_true",
                       help="exporter aussi les couches en GeoPackage (QGIS)")

    _territory_command(
        sub, "insuffisances", "insuffisances d'un territoire en XLSX/CSV",
        "Classe les insuffisances du territoire et les écrit en XLSX (une feuille par "
        "priorité) et CSV, avec une colonne « action proposée » pour l'atelier.",
        cmd_insuffisances, reference=True)

    rosace = _territory_command(
        sub, "rosace", "rosace d'un territoire en image (diapositives)",
        "Exporte la rosace d'un territoire en PNG, SVG ou PDF pour une présentation "
        "(plotly + kaleido + Chromium).", cmd_rosace, reference=True)
    rosace.add_argument("--format", choices=["png", "svg", "pdf"], default="png",
                        help="format de l'image (défaut : png)")
    rosace.add_argument("--projection", action="store_true",
                        help="grands caractères, pour la projection en salle")

    _territory_command(
        sub, "annuaire", "annuaire des acteurs d'un territoire",
        "Répertoire des ressources en santé mentale par champ, type et commune (coordonnées "
        "publiques des structures seulement) : page HTML avec recherche, hors ligne, et "
        "classeur XLSX imprimable.", cmd_annuaire)

    finess = sub.add_parser("finess", help="convertir une extraction FINESS en ressources.csv",
                            description="Lit le fichier etalab-cs1100507-stock-*.csv de "
                                        "data.gouv.fr et écrit les établissements de la "
                                        "typologie au format du modèle ressources.csv.")
    finess.add_argument("fichier", type=Path,
                        help="extraction FINESS (etalab-cs1100507-stock-*.csv)")
    finess.add_argument("--sortie", type=Path, default=Path("ressources.csv"),
                        help="fichier ressources à écrire (défaut : ressources.csv)")
    finess.add_argument("--types", nargs="+", metavar="TYPE",
                        help="types de ressources à garder (défaut : toute la typologie)")
    finess.add_argument("--rapport", type=Path, default=None, metavar="FICHIER.csv",
                        help="écrire aussi chaque ligne rejetée ou signalée (numéro de ligne, "
                             "valeur, motif) dans ce fichier CSV")
    finess.set_defaults(func=cmd_finess)

    generer = sub.add_parser("generer-demo", help="écrire les données fictives dans un dossier",
                             description="Écrit le jeu de données fictif complet (toute la "
                                         "France) au format des modèles.")
    generer.add_argument("dossier", type=Path, help="dossier à créer")
    generer.add_argument("--graine", type=int, default=None, help="graine aléatoire")
    generer.set_defaults(func=cmd_generer_demo)

    notebooks = sub.add_parser(
        "notebooks", help="copier les notebooks fournis dans un dossier (JupyterLab)",
        description="Copie les notebooks paramétrés fournis avec ptsm-diag dans DOSSIER, "
                    "pour les ouvrir dans JupyterLab (jupyter lab DOSSIER) : utile après "
                    "une installation depuis un wheel, où ils sont rangés dans le paquet.")
    notebooks.add_argument("dossier", type=Path, help="dossier où copier les notebooks")
    notebooks.add_argument("--remplacer", action="store_true",
                           help="écraser les notebooks déjà présents dans le dossier")
    notebooks.set_defaults(func=cmd_notebooks)
    cli_donnees.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ptsm-diag``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return func(args)
    except PtsmError as exc:  # OutputWriteError too: a file could not be written
        err_console.print(f"[red]Erreur :[/red] {escape(str(exc))}", soft_wrap=True)
        return 1
    except OSError as exc:  # any other file-system failure: French, no traceback
        where = f" « {exc.filename} »" if exc.filename else ""
        err_console.print(f"[red]Erreur :[/red] opération impossible sur le fichier{escape(where)}"
                          f" : {escape(os_error_reason(exc))}.", soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        err_console.print("Interrompu.")
        return 130


if __name__ == "__main__":
    sys.exit(main())
