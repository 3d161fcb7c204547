"""The pieces of the feuille de route follow-up report, built from a :class:`FollowUp`.

:func:`prepare_follow_up` reads the data folder once; each other function returns a
table, a figure or escaped HTML that the notebook ``suivi_feuille_de_route.ipynb`` shows.
Input text is escaped here (or by :func:`ptsm_diag.report.display.table_html`) before it reaches
HTML.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from ptsm_diag import __version__
from ptsm_diag.catalog import Indicator, load_indicator_catalog
from ptsm_diag.catalog.geography import load_regions
from ptsm_diag.compute import roadmap as rm
from ptsm_diag.compute.territory import main_regions
from ptsm_diag.diagnostic import REFERENCES, load_data
from ptsm_diag.errors import ArgumentError, Problem, PtsmError, UnknownCodeError
from ptsm_diag.io.exports import write_sheets_xlsx
from ptsm_diag.io.sources import DataFolder, empty_table
from ptsm_diag.paths import is_demo_folder
from ptsm_diag.report.display import collapsible, format_number
from ptsm_diag.report.sections import DEMO_BANNER, note
from ptsm_diag.viz import roadmap as rf


@dataclass
class FollowUp:
    """What the follow-up report of one territory shows."""

    code: str
    name: str
    region_code: str | None
    data: DataFolder
    data_folder: Path
    is_demo: bool
    reference: str
    actions: pd.DataFrame  # the territory's history
    comparison_actions: pd.DataFrame  # history of the territories compared (région/France)
    comparison_names: dict[str, str]  # code → name of the territories compared
    cibles: pd.DataFrame  # the territory's targets
    catalog: dict[str, Indicator]
    date: pd.Timestamp | None
    previous_date: pd.Timestamp | None
    generated_at: datetime = field(default_factory=datetime.now)

    @property
    def region_name(self) -> str:
        """French name of the territory's région (empty when unknown)."""
        if self.region_code is None:
            return ""
        names = load_regions().set_index("code_region")["nom"]
        return str(names.get(self.region_code, self.region_code))

    @property
    def comparison_label(self) -> str:
        """« région Bretagne » or « France entière »."""
        if self.reference == "region":
            return f"région {self.region_name}" if self.region_name else "région"
        return "France entière"


def prepare_follow_up(
    territoire: str,
    donnees: str | Path | None = None,
    *,
    date_suivi: str | None = None,
    reference: str = "region",
) -> FollowUp:
    """Read the data folder and select what the follow-up report of ``territoire`` shows.

    Parameters
    ----------
    territoire : str
        Territory code as written in ``territoires.csv``.
    donnees : path, optional
        Data folder (template format), or a batch cache; empty or None = demo data.
    date_suivi : str, optional
        Date of the picture (``AAAA-MM-JJ`` or ``JJ/MM/AAAA``); empty = latest follow-up.
    reference : {"region", "france"}
        Territories of the comparison table: those of the same région, or all.
    """
    if reference not in REFERENCES:
        raise ArgumentError(
            f"Référence « {reference} » inconnue ; attendu : {', '.join(REFERENCES)}")
    return follow_up_from_data(load_data(donnees), territoire, date_suivi=date_suivi,
                               reference=reference)


def follow_up_from_data(
    data: DataFolder,
    territoire: str,
    *,
    date_suivi: str | None = None,
    reference: str = "region",
) -> FollowUp:
    """:func:`prepare_follow_up` on tables already read (e.g. those of a diagnostic)."""
    if data.territoires is None:
        raise PtsmError(f"Le dossier {data.path} ne contient pas de fichier territoires.csv")
    code = str(territoire).strip()
    territories = data.territoires
    codes = territories["code_territoire"].astype(str).str.strip()
    if code not in set(codes):
        raise UnknownCodeError("territoire", [code],
                               hint=f"Territoires du dossier : {', '.join(sorted(set(codes)))}")
    names = dict(zip(codes, territories["nom_territoire"].astype(str), strict=True))
    regions = main_regions(territories)
    region = regions.get(code)
    if reference == "region" and region is not None:
        compared = sorted(c for c, r in regions.items() if r == region)
    else:
        compared = sorted(set(codes))
    actions = data.actions if data.actions is not None else empty_table("actions")
    cibles = data.cibles if data.cibles is not None else empty_table("cibles")
    own = actions[actions["code_territoire"] == code]
    when = rm.resolve_date(own, date_suivi) if len(own) else rm.resolve_date(actions, date_suivi)
    return FollowUp(
        code=code,
        name=names[code],
        region_code=region,
        data=data,
        data_folder=data.path,
        is_demo=is_demo_folder(data.path),
        reference=reference,
        actions=own,
        comparison_actions=actions[actions["code_territoire"].isin(compared)],
        comparison_names={c: names.get(c, c) for c in compared},
        cibles=cibles[cibles["code_territoire"] == code],
        catalog=load_indicator_catalog(),
        date=when,
        previous_date=rm.previous_follow_up(own, when),
    )


