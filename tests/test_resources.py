"""Placing resources: WGS84, Lambert-93 or the commune's point, and counting by type."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from ptsm_diag.catalog import load_resource_types
from ptsm_diag.compute.resources import locate_resources, resources_in_territory, summarise_by_type


def _communes() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code_commune": ["01053", "01004"]},
        geometry=[box(5.1, 46.1, 5.3, 46.3), box(5.3, 45.9, 5.5, 46.0)],
        crs="EPSG:4326",
    )


def _resources() -> pd.DataFrame:
    return pd.DataFrame({
        "id_ressource": ["a", "b", "c"],
        "nom": ["CMP", "CH de Fleyriat", "GEM"],
        "type_ressource": ["cmp_adultes", "ch_psy", "gem"],
        "code_commune": ["01053", "01053", "01004"],
        "longitude": [5.2, None, None],
        "latitude": [46.2, None, None],
        # FINESS example of domain.md: Lambert-93 → lon 5.20918, lat 46.22229 (pyproj)
        "x_lambert93": [None, 870262.2, None],
        "y_lambert93": [None, 6571540.8, None],
        "capacite_lits": [None, 120, None],
        "capacite_places": [None, None, None],
    })


def test_locate_uses_wgs84_then_lambert93_then_commune_point():
    located = locate_resources(_resources(), _communes())
    assert located.crs.to_epsg() == 4326
    assert located.geometry.iloc[0].x == pytest.approx(5.2)
    assert located.geometry.iloc[1].x == pytest.approx(5.20918, abs=1e-4)
    assert located.geometry.iloc[1].y == pytest.approx(46.22229, abs=1e-4)
    assert _communes().geometry.iloc[1].contains(located.geometry.iloc[2])
    assert located["position_approchee"].tolist() == [False, False, True]


def test_resources_in_territory_keeps_only_its_communes():
    located = locate_resources(_resources(), _communes())
    assert resources_in_territory(located, ["01004"])["id_ressource"].tolist() == ["c"]


def test_summary_lists_every_type_with_zero_for_absent_ones():
    summary = summarise_by_type(_resources(), population=200_000)
    assert len(summary) == len(load_resource_types())
    row = summary.set_index("type_ressource")
    assert row.loc["ch_psy", "lits"] == 120
    assert row.loc["cmp_adultes", "nombre"] == 1
    assert row.loc["cmp_adultes", "pour_100000_hab"] == pytest.approx(0.5)
    assert row.loc["samsah", "nombre"] == 0
