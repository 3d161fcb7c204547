"""Geographic accessibility: distance and time to the nearest resource, 2SFCA.

Geometry
--------
Distances are straight lines in a projected CRS, each place in its own zone:
Lambert-93 (EPSG:2154) for metropolitan France and Corsica, and for each overseas
département its official UTM projection: Guadeloupe and Martinique RGAF09 / UTM 20N
(EPSG:5490), Guyane RGFG95 / UTM 22N (EPSG:2972), La Réunion RGR92 / UTM 40S
(EPSG:2975), Mayotte RGM04 / UTM 38S (EPSG:4471). The zone of a commune or a resource is
given by its commune code; each overseas département is its own zone (no search across
the sea), metropolitan France is one zone. Scale errors of these projections stay below
0.3 %.

A commune is represented by the *representative point* of its bundled outline (a point
guaranteed inside the polygon, close to its centre; no population-weighted centroid is
bundled). Pass ``origins`` (``code_commune, longitude, latitude``, WGS84) to use other
points, e.g. population-weighted centroids from the INSEE 200 m grid. Communes without
an outline (4 in the bundled data) have unknown (NaN) distances.

Time
----
Without a distancier, road time is estimated as ``distance × detour / speed``, by default
a detour factor of 1.3 and 60 km/h (:data:`DETOUR_FACTOR`, :data:`SPEED_KMH`). Road
distance is commonly 1.2 to 1.4 times the straight line (detour index; e.g. Boscoe,
Henry & Zdeb, « A nationwide comparison of driving distance versus straight-line
distance to hospitals », *The Professional Geographer* 64(2), 2012), and 60 km/h is an
average door-to-door speed on French secondary roads; both are configurable. A
distancier (``code_commune_origine, code_commune_destination, minutes``, e.g. from
INSEE's Metric or an OSRM run) gives real times commune to commune; a pair missing from
it falls back to the estimate, flagged by ``repli_estimation``.

The nearest resource is searched among every resource given (the whole data folder):
a CMP just across the border of the territory counts.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer
from scipy.spatial import cKDTree

from ptsm_diag.catalog import ResourceType, load_resource_types
from ptsm_diag.catalog.geography import cached_layer
from ptsm_diag.compute.densities import PUBLIC_BANDS, commune_population

DETOUR_FACTOR = 1.3
SPEED_KMH = 60.0
METROPOLE = "metropole"
LAMBERT93 = "EPSG:2154"
# Projected CRS of each zone (overseas départements by code).
ZONE_CRS: dict[str, str] = {
    METROPOLE: LAMBERT93,
    "971": "EPSG:5490",
    "972": "EPSG:5490",
    "973": "EPSG:2972",
    "974": "EPSG:2975",
    "976": "EPSG:4471",
}
SOURCE_ESTIMATE = "estimé"
SOURCE_DISTANCIER = "distancier"
NEAREST_COLUMNS = [
    "code_commune", "type_ressource", "distance_km", "temps_min", "source_temps",
    "repli_estimation", "id_ressource", "code_commune_ressource", "tranche_age", "population",
]
THRESHOLD_COLUMNS = [
    "code_territoire", "type_ressource", "critere", "seuil", "communes", "population",
    "population_au_dela", "part_au_dela", "communes_au_dela",
    "communes_inconnues", "population_inconnue",
]
FCA_COLUMNS = [
    "code_commune", "type_ressource", "tranche_age", "population", "offre",
    "accessibilite", "pour_habitants", "critere", "seuil",
]


# --------------------------------------------------------------------------- points


def zone_of(codes: pd.Series | Iterable[str]) -> np.ndarray:
    """Projection zone of commune codes: ``"metropole"`` or the overseas département."""
    text = pd.Series(list(codes) if not isinstance(codes, pd.Series) else codes,
                     dtype=object).astype(str)
    prefix = text.str[:3].to_numpy(dtype=object)
    return np.where(np.isin(prefix, list(ZONE_CRS)), prefix, METROPOLE)


@functools.cache
def _transformer(crs: str) -> Transformer:
    return Transformer.from_crs("EPSG:4326", crs, always_xy=True)


def project(zones: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 longitude/latitude → metres in each point's zone CRS (NaN stays NaN)."""
    x = np.full(len(zones), np.nan)
    y = np.full(len(zones), np.nan)
    for zone in np.unique(zones):
        mask = zones == zone
        x[mask], y[mask] = _transformer(ZONE_CRS[zone]).transform(lon[mask], lat[mask])
    return x, y