def _date(value: pd.Timestamp | None) -> str:
    return value.strftime("%d/%m/%Y") if value is not None else "n.d."


def title_page(f: FollowUp) -> str:
    """Title block: territory, région, follow-up date, parameters (escaped HTML)."""
    dates = rm.follow_up_dates(f.actions)
    params = {
        "Territoire": f"{f.name} ({f.code})",
        "Région": f.region_name or "n.d.",
        "Date du suivi présenté": _date(f.date),
        "Points de suivi disponibles": ", ".join(_date(d) for d in dates) or "aucun",
        "Comparaison": f.comparison_label,
        "Données": "démonstration (fictives)" if f.is_demo else f.data_folder.name,
        "Produit le": f.generated_at.strftime("%d/%m/%Y à %H:%M"),
        "Outil": f"ptsm-diag {__version__}",
    }
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                   for k, v in params.items())
    banner = DEMO_BANNER if f.is_demo else ""
    return (
        '<header class="ptsm-page-titre">'
        f"<h1>Suivi de la feuille de route du PTSM — {html.escape(f.name)}</h1>"
        '<p class="sous-titre">Projet territorial de santé mentale (PTSM) : avancement des '
        "fiches actions et indicateurs d'impact au regard des cibles à 5 ans.</p></header>"
        f"{banner}"
        f'<table class="ptsm-table"><caption>Paramètres du rapport</caption>{rows}</table>'
    )


def has_actions(f: FollowUp) -> bool:
    """Whether the territory has at least one action followed on or before the date."""
    return f.date is not None and len(rm.status_at(f.actions, f.date)) > 0


def _no_actions(f: FollowUp) -> str:
    dates = rm.follow_up_dates(f.actions)
    if dates:
        return note(f"Aucune action n'est encore suivie au {_date(f.date)} : le premier point "
                    f"de suivi du territoire date du {_date(dates[0])}.")
    return note("Aucune action de la feuille de route n'est renseignée pour ce territoire "
                "(table actions absente ou sans ligne pour ce code).")


def _percent(value: float) -> str:
    return "n.d." if pd.isna(value) else f"{format_number(value, 0)} %"


def summary(f: FollowUp, when: str | None = None) -> str | pd.DataFrame:
    """Key figures at the follow-up date (table), or a note when there is no action.

    ``when`` replaces « Au JJ/MM/AAAA » in the heading (the diagnostic report says « À la
    date du diagnostic », its one date being on its title page).
    """
    if not has_actions(f):
        return _no_actions(f)
    figures = rm.key_figures(f.actions, f.date)
    rows = [("Actions suivies", format_number(figures["actions"]))]
    rows += [(f"dont « {s} »", format_number(n)) for s, n in figures["par_statut"].items()]
    rows += [
        ("Part des actions réalisées", _percent(figures["part_realisees"])),
        ("Avancement moyen déclaré", _percent(figures["avancement_moyen"])),
        ("Actions en retard (échéance dépassée)", format_number(figures["en_retard"])),
    ]
    return pd.DataFrame(rows, columns=[when or f"Au {_date(f.date)}", "Valeur"])


