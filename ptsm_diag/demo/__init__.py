"""Deterministic generator of the fictional demonstration data set.

Writes, in the template format of ``data_templates/``, a complete data folder for every
département of France: territories (one per département), population by commune and age
band, resources of every main type placed in real communes with plausible densities,
indicator numerators and denominators for the whole catalogue, a small feuille de route
with two follow-up dates, impact targets, cooperation links between resources, and the
national reference table of those fictional resources (``references_nationales.csv``), so
that the demo keeps its région and France references.
Everything but the geography is invented: the folder carries a ``DONNEES_FICTIVES.txt``
marker, and every output built from it says « données fictives de démonstration ».
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ptsm_diag import __version__
from ptsm_diag.catalog import (
    Indicator,
    load_indicator_catalog,
    load_resource_types,
    load_vocabularies,
)
from ptsm_diag.catalog.geography import (
    departements_of_communes,
    load_communes,
    load_departements,
)
from ptsm_diag.io.sources.national import NATIONAL_FILE, national_reference_table
from ptsm_diag.paths import DEMO_MARKER, cache_dir, is_demo_folder

DEMO_SEED = 2026
DEMO_TERRITORY = "35"
INDICATOR_YEARS = (2022, 2023)
FOLLOW_UP_DATES = ("2024-06-30", "2025-01-31", "2025-06-30")
# Bump when the generator changes: the cached demo folder is then regenerated.
DEMO_REVISION = 7  # 4: populations légales 2023; 5: declared prestations; 6: national table
# 7: contexte.csv

# Resource types: (density per 100,000 inhabitants, minimum per département,
# capacity column, capacity range). Orders of magnitude, not statistics.
RESOURCE_DENSITIES: dict[str, tuple[float, int, str | None, tuple[int, int]]] = {
    "chs": (0.25, 1, "capacite_lits", (80, 320)),
    "clinique_psy": (0.3, 0, "capacite_lits", (30, 90)),
    "ch_psy": (0.3, 0, "capacite_lits", (20, 60)),
    "cmp_adultes": (2.4, 2, None, (0, 0)),
    "cmp_enfants": (1.3, 1, None, (0, 0)),
    "cattp": (1.4, 1, "capacite_places", (10, 25)),
    "centre_crise": (0.05, 0, "capacite_lits", (4, 10)),
    "postcure": (0.08, 0, "capacite_lits", (15, 30)),
    "appartement_therapeutique": (0.15, 0, "capacite_places", (3, 8)),
    "equipe_mobile": (0.4, 1, None, (0, 0)),
    "centre_sante": (1.5, 0, None, (0, 0)),
    "msp": (3.0, 1, None, (0, 0)),
    "cpts": (0.6, 1, None, (0, 0)),
    "dac": (0.12, 1, None, (0, 0)),
    "csapa": (0.5, 1, None, (0, 0)),
    "mdph": (0.0, 1, None, (0, 0)),
    "savs": (0.8, 1, "capacite_places", (25, 90)),
    "samsah": (0.3, 1, "capacite_places", (15, 45)),
    "mas": (0.4, 1, "capacite_places", (35, 70)),
    "eam": (0.6, 1, "capacite_places", (25, 60)),
    "eanm": (1.2, 1, "capacite_places", (20, 50)),
    "esat": (1.0, 1, "capacite_places", (40, 140)),
    "cmpp": (0.4, 0, None, (0, 0)),
    "camsp": (0.3, 1, None, (0, 0)),
    "sessad": (1.0, 1, "capacite_places", (20, 60)),
    "ime": (0.8, 1, "capacite_places", (30, 90)),
    "itep": (0.3, 0, "capacite_places", (25, 50)),
    "chrs": (0.6, 1, "capacite_places", (20, 80)),
    "pension_famille": (0.8, 0, "capacite_places", (15, 25)),
    "gem": (0.5, 1, None, (0, 0)),
    "clsm": (0.3, 0, None, (0, 0)),
    "association_usagers": (0.3, 1, None, (0, 0)),
}

# Age structure (share 0-17, share 65+) around which communes vary.
AGE_SHARES = (0.215, 0.205)

# Demo feuille de route: (priority, theme, title).
DEMO_ACTIONS = [
    (1, 3, "Organiser l'accès au premier rendez-vous en CMP en moins de 15 jours"),
    (1, 1, "Former les médecins généralistes au repérage précoce"),
    (2, 3, "Développer les équipes de réhabilitation psychosociale"),
    (2, 4, "Créer une commission des situations complexes"),
    (3, 2, "Généraliser le bilan somatique à l'admission"),
    (4, 3, "Mettre en place une équipe mobile de crise"),
    (5, 5, "Soutenir la création d'un GEM et d'un CLSM"),
    (6, 1, "Déployer les compétences psychosociales en milieu scolaire"),
]
STATUS_PATHS = [
    ("Non commencée", "Non commencée", "En cours"),
    ("En cours", "En cours", "Réalisée"),
    ("En cours", "En cours", "En cours"),
    ("Non commencée", "Non commencée", "Non commencée"),
    ("Non commencée", "En cours", "Suspendue"),
    ("Non commencée", "Non commencée", "Abandonnée"),
    ("En cours", "Réalisée", "Réalisée"),
]


def demo_data_dir(*, regenerate: bool = False) -> Path:
    """The demo data folder, generated into the cache on first use."""
    target = cache_dir() / f"demo-{__version__}-r{DEMO_REVISION}-{DEMO_SEED}"
    if target.is_dir() and is_demo_folder(target) and not regenerate:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".demo-"))
    try:
        generate_demo_data(tmp)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _communes() -> pd.DataFrame:
    communes = load_communes()
    frame = pd.DataFrame(communes.drop(columns="geometry"))
    points = communes.geometry.representative_point()
    frame["lon"] = points.x.to_numpy()
    frame["lat"] = points.y.to_numpy()
    frame["population"] = pd.to_numeric(frame["population"], errors="coerce").fillna(0)
    return frame


def demo_territories() -> pd.DataFrame:
    """One territory per département, in the ``territoires`` template format."""
    deps = load_departements()
    return pd.DataFrame(
        {
            "code_territoire": deps["code_departement"].astype(str),
            "nom_territoire": "PTSM " + deps["nom"].astype(str),
            "code_region": deps["code_region"].astype(str),
            "niveau": "departement",
            "code": deps["code_departement"].astype(str),
        }
    ).sort_values("code_territoire").reset_index(drop=True)


def demo_population(communes: pd.DataFrame, rng: np.random.Generator, year: int) -> pd.DataFrame:
    """Population of every commune by age band (0-17, 18-64, 65+), fictional split."""
    total = communes["population"].to_numpy()
    small = total < 2000  # rural communes are older
    share_young = np.clip(rng.normal(AGE_SHARES[0], 0.03, len(total)), 0.08, 0.35)
    share_old = np.clip(rng.normal(AGE_SHARES[1] + 0.05 * small, 0.04, len(total)), 0.06, 0.45)
    young = np.round(total * share_young).astype(int)
    old = np.round(total * share_old).astype(int)
    adults = np.maximum(total.astype(int) - young - old, 0)
    bands = {"0-17": young, "18-64": adults, "65+": old}
    has_population = communes["population"].to_numpy() > 0
    frames = [
        pd.DataFrame({
            "code_commune": communes["code_commune"].to_numpy()[has_population],
            "annee": year,
            "tranche_age": band,
            "population": values[has_population],
        })
        for band, values in bands.items()
    ]
    return pd.concat(frames).sort_values(["code_commune", "tranche_age"]).reset_index(drop=True)


# Context indicators: (mean share, spread) of the fictional rates, and the denominator as
# a share of the population. Orders of magnitude, not statistics.
CONTEXT_YEAR = 2021
CONTEXT_RATES: dict[str, tuple[float, float, float]] = {
    "taux_pauvrete": (0.145, 0.035, 0.97),       # persons of fiscal households
    "taux_chomage": (0.115, 0.03, 0.46),          # active population 15-64
    "part_allocataires_aah": (0.022, 0.006, 0.56),  # population 20-64
    "part_menages_une_personne": (0.37, 0.06, 0.47),  # households
}
QPV_MIN_POPULATION = 10_000  # fictional QPV only in towns of this size or more


def demo_context(communes: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Fictional ``contexte`` rows: one row per département and indicator, except the demo
    territory's département, given commune by commune (so that the demo card shows the
    aggregation of communes)."""
    frame = communes[pd.to_numeric(communes["population"], errors="coerce") > 0]
    units = [("commune", frame.loc[frame["code_departement"] == DEMO_TERRITORY,
                                   ["code_commune", "population"]].to_numpy())]
    deps = frame[frame["code_departement"] != DEMO_TERRITORY].groupby(
        "code_departement")["population"].sum()
    units.append(("departement", np.column_stack([deps.index.to_numpy(), deps.to_numpy()])))
    source = "données fictives de démonstration"
    rows = []
    for level, items in units:
        codes = items[:, 0].astype(str)
        pop = items[:, 1].astype(float)
        n = len(codes)
        young = np.clip(rng.normal(0.23, 0.025, n), 0.12, 0.35)
        old = np.clip(rng.normal(0.21, 0.04, n), 0.08, 0.40)
        very_old = old * np.clip(rng.normal(0.48, 0.04, n), 0.35, 0.6)
        counts = {"part_0_19": np.round(pop * young), "part_65_plus": np.round(pop * old),
                  "part_75_plus": np.round(pop * very_old)}
        counts["part_20_64"] = np.maximum(pop - counts["part_0_19"] - counts["part_65_plus"], 0)
        for indicator, numerator in counts.items():
            rows += [{"niveau": level, "code": c, "indicateur": indicator,
                      "annee": CONTEXT_YEAR + 2, "numerateur": int(k), "denominateur": int(d),
                      "source": source} for c, k, d in zip(codes, numerator, pop, strict=True)]
        for indicator, (mean, spread, base) in CONTEXT_RATES.items():
            denominator = np.maximum(np.round(pop * base), 1)
            rate = np.clip(rng.normal(mean, spread, n), 0, 0.9)
            numerator = np.minimum(np.round(denominator * rate), denominator)
            rows += [{"niveau": level, "code": c, "indicateur": indicator,
                      "annee": CONTEXT_YEAR, "numerateur": int(k), "denominateur": int(d),
                      "source": source}
                     for c, k, d in zip(codes, numerator, denominator, strict=True)]
        share = np.clip(rng.normal(0.08, 0.04, n), 0, 0.3)
        if level == "commune":
            share = np.where(pop >= QPV_MIN_POPULATION, np.clip(share * 2, 0, 0.4), 0)
        rows += [{"niveau": level, "code": c, "indicateur": "part_population_qpv",
                  "annee": CONTEXT_YEAR - 1, "numerateur": int(round(d * r)),
                  "denominateur": int(d), "source": source}
                 for c, r, d in zip(codes, share, pop, strict=True)]
    return pd.DataFrame(rows, columns=["niveau", "code", "indicateur", "annee", "numerateur",
                                       "denominateur", "valeur", "source"])