@functools.cache
def _bundled_points() -> pd.DataFrame:
    communes = cached_layer("communes")
    valid = communes.geometry.notna() & ~communes.geometry.is_empty
    points = communes.geometry[valid].representative_point()
    lon = pd.Series(np.nan, index=communes.index)
    lat = pd.Series(np.nan, index=communes.index)
    lon[valid], lat[valid] = points.x, points.y
    return pd.DataFrame({"code_commune": communes["code_commune"].to_numpy(dtype=object),
                         "longitude": lon.to_numpy(), "latitude": lat.to_numpy()})


def commune_points(origins: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every bundled commune's point, projected in its zone.

    Parameters
    ----------
    origins : DataFrame, optional
        ``code_commune, longitude, latitude`` (WGS84) replacing the representative
        points of the listed communes (e.g. population-weighted centroids).

    Returns
    -------
    DataFrame
        Indexed by ``code_commune``: ``zone, longitude, latitude, x, y`` (metres).
    """
    points = _bundled_points().set_index("code_commune")
    if origins is not None:
        given = origins.set_index(origins["code_commune"].astype(str))
        points.loc[points.index.intersection(given.index), ["longitude", "latitude"]] = (
            given[["longitude", "latitude"]].astype(float))
    zones = zone_of(points.index.to_series())
    x, y = project(zones, points["longitude"].to_numpy(float),
                   points["latitude"].to_numpy(float))
    return pd.DataFrame({"zone": zones, "longitude": points["longitude"].to_numpy(),
                         "latitude": points["latitude"].to_numpy(), "x": x, "y": y},
                        index=points.index)


def resource_points(resources: pd.DataFrame) -> pd.DataFrame:
    """Resources projected in the zone of their commune.

    ``resources`` is :func:`ptsm_diag.compute.resources.locate_resources`'s output (a WGS84
    geometry) or a table with ``longitude``/``latitude``. Rows without a position are
    dropped. Columns: ``id_ressource, type_ressource, code_commune, zone, x, y``.
    """
    if isinstance(resources, gpd.GeoDataFrame) and resources.geometry.name in resources:
        geometry = resources.geometry
        empty = geometry.isna() | geometry.is_empty
        lon = np.where(empty, np.nan, geometry.x.where(~empty))
        lat = np.where(empty, np.nan, geometry.y.where(~empty))
    else:
        lon = pd.to_numeric(resources["longitude"], errors="coerce").to_numpy(float)
        lat = pd.to_numeric(resources["latitude"], errors="coerce").to_numpy(float)
    codes = resources["code_commune"].astype(str).str.strip()
    ids = (resources["id_ressource"].astype(str) if "id_ressource" in resources
           else pd.Series(np.arange(len(resources)).astype(str), index=resources.index))
    zones = zone_of(codes)
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    x, y = project(zones, lon, lat)
    frame = pd.DataFrame({
        "id_ressource": ids.to_numpy(dtype=object),
        "type_ressource": resources["type_ressource"].astype(str).to_numpy(dtype=object),
        "code_commune": codes.to_numpy(dtype=object),
        "zone": zones, "x": x, "y": y,
    })
    return frame[np.isfinite(frame["x"]) & np.isfinite(frame["y"])].reset_index(drop=True)


def estimated_minutes(
    distance_km: np.ndarray | pd.Series | float,
    detour: float = DETOUR_FACTOR,
    speed_kmh: float = SPEED_KMH,
) -> np.ndarray | pd.Series | float:
    """Road time estimate in minutes: ``distance_km × detour / speed_kmh × 60``."""
    return distance_km * detour / speed_kmh * 60.0


class _Lookup:
    """Distancier minutes by (origin, destination) commune, as integer keys."""

    def __init__(self, distancier: pd.DataFrame | None):
        self.codes = pd.Index(cached_layer("communes")["code_commune"].to_numpy(dtype=object))
        self.n = len(self.codes)
        if distancier is None or distancier.empty:
            self.series = None
            return
        o = self.codes.get_indexer(distancier["code_commune_origine"])
        d = self.codes.get_indexer(distancier["code_commune_destination"])
        ok = (o >= 0) & (d >= 0)
        keys = o[ok].astype(np.int64) * self.n + d[ok]
        self.series = pd.Series(distancier["minutes"].to_numpy(float)[ok], index=keys)
        self.table = pd.DataFrame({"o": o[ok], "d": d[ok],
                                   "minutes": self.series.to_numpy()})

    def get(self, origins: np.ndarray, destinations: np.ndarray) -> np.ndarray:
        """Minutes for each pair of commune positions (NaN when absent or unknown)."""
        if self.series is None:
            return np.full(len(origins), np.nan)
        keys = origins.astype(np.int64) * self.n + destinations
        pos = self.series.index.get_indexer(keys)
        values = self.series.to_numpy()
        return np.where((pos >= 0) & (origins >= 0) & (destinations >= 0),
                        values[np.maximum(pos, 0)], np.nan)


# --------------------------------------------------------------------------- nearest


def _type_population(pop: pd.DataFrame, band: str, codes: pd.Index) -> tuple[np.ndarray, str]:
    """Population of the band for the communes (bundled total without the band)."""
    values = pop[band].reindex(codes)
    if pop[band].notna().any():
        return values.to_numpy(float), band
    return pop["population_reference"].reindex(codes).to_numpy(float), "ensemble"


def nearest_resources(
    resources: pd.DataFrame,
    population: pd.DataFrame | None = None,
    *,
    communes: Iterable[str] | None = None,
    types: Mapping[str, ResourceType] | Iterable[str] | None = None,
    detour: float = DETOUR_FACTOR,
    speed_kmh: float = SPEED_KMH,
    distancier: pd.DataFrame | None = None,
    origins: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Distance and time from every commune to the nearest resource of each type.

    Parameters
    ----------
    resources : DataFrame
        Every resource of the data folder, located (see :func:`resource_points`).
    population : DataFrame, optional
        The ``population`` table, for the ``population`` column (age band of the type's
        public, see :data:`ptsm_diag.compute.densities.PUBLIC_BANDS`; bundled total without it).
    communes : iterable of str, optional
        Origin communes; all bundled communes by default.
    types : mapping or iterable of str, optional
        Resource types; every type of the catalogue by default.
    detour, speed_kmh : float
        Parameters of the time estimate (:func:`estimated_minutes`).
    distancier : DataFrame, optional
        Validated distancier (:func:`check_distancier`). The time is the distancier's
        to the nearest resource's commune, or a shorter distancier time to another
        commune with a resource of the type; without either, the estimate
        (``repli_estimation`` True).
    origins : DataFrame, optional
        Replacement origin points (:func:`commune_points`).

    Returns
    -------
    DataFrame
        Columns :data:`NEAREST_COLUMNS`, one row per commune and type; distances in km
        (straight line), NaN when the commune has no point or its zone has no resource of
        the type.
    """
    search = NearestSearch(resources, population, types=types, detour=detour,
                           speed_kmh=speed_kmh, distancier=distancier, origins=origins)
    return search.query(communes)