def _status_table(f: FollowUp, by: str, labels: dict) -> pd.DataFrame | str:
    if not has_actions(f):
        return _no_actions(f)
    table = rm.status_table(rm.status_at(f.actions, f.date), by, labels)
    heading = {"priorite": "Priorité", "theme": "Thème d'action"}[by]
    return table.rename_axis(heading).reset_index()


def status_by_priority(f: FollowUp) -> pd.DataFrame | str:
    """Actions by PTSM priority (all six listed) and status at the follow-up date."""
    return _status_table(f, "priorite", rm.priority_labels())


def status_by_theme(f: FollowUp) -> pd.DataFrame | str:
    """Actions by action theme (all five listed) and status at the follow-up date."""
    return _status_table(f, "theme", rm.theme_labels())


def status_by_priority_figure(f: FollowUp, when: str | None = None) -> go.Figure | str:
    """Stacked bars of the actions by priority and status (``when``: as in :func:`summary`,
    lower case)."""
    if not has_actions(f):
        return ""  # the table next to it says why
    table = rm.status_table(rm.status_at(f.actions, f.date), "priorite", rm.priority_labels())
    return rf.status_bars(table, "Statut des actions par priorité "
                          + (when or f"au {_date(f.date)}"))


def evolution_figure(f: FollowUp) -> go.Figure | str:
    """Actions by status at every follow-up date up to the one shown."""
    if not has_actions(f):
        return _no_actions(f)
    dates = [d for d in rm.follow_up_dates(f.actions) if d <= f.date]
    if len(dates) < 2:
        return note("Un seul point de suivi à cette date : l'évolution des statuts sera "
                    "visible au prochain suivi.")
    over_time = rm.status_over_time(f.actions, dates)
    return rf.status_evolution_figure(over_time, "Statut des actions à chaque point de suivi")


def transitions(f: FollowUp) -> pd.DataFrame | str:
    """Status at the previous follow-up (rows) × status at the one shown (columns)."""
    if not has_actions(f) or f.previous_date is None:
        return ""  # evolution_figure says why
    table = rm.status_transitions(f.actions, f.previous_date, f.date)
    table.index = [f"{s} au {_date(f.previous_date)}" for s in table.index]
    return table.rename_axis(f"Statut au {_date(f.previous_date)} → au {_date(f.date)}") \
        .reset_index()


def status_changes(f: FollowUp) -> pd.DataFrame | str:
    """The actions whose status changed since the previous follow-up."""
    if not has_actions(f) or f.previous_date is None:
        return ""
    changes = rm.status_changes(f.actions, f.previous_date, f.date)
    if changes.empty:
        return note(f"Aucun changement de statut entre le {_date(f.previous_date)} et le "
                    f"{_date(f.date)}.")
    changes.columns = ["Action", "Intitulé", f"Statut au {_date(f.previous_date)}",
                       f"Statut au {_date(f.date)}"]
    return changes


def overdue(f: FollowUp) -> pd.DataFrame | str:
    """Overdue actions at the follow-up date, most overdue first, or a note."""
    if not has_actions(f):
        return _no_actions(f)
    late = rm.overdue_actions(f.actions, f.date)
    if late.empty:
        current = rm.status_at(f.actions, f.date)
        passed = (pd.to_datetime(current["date_echeance"]) < f.date).fillna(False).any()
        if passed:
            return note(f"Aucune action en retard au {_date(f.date)} : les actions dont "
                        "l'échéance est passée sont réalisées ou abandonnées.")
        return note(f"Aucune action en retard au {_date(f.date)} : aucune échéance n'est "
                    "encore passée.")
    return pd.DataFrame({
        "Action": late["id_action"].to_numpy(),
        "Intitulé": late["intitule"].to_numpy(),
        "Pilote": late["pilote"].to_numpy(),
        "Statut": late["statut"].to_numpy(),
        "Échéance": pd.to_datetime(late["date_echeance"]).dt.strftime("%d/%m/%Y").to_numpy(),
        "Jours de retard": late["jours_de_retard"].to_numpy(),
        "Avancement (%)": late["avancement"].to_numpy(),
    })


def timeline(f: FollowUp) -> go.Figure | str:
    """Gantt-style timeline of the actions, coloured by status at the follow-up date."""
    if not has_actions(f):
        return ""  # the table next to it says why
    title = f"Calendrier des actions — statut au {_date(f.date)} (trait pointillé)"
    return rf.timeline_figure(rm.timeline_data(f.actions, f.date), f.date, title)


