"""The diagnostic of one territory: every table a report needs, computed once.

:func:`prepare_diagnostic` is the facade the notebooks call; it reads and validates the
data folder, builds the territory, places its resources and computes the indicators
against their references. Everything it returns is plain data, usable from a script.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ptsm_diag.catalog import (
    Indicator,
    load_indicator_catalog,
    load_resource_types,
    load_vocabularies,
)
from ptsm_diag.catalog.geography import cached_layer, geography_metadata
from ptsm_diag.compute.accessibility import (
    DETOUR_FACTOR,
    SOURCE_DISTANCIER,
    SPEED_KMH,
    NearestSearch,
    beyond_threshold,
    nearest_resources,
)
from ptsm_diag.compute.context import ContextCard
from ptsm_diag.compute.cooperation import link_table
from ptsm_diag.compute.densities import (
    REFERENCE_LABELS,
    commune_population,
    departement_population,
    national_counts,
    resource_densities,
)
from ptsm_diag.compute.indicators import compute_indicator_values, rosace_table
from ptsm_diag.compute.opendata_indicators import (
    merge_user_first,
    national_bands,
    opendata_indicators,
)
from ptsm_diag.compute.regional import Synthesis, parse_codes, select_territories
from ptsm_diag.compute.resources import locate_resources, resources_in_territory
from ptsm_diag.compute.territory import (
    Territory,
    main_regions,
    normalise_population,
    territories_from_table,
    territory_communes,
)
from ptsm_diag.demo import demo_data_dir
from ptsm_diag.errors import ArgumentError, PtsmError, UnknownCodeError
from ptsm_diag.io.data_cache import is_data_cache, read_data_cache
from ptsm_diag.io.files import file_version
from ptsm_diag.io.sources import DataFolder, read_folder
from ptsm_diag.io.sources.national import NATIONAL_FILE, read_national_references
from ptsm_diag.paths import is_demo_folder

REFERENCES = REFERENCE_LABELS  # reference code → French label
# Columns of a territory's resources when the folder has none (no ressources.csv).
RESOURCE_COLUMNS = ["id_ressource", "finess", "nom", "type_ressource", "champ", "public",
                    "code_commune", "capacite_lits", "capacite_places", "prestations"]


@dataclass
class Diagnostic:
    """What a diagnostic report shows, for one territory."""

    territory: Territory
    data: DataFolder
    data_folder: Path
    is_demo: bool
    reference: str
    catalog: dict[str, Indicator]
    resources: gpd.GeoDataFrame
    indicator_values: pd.DataFrame
    rosace: pd.DataFrame
    year: int | None
    generated_at: datetime = field(default_factory=datetime.now)
    national: pd.DataFrame | None = None
    national_origin: str = ""
    opendata: pd.DataFrame = field(default_factory=pd.DataFrame)
    national_work: NationalWork | None = field(default=None, repr=False, compare=False)

    @property
    def reference_label(self) -> str:
        """French label of the chosen reference."""
        return REFERENCES[self.reference]

    @cached_property
    def densities(self) -> pd.DataFrame:
        """Resource densities against région and France (computed on first use)."""
        return diagnostic_densities(self)

    @cached_property
    def nearest(self) -> pd.DataFrame:
        """Time and distance from each commune to the nearest resource of each type."""
        return diagnostic_nearest(self)


class NationalWork:
    """What is computed once for every territory of one data folder (a batch's cache).

    A batch's kernel reuses the validated tables of its cache for report after report
    (:func:`load_data`); the search of the nearest resources (trees of every type and
    zone), the densities of every territory, the partnership links and the cleaned
    population are prepared once for all of them, on first use, and each report takes
    its territory's part, equal to what the territory alone would compute
    (``tests/test_national_work.py``).

    Parameters
    ----------
    data : DataFolder
        The validated tables (of a batch cache).
    """

    def __init__(self, data: DataFolder) -> None:
        self.data = data
        #: the open-data indicators' references, filled by the first territory of each
        #: région (``opendata_indicators(references=…)``)
        self.opendata_references: dict[tuple, Any] = {}

    @cached_property
    def population(self) -> pd.DataFrame | None:
        """The ``population`` table cleaned once (:func:`normalise_population`)."""
        table = self.data.population
        return None if table is None else normalise_population(table)

    @cached_property
    def commune_population(self) -> pd.DataFrame:
        """:func:`commune_population` of the folder's population table (latest year)."""
        return commune_population(self.population)

    @cached_property
    def departement_population(self) -> pd.DataFrame:
        """:func:`departement_population` of :attr:`commune_population`."""
        return departement_population(self.commune_population)

    @cached_property
    def national_counts(self) -> pd.DataFrame | None:
        """:func:`national_counts` of the folder's national table (None without it)."""
        table = national_table(self.data)[0]
        return None if table is None or table.empty else national_counts(table)

    @cached_property
    def national_bands(self) -> tuple[pd.DataFrame, int | None]:
        """:func:`national_bands` of the folder's national population table."""
        return national_bands(getattr(self.data, "population_nationale", None))

    @cached_property
    def located(self) -> gpd.GeoDataFrame:
        """Every resource of the folder, located (WGS84)."""
        return _located(self.data)

    @cached_property
    def nearest_search(self) -> NearestSearch:
        """:func:`nearest_resources` prepared once (default time estimate): the trees of
        every type and zone, the population; each territory then queries its communes."""
        return NearestSearch(self.located, self.population)

    @cached_property
    def densities(self) -> pd.DataFrame:
        """:func:`resource_densities` of every territory of ``territoires.csv``."""
        territoires = self.data.territoires
        members = territory_communes(territoires)[["code_territoire", "code_commune"]]
        return resource_densities(
            _resources_or_empty(self.data), members, self.data.population,
            national=national_table(self.data)[0], regions=main_regions(territoires))

    @cached_property
    def links(self) -> pd.DataFrame:
        """:func:`link_table` of the folder's partnerships (all territories)."""
        return link_table(self.data.partenariats, self.data.ressources)

    @cached_property
    def context_card(self) -> ContextCard:
        """The ``contexte`` table indexed once, with its département, région and France
        values kept (:class:`ptsm_diag.compute.context.ContextCard`)."""
        return ContextCard(getattr(self.data, "contexte", None))

    def nearest_of(self, communes: pd.Series) -> pd.DataFrame:
        """Rows of :attr:`nearest` for ``communes``, as ``nearest_resources(communes=…)``."""
        return self.nearest_search.query(communes)

    def densities_of(self, code: str) -> pd.DataFrame:
        """Rows of :attr:`densities` for territory ``code``, as if computed alone."""
        table = self.densities
        return table[table["code_territoire"] == code].reset_index(drop=True)


@lru_cache(maxsize=2)
def _national_work(path: str, mtime_ns: int, size: int) -> NationalWork:
    """One :class:`NationalWork` per batch cache file and kernel."""
    return NationalWork(_load_batch_cache(path, mtime_ns, size))


def load_data(donnees: str | Path | None) -> DataFolder:
    """Read and validate a data folder (the demo data when empty or None).

    A file ``*.donnees.zip`` written by a batch (validated tables, cached once for all
    territories, see :mod:`ptsm_diag.io.data_cache`) is read and checked, never executed.

    Raises
    ------
    DataCacheError
        When that batch cache does not read (the next batch rebuilds it).
    """
    source = Path(donnees) if donnees else demo_data_dir()
    key = _batch_cache_key(source)
    if key is not None:
        return _load_batch_cache(*key)
    if not source.is_dir():
        raise PtsmError(f"Dossier de données introuvable : {source}")
    return read_folder(source)


def _batch_cache_key(source: Path) -> tuple[str, int, int] | None:
    """(path, mtime, size) of a batch's validated-data cache file, None for a folder."""
    if source.is_file() and is_data_cache(source):
        return file_version(source)
    return None


@lru_cache(maxsize=2)
def _load_batch_cache(path: str, _mtime_ns: int, _size: int) -> DataFolder:
    """The tables a batch validated once; kept in memory by a reused kernel."""
    return read_data_cache(path)


@lru_cache(maxsize=4)
def _batch_indicator_values(key: tuple[str, int, int], secrecy_threshold: int) -> pd.DataFrame:
    """Indicator values of every territory, computed once per batch cache and kernel."""
    data = _load_batch_cache(*key)
    return compute_indicator_values(data.indicateurs, load_indicator_catalog(),
                                    main_regions(data.territoires),
                                    secrecy_threshold=secrecy_threshold)


def prepare_diagnostic(
    territoire: str,
    donnees: str | Path | None = None,
    *,
    reference: str = "france",
    annee: int | None = None,
    secrecy_threshold: int = 10,
    references_nationales: str | Path | None = None,
) -> Diagnostic:
    """Read, validate and compute everything the report of ``territoire`` shows.

    Parameters
    ----------
    territoire : str
        Territory code as written in ``territoires.csv`` (always a string: ``"01"``).
    donnees : path, optional
        Data folder in the template format; empty or None uses the demo data.
    reference : {"france", "region"}
        Reference of the rosace.
    annee : int, optional
        Year of the indicators; the latest available by default.
    secrecy_threshold : int
        Counts from 1 to this value are masked (statistical secrecy).
    references_nationales : path, optional
        A national reference table (``references_nationales.csv``) to use instead of the
        one of the data folder; without either, the région and France references of the
        densities are « non disponible ».

    Raises
    ------
    InputError
        When the data folder (or the national table) has errors (every problem is listed).
    UnknownCodeError
        When the territory is not in ``territoires.csv``.
    """
    if reference not in REFERENCES:
        raise ArgumentError(
            f"Référence « {reference} » inconnue ; attendu : {', '.join(REFERENCES)}"
        )
    data = load_data(donnees)
    folder = data.path
    if data.territoires is None:
        raise PtsmError(f"Le dossier {folder} ne contient pas de fichier territoires.csv")
    code = str(territoire).strip()
    codes = data.territoires["code_territoire"].astype(str).str.strip()
    if code not in set(codes):
        raise UnknownCodeError(
            "territoire", [code],
            hint=f"Territoires du dossier : {', '.join(sorted(set(codes)))}",
        )
    key = _batch_cache_key(Path(donnees)) if donnees else None
    work = _national_work(*key) if key is not None and references_nationales is None else None
    population = work.population if work is not None else data.population
    territory = territories_from_table(data.territoires[codes == code], population)[code]
    catalog = load_indicator_catalog()

    if data.ressources is not None and not data.ressources.empty:
        # the territory's resources only are located (on its communes when they have no
        # coordinates): the same rows as locating every resource, then keeping its own
        resources = resources_in_territory(data.ressources, territory.communes["code_commune"])
        resources = locate_resources(resources, territory.communes)
    else:  # no resource: an empty table with every column the sections read
        columns = [c for c in (data.ressources.columns if data.ressources is not None
                               else RESOURCE_COLUMNS) if c != "geometry"]
        resources = gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in columns},
                                     geometry=gpd.GeoSeries([], crs="EPSG:4326"))

    national, national_origin = national_table(data, references_nationales)
    opendata = opendata_indicators(
        data.ressources, list(territory.communes["code_commune"]), population, national,
        code=code, region=territory.region_codes[0], catalog=catalog,
        national_population=getattr(data, "population_nationale", None),
        commune_pop=work.commune_population if work is not None else None,
        departement_pop=work.departement_population if work is not None else None,
        counts=work.national_counts if work is not None and national is not None else None,
        bands=work.national_bands if work is not None else None,
        references=work.opendata_references if work is not None else None)
    indicateurs, opendata_notes = merge_user_first(data.indicateurs, opendata)
    if indicateurs is not None and not indicateurs.empty:
        if key is not None and not opendata_notes["utilise"].any():
            values = _batch_indicator_values(key, secrecy_threshold).copy()
        else:
            values = compute_indicator_values(
                indicateurs, catalog, main_regions(data.territoires),
                secrecy_threshold=secrecy_threshold,
            )
        rosace = rosace_table(values, code, year=annee, reference=reference, catalog=catalog)
        year = annee or (int(rosace["annee"].max()) if rosace["annee"].notna().any() else None)
    else:
        values = pd.DataFrame()
        rosace = pd.DataFrame()
        year = annee
    return Diagnostic(
        territory=territory,
        data=data,
        data_folder=folder,
        is_demo=is_demo_folder(folder),
        reference=reference,
        catalog=catalog,
        resources=resources,
        indicator_values=values,
        rosace=rosace,
        year=year,
        national=national,
        national_origin=national_origin,
        opendata=opendata_notes,
        national_work=work,
    )


