"""PTSM territories built from the bundled geography."""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from ptsm_diag.catalog.geography import load_communes, load_departements, load_regions
from ptsm_diag.compute.territory import (
    build_territory,
    territories_from_table,
    territory_from_communes,
    territory_from_departements,
)
from ptsm_diag.errors import InputError, PtsmError, UnknownCodeError

# Brest métropole: part of the Finistère
BREST_METROPOLE = ["29019", "29075", "29069", "29061", "29235", "29212", "29189", "29046"]


@pytest.fixture(scope="module")
def communes() -> gpd.GeoDataFrame:
    return load_communes().set_index("code_commune")


def _pop(communes, codes) -> int:
    return int(communes.loc[list(codes), "population"].sum())


def _area_km2(geometries) -> float:
    return float(gpd.GeoSeries(list(geometries), crs=4326).to_crs(6933).area.sum() / 1e6)


def test_one_departement():
    t = territory_from_departements(["29"])
    assert (t.code, t.name) == ("29", "Finistère")
    assert len(t.communes) == 277 and t.communes["code_commune"].is_unique
    # populations légales 2023 (in force on 1 January 2026); 909,028 with the 2017 ones
    assert t.population_total == 933_455 and t.population_year == 2023
    assert t.population_source == "référence" and t.population_by_age is None
    assert t.region_codes == ("53",) and t.departement_codes == ("29",)
    assert t.area_km2 == pytest.approx(6_733, rel=0.02)  # INSEE: 6,733 km²
    assert t.density == pytest.approx(t.population_total / t.area_km2)
    assert t.geometry.is_valid and t.communes.crs.to_epsg() == 4326
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.name = "autre"


def test_dissolved_area_matches_sum_of_communes():
    t = territory_from_departements(["29"])
    assert t.area_km2 == pytest.approx(_area_km2(t.communes.geometry), rel=1e-3)
    # Orne: the source outlines have 42 km² of gaps, filled in the territory outline only
    orne = territory_from_departements(["61"])
    gap = orne.area_km2 - _area_km2(orne.communes.geometry)
    assert 35 < gap < 50
    assert all(len(p.interiors) == 0 for p in shapely.get_parts(orne.geometry))


def test_enclave_stays_outside():
    drome = territory_from_departements(["26"])
    valreas = load_communes().set_index("code_commune").geometry["84138"]
    assert not drome.geometry.intersects(valreas.representative_point())
    assert "84138" not in drome.commune_codes


def test_several_departements(communes):
    t = territory_from_departements(["22", "29", "35", "56"], code="BZH", name="Bretagne")
    assert t.population_total == _pop(communes, communes.index[
        communes["code_departement"].isin(["22", "29", "35", "56"])])
    assert t.departement_codes == ("22", "29", "35", "56") and t.region_codes == ("53",)
    # same outline as the région (gaps along the inner borders are filled in both)
    region = load_regions().set_index("code_region").geometry["53"]
    assert t.area_km2 == pytest.approx(_area_km2([region]), rel=1e-4)
    deps = load_departements().set_index("code_departement")
    assert t.area_km2 == pytest.approx(
        _area_km2(deps.geometry[["22", "29", "35", "56"]]), rel=3e-3)
    default = territory_from_departements([22, "29"])
    assert (default.code, default.name) == ("22+29", "Côtes-d'Armor, Finistère")


def test_list_of_communes_part_of_a_departement(communes):
    t = territory_from_communes(BREST_METROPOLE, "BM", "Brest métropole")
    assert sorted(t.commune_codes) == sorted(BREST_METROPOLE)
    assert t.population_total == _pop(communes, BREST_METROPOLE)
    assert t.departement_codes == ("29",) and t.region_codes == ("53",)
    assert t.area_km2 == pytest.approx(_area_km2(t.communes.geometry), rel=1e-3)
    assert 150 < t.area_km2 < 250  # 218 km² (INSEE)
    finistere = territory_from_departements(["29"])
    assert finistere.geometry.buffer(1e-4).contains(t.geometry)


def test_mix_of_departement_and_communes(communes):
    allier = ["03185", "03190"]  # Montluçon, Moulins
    t = build_territory("AUV", "Puy-de-Dôme et deux villes", departements=["63"],
                        communes=allier + ["63113"])  # 63113 is already in 63: counted once
    assert t.departement_codes == ("03", "63")
    assert t.population_total == 664_453 + _pop(communes, allier)
    assert len(t.communes) == 463 + 2


def test_multi_region_territory_main_region_first():
    t = territory_from_departements(["23", "63"], code="X", name="Creuse et Puy-de-Dôme")
    assert t.region_codes == ("84", "75")  # Puy-de-Dôme (653,742) outweighs the Creuse
    assert t.population_total == 664_453 + 115_527


def test_unknown_codes_are_all_listed():
    with pytest.raises(UnknownCodeError) as caught:
        build_territory("X", "X", departements=["99", "29", "2C"])
    assert caught.value.kind == "département" and list(caught.value.codes) == ["99", "2C"]
    assert "« 99 »" in str(caught.value) and "« 2C »" in str(caught.value)
    with pytest.raises(UnknownCodeError) as caught:
        territory_from_communes(["99999", "29019", "2A999"], "X", "X")
    assert caught.value.kind == "commune" and list(caught.value.codes) == ["99999", "2A999"]


