"""Resources of a territory: placed on the map, counted by type and champ."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from ptsm_diag.catalog import ResourceType, load_resource_types, load_vocabularies

WGS84 = "EPSG:4326"
LAMBERT93 = "EPSG:2154"


def locate_resources(
    ressources: pd.DataFrame, communes: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """Resources as points in WGS84, whatever coordinates they came with.

    Longitude/latitude are used when given, else Lambert-93 x/y (reprojected), else
    the representative point of the resource's commune, flagged in ``position_approchee``.

    Parameters
    ----------
    ressources : DataFrame
        The validated ``ressources`` table.
    communes : GeoDataFrame
        Communes with ``code_commune`` and geometry (EPSG:4326).

    Returns
    -------
    GeoDataFrame
        The resources with a point geometry and a boolean ``position_approchee``.
    """
    table = ressources.copy()
    lon, lat, x93, y93 = (
        _numeric(table, name) for name in ("longitude", "latitude", "x_lambert93", "y_lambert93")
    )
    use_l93 = (lon.isna() | lat.isna()) & x93.notna() & y93.notna()
    if use_l93.any():
        projected = gpd.GeoSeries(
            gpd.points_from_xy(x93[use_l93], y93[use_l93]),
            crs=LAMBERT93,
            index=table.index[use_l93],
        ).to_crs(WGS84)
        lon = lon.where(~use_l93, projected.x.reindex(table.index))
        lat = lat.where(~use_l93, projected.y.reindex(table.index))
    missing = lon.isna() | lat.isna()
    if missing.any():
        points = communes.set_index("code_commune").geometry.representative_point()
        fallback = gpd.GeoSeries(table.loc[missing, "code_commune"].map(points), crs=WGS84)
        lon = lon.where(~missing, fallback.x.reindex(table.index))
        lat = lat.where(~missing, fallback.y.reindex(table.index))
    table["position_approchee"] = missing.to_numpy()
    return gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(lon, lat), crs=WGS84)


def _numeric(table: pd.DataFrame, column: str) -> pd.Series:
    """A column as floats; all NaN when the column is absent."""
    if column not in table:
        return pd.Series(np.nan, index=table.index, dtype=float)
    return pd.to_numeric(table[column], errors="coerce").astype(float)


def resources_in_territory(
    resources: gpd.GeoDataFrame, commune_codes: pd.Index | list[str]
) -> gpd.GeoDataFrame:
    """The resources whose commune belongs to the territory."""
    return resources[resources["code_commune"].isin(list(commune_codes))].copy()


def summarise_by_type(
    resources: pd.DataFrame,
    population: float,
    types: dict[str, ResourceType] | None = None,
) -> pd.DataFrame:
    """Counts and capacities per resource type, with a rate per 100,000 inhabitants.

    Every type of the typology appears, with 0 when the territory has none: an absent
    type is a finding, not a missing row.
    """
    types = types or load_resource_types()
    vocab = load_vocabularies()
    grouped = resources.groupby("type_ressource").agg(
        nombre=("id_ressource", "size"),
        lits=("capacite_lits", lambda s: pd.to_numeric(s, errors="coerce").sum(min_count=1)),
        places=("capacite_places", lambda s: pd.to_numeric(s, errors="coerce").sum(min_count=1)),
    )
    frame = pd.DataFrame(
        {
            "type_ressource": list(types),
            "libelle": [t.label for t in types.values()],
            "champ": [vocab.champs[t.champ] for t in types.values()],
        }
    ).set_index("type_ressource")
    frame = frame.join(grouped)
    frame["nombre"] = frame["nombre"].fillna(0).astype(int)
    frame["pour_100000_hab"] = frame["nombre"] / population * 100_000 if population else np.nan
    return frame.reset_index()
