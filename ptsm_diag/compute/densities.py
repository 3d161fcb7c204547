"""Resource densities per 100,000 inhabitants of the relevant age band, against references.

For every territory and resource type: the number of resources, their capacity (lits +
places), and both per 100,000 inhabitants of the age band the type serves (its
``public`` in ``catalog/resource_types.yaml``, see :data:`PUBLIC_BANDS`), compared with
the région and France.

References come from the **national reference table** (``references_nationales``:
resources per département and type, written from the national FINESS files by
``ptsm-diag donnees telecharger``), never from the data folder's resources: a folder
holding one département's resources divided by the population of France gave a « France »
reference of that département alone. Each reference is a pooled sum over the départements
of the région or of France; a département (or a type) the table does not cover is left out
with a note when the table still covers at least :data:`MIN_COVERAGE` of the reference's
population, and the reference is NaN (« référence non disponible », with the reason)
otherwise, or without a table.

Missing data stay missing: a capacity is NaN when a resource of the unit has no known
capacity (or the type never has one in the data), a density is NaN without a known
population. Zero means "none", never "unknown".

Population
----------
With a ``population`` table (``code_commune, annee, tranche_age, population``), the age
bands come from its latest year (or ``year``): ``0-17``, ``65+``, ``18+`` (an ``18+`` row,
else ``18-64`` + ``65+``) and ``ensemble`` (an ``ensemble`` row, else the sum of the
partition 0-17 / 18-64 / 65+). A unit (territory or reference) has a band when every
commune of it with a bundled population > 0 has that band. When the territory or its
reference lacks the band, both use the bundled total population (INSEE populations
légales), so that the two densities stay comparable, and ``note`` says so. Communes
without any known population (Mayotte in the bundled data without a population table)
are left out of the references (their resources and their population).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ptsm_diag.catalog import ResourceType, load_resource_types
from ptsm_diag.catalog.geography import cached_layer

PER = 100_000
FRANCE_CODE = "FR"
REFERENCES = ("region", "france")
REFERENCE_LABELS = {"region": "Région", "france": "France entière"}
# Age band of the population a public is counted against (adult psychiatry and adult
# médico-social services have no upper age limit: adults are 18+).
PUBLIC_BANDS: dict[str, str] = {
    "enfants": "0-17",
    "adultes": "18+",
    "personnes_agees": "65+",
    "tous": "ensemble",
}
BANDS = ("0-17", "18-64", "65+", "18+", "ensemble", "20-59", "20-64")
SOURCE_TABLE = "table population"
SOURCE_BUNDLED = "populations légales INSEE (référence)"
# Share of a reference's population the national table must cover for a type.
MIN_COVERAGE = 0.9
NO_NATIONAL = ("référence non disponible : pas de table nationale de référence "
               "(references_nationales.csv, écrite par « ptsm-diag donnees telecharger » à "
               "partir des fichiers FINESS nationaux) ; les ressources du dossier ne suffisent "
               "pas à une référence région ou France")
_COUNTS = ("nombre", "lits", "places", "capacite", "nombre_sans_capacite")

COLUMNS = [
    "code_territoire", "type_ressource", "libelle", "champ", "public", "tranche_age",
    "population_ref_age", "nombre", "lits", "places", "capacite", "nombre_sans_capacite",
    "densite_nombre", "densite_capacite", "reference", "code_reference",
    "population_ref_age_reference", "nombre_reference", "capacite_reference",
    "densite_nombre_reference", "densite_capacite_reference",
    "ratio_nombre", "ratio_capacite", "ecart_nombre_pct", "ecart_capacite_pct",
    "source_population", "note",
]


# --------------------------------------------------------------------------- population


def commune_population(
    population: pd.DataFrame | None = None, *, year: int | None = None
) -> pd.DataFrame:
    """Population of every bundled commune, total and by age band.

    Parameters
    ----------
    population : DataFrame, optional
        The ``population`` table (``code_commune, annee, tranche_age, population``).
    year : int, optional
        Year of the table to use; its latest year by default.

    Returns
    -------
    DataFrame
        Indexed by ``code_commune`` (all communes of the bundled geography):
        ``code_departement, code_region, population_reference`` (bundled, float, NaN when
        unknown) and one float column per band of :data:`BANDS` (NaN where the table has
        no value for that commune).
    """
    communes = cached_layer("communes")
    frame = pd.DataFrame({
        "code_departement": communes["code_departement"].to_numpy(dtype=object),
        "code_region": communes["code_region"].to_numpy(dtype=object),
        "population_reference": pd.to_numeric(communes["population"]).astype(float).to_numpy(),
    }, index=pd.Index(communes["code_commune"].to_numpy(dtype=object), name="code_commune"))
    for band in BANDS:
        frame[band] = np.nan
    if population is None or population.empty:
        return frame
    from ptsm_diag.compute.territory import normalise_population

    table = normalise_population(population)
    table = table[table["annee"].notna() & table["population"].notna()]
    if table.empty:
        return frame
    chosen = int(table["annee"].max()) if year is None else int(year)
    table = table[table["annee"] == chosen]
    wide = table.pivot_table(index="code_commune", columns="tranche_age",
                             values="population", aggfunc="sum").astype(float)
    wide = wide.reindex(frame.index)

    def band(name: str) -> pd.Series:
        return wide[name] if name in wide else pd.Series(np.nan, index=frame.index)

    for name in ("0-17", "18-64", "65+", "20-59", "20-64"):
        frame[name] = band(name)
    frame["18+"] = band("18+").fillna(band("18-64") + band("65+"))
    frame["ensemble"] = band("ensemble").fillna(band("0-17") + band("18-64") + band("65+"))
    frame.attrs["annee_population"] = chosen
    return frame


# --------------------------------------------------------------------------- densities


def resource_densities(
    resources: pd.DataFrame,
    members: pd.DataFrame,
    population: pd.DataFrame | None = None,
    *,
    national: pd.DataFrame | None = None,
    territories: Iterable[str] | None = None,
    references: Sequence[str] = REFERENCES,
    regions: Mapping[str, str] | None = None,
    public_bands: Mapping[str, str] | None = None,
    types: Mapping[str, ResourceType] | None = None,
    year: int | None = None,
    min_coverage: float = MIN_COVERAGE,
) -> pd.DataFrame:
    """Counts, capacities and densities per resource type, with the gap to references.

    Parameters
    ----------
    resources : DataFrame
        The ``ressources`` table (``type_ressource``, ``code_commune``, optional
        ``capacite_lits``/``capacite_places``): the territories' own counts.
    members : DataFrame
        ``code_territoire, code_commune``: the communes of each territory, as
        :func:`ptsm_diag.compute.territory.territory_communes` returns.
    population : DataFrame, optional
        The ``population`` table; without it every density uses the bundled total.
    national : DataFrame, optional
        The national reference table (``references_nationales``: ``code_departement,
        type_ressource, nombre`` and optional ``capacite_lits, capacite_places,
        nombre_sans_capacite``), the only source of the région and France counts. Without
        it every reference is NaN and ``note`` says « référence non disponible ». The
        references never come from ``resources``: a data folder holding one département
        would otherwise give a « France » of that département's resources alone.
    territories : iterable of str, optional
        Territories to report; all those of ``members`` by default.
    references : sequence of {"region", "france"}
        References to compare with; one output row per territory, type and reference.
    regions : mapping, optional
        Main région of each territory (:func:`ptsm_diag.compute.territory.main_regions`); by
        default the région holding most of the territory's bundled population.
    public_bands : mapping, optional
        Age band of each public (default :data:`PUBLIC_BANDS`).
    types : mapping, optional
        Resource typology (default: the catalogue); every type gets a row, 0 when absent.
    year : int, optional
        Year of the population table (its latest by default).
    min_coverage : float
        Share of a reference's population (bundled) whose départements the national table
        must cover for a type; below it the reference is « non disponible », above it
        (but under 1) it is computed over the covered départements and ``note`` names the
        missing ones.

    Returns
    -------
    DataFrame
        Columns :data:`COLUMNS`. Densities are per 100,000 inhabitants of
        ``tranche_age``; ``ratio_*`` = territory density / reference density;
        ``ecart_*_pct`` = 100 × (ratio − 1). NaN where unknown (no population, unknown
        capacity, zero reference density, reference not available).
    """
    unknown = [r for r in references if r not in REFERENCE_LABELS]
    if unknown:
        raise ValueError(f"unknown reference(s): {unknown}")
    types = dict(types or load_resource_types())
    bands = {**PUBLIC_BANDS, **(public_bands or {})}
    pop = commune_population(population, year=year)
    members = _members(members, territories)
    if regions is None:
        regions = _main_regions(members, pop)
    codes = list(dict.fromkeys(members["code_territoire"]))

    # Reference units: région(s) of the territories and France, as lists of départements.
    ref_units: dict[str, list[str]] = {}
    departements = cached_layer("departements")
    if "region" in references:
        for code in sorted({regions.get(t, "") for t in codes}):
            deps = departements.loc[departements["code_region"].astype(str) == code,
                                    "code_departement"]
            ref_units[f"region:{code}"] = list(deps.astype(str))
    if "france" in references:
        ref_units[f"france:{FRANCE_CODE}"] = list(departements["code_departement"].astype(str))

    units = pd.DataFrame({"unit": "territoire:" + members["code_territoire"],
                          "code_commune": members["code_commune"]})
    unit_pop = _unit_population(units, pop)
    unit_res = _unit_resources(units, resources, list(types))
    ref_frame = reference_counts(national, pop, ref_units, list(types), min_coverage)

    type_frame = pd.DataFrame({
        "type_ressource": list(types),
        "libelle": [t.label for t in types.values()],
        "champ": [t.champ for t in types.values()],
        "public": [t.public for t in types.values()],
    })
    type_frame["tranche_age"] = type_frame["public"].map(bands).fillna("ensemble")

    rows = []
    for reference in references:
        ref_unit = pd.Series(
            [f"region:{regions.get(c, '')}" if reference == "region"
             else f"france:{FRANCE_CODE}" for c in codes], index=codes)
        grid = type_frame.merge(pd.DataFrame({"code_territoire": codes}), how="cross")
        grid["reference"] = reference
        grid["unit"] = "territoire:" + grid["code_territoire"]
        grid["unit_reference"] = grid["code_territoire"].map(ref_unit)
        rows.append(grid)
    table = pd.concat(rows, ignore_index=True)
    table["code_reference"] = table["unit_reference"].str.split(":", n=1).str[1]
    return _finish(table, unit_pop, unit_res, ref_frame)


def national_counts(national: pd.DataFrame) -> pd.DataFrame:
    """The national table summed per (``code_departement``, ``type_ressource``).

    Columns ``nombre, lits, places, capacite, nombre_sans_capacite`` (float). An empty
    ``nombre_sans_capacite`` is 0 when a capacity is given, else every structure;
    ``capacite`` is lits + places (the sum is known when no structure lacks it).
    """
    def column(name: str) -> pd.Series:
        if name not in national:
            return pd.Series(np.nan, index=national.index, dtype=float)
        return pd.to_numeric(national[name], errors="coerce").astype(float)

    lits, places = column("capacite_lits"), column("capacite_places")
    nombre = column("nombre").fillna(0)
    missing = column("nombre_sans_capacite")
    missing = missing.fillna(pd.Series(np.where(lits.notna() | places.notna(), 0.0, nombre),
                                       index=national.index))
    frame = pd.DataFrame({
        "code_departement": national["code_departement"].astype(str).str.strip(),
        "type_ressource": national["type_ressource"].astype(str).str.strip(),
        "nombre": nombre, "lits": lits, "places": places,
        "capacite": lits.fillna(0) + places.fillna(0),
        "nombre_sans_capacite": missing,
    })
    grouped = frame.groupby(["code_departement", "type_ressource"])
    return grouped[["nombre", "capacite", "nombre_sans_capacite"]].sum().join(
        grouped[["lits", "places"]].sum(min_count=1))


def departement_population(pop: pd.DataFrame) -> pd.DataFrame:
    """Per département: bundled total and each band of :data:`BANDS` (NaN when a commune
    with a bundled population lacks the band). Communes without any known population are
    left out (Mayotte in the bundled data without a population table)."""
    known = pop["population_reference"].notna() | pop[list(BANDS)].notna().any(axis=1)
    units = pd.DataFrame({"unit": pop.loc[known, "code_departement"].astype(str).to_numpy(),
                          "code_commune": pop.index[known]})
    return _unit_population(units, pop)


def reference_counts(
    national: pd.DataFrame | None,
    pop: pd.DataFrame,
    units: Mapping[str, Sequence[str]],
    type_codes: Sequence[str],
    min_coverage: float = MIN_COVERAGE,
) -> pd.DataFrame:
    """Counts, capacities and populations of each reference unit and type, from the
    national table; NaN with a French ``note`` when the reference is not available.

    Parameters
    ----------
    national : DataFrame or None
        The national reference table.
    pop : DataFrame
        :func:`commune_population`.
    units : mapping
        Reference unit (``region:53``, ``france:FR``) → its départements.
    type_codes : sequence of str
        Resource types.
    min_coverage : float
        See :func:`resource_densities`.

    Returns
    -------
    DataFrame
        Indexed by (``unit_reference``, ``type_ressource``): ``nombre, lits, places,
        capacite, nombre_sans_capacite, bundled``, one column per band of :data:`BANDS`,
        ``couverture`` (share of the reference's population covered) and ``note``.
    """
    index = pd.MultiIndex.from_product([list(units), list(type_codes)],
                                       names=["unit_reference", "type_ressource"])
    out = pd.DataFrame(index=index, columns=[*_COUNTS, "bundled", *BANDS, "couverture"],
                       dtype=float)
    out["note"] = ""
    if national is None:
        out["note"] = NO_NATIONAL
        return out
    counts = national_counts(national)
    dep_pop = departement_population(pop)
    usable = dep_pop.index[dep_pop["bundled"].fillna(0) > 0]
    pairs = pd.DataFrame([(unit, dep) for unit, deps in units.items() for dep in deps
                          if dep in usable], columns=["unit_reference", "code_departement"])
    cells = pairs.merge(pd.DataFrame({"type_ressource": list(type_codes)}), how="cross")
    cells = cells.join(counts, on=["code_departement", "type_ressource"])
    cells = cells.join(dep_pop, on="code_departement")
    cells["present"] = cells["nombre"].notna()
    keys = ["unit_reference", "type_ressource"]
    total = cells.groupby(keys)["bundled"].sum()
    present = cells[cells["present"]]
    grouped = present.groupby(keys)
    agg = grouped[["nombre", "nombre_sans_capacite", "capacite", "bundled"]].sum().join(
        grouped[["lits", "places"]].sum(min_count=1))
    for band in BANDS:
        complete = present[band].notna().groupby([present[k] for k in keys]).all()
        agg[band] = grouped[band].sum().where(complete)
    agg["capacite"] = agg["capacite"].where(agg["nombre_sans_capacite"] == 0)
    share = (agg["bundled"] / total.reindex(agg.index)).reindex(out.index).fillna(0.0)
    absent = cells[~cells["present"]].groupby(keys)["code_departement"].agg(list)
    covered_types = set(counts.index.get_level_values("type_ressource"))
    columns = [*_COUNTS, "bundled", *BANDS]
    out.loc[agg.index, columns] = agg[columns].to_numpy(dtype=float)
    out["couverture"] = share
    notes = []
    for (unit, type_code), covered in share.items():
        missing = absent.get((unit, type_code), [])
        if type_code not in covered_types:
            notes.append(f"référence non disponible : type « {type_code} » absent de la table "
                         "nationale (structures hors FINESS, recensées localement)")
        elif covered < min_coverage:
            notes.append("référence non disponible : la table nationale ne couvre que "
                         f"{covered:.0%} de la population de la référence ".replace("%", " %")
                         + f"(départements absents : {_shorten(missing)})")
        elif missing:
            notes.append("référence calculée sans les départements absents de la table "
                         f"nationale ({_shorten(missing)}) : {covered:.1%} de sa population "
                         "couverte".replace("%", " %").replace(".", ","))
        else:
            notes.append("")
    out["note"] = notes
    unavailable = (share < min_coverage).to_numpy()
    out.loc[unavailable, columns] = np.nan
    return out


def _shorten(items: Sequence[str], limit: int = 12) -> str:
    return ", ".join(items[:limit]) + ("…" if len(items) > limit else "")


def _members(members: pd.DataFrame, territories: Iterable[str] | None) -> pd.DataFrame:
    table = pd.DataFrame({
        "code_territoire": members["code_territoire"].astype(str).str.strip().to_numpy(),
        "code_commune": members["code_commune"].astype(str).str.strip().to_numpy(),
    }).drop_duplicates()
    if territories is not None:
        wanted = [str(t).strip() for t in territories]
        table = table[table["code_territoire"].isin(wanted)]
    return table.reset_index(drop=True)


def _main_regions(members: pd.DataFrame, pop: pd.DataFrame) -> dict[str, str]:
    """Région holding most of each territory's bundled population (then most communes)."""
    frame = members.join(pop[["code_region", "population_reference"]], on="code_commune")
    frame = frame.dropna(subset=["code_region"])
    ranked = frame.groupby(["code_territoire", "code_region"]).agg(
        w=("population_reference", "sum"), n=("code_commune", "size")).reset_index()
    ranked = ranked.sort_values(["code_territoire", "w", "n", "code_region"],
                                ascending=[True, False, False, True])
    first = ranked.drop_duplicates("code_territoire")
    return dict(zip(first["code_territoire"], first["code_region"], strict=True))


def _unit_population(units: pd.DataFrame, pop: pd.DataFrame) -> pd.DataFrame:
    """Per unit: bundled total and, per band, the population (NaN when incomplete)."""
    bands = list(BANDS)
    columns = ["population_reference", *bands]
    if pop.index.is_unique:  # one row per commune: a lookup, not a join
        frame = pop[columns].reindex(units["code_commune"]).set_axis(units.index)
    else:
        frame = units.join(pop, on="code_commune")[columns]
    required = frame["population_reference"].fillna(0).to_numpy() > 0
    missing = pd.DataFrame(frame[bands].isna().to_numpy() & required[:, None],
                           columns=bands, index=frame.index)
    unit = units["unit"]
    if len(unit) and unit.notna().all() and (unit == unit.iloc[0]).all():
        # one unit (a territory): column sums, without grouping
        totals = frame.sum(min_count=1).to_frame(unit.iloc[0]).T
        incomplete = missing.any().to_frame(unit.iloc[0]).T
        totals.index = pd.Index(totals.index, name="unit", dtype=unit.dtype)
        incomplete.index = totals.index
    else:
        # every band summed in one grouping (a grouping per band costs ten times more)
        totals = frame.groupby(unit)[columns].sum(min_count=1)
        incomplete = missing.groupby(unit).any()
    out = totals[bands].where(~incomplete)
    out.insert(0, "bundled", totals["population_reference"])
    return out


def resource_capacity(resources: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Lits, places and lits + places per resource (NaN when neither is known)."""
    def column(name: str) -> pd.Series:
        if name not in resources:
            return pd.Series(np.nan, index=resources.index, dtype=float)
        return pd.to_numeric(resources[name], errors="coerce").astype(float)

    lits, places = column("capacite_lits"), column("capacite_places")
    total = lits.fillna(0) + places.fillna(0)
    return lits, places, total.where(lits.notna() | places.notna())


def _unit_resources(units: pd.DataFrame, resources: pd.DataFrame,
                    type_codes: list[str]) -> pd.DataFrame:
    """Per (unit, type): nombre, lits, places, capacite, nombre_sans_capacite."""
    res = pd.DataFrame({
        "code_commune": resources["code_commune"].astype(str).str.strip().to_numpy(),
        "type_ressource": resources["type_ressource"].astype(str).str.strip().to_numpy(),
    })
    lits, places, capacity = resource_capacity(resources)
    res["lits"], res["places"], res["capacite"] = (
        lits.to_numpy(), places.to_numpy(), capacity.to_numpy())
    res["sans_capacite"] = res["capacite"].isna().astype(int)
    res["nombre"] = 1
    res = res.rename(columns={"sans_capacite": "nombre_sans_capacite"})
    per_commune = _sum_by(res, ["code_commune", "type_ressource"]).reset_index()
    merged = units.merge(per_commune, on="code_commune")
    out = _sum_by(merged, ["unit", "type_ressource"])
    # Capacity is known when every resource of the unit has one; a type that never has a
    # capacity in the whole data folder has none (NaN), even where it is absent.
    out["capacite"] = out["capacite"].where(out["nombre_sans_capacite"] == 0)
    with_capacity = set(res.loc[res["capacite"].notna(), "type_ressource"])
    out.attrs["types_with_capacity"] = with_capacity & set(type_codes)
    return out


def _sum_by(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    grouped = frame.groupby(keys)
    out = grouped[["nombre", "nombre_sans_capacite"]].sum()
    return out.join(grouped[["lits", "places", "capacite"]].sum(min_count=1))


def _finish(table: pd.DataFrame, unit_pop: pd.DataFrame, unit_res: pd.DataFrame,
            ref_frame: pd.DataFrame) -> pd.DataFrame:
    with_capacity = set(unit_res.attrs.get("types_with_capacity", set()))
    with_capacity |= set(ref_frame.index.get_level_values("type_ressource")[
        (ref_frame["lits"].notna() | ref_frame["places"].notna()).to_numpy()])
    res = unit_res.reset_index()

    part = res.rename(columns={"unit": "unit"})
    table = table.merge(part, on=["unit", "type_ressource"], how="left")
    table["nombre"] = table["nombre"].fillna(0).astype(int)
    table["nombre_sans_capacite"] = table["nombre_sans_capacite"].fillna(0).astype(int)
    has = table["type_ressource"].isin(with_capacity)
    absent = table["nombre"] == 0
    for name in ("lits", "places", "capacite"):
        column = table[name].astype(float)
        # none of the type in the unit: 0, if the type has capacities at all
        table[name] = column.where(~absent, np.where(has, 0.0, np.nan))

    refs = ref_frame.reset_index()
    refs = refs.rename(columns={**{c: c + "_reference" for c in _COUNTS},
                                "note": "note_reference", "bundled": "bundled_reference",
                                **{b: "band_" + b for b in BANDS}})
    table = table.merge(refs, on=["unit_reference", "type_ressource"], how="left")
    available = table["nombre_reference"].notna().to_numpy()

    wanted = table["tranche_age"].to_numpy()
    own = np.array([unit_pop.at[u, b] if u in unit_pop.index else np.nan
                    for u, b in zip(table["unit"], wanted, strict=True)], dtype=float)
    ref = np.array([row[f"band_{b}"] for row, b in zip(
        table[[f"band_{b}" for b in BANDS]].to_dict("records"), wanted, strict=True)],
        dtype=float)
    own_total = table["unit"].map(unit_pop["bundled"]).to_numpy(dtype=float)
    ref_total = table["bundled_reference"].to_numpy(dtype=float)
    # The territory keeps its age band when its reference has it too, or has no value.
    banded = ~np.isnan(own) & (~np.isnan(ref) | ~available)
    table["population_ref_age"] = np.where(banded, own, own_total)
    table["population_ref_age_reference"] = np.where(
        available, np.where(banded, ref, ref_total), np.nan)
    table["source_population"] = np.where(banded, SOURCE_TABLE, SOURCE_BUNDLED)
    note = np.where(
        banded | (wanted == "ensemble"), "",
        [f"tranche d'âge {b} indisponible pour le territoire ou sa référence : "
         "population totale utilisée" for b in wanted])
    unknown = np.isnan(table["population_ref_age"].to_numpy(dtype=float)) | (
        available & np.isnan(table["population_ref_age_reference"].to_numpy(dtype=float)))
    note = np.where(unknown, "population inconnue : densité non calculable", note)
    table["note"] = [" ; ".join(part for part in (a, b) if part)
                     for a, b in zip(note, table["note_reference"].fillna(""), strict=True)]
    table["tranche_age"] = np.where(banded, wanted, "ensemble")

    def rate(count: str, people: str) -> pd.Series:
        people_ = table[people].where(table[people] > 0)
        return table[count] / people_ * PER

    table["densite_nombre"] = rate("nombre", "population_ref_age")
    table["densite_capacite"] = rate("capacite", "population_ref_age")
    table["densite_nombre_reference"] = rate("nombre_reference", "population_ref_age_reference")
    table["densite_capacite_reference"] = rate("capacite_reference",
                                               "population_ref_age_reference")
    for kind in ("nombre", "capacite"):
        reference = table[f"densite_{kind}_reference"]
        ratio = table[f"densite_{kind}"] / reference.where(reference > 0)
        table[f"ratio_{kind}"] = ratio
        table[f"ecart_{kind}_pct"] = (ratio - 1) * 100
    return table[COLUMNS].reset_index(drop=True)
