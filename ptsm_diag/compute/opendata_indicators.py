"""Rosace indicators computed from open data: FINESS counts and places, INSEE populations.

Some petals of the rosace are counts of structures or of installed places over a
population, which the open data give for every territory and its references:

=============================  ==========================================  ==============
indicator                      numerator                                   denominator
=============================  ==========================================  ==============
``densite_cmp``                CMP sites (adults and children)             population
``places_savs_samsah``         installed places of SAVS and SAMSAH         20-59 years
``places_mas_eam``             installed places of MAS and EAM (ex-FAM)    20-59 years
``places_esat``                installed places of ESAT                    20-59 years
``places_logement_accompagne`` places of pensions de famille / résidences  population
                               accueil
=============================  ==========================================  ==============

:func:`opendata_indicators` returns rows in the long ``indicateurs`` format for the
territory (from the data folder's ``ressources``) and for its references ``FRANCE`` and
``R<région>`` (from the national reference table, see :mod:`.densities`), with a
``source`` « FINESS <date> / INSEE <millésime> (calculé par ptsm-diag) ». A petal is
computed only when the territory **and** both references can be: never against a
reference pooled from the folder alone. :func:`merge_user_first` puts them under the
user's ``indicateurs`` rows: an indicator the user gives (for any territory or reference)
is taken from the user's table only.

Populations: the catalogue's band (20-59 years) when the territory and every département
of its references have it, else 20-64, else 18-64 years, said in ``source``. A unit takes
the band from the ``population`` table when complete for it, else from the national
population table (``population_nationale``: population per département and band, written
by the download from the national INSEE census file, which has 20-64 but no 20-59); the
territory takes it from the national table only when it is made of whole départements.
``ensemble`` is the population table's total when complete, else the bundled INSEE
populations légales for all. Places are the sum of the places known; the
structures without known places are counted in ``source``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from ptsm_diag.catalog import Indicator, load_indicator_catalog
from ptsm_diag.catalog.geography import cached_layer, geography_metadata
from ptsm_diag.catalog.indicator_catalog import OPEN_DATA_INDICATORS
from ptsm_diag.compute.densities import (
    _unit_population,
    commune_population,
    departement_population,
    national_counts,
)

FRANCE = "FRANCE"
# Band of the catalogue → bands tried in order.
BAND_FALLBACKS: dict[str, tuple[str, ...]] = {"20-59": ("20-59", "20-64", "18-64")}
CALCULATED = "calculé par ptsm-diag"
ORIGIN_OPEN = "données ouvertes (calcul ptsm-diag)"
ORIGIN_USER = "indicateurs.csv"
NOTE_COLUMNS = ["indicateur", "libelle", "calcule", "utilise", "valeur", "reference_france",
                "source", "raison"]


@dataclass
class OpenDataIndicators:
    """Rows computed from open data, and what happened to every candidate indicator.

    Attributes
    ----------
    rows : DataFrame
        ``code_territoire, indicateur, annee, numerateur, denominateur, valeur, source``.
    notes : DataFrame
        One row per open-data indicator (:data:`NOTE_COLUMNS`): ``calcule`` (bool),
        ``utilise`` (filled by :func:`merge_user_first`), the territory's value, the
        France reference, the source and, when not computed or not used, the reason.
    """

    rows: pd.DataFrame
    notes: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=NOTE_COLUMNS))


def _finess_date(national: pd.DataFrame) -> str:
    if "date_finess" not in national:
        return ""
    dates = pd.to_datetime(national["date_finess"], errors="coerce", dayfirst=False)
    return "" if dates.isna().all() else dates.max().strftime("%Y-%m-%d")


def opendata_indicators(
    resources: pd.DataFrame | None,
    communes: Sequence[str],
    population: pd.DataFrame | None,
    national: pd.DataFrame | None,
    *,
    code: str,
    region: str,
    catalog: Mapping[str, Indicator] | None = None,
    year: int | None = None,
    national_population: pd.DataFrame | None = None,
    commune_pop: pd.DataFrame | None = None,
    departement_pop: pd.DataFrame | None = None,
    counts: pd.DataFrame | None = None,
    bands: tuple[pd.DataFrame, int | None] | None = None,
    references: dict[tuple, Any] | None = None,
) -> OpenDataIndicators:
    """The open-data indicators of one territory and of its references.

    Parameters
    ----------
    resources : DataFrame or None
        The ``ressources`` table of the data folder (``type_ressource, code_commune``,
        optional ``capacite_places``).
    communes : sequence of str
        The territory's communes.
    population : DataFrame or None
        The ``population`` table (its latest year, or ``year``).
    national : DataFrame or None
        The national reference table; without it nothing is computed.
    code : str
        Territory code written on its rows.
    region : str
        Its main région (references ``R<région>``).
    catalog : mapping, optional
        The indicator catalogue (scale, population band, label).
    year : int, optional
        Year of the population table.
    national_population : DataFrame, optional
        The national population table (``code_departement, annee, tranche_age,
        population``); its latest year is used for the units the ``population`` table
        does not cover.
    commune_pop : DataFrame, optional
        ``commune_population(population, year=year)`` already computed (a batch computes
        it once for every territory); computed here by default.
    departement_pop : DataFrame, optional
        ``departement_population(commune_pop)`` already computed; computed here by default.
    counts : DataFrame, optional
        ``national_counts(national)`` already computed (a batch: once for every
        territory); computed here by default.
    bands : (DataFrame, int or None), optional
        :func:`national_bands` of ``national_population`` already computed.
    references : dict, optional
        A store shared by the territories of one batch, every call with the same tables
        (:class:`ptsm_diag.diagnostic.NationalWork`): what depends on the national tables
        and the région only (the references' numerators and populations, the FINESS date
        and sources) is computed for the first territory and read back for the others.
        Filled here; the results are those of a call without it.
    """
    catalog = dict(catalog) if catalog is not None else load_indicator_catalog()
    wanted = {k: v for k, v in OPEN_DATA_INDICATORS.items() if k in catalog}
    empty = pd.DataFrame(columns=["code_territoire", "indicateur", "annee", "numerateur",
                                  "denominateur", "valeur", "source"])
    notes: list[dict] = []
    if national is None or national.empty:
        for ind in wanted:
            notes.append(_note(catalog[ind], False, reason=(
                "pas de table nationale de référence (references_nationales.csv) : "
                "références région et France non calculables")))
        return OpenDataIndicators(empty, pd.DataFrame(notes, columns=NOTE_COLUMNS))

    pop = commune_population(population, year=year) if commune_pop is None else commune_pop
    counts = national_counts(national) if counts is None else counts
    dep_pop = departement_population(pop) if departement_pop is None else departement_pop
    departements = cached_layer("departements")
    all_deps = [d for d in departements["code_departement"].astype(str)
                if d in dep_pop.index and dep_pop.at[d, "bundled"] > 0]
    region_deps = [d for d in departements.loc[departements["code_region"].astype(str)
                                               == str(region), "code_departement"].astype(str)
                   if d in dep_pop.index and dep_pop.at[d, "bundled"] > 0]
    units = {code: None, f"R{region}": region_deps, FRANCE: all_deps}
    own_units = pd.DataFrame({"unit": code, "code_commune": list(map(str, communes))})
    own_pop = _unit_population(own_units, pop).reindex([code])
    own = _territory_counts(resources, set(own_units["code_commune"]))
    nat_pop, nat_year = national_bands(national_population) if bands is None else bands
    own_deps = _whole_departements(set(own_units["code_commune"]))
    memo: dict[tuple, Any] = references if references is not None else {}

    if ("sources",) not in memo:
        memo[("sources",)] = (_finess_date(national), sorted(
            {str(v) for v in national.get("source", pd.Series(dtype=object)).dropna().unique()
             if str(v).strip() and not str(v).startswith("FINESS")}))
    date, named = memo[("sources",)]
    annee = int(date[:4]) if date else (year or int(pop.attrs.get("annee_population", 0))
                                        or None)
    pop_year = pop.attrs.get("annee_population")
    insee = (f"INSEE {pop_year}" if pop_year else
             f"INSEE populations légales {geography_metadata().get('millesime_population', '')}"
             .strip())
    counted = f"FINESS {date}" if date else (named[0] if named else "FINESS")
    rows: list[dict] = []
    for ind_id, (types, measure) in wanted.items():
        indicator = catalog[ind_id]
        # numerators: territory from the folder, references from the national table
        numerators: dict[str, float] = {}
        missing_capacity = 0
        problem = ""
        for unit, deps in units.items():
            if deps is None:
                value = sum(own.get((t, measure), 0.0) for t in types)
                missing_capacity = int(sum(own.get((t, "sans"), 0) for t in types))
            else:
                key = ("numérateur", unit, tuple(types), measure)
                if key not in memo:
                    memo[key] = _reference_numerator(counts, unit, deps, types, measure)
                value, problem = memo[key]
                if problem:
                    break
            numerators[unit] = value
        if problem:
            notes.append(_note(indicator, False, reason=problem))
            continue
        band, people, used_national = _denominators(
            indicator.population, own_pop, dep_pop, units, nat_pop, own_deps, memo)
        if band is None:
            notes.append(_note(indicator, False, reason=(
                f"population de {indicator.population} ans indisponible pour le territoire "
                "ou ses références (tables population et population_nationale absentes ou "
                "incomplètes)")))
            continue
        extra = []
        if indicator.population and band not in (indicator.population, "bundled",
                                                  "ensemble"):
            extra.append(f"dénominateur : population de {band} ans (tranche "
                         f"{indicator.population} absente des données)")
        population_source = ("INSEE populations légales "
                             f"{geography_metadata().get('millesime_population', '')}"
                             ).strip() if band == "bundled" else insee
        if used_national and nat_year and f"INSEE {nat_year}" != population_source:
            population_source = (f"{population_source}, INSEE {nat_year}"
                                 if pop_year else f"INSEE {nat_year}")
        source = f"{counted} / {population_source} ({CALCULATED})"
        if extra:
            source += " ; " + " ; ".join(extra)
        for unit in units:
            text = source
            if unit == code and missing_capacity and measure == "places":
                text += f" ; {missing_capacity} structure(s) sans places connues"
            rows.append({"code_territoire": unit, "indicateur": ind_id, "annee": annee,
                         "numerateur": numerators[unit], "denominateur": people[unit],
                         "valeur": np.nan, "source": text})
        scale = indicator.scale
        notes.append(_note(
            indicator, True,
            value=numerators[code] / people[code] * scale if people[code] else np.nan,
            france=numerators[FRANCE] / people[FRANCE] * scale if people[FRANCE] else np.nan,
            source=source))
    frame = pd.DataFrame(rows, columns=empty.columns) if rows else empty
    return OpenDataIndicators(frame, pd.DataFrame(notes, columns=NOTE_COLUMNS))


def _reference_numerator(counts: pd.DataFrame, unit: str, deps: list[str],
                         types: Sequence[str], measure: str) -> tuple[float, str]:
    """(numerator, problem) of a reference unit from the national counts; the problem
    (French) names the départements missing from the national table."""
    absent = [(d, t) for d in deps for t in types if (d, t) not in counts.index]
    if absent:
        deps_absent = sorted({d for d, _ in absent})
        return np.nan, (f"table nationale incomplète pour {unit} (départements ou types "
                        f"absents : {', '.join(deps_absent[:8])}"
                        f"{'…' if len(deps_absent) > 8 else ''})")
    rows = counts.loc[[(d, t) for d in deps for t in types]]
    return float(rows["nombre"].sum() if measure == "nombre" else rows["places"].sum()), ""


def _territory_counts(resources: pd.DataFrame | None, communes: set[str]
                      ) -> dict[tuple[str, str], float]:
    """(type, "nombre" | "places" | "sans") → count, places known, structures without."""
    if resources is None or resources.empty:
        return {}
    inside = resources[resources["code_commune"].astype(str).str.strip().isin(communes)]
    kinds = inside["type_ressource"].astype(str).str.strip()
    places = (pd.to_numeric(inside["capacite_places"], errors="coerce")
              if "capacite_places" in inside else pd.Series(np.nan, index=inside.index))
    out: dict[tuple[str, str], float] = {}
    for kind, group in places.groupby(kinds):
        out[(kind, "nombre")] = float(len(group))
        out[(kind, "places")] = float(group.sum())
        out[(kind, "sans")] = float(group.isna().sum())
    return out


def national_bands(table: pd.DataFrame | None) -> tuple[pd.DataFrame, int | None]:
    """The national population table's latest year, wide: département × band, and that
    year (an empty frame and None without the table)."""
    if table is None or table.empty:
        return pd.DataFrame(), None
    frame = pd.DataFrame({
        "code_departement": table["code_departement"].astype(str).str.strip(),
        "annee": pd.to_numeric(table["annee"], errors="coerce"),
        "tranche_age": table["tranche_age"].astype(str).str.strip(),
        "population": pd.to_numeric(table["population"], errors="coerce"),
    }).dropna(subset=["annee", "population"])
    if frame.empty:
        return pd.DataFrame(), None
    latest = int(frame["annee"].max())
    frame = frame[frame["annee"] == latest]
    wide = frame.pivot_table(index="code_departement", columns="tranche_age",
                             values="population", aggfunc="sum").astype(float)
    return wide, latest


def _whole_departements(communes: set[str]) -> list[str] | None:
    """The départements of a territory made of whole départements (every commune of the
    bundled geography), else None."""
    of_commune, by_departement = _bundled_departements()
    chosen = {of_commune[c] for c in communes if c in of_commune}
    if not chosen or not all(by_departement[d] <= communes for d in chosen):
        return None
    return sorted(chosen)


@cache
def _bundled_departements() -> tuple[dict[str, str], dict[str, frozenset[str]]]:
    """Each commune's département and each département's communes, in the bundled
    geography (read once per process, as the layer is)."""
    layer = cached_layer("communes")
    codes = layer["code_commune"].astype(str).tolist()
    deps = layer["code_departement"].astype(str).tolist()
    by_departement: dict[str, set[str]] = {}
    for code, dep in zip(codes, deps, strict=True):
        by_departement.setdefault(dep, set()).add(code)
    return dict(zip(codes, deps, strict=True)), {
        dep: frozenset(found) for dep, found in by_departement.items()}


def _denominators(
    band: str | None, own_pop: pd.DataFrame, dep_pop: pd.DataFrame,
    units: Mapping[str, list[str] | None], nat_pop: pd.DataFrame | None = None,
    own_deps: list[str] | None = None, memo: dict[tuple, Any] | None = None,
) -> tuple[str | None, dict[str, float], bool]:
    """The band used, the population of every unit (empty when no band is complete) and
    whether the national population table gave one of them. The references' populations
    are kept in ``memo`` (same tables for every call)."""
    memo = memo if memo is not None else {}
    nat_pop = nat_pop if nat_pop is not None else pd.DataFrame()

    def national(deps: list[str] | None, column: str) -> float:
        if not deps or column not in nat_pop.columns:
            return np.nan
        values = nat_pop[column].reindex(deps)
        return float(values.sum()) if values.notna().all() else np.nan

    def people(deps: list[str] | None, column: str) -> tuple[float, bool]:
        if deps is None:
            value = (float(own_pop.iloc[0][column]) if column in own_pop.columns
                     else np.nan)
            deps_national = own_deps
        else:
            values = (dep_pop.loc[deps, column] if column in dep_pop.columns
                      else pd.Series(dtype=float))
            value = (float(values.sum()) if values.notna().all() and len(values)
                     else np.nan)
            deps_national = deps
        if (np.isfinite(value) and value > 0) or column in ("ensemble", "bundled"):
            return value, False  # the total falls back on the bundled populations
        return national(deps_national, column), True

    band = band or "ensemble"
    candidates = BAND_FALLBACKS.get(band, (band,))
    if band == "ensemble":
        candidates = ("ensemble", "bundled")
    for candidate in candidates:
        found: dict[str, tuple[float, bool]] = {}
        for unit, deps in units.items():
            if deps is None:
                found[unit] = people(deps, candidate)
                continue
            key = ("population", unit, candidate)
            if key not in memo:
                memo[key] = people(deps, candidate)
            found[unit] = memo[key]
        values = {unit: value for unit, (value, _) in found.items()}
        if all(np.isfinite(v) and v > 0 for v in values.values()):
            return candidate, values, any(nat for _, nat in found.values())
    return None, {}, False


def _note(indicator: Indicator, computed: bool, *, value: float = np.nan,
          france: float = np.nan, source: str = "", reason: str = "") -> dict:
    return {"indicateur": indicator.id, "libelle": indicator.label, "calcule": computed,
            "utilise": False, "valeur": value, "reference_france": france, "source": source,
            "raison": reason}


def merge_user_first(user: pd.DataFrame | None, opendata: OpenDataIndicators
                     ) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """The user's ``indicateurs`` rows, then the open-data rows of the indicators the user
    does not give at all (for any territory or reference): the user's value wins.

    Returns
    -------
    tuple of (DataFrame or None, DataFrame)
        The merged table (None when both are empty) and the notes with ``utilise`` and
        ``raison`` filled.
    """
    notes = opendata.notes.copy()
    given = set() if user is None or user.empty else set(
        user["indicateur"].astype(str).unique())
    rows = opendata.rows[~opendata.rows["indicateur"].isin(given)]
    computed = notes["calcule"].astype(bool)
    replaced = computed & notes["indicateur"].isin(given)
    notes["utilise"] = computed & ~replaced
    notes.loc[replaced, "raison"] = ("valeur fournie dans indicateurs.csv : c'est elle qui "
                                     "est utilisée")
    if rows.empty:
        return user, notes
    if user is None or user.empty:
        return rows.reset_index(drop=True), notes
    merged = pd.concat([user, rows.astype({"annee": user["annee"].dtype}
                                          if "annee" in user else {})], ignore_index=True)
    return merged, notes


def value_origin(source: object) -> str:
    """« données ouvertes (calcul ptsm-diag) » for a computed row's source, else
    « indicateurs.csv »."""
    return ORIGIN_OPEN if isinstance(source, str) and re.search(CALCULATED, source) \
        else ORIGIN_USER


__all__ = ["OPEN_DATA_INDICATORS", "OpenDataIndicators", "merge_user_first",
           "opendata_indicators", "value_origin"]