def national_table(data: DataFolder, path: str | Path | None = None
                   ) -> tuple[pd.DataFrame | None, str]:
    """The national reference table of a diagnostic and where it comes from (French).

    ``path`` (a ``references_nationales.csv`` anywhere) wins over the data folder's own
    table; (None, "") without either.
    """
    if path:
        table = read_national_references(path)
        return table, f"{Path(path).name} (table fournie)"
    table = getattr(data, "references_nationales", None)
    if table is not None and not table.empty:
        return table, f"{NATIONAL_FILE} du dossier de données"
    return None, ""


def national_sources(diagnostic: Diagnostic) -> str:
    """One French sentence: where the région and France references come from."""
    table = diagnostic.national
    if table is None:
        return ("Références région et France des densités : non disponibles (pas de table "
                f"nationale {NATIONAL_FILE} ; « ptsm-diag donnees telecharger » l'écrit à "
                "partir des fichiers FINESS nationaux).")
    # the distinct values first: the table has a row per département and type
    dates = sorted({str(d)[:10] for d in table.get("date_finess", pd.Series(dtype=object))
                    .dropna().unique() if str(d).strip()})
    sources = sorted({str(s) for s in table.get("source", pd.Series(dtype=object))
                      .dropna().unique() if str(s).strip()})
    what = f"FINESS du {', '.join(dates)}" if dates else ", ".join(sources) or "source non dite"
    return (f"Références région et France des densités : {diagnostic.national_origin} "
            f"({what} ; {table['code_departement'].nunique()} départements).")


