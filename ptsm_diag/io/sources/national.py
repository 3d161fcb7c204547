"""The national reference table: resources counted per département and type, from FINESS.

The FINESS files are national. When ``ptsm-diag donnees telecharger`` converts them for a
few départements, it also writes ``references_nationales.csv`` (:data:`NATIONAL_FILE`):
one row per département of France and resource type that FINESS covers, with the number
of structures, their known beds and places, how many have no known capacity, and the
FINESS date. Every later report takes its région and France references from that table,
whatever the data folder holds (see :mod:`ptsm_diag.compute.densities`).

- :func:`national_reference_table` — a ``ressources`` table (national) → the table;
- :func:`national_csv_text` — the table as the CSV the folder holds;
- :func:`read_national_references` — read and validate such a file anywhere on disk.

The INSEE census file is national too: the download also writes
``population_nationale.csv`` (:data:`POPULATION_FILE`), the population of every
département by year and age band (:func:`national_population_csv_text`), the age
denominators of the région and France references of the computed indicators.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ptsm_diag.catalog.geography import departements_of_communes
from ptsm_diag.errors import InputError

NATIONAL_FILE = "references_nationales.csv"
NATIONAL_TABLE = "references_nationales"
COLUMNS = ["code_departement", "type_ressource", "nombre", "capacite_lits", "capacite_places",
           "nombre_sans_capacite", "date_finess", "source"]
POPULATION_FILE = "population_nationale.csv"
POPULATION_TABLE = "population_nationale"
POPULATION_COLUMNS = ["code_departement", "annee", "tranche_age", "population", "source"]


def finess_types() -> list[str]:
    """Resource types that FINESS lists: those with a FINESS category, and the CMP for
    children (category 156, told apart by name)."""
    from ptsm_diag.catalog import load_resource_types

    types = load_resource_types()
    covered = [code for code, t in types.items() if t.finess_categories]
    if "cmp_enfants" in types and "cmp_adultes" in covered:
        covered.append("cmp_enfants")
    return [code for code in types if code in covered]


def national_reference_table(
    ressources: pd.DataFrame,
    *,
    date_finess: str = "",
    source: str = "",
    types: Iterable[str] | None = None,
    departements: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Count the resources of a national ``ressources`` table per département and type.

    Parameters
    ----------
    ressources : DataFrame
        ``type_ressource, code_commune`` and optional ``capacite_lits``,
        ``capacite_places`` (the FINESS table of the whole country).
    date_finess : str
        Date of the FINESS extract (``AAAA-MM-JJ``), written on every row.
    source : str
        Origin written on every row (``FINESS 2025-01-15`` by default).
    types : iterable of str, optional
        Types the table covers (a row for each, 0 when absent); :func:`finess_types`
        by default.
    departements : iterable of str, optional
        Départements covered (a row for each); every département of the bundled
        geography by default.

    Returns
    -------
    DataFrame
        Columns :data:`COLUMNS`, one row per département × type, sorted.
    """
    from ptsm_diag.catalog.geography import cached_layer

    types = list(types) if types is not None else finess_types()
    if departements is None:
        departements = cached_layer("departements")["code_departement"].astype(str)
    departements = sorted(set(map(str, departements)))
    frame = pd.DataFrame({
        "code_departement": departements_of_communes(ressources["code_commune"]).to_numpy(),
        "type_ressource": ressources["type_ressource"].astype(str).str.strip().to_numpy(),
    })

    def column(name: str) -> np.ndarray:
        if name not in ressources:
            return np.full(len(ressources), np.nan)
        return pd.to_numeric(ressources[name], errors="coerce").astype(float).to_numpy()

    frame["capacite_lits"], frame["capacite_places"] = column("capacite_lits"), \
        column("capacite_places")
    frame["nombre"] = 1
    frame["nombre_sans_capacite"] = (frame["capacite_lits"].isna()
                                     & frame["capacite_places"].isna()).astype(int)
    frame = frame[frame["type_ressource"].isin(types)
                  & frame["code_departement"].isin(departements)]
    grouped = frame.groupby(["code_departement", "type_ressource"])
    counts = grouped[["nombre", "nombre_sans_capacite"]].sum().join(
        grouped[["capacite_lits", "capacite_places"]].sum(min_count=1))
    grid = pd.MultiIndex.from_product([departements, types],
                                      names=["code_departement", "type_ressource"])
    table = counts.reindex(grid).reset_index()
    for name in ("nombre", "nombre_sans_capacite"):
        table[name] = table[name].fillna(0).astype("int64")
    for name in ("capacite_lits", "capacite_places"):
        table[name] = table[name].round().astype("Int64")
    table["date_finess"] = date_finess
    table["source"] = source or f"FINESS {date_finess}".strip()
    return table[COLUMNS]


def national_csv_text(table: pd.DataFrame) -> str:
    """The ``references_nationales.csv`` text (``;``, UTF-8 with BOM, no formula)."""
    from ptsm_diag.io.exports import csv_text

    return "\ufeff" + csv_text(table[COLUMNS], decimal=".", lineterminator="\n", bom=False)


def national_population_csv_text(table: pd.DataFrame) -> str:
    """The ``population_nationale.csv`` text (``;``, UTF-8 with BOM, no formula)."""
    from ptsm_diag.io.exports import csv_text

    return "\ufeff" + csv_text(table[POPULATION_COLUMNS], decimal=".", lineterminator="\n",
                               bom=False)


def read_national_references(path: str | Path) -> pd.DataFrame:
    """Read and validate a national reference table (CSV or XLSX) given by its path.

    Raises
    ------
    InputError
        When the file does not exist or has errors (every problem is listed).
    """
    from ptsm_diag.errors import Problem, Severity
    from ptsm_diag.io.sources.validate import read_table

    source = Path(path)
    if not source.is_file():
        raise InputError([Problem(str(source), None, None, str(source),
                                  f"un fichier {NATIONAL_FILE}",
                                  "table nationale de référence introuvable")])
    result = read_table(NATIONAL_TABLE, source)
    errors = [p for p in result.problems if p.severity == Severity.ERREUR]
    if errors:
        raise InputError(result.problems)
    return result.data
