"""Resource densities per 100,000 inhabitants of the age band, against references."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from ptsm_diag.catalog import load_resource_types
from ptsm_diag.catalog.geography import cached_layer, load_communes
from ptsm_diag.compute import densities
from ptsm_diag.compute.densities import COLUMNS, resource_densities
from ptsm_diag.io.sources.national import national_reference_table

# Two communes of Ille-et-Vilaine (région 53) form the test territory.
RENNES, BRUZ = "35238", "35047"
BREST = "29019"  # same région, outside the territory
LYON = "69123"  # another région
MAMOUDZOU = "97611"  # Mayotte


@pytest.fixture(scope="module")
def communes() -> pd.DataFrame:
    return pd.DataFrame(load_communes().drop(columns="geometry"))


def _resources(rows: list[tuple[str, str, float | None, float | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["type_ressource", "code_commune", "capacite_lits",
                                       "capacite_places"])


def _members(code: str = "T", communes: tuple[str, ...] = (RENNES, BRUZ)) -> pd.DataFrame:
    return pd.DataFrame({"code_territoire": code, "code_commune": list(communes)})


def _national(resources: pd.DataFrame) -> pd.DataFrame:
    """The national reference table of ``resources`` (every type of the typology)."""
    return national_reference_table(resources, types=list(load_resource_types()))


def _row(table: pd.DataFrame, type_code: str, reference: str) -> pd.Series:
    rows = table[(table["type_ressource"] == type_code) & (table["reference"] == reference)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_hand_computed_densities_without_population_table(communes):
    resources = _resources([
        ("cattp", RENNES, None, 10), ("cattp", BRUZ, None, 20),
        ("cattp", BREST, None, 5), ("cattp", LYON, None, 7),
        ("cmp_adultes", RENNES, None, None),
        ("esat", RENNES, None, 100), ("esat", BRUZ, None, None),
    ])
    table = resource_densities(resources, _members(), national=_national(resources))
    assert list(table.columns) == COLUMNS
    pop = communes.set_index("code_commune")["population"].astype(float)
    pop_t = pop[RENNES] + pop[BRUZ]
    pop_region = pop[communes.set_index("code_commune")["code_region"] == "53"].sum()
    pop_france = pop.sum()

    region = _row(table, "cattp", "region")
    assert region["code_reference"] == "53"
    assert region["nombre"] == 2 and region["capacite"] == 30
    assert region["population_ref_age"] == pop_t
    assert region["densite_nombre"] == pytest.approx(2 / pop_t * 1e5)
    assert region["densite_capacite"] == pytest.approx(30 / pop_t * 1e5)
    assert region["nombre_reference"] == 3 and region["capacite_reference"] == 35
    assert region["population_ref_age_reference"] == pop_region
    assert region["densite_nombre_reference"] == pytest.approx(3 / pop_region * 1e5)
    expected = (2 / pop_t) / (3 / pop_region) * 100 - 100
    assert region["ecart_nombre_pct"] == pytest.approx(expected)
    assert region["ecart_capacite_pct"] == pytest.approx(
        (30 / pop_t) / (35 / pop_region) * 100 - 100)

    france = _row(table, "cattp", "france")
    assert france["code_reference"] == "FR"
    assert france["nombre_reference"] == 4 and france["capacite_reference"] == 42
    assert france["population_ref_age_reference"] == pop_france

    # No population table: every public is counted against the total population.
    assert set(table["tranche_age"]) == {"ensemble"}
    assert (table.loc[table["public"] != "tous", "note"] != "").all()

    # A type never given a capacity: capacity unknown (NaN), not 0.
    cmp = _row(table, "cmp_adultes", "france")
    assert cmp["nombre"] == 1 and np.isnan(cmp["capacite"]) and np.isnan(cmp["densite_capacite"])
    # One ESAT without capacity: the territory's capacity is unknown, and says why.
    esat = _row(table, "esat", "region")
    assert np.isnan(esat["capacite"]) and esat["nombre_sans_capacite"] == 1
    # A type with capacities elsewhere but none here: 0, a finding.
    mas = _row(table, "mas", "region")
    assert mas["nombre"] == 0 and mas["densite_nombre"] == 0
    # Reference density 0: no ratio.
    assert np.isnan(mas["ecart_nombre_pct"])


def _age_table(communes: pd.DataFrame, fixed: dict[str, tuple[int, int, int]]) -> pd.DataFrame:
    """A population table for every commune: fixed bands for some, 20/60/20 % for others."""
    known = communes[communes["population"].fillna(0) > 0]
    rows = []
    for code, total in zip(known["code_commune"], known["population"].astype(int), strict=True):
        young, adults, old = fixed.get(
            code, (total // 5, total - 2 * (total // 5), total // 5))
        rows += [(code, 2021, "0-17", young), (code, 2021, "18-64", adults),
                 (code, 2021, "65+", old)]
    return pd.DataFrame(rows, columns=["code_commune", "annee", "tranche_age", "population"])


def test_age_bands_of_each_public(communes):
    fixed = {RENNES: (1000, 3000, 1000), BRUZ: (500, 1500, 500)}
    population = _age_table(communes, fixed)
    resources = _resources([
        ("cmp_enfants", RENNES, None, None), ("cmp_enfants", RENNES, None, None),
        ("cmp_enfants", BRUZ, None, None),
        ("cmp_adultes", BRUZ, None, None),
        ("cattp", RENNES, None, 12),
    ])
    table = resource_densities(resources, _members(), population, references=["france"],
                               national=_national(resources))
    children = _row(table, "cmp_enfants", "france")
    assert children["tranche_age"] == "0-17"
    assert children["population_ref_age"] == 1500
    assert children["densite_nombre"] == pytest.approx(200.0)  # 3 per 1,500 children
    adults = _row(table, "cmp_adultes", "france")
    assert adults["tranche_age"] == "18+"
    assert adults["population_ref_age"] == 3000 + 1000 + 1500 + 500
    assert adults["densite_nombre"] == pytest.approx(1 / 6000 * 1e5)
    everyone = _row(table, "cattp", "france")
    assert everyone["population_ref_age"] == 7500
    assert everyone["densite_capacite"] == pytest.approx(12 / 7500 * 1e5)
    young_france = population.loc[population["tranche_age"] == "0-17", "population"].sum()
    assert children["population_ref_age_reference"] == young_france
    assert (table["note"] == "").all()


def test_reference_without_the_band_falls_back_to_total_for_both(communes):
    population = _age_table(communes, {RENNES: (1000, 3000, 1000), BRUZ: (500, 1500, 500)})
    population = population[population["code_commune"].isin([RENNES, BRUZ])]
    resources = _resources([("cmp_enfants", RENNES, None, None)])
    table = resource_densities(resources, _members(), population, references=["region"],
                               national=_national(resources))
    row = _row(table, "cmp_enfants", "region")
    pop = communes.set_index("code_commune")["population"].astype(float)
    assert row["tranche_age"] == "ensemble"
    assert row["population_ref_age"] == pop[RENNES] + pop[BRUZ]
    assert "0-17" in row["note"]


def test_unknown_population_gives_missing_density_not_zero(monkeypatch):
    # Every bundled commune has a population now (Mayotte: its 2017 census); a geography
    # without one for Mayotte, as the former bundled one, must still give NaN, not 0.
    layer = cached_layer("communes").copy()
    layer["population"] = layer["population"].where(layer["code_departement"] != "976")
    monkeypatch.setattr(densities, "cached_layer",
                        lambda name: layer if name == "communes" else cached_layer(name))
    resources = _resources([("chs", MAMOUDZOU, 80, None)])
    table = resource_densities(resources, _members("976", (MAMOUDZOU,)),
                               national=_national(resources))
    row = _row(table, "chs", "region")
    assert row["nombre"] == 1 and row["capacite"] == 80
    assert np.isnan(row["densite_nombre"]) and np.isnan(row["ecart_nombre_pct"])
    assert "population inconnue" in row["note"]
    # Mayotte's resources stay out of the France reference (no population to divide by).
    assert _row(table, "chs", "france")["nombre_reference"] == 0


def test_real_hospital_sites_match_an_independent_computation(shared_data_dir, communes):
    path = shared_data_dir / "finess_hospitals_eurostat" / \
        "FR_hospitals_finess20200306_sans_29_63.csv"
    sites = pd.read_csv(path, dtype=str)
    sites = sites[sites["facility_type"] == "Centre Hospitalier Spécialisé lutte Maladies Mentales"]
    points = gpd.GeoDataFrame(
        sites, geometry=gpd.points_from_xy(sites["lon"].astype(float), sites["lat"].astype(float)),
        crs="EPSG:4326")
    located = gpd.sjoin(points, load_communes()[["code_commune", "geometry"]],
                        predicate="within", how="inner").drop_duplicates("id")
    assert len(located) > 1000
    resources = pd.DataFrame({"type_ressource": "chs",
                              "code_commune": located["code_commune"].to_numpy()})
    departements = sorted(set(communes["code_departement"]) - {"29", "63", "976"})
    territoires = pd.DataFrame({"code_territoire": departements})
    members = communes.loc[communes["code_departement"].isin(departements),
                           ["code_departement", "code_commune"]].rename(
        columns={"code_departement": "code_territoire"})
    table = resource_densities(resources, members, territories=territoires["code_territoire"],
                               national=_national(resources))
    table = table[table["type_ressource"] == "chs"]

    # Independent computation: counts and populations per département / région / France.
    with_dep = resources.merge(communes, on="code_commune")
    count_dep = with_dep.groupby("code_departement").size()
    pop_dep = communes.groupby("code_departement")["population"].sum().astype(float)
    expected_dep = (count_dep.reindex(pop_dep.index).fillna(0) / pop_dep * 1e5)
    count_reg = with_dep.groupby("code_region").size()
    pop_reg = communes.groupby("code_region")["population"].sum().astype(float)
    expected_reg = count_reg.reindex(pop_reg.index).fillna(0) / pop_reg * 1e5
    expected_fr = len(with_dep[with_dep["population"].notna()]) / \
        communes["population"].sum() * 1e5

    france = table[table["reference"] == "france"].set_index("code_territoire")
    got = france["densite_nombre"]
    pd.testing.assert_series_equal(got, expected_dep.reindex(got.index), check_names=False,
                                   rtol=1e-12)
    assert np.allclose(france["densite_nombre_reference"], expected_fr, rtol=1e-12)
    region = table[table["reference"] == "region"].set_index("code_territoire")
    expected = region["code_reference"].map(expected_reg)
    assert np.allclose(region["densite_nombre_reference"], expected, rtol=1e-12)
    gap = (expected_dep.reindex(region.index) / expected.where(expected > 0) - 1) * 100
    assert np.allclose(region["ecart_nombre_pct"], gap, rtol=1e-9, equal_nan=True)
    # The Rhône (69) has Le Vinatier and others: a sanity check a user would make.
    assert france.loc["69", "nombre"] == count_dep["69"]


# --------------------------------------------------------------------------- national table

HOSPITALS = "finess_hospitals_eurostat/FR_hospitals_finess20200306_sans_29_63.csv"
# Facility types of the Eurostat extract → resource types, for this test: the CHS are the
# FINESS category 292 (« chs »); the general hospitals (C.H., C.H.R.) stand for « ch_psy »
# and every other hospital for « autre ». Only the counting is under test.
EUROSTAT_TYPES = {
    "Centre Hospitalier Spécialisé lutte Maladies Mentales": "chs",
    "Centre Hospitalier (C.H.)": "ch_psy",
    "Centre Hospitalier Régional (C.H.R.)": "ch_psy",
}


@pytest.fixture(scope="module")
def hospital_sites(shared_data_dir) -> pd.DataFrame:
    """Every hospital site of the extract placed in its commune (spatial join)."""
    sites = pd.read_csv(shared_data_dir / HOSPITALS, dtype=str)
    points = gpd.GeoDataFrame(
        sites, geometry=gpd.points_from_xy(sites["lon"].astype(float), sites["lat"].astype(float)),
        crs="EPSG:4326")
    located = gpd.sjoin(points, load_communes()[["code_commune", "code_departement", "geometry"]],
                        predicate="within", how="inner").drop_duplicates("id")
    return pd.DataFrame({
        "id_ressource": located["id"].to_numpy(),
        "type_ressource": located["facility_type"].map(EUROSTAT_TYPES).fillna("autre").to_numpy(),
        "code_commune": located["code_commune"].to_numpy(),
        "code_departement": located["code_departement"].to_numpy(),
    })


def test_no_national_table_gives_no_reference_and_says_why():
    resources = _resources([("cattp", RENNES, None, 10), ("cattp", BREST, None, 5)])
    table = resource_densities(resources, _members())
    row = _row(table, "cattp", "france")
    assert row["nombre"] == 1 and row["densite_nombre"] > 0  # the territory is still counted
    for column in ("nombre_reference", "densite_nombre_reference", "ecart_nombre_pct",
                   "population_ref_age_reference"):
        assert np.isnan(row[column])
    assert row["note"].startswith("référence non disponible")
    assert "references_nationales.csv" in row["note"]


@pytest.mark.shared_data
def test_one_departement_folder_uses_the_national_table_never_a_partial_sum(
        hospital_sites, communes):
    """Département 35's real hospital sites as the user's folder, the whole national extract
    (every département but 29 and 63) as the national table."""
    folder = hospital_sites[hospital_sites["code_departement"] == "35"]
    covered = sorted(set(communes["code_departement"]) - {"29", "63"})
    national = national_reference_table(hospital_sites, types=["chs", "ch_psy", "autre"],
                                        departements=covered, date_finess="2020-03-06")
    members = communes.loc[communes["code_departement"] == "35", ["code_commune"]].assign(
        code_territoire="35")
    table = resource_densities(folder, members, national=national)

    # Independent computation with pandas.
    pop = communes.set_index("code_commune")["population"].astype(float)
    pop_35 = pop[communes.set_index("code_commune")["code_departement"] == "35"].sum()
    # Mayotte has no bundled population: out of every reference, with its resources.
    by_dep = communes.groupby("code_departement")["population"].sum(min_count=1).dropna()
    pop_covered = by_dep.drop(["29", "63"]).sum()
    count = hospital_sites.groupby(["type_ressource", "code_departement"]).size()
    for kind in ("chs", "ch_psy", "autre"):
        own = int(count[kind].get("35", 0))
        france = _row(table, kind, "france")
        assert france["nombre"] == own
        assert france["densite_nombre"] == pytest.approx(own / pop_35 * 1e5, rel=1e-12)
        national_count = int(count[kind].drop(["29", "63"], errors="ignore")
                             .reindex(by_dep.index).fillna(0).sum())
        assert france["nombre_reference"] == national_count
        assert france["population_ref_age_reference"] == pytest.approx(pop_covered, rel=1e-12)
        expected = national_count / pop_covered * 1e5
        assert france["densite_nombre_reference"] == pytest.approx(expected, rel=1e-12)
        # The old « France » (the folder's resources over the population of France) is gone.
        partial = own / by_dep.sum() * 1e5
        assert france["densite_nombre_reference"] != pytest.approx(partial, rel=0.05)
        assert "29, 63" in france["note"] and "sans les départements absents" in france["note"]
        assert france["ecart_nombre_pct"] == pytest.approx(
            (own / pop_35 * 1e5 / expected - 1) * 100, rel=1e-9)
        # Bretagne without the Finistère (29): too little of the région is covered.
        region = _row(table, kind, "region")
        assert region["code_reference"] == "53"
        assert np.isnan(region["nombre_reference"]) and np.isnan(region["ecart_nombre_pct"])
        assert region["note"].startswith("référence non disponible")
        assert "29" in region["note"]
    assert _row(table, "chs", "france")["nombre"] == (folder["type_ressource"] == "chs").sum()


def test_a_national_table_with_errors_is_refused_with_row_and_column(tmp_path):
    from ptsm_diag.errors import InputError
    from ptsm_diag.io.sources.national import read_national_references

    path = tmp_path / "references_nationales.csv"
    path.write_text("code_departement;type_ressource;nombre\n35;cmp_adultes;-3\n"
                    "35;inconnu;2\n29;cmp_adultes;4\n", encoding="utf-8")
    with pytest.raises(InputError) as error:
        read_national_references(path)
    found = {(p.row, p.column) for p in error.value.problems}
    assert {(2, "nombre"), (3, "type_ressource")} <= found
    path.write_text("code_departement;type_ressource;nombre\n29;cmp_adultes;4\n",
                    encoding="utf-8")
    assert read_national_references(path)["nombre"].tolist() == [4]
    with pytest.raises(InputError):
        read_national_references(tmp_path / "absent.csv")


def _national_population(bands: dict[str, float]) -> pd.DataFrame:
    """Every département of France with the same population in each band."""
    deps = cached_layer("departements")["code_departement"].astype(str)
    return pd.DataFrame([{"code_departement": d, "annee": 2022, "tranche_age": band,
                          "population": value} for d in deps for band, value in bands.items()])


def test_adult_places_take_their_age_band_from_the_national_population_table():
    """Places of ESAT per 1,000 adults: 20-59 is in no table, 20-64 is used (said in the
    source), the références from population_nationale, the territory from population.csv."""
    from ptsm_diag.compute.opendata_indicators import opendata_indicators

    resources = _resources([("esat", RENNES, None, 50), ("esat", BREST, None, 30)])
    national = _national(resources)
    population = pd.DataFrame([(c, 2022, band, value) for c in (RENNES, BRUZ)
                               for band, value in (("0-17", 100), ("18-64", 400), ("65+", 90))],
                              columns=["code_commune", "annee", "tranche_age", "population"])
    people = _national_population({"18-64": 2000, "20-64": 1000})
    deps = cached_layer("departements")
    n_france = deps["code_departement"].nunique()
    n_region = int((deps["code_region"].astype(str) == "53").sum())

    def esat(population: pd.DataFrame, people: pd.DataFrame | None):
        result = opendata_indicators(resources, [RENNES, BRUZ], population, national,
                                     code="T", region="53", national_population=people)
        notes = result.notes.set_index("indicateur")
        rows = result.rows[result.rows["indicateur"] == "places_esat"]
        return notes.loc["places_esat"], rows.set_index("code_territoire")

    # Two communes of Ille-et-Vilaine are no whole département: without 20-64 (nor 18-64
    # for France) in population.csv the petal is not computed, and the note says why.
    note, _ = esat(population, None)
    assert not note["calcule"] and "population_nationale" in note["raison"]
    # population.csv gives 18-64 for the territory, the national table for France: 18-64.
    note, rows = esat(population, _national_population({"18-64": 2000}))
    assert note["calcule"] and "population de 18-64 ans" in note["source"]
    assert rows["denominateur"].to_dict() == {"T": 800, "R53": 2000 * n_region,
                                             "FRANCE": 2000 * n_france}
    # With 20-64 for the territory too, 20-64 comes before 18-64.
    with_band = pd.concat([population, pd.DataFrame(
        {"code_commune": [RENNES, BRUZ], "annee": 2022, "tranche_age": "20-64",
         "population": [300, 60]})], ignore_index=True)
    note, rows = esat(with_band, people)
    assert "population de 20-64 ans (tranche 20-59 absente des données)" in note["source"]
    assert rows["denominateur"].to_dict() == {"T": 360, "R53": 1000 * n_region,
                                             "FRANCE": 1000 * n_france}
    assert rows["numerateur"].to_dict() == {"T": 50, "R53": 80, "FRANCE": 80}
    assert note["valeur"] == pytest.approx(50 / 360 * 1000)
    assert note["reference_france"] == pytest.approx(80 / (1000 * n_france) * 1000)
    # Without 20-64 in population.csv the sub-départemental territory has no 20-64 (the
    # national table counts départements): the whole-territory band 18-64 is used.
    note, rows = esat(population, people)
    assert "population de 18-64 ans" in note["source"] and rows.loc["T", "denominateur"] == 800


def test_a_territory_population_alone_equals_the_same_territory_counted_with_others():
    """The population of one unit (a territory's reference, computed alone) is the one the
    grouping of every unit gives: bundled total, complete bands, a band with a missing
    commune left empty, a commune absent from the table counted as unknown."""
    pop = pd.DataFrame({
        "population_reference": [100.0, 200.0, 50.0, np.nan],
        "0-17": [20.0, 40.0, np.nan, np.nan], "18-64": [60.0, 120.0, 30.0, np.nan],
        "65+": [20.0, 40.0, 20.0, np.nan], "18+": [80.0, 160.0, 50.0, np.nan],
        "ensemble": [100.0, 200.0, 50.0, np.nan], "20-59": [50.0, 100.0, 25.0, np.nan],
        "20-64": [55.0, 110.0, 28.0, np.nan],
    }, index=pd.Index(["35001", "35002", "35003", "35004"], name="code_commune"))
    territory = ["35001", "35002", "35003", "35004", "35999"]
    alone = densities._unit_population(
        pd.DataFrame({"unit": "T1", "code_commune": territory}), pop)
    together = densities._unit_population(pd.DataFrame({
        "unit": ["T1"] * 5 + ["T2", "T2"],
        "code_commune": [*territory, "35001", "35002"]}), pop)
    pd.testing.assert_frame_equal(alone, together.loc[["T1"]])
    assert alone.at["T1", "bundled"] == 350
    assert alone.at["T1", "18-64"] == 210
    assert np.isnan(alone.at["T1", "0-17"])  # 35003 has people but no 0-17 count
    assert together.at["T2", "0-17"] == 60