def data_sources(diagnostic: Diagnostic) -> pd.DataFrame:
    """Every source used by the report, with its producer and vintage (French columns)."""
    geo = geography_metadata()
    rows = [
        {
            "Donnée": "Communes, départements, régions (contours simplifiés)",
            "Producteur": geo.get("producteur", "INSEE / IGN"),
            "Millésime": str(geo.get("millesime_cog", "")),
            "Licence": geo.get("licence", "Licence Ouverte"),
        },
        {
            "Donnée": "Population municipale des communes",
            "Producteur": "INSEE, populations légales",
            "Millésime": geo.get("millesime_population_texte",
                                 str(geo.get("millesime_population", ""))),
            "Licence": "Licence Ouverte",
        },
    ]
    if diagnostic.is_demo:
        rows.append({
            "Donnée": "Ressources, indicateurs, feuille de route",
            "Producteur": "ptsm-diag — données fictives de démonstration",
            "Millésime": "—",
            "Licence": "—",
        })
    else:
        for name, table in vars(diagnostic.data).items():
            if not isinstance(table, pd.DataFrame) or "source" not in table \
                    or name == "references_nationales":
                continue
            for source in sorted(set(table["source"].dropna().astype(str)) - {""}):
                rows.append({"Donnée": name, "Producteur": source, "Millésime": "",
                             "Licence": ""})
    rows.append({
        "Donnée": "Références région et France (ressources par département)",
        "Producteur": national_sources(diagnostic),
        "Millésime": "",
        "Licence": "Licence Ouverte" if diagnostic.national is not None
        and not diagnostic.is_demo else "—",
    })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- densities


