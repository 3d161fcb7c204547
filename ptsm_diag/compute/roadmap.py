"""Feuille de route follow-up: action statuses over time, delays, impact indicators.

Pure functions over the typed ``actions`` and ``cibles`` tables (see
:mod:`ptsm_diag.io.sources.schemas`): nothing here reads a file (but for the XLSX export,
which writes one) or prints. ``actions`` holds one row per action and follow-up date.

- :func:`status_at` — the status of every action at a date (its last follow-up on or
  before that date);
- :func:`status_table`, :func:`status_over_time`, :func:`status_transitions`,
  :func:`overdue_actions`, :func:`timeline_data` — what the follow-up report shows;
- :func:`impact_progress` — impact indicators against their baseline and 5-year target;
- :func:`action_indicator_links` — the indicators each action addresses;
- :func:`roadmap_problems` — coherence of the history across follow-ups;
- :func:`roadmap_sheets` — the tables of the steering committee's workbook.

Rule « en bonne voie » (on track) of an impact indicator
--------------------------------------------------------
*Progress* is the share of the way from the baseline to the target already covered:
``(actuelle − initiale) / (cible − initiale) × 100`` (negative when the indicator moved
away from its target, above 100 beyond it). *Expected progress* assumes a straight
trajectory: ``(année actuelle − année initiale) / (année cible − année initiale) × 100``,
between 0 and 100. An indicator is:

- « Cible atteinte » when progress ≥ 100 %;
- « S'éloigne de la cible » when progress < 0 % (not on track);
- « En bonne voie » when progress ≥ expected progress − :data:`ON_TRACK_TOLERANCE` points;
- « En retard » otherwise (not on track);
- « Non évaluable » without a current value, or when the target equals the baseline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ptsm_diag.catalog import Indicator, load_indicator_catalog, load_vocabularies
from ptsm_diag.errors import ArgumentError, Problem, Severity
from ptsm_diag.fmt import LIST_SEPARATOR

ACTIONS_FILE = "actions.csv"
CLOSED_STATUSES = ("Réalisée", "Abandonnée")
NOT_FOLLOWED = "Pas encore suivie"
ON_TRACK_TOLERANCE = 10.0  # percentage points of progress below the straight trajectory
LINE_INDEX_NAME = "ligne"

APPRECIATIONS = ("Cible atteinte", "En bonne voie", "En retard", "S'éloigne de la cible",
                 "Non évaluable")

# Columns that describe an action and should not change from one follow-up to the next.
STABLE_COLUMNS = {
    "code_territoire": "le territoire",
    "priorite": "la priorité",
    "theme": "le thème",
}


def statuses() -> list[str]:
    """The action statuses in their display order (catalogue)."""
    return list(load_vocabularies().action_statuses)


def priority_labels() -> dict[int, str]:
    """French labels of the 6 priorities: ``{1: "1 — Repérage précoce…"}``."""
    return {k: f"{k} — {v}" for k, v in load_vocabularies().priorities.items()}


def theme_labels() -> dict[int, str]:
    """French labels of the 5 action themes: ``{1: "1 — Connaissance…"}``."""
    return {k: f"{k} — {v}" for k, v in load_vocabularies().action_themes.items()}


# --------------------------------------------------------------------------- dates


def parse_date(value: str | dt.date | pd.Timestamp) -> pd.Timestamp:
    """A follow-up date from ``AAAA-MM-JJ``, ``JJ/MM/AAAA`` or a date object.

    Raises
    ------
    PtsmError
        When the text is not a date (French message).
    """
    if isinstance(value, pd.Timestamp):
        return value.normalize()
    if isinstance(value, dt.date):
        return pd.Timestamp(value).normalize()
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return pd.Timestamp(dt.datetime.strptime(text, fmt))
        except ValueError:
            continue
    raise ArgumentError(f"Date de suivi illisible : « {text} » ; attendu : AAAA-MM-JJ ou "
                    "JJ/MM/AAAA (ex. 2025-06-30)")


def follow_up_dates(actions: pd.DataFrame) -> list[pd.Timestamp]:
    """The distinct follow-up dates of the history, oldest first."""
    dates = pd.to_datetime(actions["date_suivi"]).dropna().unique()
    return sorted(pd.Timestamp(d) for d in dates)


def resolve_date(
    actions: pd.DataFrame, date: str | dt.date | pd.Timestamp | None = None
) -> pd.Timestamp | None:
    """The date to show: ``date`` when given, else the latest follow-up date (None if none)."""
    if date is not None and str(date).strip() != "":
        return parse_date(date)
    dates = follow_up_dates(actions)
    return dates[-1] if dates else None


def previous_follow_up(actions: pd.DataFrame, date: pd.Timestamp | None) -> pd.Timestamp | None:
    """The follow-up date just before ``date`` (None when there is none)."""
    if date is None:
        return None
    earlier = [d for d in follow_up_dates(actions) if d < date]
    return earlier[-1] if earlier else None


# --------------------------------------------------------------------------- statuses


def _sorted_history(actions: pd.DataFrame) -> pd.DataFrame:
    return actions.sort_values(["id_action", "date_suivi"], kind="stable")


def status_at(
    actions: pd.DataFrame, date: str | dt.date | pd.Timestamp | None = None
) -> pd.DataFrame:
    """The status of every action at ``date``: its last follow-up on or before it.

    Parameters
    ----------
    actions : DataFrame
        The ``actions`` table (one row per action and follow-up date).
    date : date or str, optional
        Date of the picture; the latest follow-up date by default.

    Returns
    -------
    DataFrame
        One row per action followed on or before ``date`` (the columns of ``actions``),
        sorted by territory, priority and action id. Actions whose first follow-up is
        later are left out: they had no known status yet.
    """
    when = resolve_date(actions, date)
    if when is None:
        return actions.iloc[0:0].copy()
    known = actions[pd.to_datetime(actions["date_suivi"]) <= when]
    last = _sorted_history(known).groupby("id_action", sort=False).tail(1)
    return last.sort_values(["code_territoire", "priorite", "id_action"], kind="stable")


def status_table(
    current: pd.DataFrame, by: str, labels: Mapping[Any, str] | None = None
) -> pd.DataFrame:
    """Count of actions by ``by`` (territory, priority, theme) and status.

    Parameters
    ----------
    current : DataFrame
        Statuses at a date (:func:`status_at`).
    by : str
        Column to group by, e.g. ``"priorite"``, ``"theme"``, ``"code_territoire"``.
    labels : mapping, optional
        Display label of each group; with it every labelled group appears, even at 0.

    Returns
    -------
    DataFrame
        Index = group (label when given), one column per status in catalogue order, then
        ``Total``.
    """
    order = statuses()
    table = pd.crosstab(current[by], current["statut"]) if len(current) else \
        pd.DataFrame(columns=order)
    table = table.reindex(columns=order, fill_value=0)
    if labels is not None:
        table = table.reindex(list(labels), fill_value=0)
        table.index = [labels[k] for k in table.index]
    table = table.fillna(0).astype(int)
    table["Total"] = table.sum(axis=1)
    table.index.name = by
    table.columns.name = None
    return table


def status_over_time(
    actions: pd.DataFrame, dates: Collection[pd.Timestamp] | None = None
) -> pd.DataFrame:
    """Count of actions by status at each follow-up date (rows = dates, oldest first)."""
    dates = sorted(dates) if dates is not None else follow_up_dates(actions)
    rows = {}
    for when in dates:
        counts = status_at(actions, when)["statut"].value_counts()
        rows[when] = counts.reindex(statuses(), fill_value=0)
    table = pd.DataFrame(rows).T if rows else pd.DataFrame(columns=statuses())
    table = table.reindex(columns=statuses(), fill_value=0).fillna(0).astype(int)
    table.index.name = "date_suivi"
    return table


def status_transitions(
    actions: pd.DataFrame,
    start: str | dt.date | pd.Timestamp,
    end: str | dt.date | pd.Timestamp,
) -> pd.DataFrame:
    """How statuses changed between two dates: actions by status at ``start`` (rows)
    and at ``end`` (columns).

    An action not yet followed at ``start`` is counted under :data:`NOT_FOLLOWED`.
    """
    before = status_at(actions, parse_date(start)).set_index("id_action")["statut"]
    after = status_at(actions, parse_date(end)).set_index("id_action")["statut"]
    pairs = pd.DataFrame({"avant": before.reindex(after.index).fillna(NOT_FOLLOWED),
                          "apres": after})
    rows = [*statuses(), NOT_FOLLOWED]
    table = pd.crosstab(pairs["avant"], pairs["apres"]) if len(pairs) else pd.DataFrame()
    table = table.reindex(index=rows, columns=statuses(), fill_value=0).fillna(0).astype(int)
    table = table[table.sum(axis=1) > 0] if table.values.sum() else table.iloc[0:0]
    table.index.name = "statut au départ"
    table.columns.name = "statut à l'arrivée"
    return table


def status_changes(
    actions: pd.DataFrame,
    start: str | dt.date | pd.Timestamp,
    end: str | dt.date | pd.Timestamp,
) -> pd.DataFrame:
    """The actions whose status changed between two dates (one row each).

    Columns: ``id_action``, ``intitule``, ``statut_avant``, ``statut_apres``.
    """
    before = status_at(actions, parse_date(start)).set_index("id_action")["statut"]
    after = status_at(actions, parse_date(end)).set_index("id_action")
    frame = pd.DataFrame({
        "id_action": after.index,
        "intitule": after["intitule"].to_numpy(),
        "statut_avant": before.reindex(after.index).fillna(NOT_FOLLOWED).to_numpy(),
        "statut_apres": after["statut"].to_numpy(),
    })
    return frame[frame["statut_avant"] != frame["statut_apres"]].reset_index(drop=True)


def overdue_actions(
    actions: pd.DataFrame, date: str | dt.date | pd.Timestamp | None = None
) -> pd.DataFrame:
    """Actions past their due date at ``date`` and neither Réalisée nor Abandonnée.

    Returns
    -------
    DataFrame
        The rows of :func:`status_at` concerned, with ``jours_de_retard`` (days between
        the due date and ``date``), most overdue first.
    """
    when = resolve_date(actions, date)
    current = status_at(actions, when)
    if when is None or current.empty:
        return current.assign(jours_de_retard=pd.Series(dtype="int64"))
    due = pd.to_datetime(current["date_echeance"])
    late = current[(due < when).fillna(False).astype(bool)
                   & ~current["statut"].isin(CLOSED_STATUSES)].copy()
    late["jours_de_retard"] = (when - pd.to_datetime(late["date_echeance"])).dt.days
    return late.sort_values(["jours_de_retard", "id_action"], ascending=[False, True])


def timeline_data(
    actions: pd.DataFrame, date: str | dt.date | pd.Timestamp | None = None
) -> pd.DataFrame:
    """One row per action for a Gantt chart: start, due date, status and progress at ``date``.

    A missing start date is replaced by the first follow-up date (``debut_estime`` is
    then True); an action without due date has ``echeance`` missing.

    Returns
    -------
    DataFrame
        Columns ``id_action``, ``code_territoire``, ``priorite``, ``intitule``, ``statut``,
        ``avancement``, ``debut``, ``echeance``, ``debut_estime``, ``en_retard``.
    """
    when = resolve_date(actions, date)
    current = status_at(actions, when)
    first = pd.to_datetime(actions.groupby("id_action")["date_suivi"].min())
    start = pd.to_datetime(current["date_debut"])
    estimated = start.isna()
    start = start.fillna(current["id_action"].map(first))
    due = pd.to_datetime(current["date_echeance"])
    late = (due < when).fillna(False).astype(bool) & ~current["statut"].isin(CLOSED_STATUSES) \
        if when is not None else pd.Series(False, index=current.index)
    return pd.DataFrame({
        "id_action": current["id_action"],
        "code_territoire": current["code_territoire"],
        "priorite": current["priorite"],
        "intitule": current["intitule"],
        "statut": current["statut"],
        "avancement": current["avancement"],
        "debut": start,
        "echeance": due,
        "debut_estime": estimated,
        "en_retard": late,
    }).reset_index(drop=True)


def key_figures(
    actions: pd.DataFrame, date: str | dt.date | pd.Timestamp | None = None
) -> dict[str, Any]:
    """Headline numbers at ``date``: actions, by status, share realised, overdue."""
    when = resolve_date(actions, date)
    current = status_at(actions, when)
    counts = current["statut"].value_counts().reindex(statuses(), fill_value=0)
    total = int(len(current))
    mean_progress = pd.to_numeric(current["avancement"], errors="coerce").mean()
    return {
        "date": when,
        "actions": total,
        "par_statut": {k: int(v) for k, v in counts.items()},
        "part_realisees": float(counts["Réalisée"] / total * 100) if total else float("nan"),
        "avancement_moyen": float(mean_progress) if pd.notna(mean_progress) else float("nan"),
        "en_retard": int(len(overdue_actions(actions, when))) if when is not None else 0,
    }


def territory_summary(
    actions: pd.DataFrame,
    territories: Collection[str] | None = None,
    date: str | dt.date | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Per territory at ``date``: number of actions, count by status, % realised, overdue.

    Parameters
    ----------
    territories : collection of str, optional
        Territory codes to show (every listed code appears, even without action); all
        the territories of ``actions`` by default.
    """
    when = resolve_date(actions, date)
    codes = sorted(territories) if territories is not None else \
        sorted(actions["code_territoire"].dropna().unique())
    subset = actions[actions["code_territoire"].isin(codes)]
    current = status_at(subset, when)
    table = status_table(current, "code_territoire").reindex(codes, fill_value=0)
    table["Part réalisées (%)"] = (table["Réalisée"] / table["Total"].replace(0, np.nan)
                                   * 100).round(1)
    late = overdue_actions(subset, when)["code_territoire"].value_counts() \
        if when is not None else pd.Series(dtype=int)
    table["En retard"] = late.reindex(codes, fill_value=0).astype(int)
    table.index.name = "code_territoire"
    return table


