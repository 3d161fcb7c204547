"""Bundled reference geography (ptsm_diag/data) and code normalisation helpers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from ptsm_diag.catalog.geography import (
    departement_of_commune,
    departements_of_communes,
    geography_metadata,
    load_communes,
    load_departements,
    load_regions,
    normalize_departement_code,
    repair_commune_code,
    repair_commune_codes,
)

DATA_DIR = Path(__file__).resolve().parents[1] / "ptsm_diag" / "data"
DROM = ["971", "972", "973", "974", "976"]


@pytest.fixture(scope="module")
def communes() -> gpd.GeoDataFrame:
    return load_communes()


@pytest.fixture(scope="module")
def departements() -> gpd.GeoDataFrame:
    return load_departements()


@pytest.fixture(scope="module")
def regions() -> gpd.GeoDataFrame:
    return load_regions()


# --------------------------------------------------------------------------- bundled data


def test_counts_match_cog_2026(communes, departements, regions):
    # 34,875 communes of metropolitan France and the DROM + Saint-Barthélemy, Saint-Martin
    assert len(communes) == 34_877 and communes["code_commune"].is_unique
    assert len(departements) == 101 and departements["code_departement"].is_unique
    assert set(DROM) <= set(departements["code_departement"])
    assert {"2A", "2B"} <= set(departements["code_departement"])
    assert len(regions) == 18 and regions["code_region"].is_unique
    meta = geography_metadata()
    assert meta["effectifs"] == {"communes": 34_877, "departements": 101, "regions": 18}


def test_code_formats_and_links(communes, departements, regions):
    assert communes["code_commune"].str.fullmatch(r"\d{5}|2[AB]\d{3}").all()
    attached = communes.set_index("code_commune").loc[["97701", "97801"]]
    assert attached["nom"].tolist() == ["Saint-Barthélemy", "Saint-Martin"]
    assert (attached["code_departement"] == "971").all()
    assert (attached["code_region"] == "01").all()
    assert departements["code_departement"].str.fullmatch(r"\d{2}|2[AB]|97[1-6]").all()
    assert regions["code_region"].str.fullmatch(r"\d{2}").all()
    # the département is the prefix of the commune code (3 characters overseas), except
    # for the two attached collectivités (977, 978 → 971)
    derived = departements_of_communes(communes["code_commune"])
    assert (derived.to_numpy() == communes["code_departement"].to_numpy()).all()
    assert set(communes["code_departement"]) == set(departements["code_departement"])
    assert set(departements["code_region"]) == set(regions["code_region"])
    region_of_dep = departements.set_index("code_departement")["code_region"]
    assert (communes["code_departement"].map(region_of_dep) == communes["code_region"]).all()
    assert region_of_dep["29"] == "53" and region_of_dep["63"] == "84"


def test_geometries_valid_in_wgs84(communes, departements, regions):
    meta = geography_metadata()
    for layer in (communes, departements, regions):
        assert layer.crs.to_epsg() == 4326
        geoms = layer.geometry.to_numpy()
        present = ~shapely.is_missing(geoms)
        assert shapely.is_valid(geoms[present]).all()
        assert not shapely.is_empty(geoms[present]).any()
        assert set(shapely.get_type_id(geoms[present])) == {6}  # MultiPolygon
    missing = sorted(communes.loc[communes.geometry.isna(), "code_commune"])
    assert missing == meta["communes_sans_geometrie"]["codes"]
    assert len(missing) <= 8  # the source has 8 COM rows without outline
    # the attached collectivités have an (approximate) outline, in the Lesser Antilles
    attached = communes.set_index("code_commune").geometry[["97701", "97801"]]
    assert attached.notna().all()
    assert attached.representative_point().x.between(-63.2, -62.7).all()
    assert attached.representative_point().y.between(17.8, 18.2).all()
    metro = communes[~communes["code_departement"].isin(DROM)].dropna(subset=["geometry"])
    minx, miny, maxx, maxy = metro.total_bounds
    assert minx > -5.3 and maxx < 9.7 and miny > 41.3 and maxy < 51.2


def test_departement_outline_is_dissolve_of_its_communes(communes, departements):
    """Outlines stay recognisable: the département covers its communes, area matches."""
    deps = departements.set_index("code_departement").to_crs(6933)
    for code in ("29", "2A", "973"):
        members = communes[communes["code_departement"] == code].to_crs(6933)
        union = shapely.union_all(members.geometry.dropna().to_numpy())
        outline = deps.geometry[code]
        assert outline.buffer(1.0).contains(union)
        assert union.area == pytest.approx(outline.area, rel=0.02)


def test_population_columns(communes, departements, regions):
    assert str(communes["population"].dtype) == "Int64"
    mayotte = communes["code_departement"] == "976"
    assert (communes.loc[mayotte, "annee_population"] == 2017).all()  # last census
    assert (communes.loc[~mayotte, "annee_population"] == 2023).all()
    assert communes["population"].notna().all()  # Mayotte and 60694 included now
    meta = geography_metadata()
    assert meta["communes_sans_population"]["nombre"] == 0
    # INSEE: 68,094 thousand inhabitants on 1 January 2023, Mayotte excluded
    attached = communes["code_commune"].isin(["97701", "97801"])
    assert int(communes.loc[~mayotte & ~attached, "population"].sum()) == 68_094_280
    assert int(communes.loc[mayotte, "population"].sum()) == 256_518  # census 2017
    assert int(communes.loc[attached, "population"].sum()) == 10_660 + 31_160
    deps = departements.set_index("code_departement")["population"]
    assert deps["29"] == 933_455 and deps["63"] == 664_453
    assert deps["971"] == 384_160 + 10_660 + 31_160
    sums = communes.groupby("code_departement")["population"].sum()
    assert (deps == sums[deps.index]).all()
    assert int(regions["population"].sum()) == int(communes["population"].sum())


def test_metadata_describes_files():
    meta = geography_metadata()
    assert meta["millesime_population"] == 2023 and meta["millesime_cog"] == 2026
    assert meta["population_libelle"] == (
        "Population municipale 2023 (INSEE, populations légales en vigueur au "
        "1er janvier 2026)")
    assert set(meta["millesimes_population"]) == {"2023", "2017"}
    assert "Etalab" in meta["licence"] and "GPL-3.0" in meta["licence"]
    assert "MIT" in meta["licence"] and "Natural Earth" in meta["licence"]
    assert (meta["source"]["paquet"], meta["source"]["version"]) == (
        "@etalab/decoupage-administratif", "6.0.0")
    assert meta["source_contours"]["version"] == "1.1.0"
    assert set(meta["source_contours_approximatifs"]["communes"]) == {"97701", "97801"}
    total = 0
    for name, info in meta["fichiers"].items():
        data = (DATA_DIR / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == info["sha256"], f"{name} modifié"
        total += len(data)
    total += sum((DATA_DIR / n).stat().st_size for n in ("metadata.json", "SOURCES.md"))
    assert total < 10_000_000  # package data budget
    meta["effectifs"]["communes"] = 0
    assert geography_metadata()["effectifs"]["communes"] == 34_877  # returns a copy


def test_loaders_return_copies():
    first = load_communes()
    first.loc[:, "nom"] = "x"
    assert load_communes()["nom"].iloc[0] != "x"


# --------------------------------------------------------------------------- independent checks


def test_commune_list_vs_2018_ign_files(communes, shared_data_dir):
    """2018 per-département commune files: fewer communes now (communes nouvelles)."""
    folder = shared_data_dir / "france_geojson_gregoiredavid" / "communes"
    files = sorted(folder.glob("communes-*.geojson"))
    assert len(files) == 6
    bundled = communes.set_index("code_commune")
    for path in files:
        dep = path.stem.split("-")[1]
        old = gpd.read_file(path)
        now = bundled[bundled["code_departement"] == dep]
        # mergers only remove communes; measured drift 0 (13, 2A) to 13 (35, 69), i.e. ≤ 5 %
        assert len(now) <= len(old) <= len(now) * 1.05, dep
        common = sorted(set(old["code"]) & set(now.index))
        assert len(common) >= 0.95 * len(old), dep
        assert len(set(now.index) - set(old["code"])) <= 1, dep  # 69114 created since 2018
        # same places: the bundled outline's inner point falls in the 2018 outline
        points = now.loc[common].geometry.dropna().representative_point()
        outlines = old.set_index("code").geometry
        inside = np.mean([outlines[c].contains(p) for c, p in points.items()])
        assert inside >= 0.99, dep
    assert (bundled.loc["29019", "nom"], bundled.loc["63113", "nom"]) == (
        "Brest", "Clermont-Ferrand")


def test_departement_outlines_vs_2018_ign(communes, departements, shared_data_dir):
    """Areas within 2.5 % of the 2018 outlines (measured: median 0.01 %, max 2.0 %).

    The 2018 Guadeloupe has neither Saint-Barthélemy nor Saint-Martin: their outlines are
    taken out of 971 before comparing.
    """
    old = gpd.read_file(shared_data_dir / "france_geojson_gregoiredavid"
                        / "departements-avec-outre-mer.geojson").to_crs(6933)
    old_area = old.set_index("code").area
    new_area = departements.set_index("code_departement").to_crs(6933).area
    attached = communes[communes["code_commune"].isin(["97701", "97801"])].to_crs(6933)
    assert 80e6 < attached.area.sum() < 110e6  # 21 + 53 km² in reality, coarser outlines
    new_area["971"] -= attached.area.sum()
    assert set(old_area.index) == set(new_area.index)
    rel = (new_area - old_area[new_area.index]) / old_area[new_area.index]
    assert rel.abs().max() < 0.025, rel.abs().sort_values().tail(3).to_dict()


# --------------------------------------------------------------------------- codes


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", "01"), (1, "01"), ("2a", "2A"), ("971", "971"), (" 29 ", "29"), ("01", "01"),
     (1.0, "01"), ("1.0", "01"), (971, "971"), ("2B", "2B"), (None, ""), (float("nan"), "")],
)
def test_normalize_departement_code(value, expected):
    assert normalize_departement_code(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1001", ("01001", True)), (1001, ("01001", True)), ("01001", ("01001", False)),
     ("2A004", ("2A004", False)), ("2a004", ("2A004", True)), (" 29019 ", ("29019", False)),
     (29019, ("29019", False)), (1001.0, ("01001", True)), ("97105", ("97105", False)),
     ("123", ("123", False)), (None, ("", False))],
)
def test_repair_commune_code(value, expected):
    assert repair_commune_code(value) == expected


def test_repair_commune_codes_vectorised_matches_scalar():
    raw = pd.Series(["1001", " 29019", "2a004", None, "97105", "1001"], index=[5, 6, 7, 8, 9, 10])
    codes, repaired = repair_commune_codes(raw)
    assert list(codes.index) == list(raw.index)
    assert codes.tolist()[:3] == ["01001", "29019", "2A004"] and pd.isna(codes[8])
    assert repaired.tolist() == [True, False, True, False, False, True]
    ints = pd.Series([1001, 29019])
    assert repair_commune_codes(ints)[0].tolist() == ["01001", "29019"]
    floats = pd.Series([1001.0, np.nan])  # what a spreadsheet column with a blank gives
    out, mask = repair_commune_codes(floats)
    assert out[0] == "01001" and pd.isna(out[1]) and mask.tolist() == [True, False]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2A004", "2A"), ("97105", "971"), ("01001", "01"), (1001, "01"), ("97611", "976"),
     ("75056", "75")],
)
def test_departement_of_commune(value, expected):
    assert departement_of_commune(value) == expected
