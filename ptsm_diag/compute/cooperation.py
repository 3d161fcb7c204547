"""Cooperation between sectors: links between actors, from the ``partenariats`` table.

Pure functions on the validated tables (no file is read, nothing is printed):

- :func:`link_table` — the links with both actors resolved (name, type, champ);
- :func:`active_links` — the links active at a date;
- :func:`cooperation_indicators` — per territory: share of médico-social and social
  structures linked with a psychiatric service, share of CMPs linked with both a
  médico-social and a social structure, counts;
- :func:`sector_matrix` — active links by pair of champs;
- :func:`isolated_actors` — structures of the territory without any active link;
- :func:`cooperation_evolution` — the indicators at successive dates.

An actor is either a resource of ``ressources`` (key: its ``id_ressource``) or a structure
named freely in ``partenariats`` (key: ``libre:`` + its name in lower case; its champ comes
from ``type_acteur_N``). A link is active at date *d* when ``date_debut ≤ d ≤ date_fin``
(missing bounds are open); a « ponctuelle » link without end date is active on its start
date only.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ptsm_diag.catalog import load_resource_types, load_vocabularies, psychiatric_types

# Psychiatric services (sanitaire, mental health): the "psychiatrie" side of a link.
PSYCHIATRIC_TYPES: tuple[str, ...] = psychiatric_types()
CMP_TYPES: tuple[str, ...] = ("cmp_adultes", "cmp_enfants")
FREE_PREFIX = "libre:"
UNKNOWN_CHAMP = "non_renseigne"
UNKNOWN_CHAMP_LABEL = "Non renseigné"

LINK_COLUMNS = [
    "id_lien", "acteur_1", "acteur_2", "nom_1", "nom_2", "type_1", "type_2", "champ_1",
    "champ_2", "type_lien", "debut", "fin", "frequence", "note",
]
INDICATOR_COLUMNS = ["indicateur", "libelle", "numerateur", "denominateur", "valeur", "unite"]

# The cooperation indicators (category « processus »), computed here from partenariats.
INDICATORS: dict[str, str] = {
    "part_ms_social_lien_psy": "Structures médico-sociales et sociales ayant au moins un "
                               "lien actif avec un service de psychiatrie",
    "part_ms_lien_psy": "Structures médico-sociales ayant au moins un lien actif avec un "
                        "service de psychiatrie",
    "part_social_lien_psy": "Structures sociales ayant au moins un lien actif avec un "
                            "service de psychiatrie",
    "part_cmp_lien_ms_et_social": "CMP liés à au moins une structure médico-sociale et à "
                                  "au moins une structure sociale",
    "part_structures_isolees": "Structures du territoire sans aucun lien actif",
    "liens_actifs": "Liens de coopération actifs",
    "liens_intersectoriels": "Liens actifs entre deux champs différents",
}


def _as_timestamp(at: str | dt.date | pd.Timestamp | None) -> pd.Timestamp:
    if at is None:
        return pd.Timestamp.today().normalize()
    return pd.Timestamp(at).normalize()


def _free_key(names: pd.Series) -> pd.Series:
    return FREE_PREFIX + names.astype("string").str.strip().str.casefold()


def link_table(partenariats: pd.DataFrame | None, ressources: pd.DataFrame | None) -> pd.DataFrame:
    """The links with both actors resolved.

    Parameters
    ----------
    partenariats : DataFrame
        The validated ``partenariats`` table (None or empty: no link).
    ressources : DataFrame
        The validated ``ressources`` table (all of them: a partner may lie outside the
        territory).

    Returns
    -------
    DataFrame
        Columns :data:`LINK_COLUMNS`: actor keys, names, types and champs of both actors,
        kind of link, effective start and end (``fin``: a « ponctuelle » link without end
        ends on its start date), frequency and note.
    """
    if partenariats is None or partenariats.empty:
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c in ("debut", "fin")
                                          else object) for c in LINK_COLUMNS})
    types = load_resource_types()
    type_champ = {code: t.champ for code, t in types.items()}
    by_id = pd.DataFrame(columns=["nom", "type_ressource", "champ"]) if ressources is None \
        else ressources.set_index("id_ressource")[["nom", "type_ressource", "champ"]]
    by_id = by_id[~by_id.index.duplicated()]
    out = pd.DataFrame(index=partenariats.index)
    out["id_lien"] = partenariats["id_lien"].astype(object)
    for n in (1, 2):
        ids = partenariats[f"id_ressource_{n}"]
        names = partenariats[f"nom_acteur_{n}"]
        free_type = partenariats[f"type_acteur_{n}"]
        known = ids.notna()
        out[f"acteur_{n}"] = ids.where(known, _free_key(names)).astype(object)
        out[f"nom_{n}"] = ids.map(by_id["nom"]).where(known, names).fillna(names).astype(object)
        out[f"type_{n}"] = ids.map(by_id["type_ressource"]).where(known, free_type).astype(object)
        champ = ids.map(by_id["champ"]).where(known, free_type.map(type_champ))
        out[f"champ_{n}"] = champ.fillna(UNKNOWN_CHAMP).astype(object)
    out["type_lien"] = partenariats["type_lien"].astype(object)
    debut = pd.to_datetime(partenariats["date_debut"])
    fin = pd.to_datetime(partenariats["date_fin"])
    one_off = (partenariats["frequence"] == "ponctuelle").fillna(False).astype(bool)
    out["debut"] = debut
    out["fin"] = fin.where(fin.notna() | ~one_off, debut)
    out["frequence"] = partenariats["frequence"].astype(object)
    out["note"] = partenariats["note"].astype(object)
    return out[LINK_COLUMNS].reset_index(drop=True)


def active_links(links: pd.DataFrame, at: str | dt.date | pd.Timestamp | None = None
                 ) -> pd.DataFrame:
    """The links active at date ``at`` (today by default); bounds included."""
    day = _as_timestamp(at)
    started = links["debut"].isna() | (links["debut"] <= day)
    not_ended = links["fin"].isna() | (links["fin"] >= day)
    return links[(started & not_ended).to_numpy()]


def territory_links(links: pd.DataFrame, resource_ids: Iterable[str]) -> pd.DataFrame:
    """The links with at least one actor among ``resource_ids`` (the territory's)."""
    ids = set(resource_ids)
    return links[(links["acteur_1"].isin(ids) | links["acteur_2"].isin(ids)).to_numpy()]


def _ends(links: pd.DataFrame) -> pd.DataFrame:
    """Each link seen from both ends: actor, partner, partner's type and champ."""
    first = pd.DataFrame({"acteur": links["acteur_1"], "partenaire": links["acteur_2"],
                          "type_partenaire": links["type_2"],
                          "champ_partenaire": links["champ_2"], "champ": links["champ_1"]})
    second = pd.DataFrame({"acteur": links["acteur_2"], "partenaire": links["acteur_1"],
                           "type_partenaire": links["type_1"],
                           "champ_partenaire": links["champ_1"], "champ": links["champ_2"]})
    return pd.concat([first, second], ignore_index=True)


def _share(numerator: int, denominator: int) -> float:
    return 100.0 * numerator / denominator if denominator else np.nan


def cooperation_indicators(
    partenariats: pd.DataFrame | None,
    ressources: pd.DataFrame,
    territory_resources: pd.DataFrame | None = None,
    at: str | dt.date | pd.Timestamp | None = None,
    *,
    links: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The cooperation indicators of a territory at a date.

    Parameters
    ----------
    partenariats : DataFrame
        The validated ``partenariats`` table.
    ressources : DataFrame
        All validated resources (partners may lie outside the territory).
    territory_resources : DataFrame, optional
        The resources of the territory (denominators); all ``ressources`` by default.
    at : date, optional
        Date at which links must be active; today by default.
    links : DataFrame, optional
        :func:`link_table` of ``partenariats`` and ``ressources`` already computed (a batch
        computes it once for every territory); computed here by default.

    Returns
    -------
    DataFrame
        One row per indicator of :data:`INDICATORS`: ``indicateur``, ``libelle``,
        ``numerateur``, ``denominateur``, ``valeur`` (% for shares, a count otherwise;
        NaN when the denominator is 0) and ``unite``.
    """
    local = ressources if territory_resources is None else territory_resources
    if links is None:
        links = link_table(partenariats, ressources)
    return _TerritoryLinks(links, local).indicators(at)


class _TerritoryLinks:
    """A territory's links and actors, prepared once for its indicators at any date: what
    does not depend on the date (the territory's links, each seen from its ends inside the
    territory, the partner's kind, the resources' champs) is computed here, so that each
    date only selects the links active then (:func:`cooperation_evolution` asks ten)."""

    def __init__(self, links: pd.DataFrame, local: pd.DataFrame) -> None:
        self.ids = set(local["id_ressource"])
        own = territory_links(links, self.ids)
        own = own[(own["acteur_1"] != own["acteur_2"]).to_numpy()].reset_index(drop=True)
        self.starts, self.ends = own["debut"], own["fin"]
        self.open_start, self.open_end = own["debut"].isna(), own["fin"].isna()
        self.cross = (own["champ_1"] != own["champ_2"]).to_numpy()
        ends = _ends(own)
        ends["lien"] = np.tile(np.arange(len(own)), 2)
        ends = ends[ends["acteur"].isin(self.ids)]
        self.end_link = ends["lien"].to_numpy()
        self.end_actor = ends["acteur"].to_numpy()
        self.end_psy = ends["type_partenaire"].isin(PSYCHIATRIC_TYPES).to_numpy()
        self.end_ms = (ends["champ_partenaire"] == "medico-social").to_numpy()
        self.end_social = (ends["champ_partenaire"] == "social").to_numpy()
        champ = local.set_index("id_ressource")["champ"]
        self.medico = set(champ.index[champ == "medico-social"])
        self.social = set(champ.index[champ == "social"])
        self.cmp_ids = set(local.loc[local["type_ressource"].isin(CMP_TYPES), "id_ressource"])

    def indicators(self, at: str | dt.date | pd.Timestamp | None) -> pd.DataFrame:
        """:func:`cooperation_indicators` at ``at``."""
        day = _as_timestamp(at)
        active = ((self.open_start | (self.starts <= day))
                  & (self.open_end | (self.ends >= day))).to_numpy()
        at_end = active[self.end_link]
        actors = self.end_actor
        linked_psy = set(actors[at_end & self.end_psy])
        linked_ms = set(actors[at_end & self.end_ms])
        linked_social = set(actors[at_end & self.end_social])
        linked_any = set(actors[at_end])
        medico, social, cmp_ids, ids = self.medico, self.social, self.cmp_ids, self.ids

        def row(code: str, num: int, den: int | None, unit: str = "%") -> dict[str, object]:
            value = _share(num, den) if den is not None else float(num)
            return {"indicateur": code, "libelle": INDICATORS[code], "numerateur": num,
                    "denominateur": den if den is not None else np.nan, "valeur": value,
                    "unite": unit}

        rows = [
            row("part_ms_social_lien_psy", len((medico | social) & linked_psy),
                len(medico | social)),
            row("part_ms_lien_psy", len(medico & linked_psy), len(medico)),
            row("part_social_lien_psy", len(social & linked_psy), len(social)),
            row("part_cmp_lien_ms_et_social", len(cmp_ids & linked_ms & linked_social),
                len(cmp_ids)),
            row("part_structures_isolees", len(ids - linked_any), len(ids)),
            row("liens_actifs", int(active.sum()), None, "liens"),
            row("liens_intersectoriels", int((active & self.cross).sum()), None, "liens"),
        ]
        frame = pd.DataFrame(rows, columns=INDICATOR_COLUMNS)
        frame["denominateur"] = frame["denominateur"].astype(float)
        return frame


def champ_labels(include_unknown: bool = False) -> dict[str, str]:
    """Champ codes → French labels (with « Non renseigné » when asked)."""
    labels = dict(load_vocabularies().champs)
    if include_unknown:
        labels[UNKNOWN_CHAMP] = UNKNOWN_CHAMP_LABEL
    return labels


def sector_matrix(
    partenariats: pd.DataFrame | None,
    ressources: pd.DataFrame,
    territory_resources: pd.DataFrame | None = None,
    at: str | dt.date | pd.Timestamp | None = None,
    *,
    labels: bool = True,
    links: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Active links by pair of champs: a symmetric matrix of counts.

    A link between two champs counts once in each of the two cells; a link within a
    champ counts once on the diagonal. Every champ of the catalogue is a row and a
    column (« Non renseigné » too when a free actor has no type).

    Parameters
    ----------
    labels : bool
        French champ labels as index and columns (default); codes otherwise.
    links : DataFrame, optional
        :func:`link_table` of ``partenariats`` and ``ressources`` already computed (a batch
        computes it once for every territory); computed here by default.
    """
    local = ressources if territory_resources is None else territory_resources
    if links is None:
        links = link_table(partenariats, ressources)
    links = territory_links(active_links(links, at), local["id_ressource"])
    links = links[(links["acteur_1"] != links["acteur_2"]).to_numpy()]
    names = champ_labels(include_unknown=bool(
        (links[["champ_1", "champ_2"]] == UNKNOWN_CHAMP).any().any()))
    codes = list(names)
    counts: Counter[tuple[object, object]] = Counter()
    for a, b in zip(links["champ_1"], links["champ_2"], strict=True):
        counts[a, b] += 1
        if a != b:
            counts[b, a] += 1
    matrix = pd.DataFrame(0, index=codes, columns=codes, dtype=int)
    for (a, b), count in counts.items():
        matrix.loc[a, b] += count
    if labels:
        matrix = matrix.rename(index=names, columns=names)
    return matrix


def isolated_actors(
    partenariats: pd.DataFrame | None,
    ressources: pd.DataFrame,
    territory_resources: pd.DataFrame | None = None,
    at: str | dt.date | pd.Timestamp | None = None,
    *,
    links: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Structures of the territory without any active link at ``at``.

    Parameters
    ----------
    links : DataFrame, optional
        :func:`link_table` of ``partenariats`` and ``ressources`` already computed (a batch
        computes it once for every territory); computed here by default.

    Returns
    -------
    DataFrame
        ``id_ressource``, ``nom``, ``type_ressource``, ``champ``, ``code_commune`` and
        ``liens_passes`` (links that existed but are no longer or not yet active), sorted
        by champ, type and name.
    """
    local = ressources if territory_resources is None else territory_resources
    if links is None:
        links = link_table(partenariats, ressources)
    # only the territory's links can touch its structures
    links = territory_links(links, local["id_ressource"])
    links = links[(links["acteur_1"] != links["acteur_2"]).to_numpy()]
    active = set(_ends(active_links(links, at))["acteur"])
    every = _ends(links)["acteur"].value_counts()
    isolated = local[~local["id_ressource"].isin(active)]
    out = pd.DataFrame({
        "id_ressource": isolated["id_ressource"].to_numpy(),
        "nom": isolated["nom"].to_numpy(),
        "type_ressource": isolated["type_ressource"].to_numpy(),
        "champ": isolated["champ"].to_numpy(),
        "code_commune": isolated["code_commune"].to_numpy(),
        "liens_passes": isolated["id_ressource"].map(every).fillna(0).astype(int).to_numpy(),
    })
    return out.sort_values(["champ", "type_ressource", "nom"]).reset_index(drop=True)


def default_dates(links: pd.DataFrame, at: str | dt.date | pd.Timestamp | None = None
                  ) -> list[pd.Timestamp]:
    """1 January of each year from the first link's start to ``at``, then ``at``."""
    end = _as_timestamp(at)
    starts = links["debut"].dropna()
    first_year = int(starts.min().year) if not starts.empty else end.year
    dates = [pd.Timestamp(year=y, month=1, day=1) for y in range(first_year, end.year + 1)]
    return [d for d in dates if d < end] + [end]


def cooperation_evolution(
    partenariats: pd.DataFrame | None,
    ressources: pd.DataFrame,
    territory_resources: pd.DataFrame | None = None,
    dates: Sequence[str | dt.date | pd.Timestamp] | None = None,
    *,
    links: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The indicators at successive dates (long format: one row per date and indicator).

    Parameters
    ----------
    dates : sequence of dates, optional
        By default :func:`default_dates` (each 1 January since the first link, and today).
    links : DataFrame, optional
        :func:`link_table` of ``partenariats`` and ``ressources`` already computed (a batch
        computes it once for every territory); computed here by default.

    Returns
    -------
    DataFrame
        ``date`` then the columns of :func:`cooperation_indicators`.
    """
    local = ressources if territory_resources is None else territory_resources
    if links is None:
        links = link_table(partenariats, ressources)
    days = [_as_timestamp(d) for d in dates] if dates is not None else default_dates(links)
    # What does not depend on the date is prepared once, not at every date.
    prepared = _TerritoryLinks(links, local)
    frames = [prepared.indicators(day).assign(date=day) for day in days]
    if not frames:
        return pd.DataFrame(columns=["date", *INDICATOR_COLUMNS])
    out = pd.concat(frames, ignore_index=True)
    return out[["date", *INDICATOR_COLUMNS]]