def diagnostic_densities(diagnostic: Diagnostic) -> pd.DataFrame:
    """:func:`resource_densities` of the diagnostic's territory, against région and France.

    The territory is counted on the data folder's resources; the references come from
    the national reference table only (:attr:`Diagnostic.national`), never from the
    folder: « référence non disponible » without one.
    """
    territory = diagnostic.territory
    if diagnostic.national_work is not None:
        return diagnostic.national_work.densities_of(territory.code)
    members = pd.DataFrame({"code_territoire": territory.code,
                            "code_commune": list(territory.communes["code_commune"])})
    return resource_densities(
        _resources_or_empty(diagnostic.data), members, diagnostic.data.population,
        national=diagnostic.national,
        regions={territory.code: territory.region_codes[0]},
    )


def densities_table(diagnostic: Diagnostic, reference: str | None = None,
                    densities: pd.DataFrame | None = None) -> pd.DataFrame:
    """Densities of the diagnostic's territory against one reference, French columns.

    Parameters
    ----------
    diagnostic : Diagnostic
        The prepared diagnostic.
    reference : {"region", "france"}, optional
        Defaults to the diagnostic's reference.
    densities : DataFrame, optional
        :func:`diagnostic_densities` already computed (else computed here).

    Returns
    -------
    DataFrame
        One row per resource type, ready for display (NaN shown as missing).
    """
    reference = reference or diagnostic.reference
    table = diagnostic_densities(diagnostic) if densities is None else densities
    table = table[table["reference"] == reference]
    vocab = load_vocabularies()
    label = REFERENCE_LABELS[reference]
    return pd.DataFrame({
        "Type de ressource": table["libelle"].to_numpy(),
        "Champ": table["champ"].map(vocab.champs).to_numpy(),
        "Public": table["public"].map(vocab.publics).to_numpy(),
        "Tranche d'âge": table["tranche_age"].to_numpy(),
        "Population de référence": table["tranche_age"].map(
            lambda band: POPULATION_WORDS.get(band, f"{band} ans")).to_numpy(),
        "Nombre": table["nombre"].to_numpy(),
        "Lits": table["lits"].to_numpy(),
        "Places": table["places"].to_numpy(),
        "Lits et places": table["capacite"].to_numpy(),
        "Capacité sans objet": capacity_not_applicable(table),
        "Nombre pour 100 000 hab.": table["densite_nombre"].round(2).to_numpy(),
        f"Nombre pour 100 000 hab. ({label})": table["densite_nombre_reference"]
        .round(2).to_numpy(),
        "Écart nombre (%)": table["ecart_nombre_pct"].round(1).to_numpy(),
        "Lits et places pour 100 000 hab.": table["densite_capacite"].round(1).to_numpy(),
        f"Lits et places pour 100 000 hab. ({label})": table["densite_capacite_reference"]
        .round(1).to_numpy(),
        "Écart lits et places (%)": table["ecart_capacite_pct"].round(1).to_numpy(),
        "Remarque": table["note"].to_numpy(),
    })