def actions_list(f: FollowUp) -> str:
    """Every action with its status at the follow-up date, folded."""
    if not has_actions(f):
        return _no_actions(f)
    frame = rm.actions_for_display(rm.status_at(f.actions, f.date))
    for column in ("Début", "Échéance", "Dernier suivi"):
        frame[column] = pd.to_datetime(frame[column]).dt.strftime("%d/%m/%Y")
    frame = frame.drop(columns=["Territoire", "Indicateurs"])
    return collapsible(f"Détail des {len(frame)} actions au {_date(f.date)} "
                       "(cliquer pour déplier)", frame)


def _progress(f: FollowUp) -> pd.DataFrame:
    return rm.impact_progress(f.cibles, f.code, f.catalog)


def impact_table(f: FollowUp) -> pd.DataFrame | str:
    """Impact indicators: baseline, current value, target, progress, appreciation."""
    progress = _progress(f)
    if progress.empty:
        return note("Aucune cible d'indicateur d'impact n'est renseignée pour ce territoire "
                    "(table cibles).")
    def value(number: float, year: object, decimals: int = 1) -> str:
        shown = format_number(number, decimals)
        return shown if pd.isna(year) else f"{shown} ({year})"

    def percent(number: float) -> str:
        return "n.é." if pd.isna(number) else f"{format_number(number, 0)} %"

    rows = progress.itertuples(index=False)
    table = pd.DataFrame([
        {
            "Indicateur d'impact": f"{r.libelle} ({r.unite})" if isinstance(r.unite, str)
            else r.libelle,
            "Priorité": r.priorite,
            "Sens souhaité": r.sens,
            "Valeur initiale (année)": value(r.valeur_initiale, r.annee_initiale),
            "Valeur actuelle (année)": value(r.valeur_actuelle, r.annee_actuelle),
            "Cible (année)": value(r.valeur_cible, r.annee_cible),
            "Progression": percent(r.progression),
            "Attendue": percent(r.progression_attendue),
            "Appréciation": r.appreciation,
        }
        for r in rows
    ])
    return pd.concat([table, _impact_without_target(f, set(progress["indicateur"]))],
                     ignore_index=True)


def _impact_without_target(f: FollowUp, followed: set[str]) -> pd.DataFrame:
    """Impact indicators of the catalogue with no target for the territory (priority 6's
    among them): one row each, « aucune donnée de suivi : à documenter », so that a priority
    without a followed indicator never reads as a priority without a problem."""
    missing = [i for i in f.catalog.values()
               if i.category == "impact" and i.id not in followed]
    return pd.DataFrame([
        {
            "Indicateur d'impact": f"{i.label} ({i.unit})" if i.unit else i.label,
            "Priorité": i.priority,
            "Sens souhaité": "", "Valeur initiale (année)": "n.d.",
            "Valeur actuelle (année)": "n.d.", "Cible (année)": "à fixer (table cibles)",
            "Progression": "n.é.", "Attendue": "n.é.",
            "Appréciation": "aucune donnée de suivi : à documenter",
        }
        for i in sorted(missing, key=lambda i: (i.priority or 99, i.id))
    ])


def impact_figure(f: FollowUp) -> go.Figure | str:
    """Progress of each impact indicator towards its target, against expected progress."""
    progress = _progress(f)
    if progress.empty:
        return ""
    return rf.progress_figure(progress, "Progression des indicateurs d'impact vers leur "
                                        "cible à 5 ans")


def action_indicators(f: FollowUp) -> pd.DataFrame | str:
    """Each action and the indicators it addresses, with their progress when known."""
    if not has_actions(f):
        return _no_actions(f)
    links = rm.action_indicator_links(f.actions, f.catalog, _progress(f), f.date)
    if links.empty:
        return note("Aucune action ne renseigne d'indicateur de suivi (colonne indicateurs de "
                    "la table actions) : le lien entre actions et indicateurs d'impact ne "
                    "peut pas être établi.")
    links["progression"] = links["progression"].round(0)
    links.columns = ["Action", "Intitulé", "Statut", "Code indicateur", "Indicateur",
                     "Catégorie", "Progression vers la cible (%)", "Appréciation"]
    return links.drop(columns=["Code indicateur"])