# --------------------------------------------------------------------------- impact


def _direction_word(direction: str) -> str:
    return {"higher_is_worse": "à la baisse", "higher_is_better": "à la hausse"}.get(
        direction, "neutre")


def appreciation(progress: float, expected: float) -> str:
    """The on-track verdict of one indicator (see the module docstring for the rule)."""
    if progress is None or expected is None or not np.isfinite(progress) \
            or not np.isfinite(expected):
        return "Non évaluable"
    if progress >= 100:
        return "Cible atteinte"
    if progress < 0:
        return "S'éloigne de la cible"
    if progress >= expected - ON_TRACK_TOLERANCE:
        return "En bonne voie"
    return "En retard"


def impact_progress(
    cibles: pd.DataFrame,
    territory: str | None = None,
    catalog: Mapping[str, Indicator] | None = None,
    *,
    impact_only: bool = True,
) -> pd.DataFrame:
    """Impact indicators against their baseline and 5-year target.

    Parameters
    ----------
    cibles : DataFrame
        The ``cibles`` table.
    territory : str, optional
        Keep this territory's rows only.
    catalog : mapping, optional
        The indicator catalogue (the packaged one by default).
    impact_only : bool
        Keep only indicators of category « impact » of the catalogue.

    Returns
    -------
    DataFrame
        The ``cibles`` columns plus ``libelle``, ``priorite``, ``unite``, ``sens``,
        ``progression`` (%), ``progression_attendue`` (%), ``en_bonne_voie`` (boolean,
        missing when not assessable) and ``appreciation`` (French verdict).
    """
    catalog = catalog if catalog is not None else load_indicator_catalog()
    frame = cibles.copy()
    if territory is not None:
        frame = frame[frame["code_territoire"] == territory]
    if impact_only:
        impact = {k for k, v in catalog.items() if v.category == "impact"}
        frame = frame[frame["indicateur"].isin(impact)]
    frame = frame.copy()

    def meta(field: str) -> pd.Series:
        return frame["indicateur"].map(
            {k: getattr(v, field) for k, v in catalog.items()})

    frame["libelle"] = meta("label").fillna(frame["indicateur"])
    frame["priorite"] = meta("priority").astype("Int64")
    frame["unite"] = meta("unit")
    frame["sens"] = meta("direction").map(_direction_word)
    base = frame["valeur_initiale"].astype(float)
    target = frame["valeur_cible"].astype(float)
    current = frame["valeur_actuelle"].astype(float)
    gap = (target - base).where(lambda g: g != 0)
    frame["progression"] = ((current - base) / gap * 100).astype(float)
    span = (frame["annee_cible"] - frame["annee_initiale"]).astype(float)
    elapsed = (frame["annee_actuelle"] - frame["annee_initiale"]).astype(float)
    frame["progression_attendue"] = (elapsed / span.where(span > 0) * 100).clip(0, 100)
    frame["appreciation"] = [
        appreciation(p, e) for p, e in zip(frame["progression"].fillna(np.nan),
                                           frame["progression_attendue"].fillna(np.nan),
                                           strict=True)
    ]
    on_track = frame["appreciation"].map({"Cible atteinte": True, "En bonne voie": True,
                                          "En retard": False, "S'éloigne de la cible": False})
    frame["en_bonne_voie"] = on_track.astype("boolean")
    order = {code: i for i, code in enumerate(catalog)}
    frame["_ordre"] = frame["indicateur"].map(order)
    frame = frame.sort_values(["code_territoire", "priorite", "_ordre"], kind="stable")
    return frame.drop(columns="_ordre")


