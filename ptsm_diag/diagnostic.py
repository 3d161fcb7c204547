"""The diagnostic of one territory: every table a report needs, computed once.

:func:`prepare_diagnostic` is the facade the notebooks call; it reads and validates the
data folder, builds the territory, places its resources and computes the indicators
against their references. Everything it returns is plain data, usable from a script.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, lru_cache
from pathlib import Path

import geopandas as gpd
import pandas as pd

from ptsm_diag.catalog import Indicator, load_indicator_catalog
from ptsm_diag.data_cache import is_data_cache, read_data_cache
from ptsm_diag.demo import demo_data_dir, is_demo_folder
from ptsm_diag.errors import PtsmError, UnknownCodeError
from ptsm_diag.geography import geography_metadata
from ptsm_diag.indicators import compute_indicator_values, rosace_table
from ptsm_diag.resources import locate_resources, resources_in_territory
from ptsm_diag.sources import DataFolder, read_folder
from ptsm_diag.territory import Territory, main_regions, territories_from_table

REFERENCES = {"france": "France entière", "region": "Région"}


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

    @property
    def reference_label(self) -> str:
        """French label of the chosen reference."""
        return REFERENCES[self.reference]

    @cached_property
    def densities(self) -> pd.DataFrame:
        """Resource densities against région and France (computed on first use)."""
        from ptsm_diag.densities import diagnostic_densities

        return diagnostic_densities(self)

    @cached_property
    def nearest(self) -> pd.DataFrame:
        """Time and distance from each commune to the nearest resource of each type."""
        from ptsm_diag.accessibility import diagnostic_nearest

        return diagnostic_nearest(self)


def load_data(donnees: str | Path | None) -> DataFolder:
    """Read and validate a data folder (the demo data when empty or None).

    A file ``*.donnees.zip`` written by a batch (validated tables, cached once for all
    territories, see :mod:`ptsm_diag.data_cache`) is read and checked, never executed.

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
        stat = source.stat()
        return str(source.resolve()), stat.st_mtime_ns, stat.st_size
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

    Raises
    ------
    InputError
        When the data folder has errors (every problem is listed).
    UnknownCodeError
        When the territory is not in ``territoires.csv``.
    """
    if reference not in REFERENCES:
        raise PtsmError(
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
    territory = territories_from_table(data.territoires[codes == code], data.population)[code]
    catalog = load_indicator_catalog()

    if data.ressources is not None and not data.ressources.empty:
        located = locate_resources(data.ressources, territory.communes)
        resources = resources_in_territory(located, territory.communes["code_commune"])
    else:
        resources = gpd.GeoDataFrame(columns=["id_ressource", "geometry"], geometry="geometry",
                                     crs="EPSG:4326")

    if data.indicateurs is not None and not data.indicateurs.empty:
        key = _batch_cache_key(Path(donnees)) if donnees else None
        if key is not None:
            values = _batch_indicator_values(key, secrecy_threshold).copy()
        else:
            values = compute_indicator_values(
                data.indicateurs, catalog, main_regions(data.territoires),
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
    )


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
            if not isinstance(table, pd.DataFrame) or "source" not in table:
                continue
            for source in sorted(set(table["source"].dropna().astype(str)) - {""}):
                rows.append({"Donnée": name, "Producteur": source, "Millésime": "",
                             "Licence": ""})
    return pd.DataFrame(rows)