# The population each density is counted against, by age band (densities.PUBLIC_BANDS).
POPULATION_WORDS = {
    "ensemble": "population totale",
    "18+": "adultes (18 ans et plus)",
    "0-17": "enfants (0-17 ans)",
    "65+": "personnes âgées (65 ans et plus)",
}


def capacity_not_applicable(densities: pd.DataFrame) -> np.ndarray:
    """True for the rows of :func:`diagnostic_densities` whose type has no lits nor places
    (CMP, GEM, CPTS...): none in the territory's resources, none in the reference."""
    reference = pd.to_numeric(densities["capacite_reference"], errors="coerce")
    return (densities["lits"].isna() & densities["places"].isna()
            & densities["capacite"].isna()
            & (reference.isna() | (reference == 0))).to_numpy(dtype=bool)


# --------------------------------------------------------------------------- accessibility


def _resources_or_empty(data: DataFolder) -> pd.DataFrame:
    """The ``ressources`` table, or an empty one with the columns densities read."""
    if data.ressources is None:
        return pd.DataFrame(columns=["type_ressource", "code_commune"])
    return data.ressources


def located_resources(diagnostic: Diagnostic) -> gpd.GeoDataFrame:
    """Every resource of the diagnostic's data folder, located (WGS84)."""
    if diagnostic.national_work is not None:
        return diagnostic.national_work.located
    return _located(diagnostic.data)


def _located(data: DataFolder) -> gpd.GeoDataFrame:
    table = data.ressources
    if table is None or table.empty:
        return gpd.GeoDataFrame(
            columns=["id_ressource", "type_ressource", "code_commune", "geometry"],
            geometry="geometry", crs="EPSG:4326")
    return locate_resources(table, cached_layer("communes"))


def diagnostic_nearest(
    diagnostic: Diagnostic,
    *,
    distancier: pd.DataFrame | None = None,
    detour: float = DETOUR_FACTOR,
    speed_kmh: float = SPEED_KMH,
) -> pd.DataFrame:
    """:func:`nearest_resources` for the territory's communes (e.g. for a choropleth).

    The nearest resource is searched in the whole data folder.
    """
    work = diagnostic.national_work
    if (work is not None and distancier is None and detour == DETOUR_FACTOR
            and speed_kmh == SPEED_KMH):
        return work.nearest_of(diagnostic.territory.communes["code_commune"])
    return nearest_resources(
        located_resources(diagnostic), diagnostic.data.population,
        communes=diagnostic.territory.communes["code_commune"],
        detour=detour, speed_kmh=speed_kmh, distancier=distancier)