def action_indicator_links(
    actions: pd.DataFrame,
    catalog: Mapping[str, Indicator] | None = None,
    progress: pd.DataFrame | None = None,
    date: str | dt.date | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """The indicators each action addresses (``indicateurs`` column), one row per pair.

    Parameters
    ----------
    progress : DataFrame, optional
        :func:`impact_progress` of the same territory, to add each indicator's
        ``progression`` and ``appreciation``.

    Returns
    -------
    DataFrame
        ``id_action``, ``intitule``, ``statut`` (at ``date``), ``indicateur``,
        ``libelle``, ``categorie``, and ``progression`` / ``appreciation`` when
        ``progress`` is given (missing when the indicator has no target).
    """
    catalog = catalog if catalog is not None else load_indicator_catalog()
    current = status_at(actions, date)
    rows = []
    for record in current.itertuples(index=False):
        cell = record.indicateurs
        if not isinstance(cell, str) or not cell.strip():
            continue
        for code in (c.strip() for c in cell.split(LIST_SEPARATOR)):
            if not code:
                continue
            indicator = catalog.get(code)
            rows.append({
                "id_action": record.id_action,
                "intitule": record.intitule,
                "statut": record.statut,
                "indicateur": code,
                "libelle": indicator.label if indicator else code,
                "categorie": indicator.category if indicator else "inconnue",
            })
    columns = ["id_action", "intitule", "statut", "indicateur", "libelle", "categorie"]
    links = pd.DataFrame(rows, columns=columns)
    if progress is not None:
        known = progress.drop_duplicates("indicateur").set_index("indicateur")
        links["progression"] = links["indicateur"].map(known["progression"]).astype(float)
        links["appreciation"] = links["indicateur"].map(known["appreciation"])
    return links


# --------------------------------------------------------------------------- validation


def _line(index_value: Any, position: int, named: bool) -> int:
    return int(index_value) if named else position + 2


def roadmap_problems(actions: pd.DataFrame, file: str = ACTIONS_FILE) -> list[Problem]:
    """Coherence of the actions history across follow-up dates (French problems).

    The schema and :mod:`ptsm_diag.io.sources.rules` already check each row (unknown
    priority, theme or status, due date before start, missing motive of a suspension or
    abandonment, pilot that looks like a person). This adds what needs several rows of
    the same action, or the status together with the progress:

    - territory, priority or theme that changes from one follow-up to the next;
    - an action Réalisée or Abandonnée that is later reopened;
    - progress (``avancement``) that goes down;
    - Réalisée with progress below 100 %, Non commencée with progress above 0 %;
    - a follow-up before the start date with a status other than Non commencée.

    All are warnings (AVERTISSEMENT): the rows stay usable.

    Parameters
    ----------
    actions : DataFrame
        The typed ``actions`` table. Rows are reported with the index when it is named
        ``ligne`` (as read by :mod:`ptsm_diag.io.sources`), else as position + 2 (header on
        line 1).
    file : str
        File name quoted in the problems.
    """
    named = actions.index.name == LINE_INDEX_NAME
    lines = pd.Series([_line(v, i, named) for i, v in enumerate(actions.index)],
                      index=actions.index)
    problems: list[Problem] = []

    def warn(index: Any, column: str, value: Any, expected: str, message: str) -> None:
        shown = None if value is None or (not isinstance(value, str) and pd.isna(value)) \
            else _display(value)
        problems.append(Problem(file, int(lines[index]), column, shown, expected, message,
                                Severity.AVERTISSEMENT))

    history = _sorted_history(actions)
    for _, group in history.groupby("id_action", sort=False):
        previous = None
        for index, row in group.iterrows():
            if previous is not None:
                for column, name in STABLE_COLUMNS.items():
                    if _differs(previous[column], row[column]):
                        warn(index, column, row[column],
                             f"« {_display(previous[column])} » comme au suivi du "
                             f"{_date_text(previous['date_suivi'])}",
                             f"{name} de l'action « {row['id_action']} » change d'un suivi "
                             "à l'autre")
                if previous["statut"] in CLOSED_STATUSES and row["statut"] != previous["statut"]:
                    warn(index, "statut", row["statut"],
                         f"« {previous['statut']} » (statut du suivi du "
                         f"{_date_text(previous['date_suivi'])}) ou une nouvelle action",
                         f"action « {row['id_action']} » rouverte après avoir été "
                         f"{previous['statut'].lower()}")
                before, now = previous["avancement"], row["avancement"]
                if pd.notna(before) and pd.notna(now) and now < before \
                        and row["statut"] not in ("Suspendue", "Abandonnée"):
                    warn(index, "avancement", now,
                         f"au moins {_display(before)} % (avancement du suivi du "
                         f"{_date_text(previous['date_suivi'])})",
                         f"l'avancement de l'action « {row['id_action']} » diminue")
            previous = row

    progress = pd.to_numeric(actions["avancement"], errors="coerce")
    done_low = (actions["statut"] == "Réalisée") & (progress < 100)
    for index in actions.index[done_low.fillna(False).astype(bool)]:
        warn(index, "avancement", progress[index], "100 % pour une action réalisée",
             "action réalisée dont l'avancement est inférieur à 100 %")
    unstarted = (actions["statut"] == "Non commencée") & (progress > 0)
    for index in actions.index[unstarted.fillna(False).astype(bool)]:
        warn(index, "avancement", progress[index], "0 % pour une action non commencée",
             "action non commencée dont l'avancement est supérieur à 0 %")
    early = (pd.to_datetime(actions["date_suivi"]) < pd.to_datetime(actions["date_debut"])) \
        & (actions["statut"] != "Non commencée")
    for index in actions.index[early.fillna(False).astype(bool)]:
        warn(index, "statut", actions.at[index, "statut"],
             f"« Non commencée » avant la date de début "
             f"({_date_text(actions.at[index, 'date_debut'])})",
             "point de suivi antérieur au début de l'action avec un statut engagé")
    return sorted(problems, key=lambda p: (p.row or 0, p.column or ""))


def _differs(a: Any, b: Any) -> bool:
    if pd.isna(a) and pd.isna(b):
        return False
    if pd.isna(a) or pd.isna(b):
        return True
    return a != b


def _display(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, pd.Timestamp | dt.date):
        return _date_text(value)
    return str(value)


def _date_text(value: Any) -> str:
    """``30/06/2025`` (empty for a missing date)."""
    if value is None or pd.isna(value):
        return ""
    return pd.Timestamp(value).strftime("%d/%m/%Y")


# --------------------------------------------------------------------------- export

ACTION_COLUMNS = {
    "id_action": "Action",
    "code_territoire": "Territoire",
    "priorite": "Priorité",
    "theme": "Thème",
    "intitule": "Intitulé",
    "pilote": "Pilote",
    "partenaires": "Partenaires",
    "statut": "Statut",
    "avancement": "Avancement (%)",
    "date_debut": "Début",
    "date_echeance": "Échéance",
    "date_suivi": "Dernier suivi",
    "motif": "Motif",
    "indicateurs": "Indicateurs",
}
IMPACT_COLUMNS = {
    "indicateur": "Indicateur",
    "libelle": "Libellé",
    "priorite": "Priorité",
    "unite": "Unité",
    "sens": "Sens souhaité",
    "annee_initiale": "Année initiale",
    "valeur_initiale": "Valeur initiale",
    "annee_actuelle": "Année actuelle",
    "valeur_actuelle": "Valeur actuelle",
    "annee_cible": "Année cible",
    "valeur_cible": "Cible",
    "progression": "Progression vers la cible (%)",
    "progression_attendue": "Progression attendue (%)",
    "appreciation": "Appréciation",
}


def actions_for_display(current: pd.DataFrame) -> pd.DataFrame:
    """Statuses at a date with French column names (for tables and the workbook)."""
    frame = current.reindex(columns=list(ACTION_COLUMNS)).rename(columns=ACTION_COLUMNS)
    if "partenaires" in current:
        frame["Partenaires"] = current["partenaires"].map(
            lambda v: v.replace(LIST_SEPARATOR, ", ") if isinstance(v, str) else v).to_numpy()
    return frame.reset_index(drop=True)


def impact_for_display(progress: pd.DataFrame) -> pd.DataFrame:
    """:func:`impact_progress` with French column names, values rounded."""
    frame = progress.reindex(columns=list(IMPACT_COLUMNS)).copy()
    for column in ("progression", "progression_attendue"):
        frame[column] = frame[column].round(0)
    return frame.rename(columns=IMPACT_COLUMNS).reset_index(drop=True)


def roadmap_sheets(
    actions: pd.DataFrame,
    date: str | dt.date | pd.Timestamp | None = None,
    *,
    cibles: pd.DataFrame | None = None,
    territory: str | None = None,
    catalog: Mapping[str, Indicator] | None = None,
) -> dict[str, tuple[str, pd.DataFrame]]:
    """The steering-committee tables: sheet name → (title, table), French columns.

    « Actions » (status of every action at ``date``), « Par priorité », « En retard »,
    « Indicateurs d'impact » (empty when ``cibles`` is not given). Written as a workbook by
    :func:`ptsm_diag.report.roadmap.export_roadmap_xlsx`.

    Parameters
    ----------
    actions : DataFrame
        The ``actions`` history (already limited to the territories wanted).
    date : date or str, optional
        Date of the picture; the latest follow-up date by default.
    cibles : DataFrame, optional
        The ``cibles`` table, for the impact sheet.
    territory : str, optional
        Territory of the impact sheet (all rows of ``cibles`` by default).
    """
    when = resolve_date(actions, date)
    current = status_at(actions, when)
    by_priority = status_table(current, "priorite", priority_labels()).reset_index()
    by_priority = by_priority.rename(columns={"priorite": "Priorité"})
    late = overdue_actions(actions, when)
    late_display = actions_for_display(late)
    late_display.insert(0, "Jours de retard", late["jours_de_retard"].to_numpy())
    if cibles is not None:
        impact = impact_for_display(impact_progress(cibles, territory, catalog))
    else:
        impact = pd.DataFrame(columns=list(IMPACT_COLUMNS.values()))
    stamp = _date_text(when) or "aucune date de suivi"
    return {
        "Actions": (f"Statut des actions au {stamp}", actions_for_display(current)),
        "Par priorité": (f"Actions par priorité et statut au {stamp}", by_priority),
        "En retard": (f"Actions en retard au {stamp} (échéance dépassée, ni réalisées ni "
                      "abandonnées)", late_display),
        "Indicateurs d'impact": ("Indicateurs d'impact : valeur initiale, actuelle et cible "
                                 f"à 5 ans (en bonne voie : progression ≥ progression "
                                 f"attendue − {ON_TRACK_TOLERANCE:g} points)", impact),
    }