def test_empty_composition_is_a_french_error():
    with pytest.raises(PtsmError, match="aucune composante"):
        build_territory("X", "Vide")


def test_leading_zero_repair():
    t = territory_from_communes(["1001", " 01002 "], "AIN", "Deux communes")
    assert sorted(t.commune_codes) == ["01001", "01002"]
    assert territory_from_departements([1]).name == "Ain"
    assert territory_from_departements(["2a"]).departement_codes == ("2A",)


def _population_table(codes, years=(2019, 2021)):
    rows = []
    for code in codes:
        for year in years:
            for band, value in (("0-17", 100), ("18-64", 500), ("65+", 200), ("75+", 80)):
                rows.append((code, year, band, value + (year - 2019)))
    return pd.DataFrame(rows, columns=["code_commune", "annee", "tranche_age", "population"])


def test_population_table_latest_year_by_age():
    codes = ["01001", "01002", "01004"]
    table = _population_table([c.lstrip("0") for c in codes])  # codes that lost their zero
    t = territory_from_communes(codes, "T", "Trois communes", population=table)
    assert t.population_by_age_year == 2021
    assert t.population_by_age["tranche_age"].tolist() == ["0-17", "18-64", "65+", "75+"]
    assert t.population_by_age["population"].tolist() == [306, 1506, 606, 246]
    assert (t.population_total, t.population_year, t.population_source) == (
        306 + 1506 + 606, 2021, "table")


def test_incomplete_partition_keeps_bundled_total(communes):
    codes = ["01001", "01002", "01004"]
    table = _population_table(codes)
    table = table[~((table["code_commune"] == "01004") & (table["tranche_age"] == "65+")
                    & (table["annee"] == 2021))]
    t = territory_from_communes(codes, "T", "Trois communes", population=table)
    assert t.population_source == "référence" and t.population_year == 2023
    assert t.population_total == _pop(communes, codes)
    assert t.population_by_age_year == 2021  # the age bands are still shown


def test_mayotte_bundled_population_is_its_2017_census():
    t = territory_from_departements(["976"])
    assert t.population_total == 256_518 and t.population_year == 2017
    assert t.communes_without_population == () and t.density > 0
    codes = list(t.commune_codes)
    assert len(codes) == 17
    with_table = territory_from_departements(["976"], population=_population_table(codes))
    assert with_table.population_total == 17 * (102 + 502 + 202)


def _territoires(rows):
    return pd.DataFrame(rows, columns=["code_territoire", "nom_territoire", "code_region",
                                       "niveau", "code"])


def test_territories_from_table():
    table = _territoires([
        ("29", "PTSM du Finistère", "53", "departement", "29"),
        ("AUV", "PTSM Auvergne", "", "departement", "63"),
        ("AUV", "PTSM Auvergne", "", "département", "3"),
        ("BM", "Brest", None, "commune", "29019"),
        ("BM", "Brest", None, "commune", "29075"),
    ])
    result = territories_from_table(table)
    assert list(result) == ["29", "AUV", "BM"]
    assert result["29"].name == "PTSM du Finistère"
    assert result["AUV"].departement_codes == ("03", "63")
    assert result["BM"].commune_codes == ("29019", "29075")


def test_table_unknown_codes_listed_across_territories():
    table = _territoires([
        ("A", "A", "", "departement", "99"),
        ("B", "B", "", "departement", "98"),
        ("C", "C", "", "commune", "29019"),
    ])
    with pytest.raises(UnknownCodeError) as caught:
        territories_from_table(table)
    assert list(caught.value.codes) == ["99", "98"]


def test_table_bad_level_and_wrong_region_name_the_line():
    bad_level = _territoires([("A", "A", "", "departement", "29"),
                              ("A", "A", "", "canton", "2901")])
    with pytest.raises(InputError) as caught:
        territories_from_table(bad_level)
    (problem,) = caught.value.problems
    assert (problem.row, problem.column, problem.value) == (3, "niveau", "canton")
    wrong_region = _territoires([("A", "A", "84", "departement", "29")])
    with pytest.raises(InputError) as caught:
        territories_from_table(wrong_region)
    assert caught.value.problems[0].column == "code_region"
    assert "53" in caught.value.problems[0].expected


def test_main_regions_agree_with_built_territories():
    import pandas as pd

    from ptsm_diag.compute.territory import main_regions, territories_from_table

    table = pd.DataFrame({
        "code_territoire": ["T1", "T2", "T2", "T3"],
        "nom_territoire": ["Un", "Deux", "Deux", "Trois"],
        "code_region": ["", "", "", ""],
        "niveau": ["departement", "departement", "departement", "commune"],
        "code": ["35", "1", "971", "2A004"],
    })
    built = territories_from_table(table)
    assert main_regions(table) == {code: t.region_codes[0] for code, t in built.items()}
    assert main_regions(table)["T1"] == "53"