def demo_resources(communes: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Resources of every main type placed in real communes, weighted by population."""
    types = load_resource_types()
    rows: list[dict[str, object]] = []
    counter = 0
    for dep, group in communes.groupby("code_departement", sort=True):
        population = group["population"].sum()
        weights = group["population"].to_numpy() ** 1.15 + 1.0
        weights = weights / weights.sum()
        for code, (density, minimum, capacity_column, (low, high)) in RESOURCE_DENSITIES.items():
            count = max(minimum, int(rng.poisson(density * population / 100_000)))
            if count == 0:
                continue
            picks = rng.choice(len(group), size=count, p=weights)
            for pick in picks:
                commune = group.iloc[int(pick)]
                counter += 1
                approximate = rng.random() < 0.05
                row: dict[str, object] = {
                    "id_ressource": f"DEMO-{counter:06d}",
                    "finess": "" if types[code].finess_categories == () else
                    f"{str(dep)[:2]}{rng.integers(0, 10**7):07d}",
                    "nom": f"{types[code].label.split(' (')[0]} de {commune['nom']}",
                    "type_ressource": code,
                    "champ": types[code].champ,
                    "public": types[code].public,
                    "code_commune": commune["code_commune"],
                    "longitude": "" if approximate else
                    round(float(commune["lon"] + rng.normal(0, 0.004)), 5),
                    "latitude": "" if approximate else
                    round(float(commune["lat"] + rng.normal(0, 0.003)), 5),
                    "capacite_lits": "",
                    "capacite_places": "",
                    "prestations": _declared_prestations(types[code].prestations, rng),
                    "source": "démonstration (fictif)",
                }
                if capacity_column:
                    row[capacity_column] = int(rng.integers(low, high + 1))
                rows.append(row)
    frame = pd.DataFrame(rows)
    # FINESS numbers must be unique: regenerate the rare collisions.
    dup = frame["finess"].ne("") & frame["finess"].duplicated(keep="first")
    frame.loc[dup, "finess"] = [f"{f[:2]}9{i:06d}" for i, f in
                                enumerate(frame.loc[dup, "finess"])]
    return frame


# Share of resources that declare no prestation (the report then infers those of their
# type, labelled as inferred), and chance that a declaring resource offers each of the
# usual prestations of its type beyond the first.
UNDECLARED_SHARE = 0.15
PRESTATION_KEPT = 0.7


def _declared_prestations(usual: tuple[str, ...], rng: np.random.Generator) -> str:
    """The ``prestations`` cell of a demo resource: empty (nothing declared) or its first
    usual prestation plus each other one with probability :data:`PRESTATION_KEPT`."""
    if not usual or rng.random() < UNDECLARED_SHARE:
        return ""
    kept = [usual[0], *(p for p in usual[1:] if rng.random() < PRESTATION_KEPT)]
    return "|".join(kept)


# Share of the population in the age band of an indicator's denominator (fictional).
POPULATION_SHARES = {"ensemble": 1.0, "0-17": 0.21, "18+": 0.79, "16+": 0.81,
                     "20-59": 0.48, "18-64": 0.57, "65+": 0.21}


def _indicator_rows(
    territories: pd.DataFrame,
    population_by_territory: pd.Series,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Numerators/denominators (or values) for every indicator, territory and year.

    Each indicator's ``demo`` block of the catalogue gives a typical value, the spread
    between territories and bounds; counts are drawn around them (binomial for
    proportions, Poisson for rates), so small territories get small, masked counts.
    """
    catalog = load_indicator_catalog()
    rows: list[dict[str, object]] = []
    codes = territories["code_territoire"].drop_duplicates().tolist()
    for indicator in catalog.values():
        demo = indicator.demo
        if demo is None:
            continue
        effects = rng.normal(0, demo.spread, len(codes))
        for year_index, year in enumerate(INDICATOR_YEARS):
            drift = 1 + 0.02 * year_index
            for code, effect in zip(codes, effects, strict=True):
                expected = float(np.clip((demo.typical + effect) * drift,
                                         demo.min if demo.min is not None else 0,
                                         demo.max if demo.max is not None else np.inf))
                row: dict[str, object] = {
                    "code_territoire": code, "indicateur": indicator.id, "annee": year,
                    "numerateur": "", "denominateur": "", "valeur": "",
                    "source": "démonstration (fictif)",
                }
                population = float(population_by_territory.get(code, 0))
                denominator = _demo_denominator(indicator, population)
                if denominator is None or denominator <= 0:
                    row["valeur"] = round(expected, 2)
                else:
                    mean = denominator * expected / indicator.scale
                    if indicator.kind == "proportion":
                        numerator = rng.binomial(denominator, min(expected / indicator.scale, 1))
                    else:
                        numerator = rng.poisson(mean)
                    row["numerateur"] = int(numerator)
                    row["denominateur"] = int(denominator)
                rows.append(row)
    frame = pd.DataFrame(rows)
    return pd.concat([frame, _value_references(frame, territories, population_by_territory)],
                     ignore_index=True)


def _value_references(
    frame: pd.DataFrame, territories: pd.DataFrame, population_by_territory: pd.Series
) -> pd.DataFrame:
    """Reference rows (FRANCE, R<région>) for indicators given as values only.

    Means and values cannot be pooled from counts, so the references come as rows, as a
    producer would publish them: here the population-weighted mean of the territories.
    """
    values = frame[frame["valeur"] != ""].copy()
    if values.empty:
        return values
    regions = territories.drop_duplicates("code_territoire").set_index("code_territoire")
    values["region"] = values["code_territoire"].map(regions["code_region"])
    # +1: a territory without known population (Mayotte) still counts
    values["poids"] = values["code_territoire"].map(population_by_territory).fillna(0) + 1
    values["produit"] = values["valeur"].astype(float) * values["poids"]
    rows = []
    for level, keys in (("FRANCE", ["indicateur", "annee"]),
                        ("R", ["indicateur", "annee", "region"])):
        sums = values.groupby(keys)[["produit", "poids"]].sum().reset_index()
        for record in sums.itertuples(index=False):
            code = "FRANCE" if level == "FRANCE" else f"R{record.region}"
            rows.append({"code_territoire": code, "indicateur": record.indicateur,
                         "annee": record.annee, "numerateur": "", "denominateur": "",
                         "valeur": round(record.produit / record.poids, 2),
                         "source": "démonstration (fictif)"})
    return pd.DataFrame(rows)


def _demo_denominator(indicator: Indicator, population: float) -> int | None:
    """The demo denominator: a population band, a patient count, or None (a value)."""
    if indicator.kind in ("mean", "value"):
        return None
    if indicator.population:
        return round(population * POPULATION_SHARES.get(indicator.population, 1.0))
    if indicator.demo is not None and indicator.demo.denominator_per_100000:
        return max(round(population * indicator.demo.denominator_per_100000 / 100_000), 1)
    return None


def demo_actions(territories: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """A small feuille de route per territory, followed at three dates.

    Every other action is due early (some are overdue at the last follow-up); each action
    names the impact indicators of its priority.
    """
    statuses_with_motive = set(load_vocabularies().statuses_requiring_motive)
    impact_by_priority: dict[int, list[str]] = {}
    for indicator in load_indicator_catalog().values():
        if indicator.category == "impact" and indicator.priority is not None:
            impact_by_priority.setdefault(int(indicator.priority), []).append(indicator.id)
    rows = []
    for code in territories["code_territoire"].drop_duplicates():
        chosen = rng.choice(len(DEMO_ACTIONS), size=6, replace=False)
        for number, index in enumerate(sorted(chosen), start=1):
            priority, theme, title = DEMO_ACTIONS[int(index)]
            path = STATUS_PATHS[int(rng.integers(len(STATUS_PATHS)))]
            first = int(rng.integers(0, 15))
            middle = first + int(rng.integers(5, 30))
            progress = (first, middle, middle + int(rng.integers(5, 40)))
            due = "2025-03-31" if number % 2 == 0 else "2026-12-31"
            for follow_up, status, advance in zip(FOLLOW_UP_DATES, path, progress, strict=True):
                rows.append({
                    "id_action": f"{code}-A{number:02d}",
                    "code_territoire": code,
                    "priorite": priority,
                    "theme": theme,
                    "intitule": title,
                    "pilote": "Établissement de santé mentale de référence",
                    "partenaires": "CPTS|MDPH|Conseil départemental",
                    "statut": status,
                    "date_debut": "2024-01-15",
                    "date_echeance": due,
                    "date_suivi": follow_up,
                    "avancement": {"Réalisée": 100, "Non commencée": 0}.get(status, advance),
                    "motif": "Réorganisation des moyens (fictif)"
                    if status in statuses_with_motive else "",
                    "indicateurs": "|".join(impact_by_priority.get(int(priority), [])),
                })
    return pd.DataFrame(rows)


def demo_targets(indicators: pd.DataFrame) -> pd.DataFrame:
    """Impact targets: baseline = first year, current = last year, target from the catalogue."""
    catalog = load_indicator_catalog()
    impact = [i for i in catalog.values() if i.category == "impact"]
    values = indicators.copy()
    num = pd.to_numeric(values["numerateur"], errors="coerce")
    den = pd.to_numeric(values["denominateur"], errors="coerce")
    val = pd.to_numeric(values["valeur"], errors="coerce")
    scales = values["indicateur"].map({i.id: i.scale for i in catalog.values()})
    values["v"] = (num / den * scales).fillna(val)
    rows = []
    for indicator in impact:
        subset = values[values["indicateur"] == indicator.id]
        for code, group in subset.groupby("code_territoire"):
            first = group.loc[group["annee"] == INDICATOR_YEARS[0], "v"]
            last = group.loc[group["annee"] == INDICATOR_YEARS[-1], "v"]
            if first.empty or pd.isna(first.iloc[0]):
                continue
            baseline = float(first.iloc[0])
            target = _target_value(indicator, baseline)
            if target is None:
                continue
            rows.append({
                "code_territoire": code,
                "indicateur": indicator.id,
                "annee_initiale": INDICATOR_YEARS[0],
                "valeur_initiale": round(baseline, 2),
                "annee_cible": INDICATOR_YEARS[0] + 5,
                "valeur_cible": round(target, 2),
                "annee_actuelle": INDICATOR_YEARS[-1],
                "valeur_actuelle": round(float(last.iloc[0]), 2) if not last.empty else "",
            })
    return pd.DataFrame(rows)


def _target_value(indicator: Indicator, baseline: float) -> float | None:
    """The numeric 5-year target of an indicator, from its baseline; None if not numeric."""
    target = indicator.target
    if target is None:
        return None
    if target.type == "relative" and target.factor is not None:
        return baseline * target.factor
    if target.type == "absolute" and target.value is not None:
        return target.value
    return None


# Demo cooperation: (kind of link, weight) by pair of champs of the partner of a
# psychiatric service, and the share of structures that have such a link.
DEMO_LINK_KINDS: dict[str, tuple[tuple[str, float], ...]] = {
    "medico-social": (("convention", 0.35), ("echange_pratiques", 0.25),
                      ("equipe_mobile", 0.15), ("stage_immersion", 0.1),
                      ("formation_commune", 0.1), ("case_management", 0.05)),
    "social": (("convention", 0.3), ("equipe_mobile", 0.3), ("echange_pratiques", 0.2),
               ("concertation", 0.1), ("formation_commune", 0.1)),
    "ville": (("dossier_partage", 0.5), ("concertation", 0.3), ("formation_commune", 0.2)),
    "coordination": (("concertation", 0.5), ("case_management", 0.3),
                     ("dossier_partage", 0.2)),
    "usagers": (("convention", 0.5), ("echange_pratiques", 0.3), ("formation_commune", 0.2)),
}
DEMO_LINK_SHARE = {"medico-social": 0.55, "social": 0.45, "ville": 0.3, "coordination": 0.7,
                   "usagers": 0.6}
DEMO_FREQUENCIES = {"echange_pratiques": "semestrielle", "equipe_mobile": "hebdomadaire",
                    "case_management": "continue", "dossier_partage": "continue",
                    "concertation": "mensuelle", "stage_immersion": "ponctuelle",
                    "formation_commune": "ponctuelle"}
DEMO_FREE_PARTNERS = (("Mission locale", "autre"), ("Bailleur social", "autre"),
                      ("Service pénitentiaire d'insertion et de probation", "autre"),
                      ("Centre communal d'action sociale", "autre"))
_PSY_ADULTS = ("cmp_adultes", "chs", "ch_psy", "cattp", "equipe_mobile", "clinique_psy")
_PSY_CHILDREN = ("cmp_enfants", "chs", "ch_psy")


def demo_partnerships(
    resources: pd.DataFrame, communes: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """Cooperation links between the demo resources, in the ``partenariats`` format.

    In each département, a share of the médico-social, social, ville, coordination and
    users' structures is linked with a nearby psychiatric service (CMP for the public, or
    the CHS), some CMPs with a second structure; links start between 2018 and 2025, some
    have ended, a few partners are named freely (mission locale, bailleur social...).
    """
    from ptsm_diag.catalog import psychiatric_types

    places = communes.set_index("code_commune")[["lon", "lat", "nom"]]
    frame = resources.copy()
    lon = pd.to_numeric(frame["longitude"], errors="coerce")
    lat = pd.to_numeric(frame["latitude"], errors="coerce")
    frame["x"] = lon.fillna(frame["code_commune"].map(places["lon"]))
    frame["y"] = lat.fillna(frame["code_commune"].map(places["lat"]))
    frame["dep"] = departements_of_communes(frame["code_commune"])
    frame = frame.dropna(subset=["x", "y"])  # a commune without a point cannot be linked
    rows: list[dict[str, object]] = []
    kinds_of = {champ: ([k for k, _ in pairs], np.array([w for _, w in pairs]))
                for champ, pairs in DEMO_LINK_KINDS.items()}

    def add(first: str, second: object, champ: str, free: tuple[str, str] | None = None
            ) -> None:
        kinds, weights = kinds_of[champ]
        kind = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
        year = int(rng.integers(2018, 2026))
        start = f"{year}-{int(rng.integers(1, 13)):02d}-01"
        frequency = DEMO_FREQUENCIES.get(kind, "")
        end = ""
        if frequency != "ponctuelle" and rng.random() < 0.15:
            end = f"{min(year + int(rng.integers(1, 4)), 2025)}-12-31"
            frequency = ""
        elif frequency == "" and rng.random() < 0.5:
            end = f"{year + 3}-12-31"
        else:
            frequency = frequency or "annuelle"
        rows.append({
            "id_lien": f"L{len(rows) + 1:06d}", "id_ressource_1": first,
            "nom_acteur_1": "", "type_acteur_1": "",
            "id_ressource_2": "" if free else second,
            "nom_acteur_2": free[0] if free else "", "type_acteur_2": free[1] if free else "",
            "type_lien": kind, "date_debut": start, "date_fin": end, "frequence": frequency,
            "note": "", "source": "démonstration (fictif)",
        })

    for _dep, group in frame.groupby("dep", sort=True):
        psy = group[group["type_ressource"].isin(psychiatric_types())]
        if psy.empty:
            continue
        for row in group.itertuples(index=False):
            champ = row.champ
            if champ not in DEMO_LINK_SHARE or rng.random() >= DEMO_LINK_SHARE[champ]:
                continue
            wanted = _PSY_CHILDREN if row.public == "enfants" else _PSY_ADULTS
            candidates = psy[psy["type_ressource"].isin(wanted)]
            if candidates.empty:
                candidates = psy
            distance = np.hypot(candidates["x"].to_numpy() - row.x,
                                candidates["y"].to_numpy() - row.y)
            weights = 1.0 / (distance + 0.02) ** 2
            partner = candidates.iloc[int(rng.choice(len(candidates), p=weights / weights.sum()))]
            add(partner["id_ressource"], row.id_ressource, champ)
        cmps = group[group["type_ressource"].isin(("cmp_adultes", "cmp_enfants"))]
        others = group[group["champ"].isin(("medico-social", "social"))]
        for row in cmps.itertuples(index=False):
            if not others.empty and rng.random() < 0.35:
                other = others.iloc[int(rng.integers(len(others)))]
                add(row.id_ressource, other["id_ressource"], str(other["champ"]))
            if rng.random() < 0.15:
                name, kind = DEMO_FREE_PARTNERS[int(rng.integers(len(DEMO_FREE_PARTNERS)))]
                town = places["nom"].get(row.code_commune, "")
                add(row.id_ressource, None, "social", (f"{name} de {town}", kind))
    links = pd.DataFrame(rows)
    pairs = links[["id_ressource_1", "id_ressource_2", "nom_acteur_2", "type_lien"]]
    return links[~pairs.duplicated()].reset_index(drop=True)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, sep=";", index=False, encoding="utf-8")


def generate_demo_data(
    out_dir: str | Path,
    seed: int = DEMO_SEED,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Write the complete fictional data folder into ``out_dir``.

    Parameters
    ----------
    out_dir : path
        Folder to write (created when missing).
    seed : int
        Seed of the random generator: the same seed gives the same files.
    progress : callable, optional
        Called with a French message before each table.
    """
    say = progress or (lambda _message: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    communes = _communes()
    year = int(load_communes()["annee_population"].iloc[0])

    say("territoires")
    territories = demo_territories()
    _write_csv(territories, out / "territoires.csv")

    say("population")
    population = demo_population(communes, rng, year)
    _write_csv(population, out / "population.csv")

    say("ressources")
    resources = demo_resources(communes, rng)
    _write_csv(resources, out / "ressources.csv")

    say("références nationales")
    national = national_reference_table(
        resources, types=list(load_resource_types()),
        source="données fictives de démonstration (comptées sur ressources.csv)")
    _write_csv(national, out / NATIONAL_FILE)

    say("indicateurs")
    pop_by_dep = communes.groupby("code_departement")["population"].sum()
    indicators = _indicator_rows(territories, pop_by_dep, rng)
    _write_csv(indicators, out / "indicateurs.csv")

    say("feuille de route")
    _write_csv(demo_actions(territories, rng), out / "actions.csv")
    _write_csv(demo_targets(indicators), out / "cibles.csv")

    say("partenariats")  # the other tables stay as they were before it existed
    _write_csv(demo_partnerships(resources, communes, rng), out / "partenariats.csv")

    say("contexte")  # its own generator: the tables above do not change
    _write_csv(demo_context(communes, np.random.default_rng(seed + 14)), out / "contexte.csv")

    (out / DEMO_MARKER).write_text(
        "Données fictives de démonstration produites par ptsm-diag "
        f"{__version__} (graine {seed}).\n"
        "Seules la géographie et les populations communales totales sont réelles "
        "(INSEE/IGN) ; ressources, indicateurs et actions sont inventés.\n",
        encoding="utf-8",
    )
    return out