def _codes_at(values: pd.Categorical, positions: np.ndarray) -> np.ndarray:
    """Category codes of ``values`` at ``positions``, -1 where a position is -1 (no
    resource found; every position is -1 when there is no resource at all)."""
    if len(values) == 0:
        return np.full(len(positions), -1, dtype=np.int8)
    return np.where(positions >= 0, values.codes[np.maximum(positions, 0)], -1)


class NearestSearch:
    """:func:`nearest_resources` prepared once, queried for any set of communes.

    What does not depend on the origin communes is built here once: the commune points,
    the located resources, the search tree of each type in each zone, the population
    table, the distancier lookups. :meth:`query` then costs little per territory, and
    gives exactly what ``nearest_resources(..., communes=communes)`` gives (the same
    code computes both). A batch prepares one search for every report of a worker.

    Parameters
    ----------
    resources, population, types, detour, speed_kmh, distancier, origins
        As for :func:`nearest_resources`.
    """

    def __init__(
        self,
        resources: pd.DataFrame,
        population: pd.DataFrame | None = None,
        *,
        types: Mapping[str, ResourceType] | Iterable[str] | None = None,
        detour: float = DETOUR_FACTOR,
        speed_kmh: float = SPEED_KMH,
        distancier: pd.DataFrame | None = None,
        origins: pd.DataFrame | None = None,
    ) -> None:
        catalog = load_resource_types()
        self.type_codes = list(catalog) if types is None else list(types)
        self.detour, self.speed_kmh = detour, speed_kmh
        self.points = commune_points(origins)
        res = resource_points(resources)
        self.pop = commune_population(population)
        self._bands: dict[str, tuple[np.ndarray, str]] = {}
        self.lookup = _Lookup(distancier)
        self.zone_names = np.unique(self.points["zone"].to_numpy(dtype=str))
        res_zones = pd.Index(self.zone_names).get_indexer(res["zone"].to_numpy(dtype=str))
        res_types = res["type_ressource"].to_numpy(dtype=str)
        res_xy = res[["x", "y"]].to_numpy()
        self.res_communes = pd.Categorical(res["code_commune"])
        self.res_ids = pd.Categorical(res["id_ressource"])
        # per type: (resource positions, tree) by zone, best distancier times, age band
        self.trees: dict[str, dict[int, tuple[np.ndarray, cKDTree]]] = {}
        self.best: dict[str, pd.Series] = {}
        self.public: dict[str, str] = {}
        for code in self.type_codes:
            of_type = res_types == code
            self.trees[code] = {}
            for zone in range(len(self.zone_names)):
                here = np.flatnonzero(of_type & (res_zones == zone))
                if len(here):
                    self.trees[code][zone] = (here, cKDTree(res_xy[here]))
            if self.lookup.series is not None:
                dests = self.lookup.codes.get_indexer(res.loc[of_type, "code_commune"].unique())
                rows = self.lookup.table[self.lookup.table["d"].isin(dests)]
                self.best[code] = rows.groupby("o")["minutes"].min()
            self.public[code] = catalog[code].public if code in catalog else "tous"

    def _band(self, band: str) -> tuple[np.ndarray, str]:
        """Population of ``band`` by commune of ``self.pop`` then NaN, and the band used
        (as :func:`_type_population`; built once per band)."""
        if band not in self._bands:
            values, used = _type_population(self.pop, band, self.pop.index)
            self._bands[band] = (np.append(values, np.nan), used)
        return self._bands[band]

    def query(self, communes: Iterable[str] | None = None) -> pd.DataFrame:
        """:func:`nearest_resources` for ``communes`` (every commune by default)."""
        type_codes = self.type_codes
        points = self.points
        if communes is not None:
            points = points.loc[pd.Index(list(dict.fromkeys(communes)))]
        lookup, pop = self.lookup, self.pop
        res_communes, res_ids = self.res_communes, self.res_ids
        origin_pos = lookup.codes.get_indexer(points.index)
        where = pop.index.get_indexer(points.index)  # -1: no population → the last, NaN
        where[where < 0] = len(pop)
        zones = pd.Index(self.zone_names).get_indexer(points["zone"].to_numpy(dtype=str))
        valid = np.isfinite(points[["x", "y"]].to_numpy()).all(axis=1)
        xy = points[["x", "y"]].to_numpy()
        n = len(points)
        columns: dict[str, list[np.ndarray]] = {k: [] for k in (
            "distance", "minutes", "source", "fallback", "nearest", "population", "band")}
        bands: list[str] = []
        for code in type_codes:
            distance = np.full(n, np.nan)
            nearest = np.full(n, -1)
            for zone, (here, tree) in self.trees[code].items():
                mask = (zones == zone) & valid
                if not mask.any():
                    continue
                d, i = tree.query(xy[mask])
                distance[mask] = d / 1000.0
                nearest[mask] = here[i]
            found = nearest >= 0
            minutes = estimated_minutes(distance, self.detour, self.speed_kmh)
            source = np.where(found, 0, -1)  # category codes: 0 estimé, 1 distancier
            fallback = np.zeros(n, dtype=bool)
            if lookup.series is not None:
                dest_pos = lookup.codes.get_indexer(
                    np.asarray(res_communes.categories)[
                        res_communes.codes[np.maximum(nearest, 0)]]) if len(res_communes) \
                    else np.full(n, -1)
                direct = lookup.get(origin_pos, np.where(found, dest_pos, -1))
                best_any = self.best[code].reindex(origin_pos).to_numpy(float)
                use_direct = np.isfinite(direct)
                use_best = ~use_direct & np.isfinite(best_any) & ~(best_any > minutes)
                real = np.where(use_direct, np.fmin(direct, best_any), best_any)
                from_distancier = use_direct | use_best
                minutes = np.where(from_distancier, real, minutes)
                source = np.where(from_distancier, 1, source)
                fallback = found & ~from_distancier
            values, band = self._band(PUBLIC_BANDS.get(self.public[code], "ensemble"))
            values = values[where]
            for key, value in (("distance", distance), ("minutes", minutes),
                               ("source", source), ("fallback", fallback),
                               ("nearest", nearest), ("population", values)):
                columns[key].append(value)
            bands.append(band)
        if not type_codes:
            return pd.DataFrame(columns=NEAREST_COLUMNS)
        nearest = np.concatenate(columns["nearest"])
        band_names = list(dict.fromkeys(bands))
        table = pd.DataFrame({
            "code_commune": pd.Categorical.from_codes(
                np.tile(np.arange(n), len(type_codes)), categories=points.index),
            "type_ressource": pd.Categorical.from_codes(
                np.repeat(np.arange(len(type_codes)), n), categories=type_codes),
            "distance_km": np.concatenate(columns["distance"]),
            "temps_min": np.concatenate(columns["minutes"]),
            "source_temps": pd.Categorical.from_codes(
                np.concatenate(columns["source"]),
                categories=[SOURCE_ESTIMATE, SOURCE_DISTANCIER]),
            "repli_estimation": np.concatenate(columns["fallback"]),
            "id_ressource": pd.Categorical.from_codes(
                _codes_at(res_ids, nearest), categories=res_ids.categories),
            "code_commune_ressource": pd.Categorical.from_codes(
                _codes_at(res_communes, nearest), categories=res_communes.categories),
            "tranche_age": pd.Categorical.from_codes(
                np.repeat([band_names.index(b) for b in bands], n), categories=band_names),
            "population": np.concatenate(columns["population"]),
        })
        return table[NEAREST_COLUMNS]