def regional_table(f: FollowUp) -> pd.DataFrame | str:
    """Follow-up of every territory compared (same région, or all): statuses, overdue."""
    if f.date is None or f.comparison_actions.empty:
        return note("Aucune action renseignée pour les territoires comparés.")
    table = rm.territory_summary(f.comparison_actions, list(f.comparison_names), f.date)
    table.insert(0, "Territoire", [f"{f.comparison_names[c]} ({c})" for c in table.index])
    table = table.reset_index(drop=True)
    return table.rename(columns={"Total": "Actions"})


def regional_figure(f: FollowUp) -> go.Figure | str:
    """Stacked bars of the action statuses of every territory compared."""
    if f.date is None or f.comparison_actions.empty:
        return ""
    table = rm.territory_summary(f.comparison_actions, list(f.comparison_names), f.date)
    table.index = [f"{f.comparison_names[c]} ({c})" for c in table.index]
    return rf.status_bars(table, f"Statut des actions par territoire ({f.comparison_label}) "
                                 f"au {_date(f.date)}",
                          highlight=f"{f.name} ({f.code})")


def history_problems(f: FollowUp) -> str:
    """Coherence warnings on the territory's history (folded), or a note when none."""
    problems: list[Problem] = rm.roadmap_problems(f.actions)
    if not problems:
        return note("Aucune incohérence relevée dans l'historique des actions du territoire.")
    frame = pd.DataFrame([p.as_dict() for p in problems])
    frame = frame[["ligne", "colonne", "valeur", "message", "attendu"]]
    frame.columns = ["Ligne", "Colonne", "Valeur lue", "Constat", "Attendu"]
    return collapsible(f"{len(problems)} point(s) à vérifier dans le fichier actions "
                       "(cliquer pour déplier)", frame)


def method(f: FollowUp) -> str:
    """The rules used by the report (escaped HTML list)."""
    items = [
        "Statut d'une action à une date : celui de son dernier point de suivi à cette date "
        "ou avant ; une action suivie pour la première fois plus tard n'est pas comptée.",
        "Action en retard : échéance passée à la date du suivi, statut ni « Réalisée » ni "
        "« Abandonnée ».",
        "Progression vers la cible : (valeur actuelle − valeur initiale) / (cible − valeur "
        "initiale) × 100 ; négative si l'indicateur s'éloigne de sa cible.",
        "Progression attendue : part écoulée de la période entre l'année initiale et "
        "l'année cible, à l'année de la valeur actuelle (trajectoire linéaire).",
        f"En bonne voie : progression ≥ progression attendue − "
        f"{rm.ON_TRACK_TOLERANCE:g} points, ou cible atteinte.",
    ]
    return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"


__all__ = [
    "FollowUp", "action_indicators", "actions_list", "evolution_figure", "has_actions",
    "history_problems", "impact_figure", "impact_table", "method", "overdue",
    "prepare_follow_up", "regional_figure", "regional_table", "status_by_priority",
    "status_by_priority_figure", "status_by_theme", "status_changes", "summary",
    "timeline", "title_page", "transitions",
]


def export_roadmap_xlsx(
    actions: pd.DataFrame,
    path: str | Path,
    date: str | dt.date | pd.Timestamp | None = None,
    *,
    cibles: pd.DataFrame | None = None,
    territory: str | None = None,
    catalog: Mapping[str, Indicator] | None = None,
) -> Path:
    """Write the steering-committee workbook (:func:`ptsm_diag.compute.roadmap.roadmap_sheets`),
    atomically, with no formula in any cell.

    Parameters are those of :func:`~ptsm_diag.compute.roadmap.roadmap_sheets`, plus the
    ``.xlsx`` ``path`` to write.
    """
    sheets = rm.roadmap_sheets(actions, date, cibles=cibles, territory=territory,
                               catalog=catalog)
    return write_sheets_xlsx(sheets, path)
