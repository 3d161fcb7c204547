"""PTSM territories: one or several départements, part of one, or a mix of both.

A :class:`Territory` is a value object built by :func:`build_territory` (or its shortcuts
:func:`territory_from_departements`, :func:`territory_from_communes`,
:func:`territories_from_table`) from the bundled geography (:mod:`ptsm_diag.catalog.geography`).

Population
----------
Without a population table, the total is the sum of the bundled municipal populations
(INSEE populations légales; the vintage is the data's, see
:func:`ptsm_diag.catalog.geography.geography_metadata` and ``Territory.population_label``);
communes without population, if any, are listed in ``communes_without_population``.
With a population table (``code_commune, annee, tranche_age, population``),
``population_by_age`` gives every age band of the latest year present for the territory's
communes, and the total comes from that year when every commune of the territory has the
complete partition 0-17 / 18-64 / 65+ (or else an ``ensemble`` row); otherwise it stays the
bundled one: an incomplete table would undercount the territory. ``population_source`` says which.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ptsm_diag.catalog.geography import (
    cached_layer,
    fill_data_gaps,
    geography_metadata,
    normalize_departement_code,
    repair_commune_code,
    repair_commune_codes,
)
from ptsm_diag.errors import InputError, Problem, PtsmError, UnknownCodeError

PARTITION = ("0-17", "18-64", "65+")
TOTAL_BAND = "ensemble"
EQUAL_AREA_CRS = "EPSG:6933"
GRID = 1e-5  # degrees, the precision of the bundled outlines
SOURCE_REFERENCE = "référence"  # bundled populations légales
SOURCE_TABLE = "table"  # the population table given by the user

DEPARTEMENT_HINT = (
    "Codes attendus : ceux du Code officiel géographique (01 à 95, 2A, 2B, 971 à 976)."
)
COMMUNE_HINT = (
    "Codes attendus : codes INSEE à 5 caractères du Code officiel géographique "
    "(ex. 01001, 2A004, 97105, 97801) ; un code absent vient souvent d'une commune fusionnée."
)


@dataclass(frozen=True, eq=False)
class Territory:
    """A PTSM territory (built by the functions of this module, not by hand).

    Attributes
    ----------
    code, name : str
        Territory code and name.
    communes : geopandas.GeoDataFrame
        Its communes (columns of :func:`ptsm_diag.catalog.geography.load_communes`), sorted by code.
    geometry : shapely geometry
        Dissolved outline, EPSG:4326 (holes of the source outlines filled, enclaves kept).
    region_codes : tuple of str
        Régions, main one first (largest population share).
    departement_codes : tuple of str
        Départements touched, sorted by code.
    population_total : int or None
        Population (see the module docstring); None when no population is known at all
        (Mayotte without a population table).
    population_year : int
        Year of ``population_total`` (the latest one when the communes' vintages differ:
        Mayotte's bundled population is the 2017 census).
    population_source : str
        ``"référence"`` (bundled populations légales) or ``"table"`` (the population table).
    population_by_age : pandas.DataFrame or None
        Columns ``tranche_age, population`` for ``population_by_age_year``; None without a
        population table covering the territory.
    population_by_age_year : int or None
        Latest year of the population table for the territory's communes.
    communes_without_population : tuple of str
        Communes whose bundled population is unknown.
    area_km2 : float
        Area of ``geometry`` in EPSG:6933 (equal-area), km².
    density : float
        ``population_total / area_km2`` (inhabitants per km²), NaN without population.
    """

    code: str
    name: str
    communes: gpd.GeoDataFrame = field(repr=False)
    geometry: shapely.Geometry = field(repr=False)
    region_codes: tuple[str, ...]
    departement_codes: tuple[str, ...]
    population_total: int | None
    population_year: int
    population_source: str
    population_by_age: pd.DataFrame | None = field(repr=False)
    population_by_age_year: int | None
    communes_without_population: tuple[str, ...] = field(repr=False)
    area_km2: float
    density: float

    @property
    def commune_codes(self) -> tuple[str, ...]:
        """Codes of the territory's communes."""
        return tuple(self.communes["code_commune"])

    @property
    def population_label(self) -> str:
        """French label naming the source and vintage of ``population_total``.

        For the bundled populations the text comes from the geography's metadata
        (``millesimes_population``), e.g. « Population municipale 2023 (INSEE, populations
        légales en vigueur au 1er janvier 2026) », followed by the label of any other
        vintage present among the territory's communes (Mayotte).
        """
        if self.population_source == SOURCE_TABLE:
            return (f"Population municipale {self.population_year} "
                    "(table population du dossier de données)")
        return population_vintage_label(self.communes)


# --------------------------------------------------------------------------- builders


def build_territory(
    code: str,
    name: str | None = None,
    departements: Iterable[str | int] = (),
    communes: Iterable[str | int] = (),
    population: pd.DataFrame | None = None,
) -> Territory:
    """Build a territory from whole départements and/or communes (their union).

    Parameters
    ----------
    code : str
        Territory code.
    name : str, optional
        Territory name; defaults to the département's name for a one-département territory.
    departements, communes : iterable of str or int
        Département codes (``"1"``, ``1``, ``"2a"`` accepted) and INSEE commune codes
        (a lost leading zero, ``"1001"``, is repaired).
    population : pandas.DataFrame, optional
        Population table ``code_commune, annee, tranche_age, population``.

    Raises
    ------
    UnknownCodeError
        Listing every unknown département code, or every unknown commune code.
    PtsmError
        When the composition is empty, or no name is given for a territory that is not one
        département.
    """
    dep_codes = _unique(normalize_departement_code(c) for c in departements)
    com_codes = _unique(repair_commune_code(c)[0] for c in communes)
    if not dep_codes and not com_codes:
        raise PtsmError(
            f"Le territoire « {code} » n'a aucune composante : indiquez au moins un code "
            "département ou un code commune."
        )
    all_communes = cached_layer("communes")
    _check_known(dep_codes, com_codes)
    whole = all_communes["code_departement"].isin(dep_codes)
    listed = all_communes["code_commune"].isin(com_codes)
    selected = all_communes.loc[whole | listed].copy().reset_index(drop=True)
    if name is None:
        if len(dep_codes) == 1 and not com_codes:
            name = _departement_names()[dep_codes[0]]
        else:
            raise PtsmError(f"Le territoire « {code} » n'a pas de nom.")
    if population is not None:
        population = normalise_population(population)
    return _make_territory(str(code), str(name), selected, population)


def territory_from_departements(
    codes: Iterable[str | int],
    code: str | None = None,
    name: str | None = None,
    population: pd.DataFrame | None = None,
) -> Territory:
    """Territory made of whole départements.

    ``code`` defaults to the département codes joined by ``+`` (``"22+29"``), ``name`` to
    the département names joined by ``, ``.
    """
    codes = list(codes)
    normalized = _unique(normalize_departement_code(c) for c in codes)
    if code is None:
        code = "+".join(normalized)
    if name is None and len(normalized) > 1:
        _check_known(normalized, [])
        names = _departement_names()
        name = ", ".join(names[c] for c in normalized)
    return build_territory(code, name, departements=codes, population=population)


def territory_from_communes(
    codes: Iterable[str | int],
    code: str,
    name: str,
    population: pd.DataFrame | None = None,
) -> Territory:
    """Territory made of a list of communes (part of a département, or across several)."""
    return build_territory(code, name, communes=codes, population=population)


def territories_from_table(
    territoires: pd.DataFrame,
    population: pd.DataFrame | None = None,
) -> dict[str, Territory]:
    """Every territory of a ``territoires`` table, in order of first appearance.

    Parameters
    ----------
    territoires : pandas.DataFrame
        One row per component: ``code_territoire, nom_territoire, code_region`` (may be
        empty), ``niveau`` (``departement`` or ``commune``), ``code``.
    population : pandas.DataFrame, optional
        Population table, passed to :func:`build_territory`.

    Raises
    ------
    UnknownCodeError
        Every unknown département (or commune) code of the whole table at once.
    InputError
        A ``niveau`` other than departement/commune, or a declared ``code_region`` that is
        not a région of the territory (line numbers count the header as line 1, assuming
        the table's index is its row position).
    """
    missing = {"code_territoire", "nom_territoire", "niveau", "code"} - set(territoires)
    if missing:
        raise PtsmError(
            "Table territoires : colonne(s) manquante(s) : "
            + ", ".join(f"« {c} »" for c in sorted(missing)) + "."
        )
    table = territoires.reset_index(drop=True)
    levels = table["niveau"].map(_level)
    problems = [
        Problem("territoires", int(i) + 2, "niveau", _text(table.at[i, "niveau"]),
                "« departement » ou « commune »", "niveau inconnu")
        for i in table.index[levels.isna()]
    ]
    for column in ("code_territoire", "code"):
        problems += [
            Problem("territoires", int(i) + 2, column, "", "une valeur", "valeur manquante")
            for i in table.index[table[column].map(_text) == ""]
        ]
    if problems:
        raise InputError(problems)
    codes = table["code"]
    deps = [normalize_departement_code(c) for c in codes[levels == "departement"]]
    coms = [repair_commune_code(c)[0] for c in codes[levels == "commune"]]
    _check_known(_unique(deps), _unique(coms))

    normalised = normalise_population(population) if population is not None else None
    result: dict[str, Territory] = {}
    for code, rows in table.groupby(table["code_territoire"].map(_text), sort=False):
        names = [n for n in rows["nom_territoire"].map(_text) if n]
        result[code] = build_territory(
            code,
            names[0] if names else None,
            departements=rows.loc[levels[rows.index] == "departement", "code"],
            communes=rows.loc[levels[rows.index] == "commune", "code"],
            population=normalised,
        )
        problems += _region_problems(rows, result[code])
    if problems:
        raise InputError(problems)
    return result


def territory_communes(territoires: pd.DataFrame) -> pd.DataFrame:
    """Communes of every territory of a ``territoires`` table, without building them.

    Returns
    -------
    pandas.DataFrame
        One row per (territory, commune): ``code_territoire`` and the bundled commune
        columns (``code_commune, nom, code_departement, code_region, population``).
    """
    communes = pd.DataFrame(cached_layer("communes").drop(columns="geometry"))
    table = territoires.reset_index(drop=True)
    levels = table["niveau"].map(_level)
    rows = pd.DataFrame({
        "code_territoire": table["code_territoire"].map(_text),
        "code": [
            normalize_departement_code(c) if lvl == "departement" else repair_commune_code(c)[0]
            for c, lvl in zip(table["code"], levels, strict=True)
        ],
        "niveau": levels,
    })
    by_dep = rows[rows["niveau"] == "departement"].merge(
        communes, left_on="code", right_on="code_departement")
    by_com = rows[rows["niveau"] == "commune"].merge(
        communes, left_on="code", right_on="code_commune")
    members = pd.concat([by_dep, by_com]).drop_duplicates(["code_territoire", "code_commune"])
    return members.drop(columns=["code", "niveau"]).reset_index(drop=True)


def main_regions(territoires: pd.DataFrame) -> dict[str, str]:
    """Main région of every territory of a ``territoires`` table, without building them.

    The région holding most of the territory's population (as in :class:`Territory`),
    computed from the commune table only: cheap enough for a whole country, and kept for
    the next call on the same table (every section of every report of a batch asks).
    """
    columns = [c for c in ("code_territoire", "code", "niveau") if c in territoires.columns]
    rows = tuple(territoires[columns].itertuples(index=False, name=None))
    return dict(_main_regions(tuple(columns), rows))


@functools.lru_cache(maxsize=8)
def _main_regions(columns: tuple[str, ...], rows: tuple[tuple[object, ...], ...]
                  ) -> dict[str, str]:
    territoires = pd.DataFrame(list(rows), columns=list(columns), dtype=object)
    members = territory_communes(territoires)
    members["population"] = pd.to_numeric(members["population"], errors="coerce").fillna(0)
    weights = members.groupby(["code_territoire", "code_region"])["population"].sum()
    counts = members.groupby(["code_territoire", "code_region"]).size()
    ranked = pd.DataFrame({"w": weights, "n": counts}).reset_index().sort_values(
        ["code_territoire", "w", "n", "code_region"], ascending=[True, False, False, True])
    first = ranked.drop_duplicates("code_territoire")
    return dict(zip(first["code_territoire"], first["code_region"], strict=True))


# --------------------------------------------------------------------------- internals


def population_vintage_label(communes: pd.DataFrame) -> str:
    """French label of the bundled population vintage(s) of some communes.

    The main vintage (the latest) comes first; labels are read from the geography's
    metadata, with a plain « Population municipale <année> (INSEE) » when it has none.
    """
    labels = geography_metadata().get("millesimes_population", {})
    known = communes.loc[communes["population"].notna(), "annee_population"].dropna()
    years = sorted({int(y) for y in known}, reverse=True)
    if not years:
        years = sorted({int(y) for y in communes["annee_population"].dropna()}, reverse=True)
    texts = [labels.get(str(y), f"Population municipale {y} (INSEE)") for y in years]
    return " ; ".join(texts) if texts else "Population municipale"


def _make_territory(
    code: str, name: str, communes: gpd.GeoDataFrame, population: pd.DataFrame | None
) -> Territory:
    geometry = _dissolve(communes)
    area_km2 = float(gpd.GeoSeries([geometry], crs=4326).to_crs(EQUAL_AREA_CRS).area.iloc[0])
    area_km2 /= 1e6
    known = communes["population"].dropna()
    missing = tuple(communes.loc[communes["population"].isna(), "code_commune"])
    total: int | None = int(known.sum()) if len(known) else None
    year = int(communes["annee_population"].dropna().max())
    source = SOURCE_REFERENCE
    by_age, by_age_year = None, None
    if population is not None:
        by_age, by_age_year, table_total = _population_from_table(
            population, communes["code_commune"]
        )
        if table_total is not None:
            total, year, source = table_total, by_age_year, SOURCE_TABLE
    weights = communes.groupby("code_region")["population"].sum().astype(float)
    counts = communes.groupby("code_region").size()
    regions = sorted(weights.index, key=lambda r: (-weights[r], -counts[r], r))
    return Territory(
        code=code,
        name=name,
        communes=communes,
        geometry=geometry,
        region_codes=tuple(regions),
        departement_codes=tuple(sorted(communes["code_departement"].unique())),
        population_total=total,
        population_year=year,
        population_source=source,
        population_by_age=by_age,
        population_by_age_year=by_age_year,
        communes_without_population=missing,
        area_km2=area_km2,
        density=total / area_km2 if total is not None and area_km2 > 0 else float("nan"),
    )


def _dissolve(communes: gpd.GeoDataFrame) -> shapely.Geometry:
    """Union of the communes; whole départements reuse the bundled (filled) outline."""
    deps = cached_layer("departements").set_index("code_departement")["geometry"]
    sizes = _departement_sizes()
    parts = []
    for dep, group in communes.groupby("code_departement"):
        if len(group) == sizes[dep]:
            parts.append(deps[dep])
        else:
            parts.extend(g for g in group.geometry if g is not None)
    if not parts:
        return shapely.MultiPolygon()
    union = shapely.union_all(np.array(parts, dtype=object), grid_size=GRID)
    geometries, tree = _commune_index()
    filled, _ = fill_data_gaps(union, geometries, tree)
    return filled


@functools.cache
def _commune_index() -> tuple[np.ndarray, shapely.STRtree]:
    geometries = cached_layer("communes").geometry.to_numpy()
    return geometries, shapely.STRtree(geometries)


@functools.cache
def _departement_sizes() -> dict[str, int]:
    return cached_layer("communes").groupby("code_departement").size().to_dict()


@functools.cache
def _departement_names() -> dict[str, str]:
    deps = cached_layer("departements")
    return dict(zip(deps["code_departement"], deps["nom"], strict=True))


@functools.cache
def _known_communes() -> frozenset[str]:
    return frozenset(cached_layer("communes")["code_commune"])


def _check_known(departements: list[str], communes: list[str]) -> None:
    unknown_deps = [c for c in departements if c not in _departement_names()]
    unknown_coms = [c for c in communes if c not in _known_communes()]
    if unknown_deps:
        hint = DEPARTEMENT_HINT
        if unknown_coms:
            hint += " Codes commune inconnus également : " + ", ".join(
                f"« {c} »" for c in unknown_coms) + "."
        raise UnknownCodeError("département", unknown_deps, hint)
    if unknown_coms:
        raise UnknownCodeError("commune", unknown_coms, COMMUNE_HINT)


def normalise_population(population: pd.DataFrame) -> pd.DataFrame:
    """The population table with repaired commune codes, numeric years and counts.

    Idempotent: a table it already returned is returned as is (it carries the
    ``ptsm_normalised`` attribute), so a whole region's table is cleaned once.
    """
    if population.attrs.get("ptsm_normalised"):
        return population
    codes, _ = repair_commune_codes(population["code_commune"])
    table = pd.DataFrame({
        "code_commune": codes.to_numpy(dtype=object),
        "annee": pd.to_numeric(population["annee"], errors="coerce").to_numpy(),
        "tranche_age": population["tranche_age"].astype("string").str.strip()
        .fillna("").to_numpy(dtype=object),
        "population": pd.to_numeric(population["population"], errors="coerce").to_numpy(),
    })
    table.attrs["ptsm_normalised"] = True
    return table


def _population_from_table(
    table: pd.DataFrame, commune_codes: pd.Series
) -> tuple[pd.DataFrame | None, int | None, int | None]:
    """(population by age band, its year, total or None) for the given communes.

    ``table`` is a population table cleaned by :func:`normalise_population`.
    """
    table = table[table["code_commune"].isin(set(commune_codes)) & table["annee"].notna()]
    if table.empty:
        return None, None, None
    year = int(table["annee"].max())
    latest = table[table["annee"] == year]
    bands = latest.groupby("tranche_age", sort=False)["population"].sum(min_count=1)
    order = [b for b in PARTITION if b in bands.index] + [
        b for b in bands.index if b not in PARTITION]
    by_age = pd.DataFrame({"tranche_age": order,
                           "population": bands[order].round().astype("Int64").to_numpy()})
    total = None
    for wanted in (PARTITION, (TOTAL_BAND,)):
        rows = latest[latest["tranche_age"].isin(wanted) & latest["population"].notna()]
        present = rows.groupby("code_commune")["tranche_age"].nunique()
        if len(present) == commune_codes.nunique() and (present == len(wanted)).all():
            total = int(round(rows["population"].sum()))
            break
    return by_age, year, total


def _region_problems(rows: pd.DataFrame, territory: Territory) -> list[Problem]:
    if "code_region" not in rows:
        return []
    problems = []
    for i, value in rows["code_region"].items():
        declared = normalize_departement_code(value)  # same rule: "1" → "01"
        if declared and declared not in territory.region_codes:
            problems.append(Problem(
                "territoires", int(i) + 2, "code_region", _text(value),
                "une région du territoire : " + ", ".join(territory.region_codes),
                f"la région déclarée ne contient aucune commune du territoire "
                f"« {territory.code} »",
            ))
    return problems


def _level(value: object) -> str | None:
    text = unicodedata.normalize("NFKD", _text(value)).encode("ascii", "ignore").decode()
    text = text.strip().lower()
    return text if text in ("departement", "commune") else None


def _text(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return str(value).strip()


def _unique(values: Iterable[str]) -> list[str]:
    """Distinct values in order of first appearance (empty strings kept: they are unknown)."""
    return list(dict.fromkeys(values))