def _texts(values: pd.Series) -> np.ndarray:
    """``values.astype(str)`` as an object array; a categorical column converts its
    categories only (the codes of ``nearest_resources`` are categorical); missing stays
    missing."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = np.append(pd.Series(values.cat.categories).astype(str)
                               .to_numpy(dtype=object), np.nan)  # code -1: missing
        return categories[values.cat.codes.to_numpy()]
    return values.astype(str).to_numpy(dtype=object)


def _matching_rows(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions (in ``left``, in ``right``) of the pairs of equal keys, in the order of
    ``pandas.merge(how="inner")``: left rows in order, each with its matches in right
    order (an array lookup: the merge machinery costs ten times more for one territory).
    """
    codes, _ = pd.factorize(np.concatenate([left, right]))
    left_codes, right_codes = codes[: len(left)], codes[len(left):]
    order = np.argsort(right_codes, kind="stable")
    ranked = right_codes[order]
    starts = np.searchsorted(ranked, left_codes, side="left")
    counts = np.searchsorted(ranked, left_codes, side="right") - starts
    left_pos = np.repeat(np.arange(len(left)), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    right_pos = order[np.repeat(starts, counts) + np.arange(len(left_pos)) - first]
    return left_pos, right_pos


def beyond_threshold(
    nearest: pd.DataFrame,
    members: pd.DataFrame,
    *,
    threshold: float = 30.0,
    on: str = "temps_min",
) -> pd.DataFrame:
    """Population and communes farther than a threshold from each resource type.

    Parameters
    ----------
    nearest : DataFrame
        :func:`nearest_resources` output (covering the territories' communes).
    members : DataFrame
        ``code_territoire, code_commune``.
    threshold : float
        Minutes (``on="temps_min"``) or kilometres (``on="distance_km"``); a commune is
        beyond when its value is strictly greater.
    on : {"temps_min", "distance_km"}

    Returns
    -------
    DataFrame
        Columns :data:`THRESHOLD_COLUMNS`. Communes with an unknown value (no point, no
        resource of the type in their zone) are counted apart in ``communes_inconnues`` /
        ``population_inconnue``; ``part_au_dela`` = population beyond / population with a
        known value (NaN when none is known).
    """
    if on not in ("temps_min", "distance_km"):
        raise ValueError("on must be 'temps_min' or 'distance_km'")
    link = members[["code_territoire", "code_commune"]].astype(str).drop_duplicates()
    # each member's rows of ``nearest``, as an inner merge on the commune orders them
    left, right = _matching_rows(link["code_commune"].to_numpy(dtype=object),
                                 _texts(nearest["code_commune"]))
    value = nearest[on].to_numpy(float)[right]
    people = nearest["population"].fillna(0).to_numpy(float)[right]
    known = np.isfinite(value)
    beyond = known & (value > threshold)
    # sums by (territory, type) in order of first appearance, over plain arrays
    territory, territories = pd.factorize(
        link["code_territoire"].to_numpy(dtype=object)[left])
    kind, kinds = pd.factorize(_texts(nearest["type_ressource"])[right])
    group, pairs = pd.factorize(territory * max(len(kinds), 1) + kind)
    size = len(pairs)

    def total(weights: np.ndarray) -> np.ndarray:
        return np.bincount(group, weights=weights, minlength=size)

    known_pop = total(np.where(known, people, 0.0))
    beyond_pop = total(np.where(beyond, people, 0.0))
    unknown_pop = total(np.where(known, 0.0, people))
    communes = np.bincount(group, minlength=size)
    unknown = np.bincount(group, weights=~known, minlength=size).astype(np.int64)
    known_n = communes - unknown
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(known_pop > 0, beyond_pop / np.where(known_pop > 0, known_pop, 1),
                         np.nan)
    return pd.DataFrame({
        "code_territoire": territories[pairs // max(len(kinds), 1)],
        "type_ressource": kinds[pairs % max(len(kinds), 1)],
        "critere": on,
        "seuil": float(threshold),
        "communes": communes.astype(np.int64),
        "population": known_pop + unknown_pop,
        "population_au_dela": np.where(known_n > 0, beyond_pop, np.nan),
        "part_au_dela": share,
        "communes_au_dela": np.bincount(group, weights=beyond, minlength=size)
        .astype(np.int64),
        "communes_inconnues": unknown,
        "population_inconnue": unknown_pop,
    })[THRESHOLD_COLUMNS]


# --------------------------------------------------------------------------- 2SFCA


def catchment_costs(
    origins: Iterable[str],
    destinations: Iterable[str],
    max_cost: float,
    *,
    on: str = "temps_min",
    detour: float = DETOUR_FACTOR,
    speed_kmh: float = SPEED_KMH,
    distancier: pd.DataFrame | None = None,
    points: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Commune-to-commune costs of every pair within ``max_cost`` (inclusive).

    Pairs are searched with a k-d tree per zone, between commune points. With
    ``on="temps_min"`` and a distancier, its time replaces the estimate for the pairs it
    has, and its pairs within ``max_cost`` are added even beyond the estimated radius.

    Returns
    -------
    DataFrame
        ``code_commune_origine, code_commune_destination, distance_km, temps_min,
        source_temps, cout`` (``cout`` is the column ``on``).
    """
    if on not in ("temps_min", "distance_km"):
        raise ValueError("on must be 'temps_min' or 'distance_km'")
    points = commune_points() if points is None else points
    o_codes = pd.Index(origins).unique()
    d_codes = pd.Index(destinations).unique()
    radius_km = max_cost if on == "distance_km" else max_cost * speed_kmh / 60.0 / detour
    o_pts, d_pts = points.reindex(o_codes), points.reindex(d_codes)
    parts = []
    for zone in np.unique(d_pts["zone"].dropna()):
        o_zone = o_pts[(o_pts["zone"] == zone) & np.isfinite(o_pts["x"])]
        d_zone = d_pts[(d_pts["zone"] == zone) & np.isfinite(d_pts["x"])]
        if o_zone.empty or d_zone.empty:
            continue
        pairs = cKDTree(o_zone[["x", "y"]].to_numpy()).sparse_distance_matrix(
            cKDTree(d_zone[["x", "y"]].to_numpy()), radius_km * 1000.0 * (1 + 1e-9) + 1e-6,
            output_type="ndarray")
        parts.append(pd.DataFrame({
            "code_commune_origine": o_zone.index.to_numpy(dtype=object)[pairs["i"]],
            "code_commune_destination": d_zone.index.to_numpy(dtype=object)[pairs["j"]],
            "distance_km": pairs["v"] / 1000.0,
        }))
    keys = ["code_commune_origine", "code_commune_destination"]
    costs = (pd.concat(parts, ignore_index=True) if parts
             else pd.DataFrame(columns=[*keys, "distance_km"]))
    costs["distance_km"] = costs["distance_km"].astype(float)
    costs["temps_min"] = estimated_minutes(costs["distance_km"], detour, speed_kmh)
    costs["source_temps"] = SOURCE_ESTIMATE
    if distancier is not None and on == "temps_min":
        extra = distancier[distancier["code_commune_origine"].isin(o_codes)
                           & distancier["code_commune_destination"].isin(d_codes)]
        extra = extra.rename(columns={"minutes": "_minutes"})
        costs = costs.merge(extra[[*keys, "_minutes"]], on=keys, how="outer")
        has = costs["_minutes"].notna()
        costs["temps_min"] = costs["_minutes"].where(has, costs["temps_min"])
        costs["source_temps"] = np.where(has, SOURCE_DISTANCIER, SOURCE_ESTIMATE)
        missing = costs["distance_km"].isna()
        if missing.any():
            a = points.reindex(costs.loc[missing, keys[0]])
            b = points.reindex(costs.loc[missing, keys[1]])
            costs.loc[missing, "distance_km"] = np.hypot(
                a["x"].to_numpy() - b["x"].to_numpy(), a["y"].to_numpy() - b["y"].to_numpy()
            ) / 1000.0
        costs = costs.drop(columns="_minutes")
    costs["cout"] = costs[on]
    costs = costs[costs["cout"] <= max_cost]
    return costs.sort_values(keys).reset_index(drop=True)


def two_step_fca(
    supply: pd.Series,
    demand: pd.Series,
    costs: pd.DataFrame,
    max_cost: float,
) -> pd.Series:
    """Two-step floating catchment area (Luo & Wang 2003), no distance decay.

    Step 1: for each supply location ``j``, ``R_j = S_j / sum(D_i, cost_ij <= max_cost)``.
    Step 2: for each demand location ``i``, ``A_i = sum(R_j, cost_ij <= max_cost)``.
    Same conventions as ``access.Access.two_stage_fca`` (PySAL): the threshold is
    inclusive, only pairs present in ``costs`` count, missing demand counts as 0. A supply
    location whose catchment has no demand is left out (``access`` would give it an
    infinite ratio).

    Parameters
    ----------
    supply : Series
        Supply per location (index: location code).
    demand : Series
        Demand per location (index: location code).
    costs : DataFrame
        ``code_commune_origine`` (demand), ``code_commune_destination`` (supply), ``cout``.
    max_cost : float
        Catchment threshold.

    Returns
    -------
    Series
        ``A_i`` for every location of ``demand`` (supply per unit of demand); 0 where no
        supply is within reach.
    """
    within = costs["cout"].to_numpy(float) <= max_cost
    origin = demand.index.get_indexer(costs["code_commune_origine"].to_numpy()[within])
    keep = origin >= 0
    origin = origin[keep]
    site, sites = pd.factorize(costs["code_commune_destination"].to_numpy()[within][keep])
    people = np.nan_to_num(demand.to_numpy(float)[origin])
    total = np.bincount(site, weights=people, minlength=len(sites))
    offer = supply.astype(float).reindex(sites).fillna(0.0).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(total > 0, offer / total, 0.0)
    result = np.bincount(origin, weights=ratio[site], minlength=len(demand))
    return pd.Series(result, index=demand.index, name="accessibilite")


def floating_catchment(
    resources: pd.DataFrame,
    population: pd.DataFrame | None = None,
    *,
    max_cost: float = 30.0,
    on: str = "temps_min",
    per: int = 100_000,
    supply: str = "capacite",
    types: Iterable[str] | None = None,
    communes: Iterable[str] | None = None,
    detour: float = DETOUR_FACTOR,
    speed_kmh: float = SPEED_KMH,
    distancier: pd.DataFrame | None = None,
    origins: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """2SFCA accessibility of every commune to each resource type with a capacity.

    Supply is the capacity (lits + places; ``supply="nombre"`` counts resources instead)
    summed per commune of the site and placed at that commune's point (so that a
    distancier, commune to commune, applies); resources without a capacity are left out
    of the supply. Demand is the commune population of the type's age band (bundled total
    without a population table), over all communes of France so that catchments cross
    territory borders.

    Parameters
    ----------
    max_cost : float
        Catchment threshold, minutes (``on="temps_min"``) or km (``on="distance_km"``).
    per : int
        Accessibility is given per ``per`` inhabitants (1,000 or 100,000).
    communes : iterable of str, optional
        Communes to return (all by default; the computation always uses all).

    Returns
    -------
    DataFrame
        Columns :data:`FCA_COLUMNS`; ``offre`` = ``"capacite"`` or ``"nombre"``,
        ``accessibilite`` = supply within reach per ``per`` inhabitants.
    """
    from ptsm_diag.compute.densities import resource_capacity

    catalog = load_resource_types()
    table = pd.DataFrame({
        "type_ressource": resources["type_ressource"].astype(str).to_numpy(),
        "code_commune": resources["code_commune"].astype(str).str.strip().to_numpy(),
    })
    if supply == "nombre":
        table["offre"] = 1.0
    elif supply == "capacite":
        table["offre"] = resource_capacity(resources)[2].to_numpy()
    else:
        raise ValueError("supply must be 'capacite' or 'nombre'")
    table = table.dropna(subset=["offre"])
    wanted = list(types) if types is not None else [
        t for t in catalog if t in set(table["type_ressource"])]
    points = commune_points(origins)
    pop = commune_population(population)
    keep = pd.Index(communes).unique() if communes is not None else points.index
    sites = pd.Index(table.loc[table["type_ressource"].isin(wanted), "code_commune"]).unique()
    costs = catchment_costs(points.index, sites, max_cost, on=on, detour=detour,
                            speed_kmh=speed_kmh, distancier=distancier, points=points)
    destination = costs["code_commune_destination"].to_numpy()
    frames = []
    for code in wanted:
        offer = table[table["type_ressource"] == code].groupby("code_commune")["offre"].sum()
        band = PUBLIC_BANDS.get(catalog[code].public if code in catalog else "tous",
                                "ensemble")
        values, used = _type_population(pop, band, points.index)
        demand = pd.Series(values, index=points.index).fillna(0.0)
        mine = costs[pd.Index(offer.index).get_indexer(destination) >= 0]
        access = two_step_fca(offer, demand, mine, max_cost)
        frames.append(pd.DataFrame({
            "code_commune": keep.to_numpy(dtype=object),
            "type_ressource": code,
            "tranche_age": used,
            "population": pd.Series(values, index=points.index).reindex(keep).to_numpy(),
            "offre": supply,
            "accessibilite": access.reindex(keep).to_numpy() * per,
            "pour_habitants": per,
            "critere": on,
            "seuil": float(max_cost),
        }))
    if not frames:
        return pd.DataFrame(columns=FCA_COLUMNS)
    return pd.concat(frames, ignore_index=True)[FCA_COLUMNS]