def accessibility_summary(
    diagnostic: Diagnostic,
    seuil_minutes: float = 30.0,
    *,
    distancier: pd.DataFrame | None = None,
    detour: float = DETOUR_FACTOR,
    speed_kmh: float = SPEED_KMH,
    nearest: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per resource type: population beyond ``seuil_minutes`` of the nearest one (French).

    ``nearest`` is :func:`diagnostic_nearest` already computed (else computed here).

    Returns
    -------
    DataFrame
        One row per type, ready for display: type, tranche d'âge, temps médian, part et
        nombre d'habitants au-delà du seuil, communes au-delà, communes sans valeur, and
        the source of the times.
    """
    if nearest is None:
        nearest = diagnostic_nearest(diagnostic, distancier=distancier, detour=detour,
                                     speed_kmh=speed_kmh)
    code = diagnostic.territory.code
    members = pd.DataFrame({"code_territoire": code, "code_commune": nearest[
        "code_commune"].unique()})
    summary = beyond_threshold(nearest, members, threshold=seuil_minutes)
    catalog = load_resource_types()
    stats = pd.DataFrame({
        "type_ressource": nearest["type_ressource"].astype(str),
        "temps_min": nearest["temps_min"], "tranche_age": nearest["tranche_age"],
        "distancier": (nearest["source_temps"] == SOURCE_DISTANCIER).astype(float),
    }).groupby("type_ressource", sort=False).agg(
        median=("temps_min", "median"), band=("tranche_age", "first"),
        distancier=("distancier", "mean"))
    summary = summary.join(stats, on="type_ressource")
    seuil = f"{seuil_minutes:g} min"
    return pd.DataFrame({
        "Type de ressource": summary["type_ressource"].map(
            lambda t: catalog[t].label if t in catalog else t).to_numpy(),
        "Tranche d'âge": summary["band"].astype(str).to_numpy(),
        "Temps médian (min)": summary["median"].round(0).to_numpy(),
        f"Habitants à plus de {seuil}": summary["population_au_dela"].round(0).to_numpy(),
        f"Part des habitants à plus de {seuil} (%)": (summary["part_au_dela"] * 100)
        .round(1).to_numpy(),
        f"Communes à plus de {seuil}": summary["communes_au_dela"].to_numpy(),
        "Communes sans temps connu": summary["communes_inconnues"].to_numpy(),
        "Temps issus du distancier (%)": (summary["distancier"] * 100).round(0).to_numpy(),
    })


# --------------------------------------------------------------------------- cooperation


def has_partnerships(diag: Diagnostic) -> bool:
    """Whether the data folder holds a ``partenariats`` table."""
    return getattr(diag.data, "partenariats", None) is not None


def diagnostic_cooperation_tables(
    diag: Diagnostic,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(partenariats, every resource, resources of the territory) of a diagnostic: the
    inputs of :func:`cooperation_indicators` and of the cooperation views."""
    every = diag.data.ressources
    if every is None:
        every = pd.DataFrame(columns=["id_ressource", "nom", "type_ressource", "champ",
                                      "code_commune"])
    local = pd.DataFrame(diag.resources.drop(columns="geometry", errors="ignore"))
    for column in ("nom", "type_ressource", "champ", "code_commune"):
        if column not in local:
            local[column] = pd.Series(dtype=object)
    return diag.data.partenariats, every, local


def diagnostic_links(diag: Diagnostic) -> pd.DataFrame:
    """:func:`link_table` of the diagnostic's data folder (every link, actors resolved),
    computed once for all the territories of a batch."""
    if diag.national_work is not None:
        return diag.national_work.links
    partenariats, every, _local = diagnostic_cooperation_tables(diag)
    return link_table(partenariats, every)


# --------------------------------------------------------------------------- regional synthesis


def prepare_synthesis(
    donnees: str | Path | None = None,
    *,
    region: str | None = None,
    territoires: str | Iterable[str] | None = None,
    reference: str = "france",
    annee: int | None = None,
    secrecy_threshold: int = 10,
) -> Synthesis:
    """Read, validate and compute everything the regional synthesis shows.

    Parameters
    ----------
    donnees : path, optional
        Data folder (template format); empty or None uses the demo data.
    region : str, optional
        Région code; its territories are compared (see :func:`select_territories`).
    territoires : str or list, optional
        Territory codes (``"22,29,35"``); wins over ``region``.
    reference : {"france", "region"}
        Reference of the indices.
    annee : int, optional
        Year of the indicators; the latest available by default.
    secrecy_threshold : int
        Counts from 1 to this value are masked.
    """
    if reference not in REFERENCES:
        raise ArgumentError(
            f"Référence « {reference} » inconnue ; attendu : {', '.join(REFERENCES)}"
        )
    data = load_data(donnees)
    if data.territoires is None:
        raise PtsmError(f"Le dossier {data.path} ne contient pas de fichier territoires.csv")
    table = data.territoires
    codes = select_territories(table, region=region, codes=territoires)
    table_codes = table["code_territoire"].astype(str).str.strip()
    # in a batch's kernel, what the reports already computed for every territory
    key = _batch_cache_key(Path(donnees)) if donnees else None
    work = _national_work(*key) if key is not None else None
    population = work.population if work is not None else data.population
    built = territories_from_table(table[table_codes.isin(codes)], population)
    territories = {code: built[code] for code in codes}
    catalog = load_indicator_catalog()

    resources = _territory_resources(data, table[table_codes.isin(codes)], territories)
    rosaces: dict[str, pd.DataFrame] = {}
    values = pd.DataFrame()
    year = annee
    if data.indicateurs is not None and not data.indicateurs.empty:
        values = (_batch_indicator_values(key, secrecy_threshold).copy() if key is not None
                  else compute_indicator_values(data.indicateurs, catalog, main_regions(table),
                                                secrecy_threshold=secrecy_threshold))
        present = set(values["code_territoire"])
        for code in codes:
            if code in present:
                rosaces[code] = rosace_table(values, code, year=annee, reference=reference,
                                             catalog=catalog)
        years = pd.concat([r["annee"] for r in rosaces.values()]) if rosaces else pd.Series()
        if year is None and years.notna().any():
            year = int(years.max())
    national, national_origin = national_table(data)
    return Synthesis(
        territories=territories, data=data, data_folder=data.path,
        is_demo=is_demo_folder(data.path), reference=reference,
        region=_shared_region(territories, region, territoires),
        catalog=catalog, resources=resources, indicator_values=values, rosaces=rosaces,
        year=year, national=national, national_origin=national_origin,
    )


def _shared_region(territories: Mapping[str, Territory], region: str | None,
                   territoires: str | Iterable[str] | None) -> str | None:
    """The région the synthesis names: the one asked for, or the main région shared by
    every territory compared (a batch passes its territories, not its région)."""
    if region and not parse_codes(territoires):
        return str(region).strip()
    mains = {t.region_codes[0] for t in territories.values() if t.region_codes}
    return mains.pop() if len(mains) == 1 and len(territories) > 0 else None


def _territory_resources(
    data: DataFolder, rows: pd.DataFrame, territories: Mapping[str, Territory]
) -> gpd.GeoDataFrame:
    """Located resources, one row per (territory, resource) with ``code_territoire``."""
    empty = gpd.GeoDataFrame({"code_territoire": [], "id_ressource": [], "type_ressource": []},
                             geometry=[], crs="EPSG:4326")
    if data.ressources is None or data.ressources.empty:
        return empty
    members = territory_communes(rows)[["code_territoire", "code_commune"]]
    ressources = data.ressources[data.ressources["code_commune"].isin(members["code_commune"])]
    if ressources.empty:
        return empty
    communes = pd.concat([t.communes for t in territories.values()]).drop_duplicates(
        "code_commune")
    located = locate_resources(ressources, communes)
    merged = located.merge(members, on="code_commune")
    return gpd.GeoDataFrame(merged, geometry="geometry", crs="EPSG:4326")


def main_departement(territory: Territory) -> str:
    """The département holding the largest population of the territory (the first one
    when no population is known)."""
    communes = territory.communes
    population = pd.to_numeric(communes["population"], errors="coerce").fillna(0)
    by_dep = population.groupby(communes["code_departement"].astype(str)).sum()
    if by_dep.empty:
        return territory.departement_codes[0]
    return str(by_dep.sort_index().idxmax())


def context_table(diag: Diagnostic, secrecy_threshold: int | None = 10) -> pd.DataFrame:
    """The identity card with context of the territory: each context indicator for the
    territory, its main département, its main région and France (see
    :func:`ptsm_diag.compute.context.context_card_table`); « non disponible » everywhere
    without a ``contexte`` table."""
    card = (diag.national_work.context_card if diag.national_work is not None
            else ContextCard(getattr(diag.data, "contexte", None)))
    return card.table(list(diag.territory.communes["code_commune"].astype(str)),
                      main_departement(diag.territory), diag.territory.region_codes[0],
                      secrecy_threshold=secrecy_threshold)
