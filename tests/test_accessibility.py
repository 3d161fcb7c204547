"""Distance/time to the nearest resource, threshold shares, 2SFCA (checked against PySAL)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyproj import Geod

from ptsm_diag.compute.accessibility import (
    DETOUR_FACTOR,
    NEAREST_COLUMNS,
    SPEED_KMH,
    beyond_threshold,
    catchment_costs,
    commune_points,
    floating_catchment,
    nearest_resources,
    two_step_fca,
    zone_of,
)
from ptsm_diag.errors import InputError
from ptsm_diag.io.sources.distancier import check_distancier, read_distancier

GEOD = Geod(ellps="WGS84")
RENNES, VITRE, BREST = "35238", "35360", "29019"
SAINT_DENIS_REUNION, SAINT_PIERRE_REUNION = "97411", "97416"


def _resources(rows: list[tuple[str, str, float, float]], **extra) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["type_ressource", "code_commune", "longitude",
                                        "latitude"])
    frame["id_ressource"] = [f"R{i}" for i in range(len(frame))]
    for name, values in extra.items():
        frame[name] = values
    return frame


def _random_resources(seed: int, n: int, bbox: tuple[float, float, float, float],
                      type_code: str = "cmp_adultes") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lon = rng.uniform(bbox[0], bbox[2], n)
    lat = rng.uniform(bbox[1], bbox[3], n)
    return _resources([(type_code, "35238", x, y) for x, y in zip(lon, lat, strict=True)])


def test_nearest_distance_matches_geodesic_brute_force():
    resources = _random_resources(1, 60, (-5.0, 47.3, -1.0, 48.8))
    points = commune_points()
    communes = points[points.index.str[:2].isin(["22", "29", "35", "56"])].index[::7]
    table = nearest_resources(resources, communes=communes, types=["cmp_adultes"])
    assert list(table.columns) == NEAREST_COLUMNS
    assert len(table) == len(communes)
    origin = points.loc[communes]
    for code, row in zip(communes, table.itertuples(), strict=True):
        lon0, lat0 = origin.at[code, "longitude"], origin.at[code, "latitude"]
        _, _, dist = GEOD.inv(np.full(len(resources), lon0), np.full(len(resources), lat0),
                              resources["longitude"].to_numpy(), resources["latitude"].to_numpy())
        assert row.distance_km == pytest.approx(dist.min() / 1000, rel=0.01)
    assert np.allclose(table["temps_min"],
                       table["distance_km"] * DETOUR_FACTOR / SPEED_KMH * 60)
    assert (table["source_temps"] == "estimé").all()


def test_overseas_commune_is_measured_in_its_own_zone():
    assert list(zone_of([SAINT_DENIS_REUNION, "2A004", RENNES, "97105"])) == [
        "974", "metropole", "metropole", "971"]
    resources = _resources([
        ("cmp_adultes", SAINT_PIERRE_REUNION, 55.4781, -21.3393),  # Saint-Pierre (Réunion)
        ("cmp_adultes", RENNES, -1.6778, 48.1173),
        ("chs", RENNES, -1.6778, 48.1173),  # only in metropolitan France
    ])
    table = nearest_resources(resources, communes=[SAINT_DENIS_REUNION, RENNES],
                              types=["cmp_adultes", "chs"])
    row = table[(table["code_commune"] == SAINT_DENIS_REUNION)
                & (table["type_ressource"] == "cmp_adultes")].iloc[0]
    origin = commune_points().loc[SAINT_DENIS_REUNION]
    _, _, dist = GEOD.inv(origin["longitude"], origin["latitude"], 55.4781, -21.3393)
    assert row["code_commune_ressource"] == SAINT_PIERRE_REUNION
    assert row["distance_km"] == pytest.approx(dist / 1000, rel=0.01)
    # No CHS on the island: unknown, never the one in Rennes 9,000 km away.
    chs = table[(table["code_commune"] == SAINT_DENIS_REUNION)
                & (table["type_ressource"] == "chs")].iloc[0]
    assert np.isnan(chs["distance_km"]) and pd.isna(chs["id_ressource"])


def test_nearest_resource_may_lie_outside_the_territory():
    # A Vitré commune's nearest CMP is in Mayenne (53), not in Rennes.
    resources = _resources([
        ("cmp_adultes", RENNES, -1.6778, 48.1173),
        ("cmp_adultes", "53130", -0.7703, 48.0707),  # Laval
    ])
    table = nearest_resources(resources, communes=["35360"], types=["cmp_adultes"])
    assert table["code_commune_ressource"].iloc[0] in ("53130", RENNES)
    _, _, to_laval = GEOD.inv(*commune_points().loc["35360", ["longitude", "latitude"]],
                              -0.7703, 48.0707)
    _, _, to_rennes = GEOD.inv(*commune_points().loc["35360", ["longitude", "latitude"]],
                               -1.6778, 48.1173)
    assert table["distance_km"].iloc[0] == pytest.approx(min(to_laval, to_rennes) / 1000,
                                                         rel=0.01)


def test_distancier_overrides_estimates_and_flags_missing_pairs():
    resources = _resources([("cmp_adultes", RENNES, -1.6778, 48.1173)])
    distancier = check_distancier(pd.DataFrame({
        "code_commune_origine": [VITRE],
        "code_commune_destination": [RENNES],
        "minutes": ["42,5"],
    }))
    table = nearest_resources(resources, communes=[VITRE, BREST], types=["cmp_adultes"],
                              distancier=distancier).set_index("code_commune")
    assert table.at[VITRE, "temps_min"] == 42.5
    assert table.at[VITRE, "source_temps"] == "distancier"
    assert not table.at[VITRE, "repli_estimation"]
    assert table.at[BREST, "source_temps"] == "estimé"
    assert table.at[BREST, "repli_estimation"]
    assert table.at[BREST, "temps_min"] == pytest.approx(
        table.at[BREST, "distance_km"] * 1.3)


def test_malformed_distancier_names_file_row_and_column(tmp_path):
    path = tmp_path / "distancier.csv"
    path.write_text("code_commune_origine;code_commune_destination;minutes\n"
                    "35360;35238;25\n"
                    "35360;35047;vingt\n"
                    "99999;35238;12\n", encoding="utf-8")
    with pytest.raises(InputError) as error:
        read_distancier(path)
    text = str(error.value)
    assert "distancier.csv, ligne 3, colonne « minutes »" in text
    assert "« vingt »" in text and "nombre de minutes" in text
    assert "ligne 4, colonne « code_commune_origine »" in text
    bad = tmp_path / "temps.csv"
    bad.write_text("origine;destination;minutes\n35360;35238;25\n", encoding="utf-8")
    with pytest.raises(InputError, match="code_commune_origine"):
        read_distancier(bad)
    good = tmp_path / "ok.csv"
    good.write_text("code_commune_origine,code_commune_destination,minutes\n"
                    "1001,35238,\"12,5\"\n", encoding="utf-8")
    table = read_distancier(good)
    assert table.iloc[0].tolist() == ["01001", "35238", 12.5]


def test_share_of_population_beyond_threshold():
    nearest = pd.DataFrame({
        "code_commune": ["a", "b", "c", "d", "a", "b", "c", "d"],
        "type_ressource": ["cmp_adultes"] * 4 + ["gem"] * 4,
        "distance_km": [1.0] * 8,
        "temps_min": [10, 31, 45, np.nan, 30, 30, 30, 30],
        "population": [1000, 300, 200, 50, 1000, 300, 200, 50],
    })
    members = pd.DataFrame({"code_territoire": ["T"] * 4, "code_commune": list("abcd")})
    table = beyond_threshold(nearest, members, threshold=30).set_index("type_ressource")
    cmp = table.loc["cmp_adultes"]
    assert cmp["population_au_dela"] == 500
    assert cmp["part_au_dela"] == pytest.approx(500 / 1500)
    assert cmp["communes_au_dela"] == 2
    assert cmp["communes_inconnues"] == 1 and cmp["population_inconnue"] == 50
    gem = table.loc["gem"]  # exactly at the threshold is within it
    assert gem["population_au_dela"] == 0 and gem["part_au_dela"] == 0


def test_threshold_counts_of_several_territories_match_a_merge_and_grouping():
    """Territories sharing a commune, a member commune without any time, categorical
    columns as nearest_resources gives them: every count equals an independent pandas
    merge then grouping, rows in the order of first appearance."""
    rng = np.random.default_rng(7)
    communes = [f"35{i:03d}" for i in range(40)]
    kinds = ["gem", "cmp_adultes", "savs"]
    nearest = pd.DataFrame({
        "code_commune": pd.Categorical(np.repeat(communes, len(kinds))),
        "type_ressource": pd.Categorical(np.tile(kinds, len(communes))),
        "distance_km": rng.uniform(0, 60, 120),
        "temps_min": np.where(rng.random(120) < 0.1, np.nan, rng.uniform(0, 70, 120)),
        "population": np.where(rng.random(120) < 0.05, np.nan, rng.integers(0, 5000, 120)),
    })
    members = pd.DataFrame({
        "code_territoire": ["T2"] * 25 + ["T1"] * 20 + ["T1"],
        "code_commune": communes[15:] + communes[:20] + ["99999"],  # 15-19 in both
    })
    got = beyond_threshold(nearest, members, threshold=30)

    frame = members.astype(str).drop_duplicates().merge(
        nearest.astype({"code_commune": str, "type_ressource": str}), on="code_commune")
    known = frame["temps_min"].notna()
    people = frame["population"].fillna(0)
    expected = frame.assign(
        n=1, unknown=~known, beyond=known & (frame["temps_min"] > 30),
        known_pop=people.where(known, 0), unknown_pop=people.where(~known, 0),
        beyond_pop=people.where(known & (frame["temps_min"] > 30), 0),
    ).groupby(["code_territoire", "type_ressource"], sort=False)[
        ["n", "unknown", "beyond", "known_pop", "unknown_pop", "beyond_pop"]].sum()
    assert list(zip(got["code_territoire"], got["type_ressource"], strict=True)) == list(
        expected.index)
    assert got["communes"].tolist() == expected["n"].tolist() == [25] * 3 + [20] * 3
    assert got["communes_inconnues"].tolist() == expected["unknown"].tolist()
    assert got["communes_au_dela"].tolist() == expected["beyond"].tolist()
    np.testing.assert_allclose(got["population"],
                               expected["known_pop"] + expected["unknown_pop"])
    np.testing.assert_allclose(got["population_au_dela"], expected["beyond_pop"])
    np.testing.assert_allclose(got["part_au_dela"],
                               expected["beyond_pop"] / expected["known_pop"])


def test_two_step_fca_known_answer():
    costs = pd.DataFrame({
        "code_commune_origine": ["a", "b", "b", "c"],
        "code_commune_destination": ["s", "s", "t", "t"],
        "cout": [10.0, 20.0, 30.0, 40.0],
    })
    demand = pd.Series({"a": 100.0, "b": 300.0, "c": 600.0, "d": 50.0})
    supply = pd.Series({"s": 8.0, "t": 9.0})
    result = two_step_fca(supply, demand, costs, max_cost=30)
    # s serves a + b (400): 0.02 each; t serves b only (c at 40 > 30): 9 / 300 = 0.03.
    assert result["a"] == pytest.approx(0.02)
    assert result["b"] == pytest.approx(0.05)
    assert result["c"] == 0 and result["d"] == 0


def _access_2sfca(demand: pd.Series, supply: pd.Series, costs: pd.DataFrame,
                  max_cost: float) -> pd.Series:
    from access import Access

    model = Access(
        demand_df=pd.DataFrame({"geoid": demand.index, "pop": demand.to_numpy()}),
        demand_index="geoid", demand_value="pop",
        supply_df=pd.DataFrame({"geoid": supply.index, "cap": supply.to_numpy()}),
        supply_index="geoid", supply_value="cap",
        cost_df=costs.rename(columns={"code_commune_origine": "origin",
                                      "code_commune_destination": "dest"})[
            ["origin", "dest", "cout"]],
        cost_origin="origin", cost_dest="dest", cost_name="cout")
    return model.two_stage_fca(name="fca", max_cost=max_cost)["fca_cap"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
def test_two_step_fca_matches_pysal_access_on_random_costs():
    rng = np.random.default_rng(7)
    origins = [f"o{i}" for i in range(60)]
    sites = [f"o{i}" for i in rng.choice(60, 12, replace=False)]
    costs = pd.DataFrame([(o, s, float(rng.uniform(0, 60))) for o in origins for s in sites
                          if rng.random() < 0.6],
                         columns=["code_commune_origine", "code_commune_destination", "cout"])
    costs.loc[::9, "cout"] = 30.0  # ties at the threshold: inclusive in both
    demand = pd.Series(rng.integers(1, 5000, len(origins)).astype(float), index=origins)
    supply = pd.Series(rng.integers(1, 80, len(sites)).astype(float), index=sites)
    ours = two_step_fca(supply, demand, costs, max_cost=30)
    theirs = _access_2sfca(demand, supply, costs, 30).reindex(ours.index)
    reached = theirs.notna()
    assert reached.sum() > 30
    np.testing.assert_allclose(ours[reached], theirs[reached], rtol=1e-9, atol=0)
    assert (ours[~reached] == 0).all()  # no supply within reach: 0, access says NaN


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
def test_floating_catchment_matches_pysal_access_on_commune_costs():
    resources = pd.DataFrame({
        "id_ressource": ["A", "B", "C", "D", "E"],
        "type_ressource": ["cattp"] * 5,
        "code_commune": [RENNES, RENNES, VITRE, "35047", "56260"],
        "capacite_places": [20, 10, 15, 12, 30],
    })
    result = floating_catchment(resources, max_cost=25, per=1000)
    assert set(result["type_ressource"]) == {"cattp"}
    supply = pd.Series({RENNES: 30.0, VITRE: 15.0, "35047": 12.0, "56260": 30.0})
    points = commune_points()
    demand = pd.Series(
        load_population(points.index), index=points.index).fillna(0.0)
    costs = catchment_costs(points.index, supply.index, 25)
    assert costs["cout"].max() <= 25 and len(costs) > 50
    theirs = _access_2sfca(demand, supply, costs, 25)
    ours = result.set_index("code_commune")["accessibilite"] / 1000
    reached = theirs.index[theirs.notna()]
    np.testing.assert_allclose(ours[reached], theirs[reached], rtol=1e-9, atol=0)
    assert (ours.drop(reached) == 0).all()
    # Rennes reaches its own 30 places: its accessibility is positive.
    assert ours[RENNES] > 0


def load_population(codes: pd.Index) -> np.ndarray:
    from ptsm_diag.catalog.geography import load_communes

    communes = load_communes().set_index("code_commune")
    return communes["population"].astype(float).reindex(codes).to_numpy()


def test_distancier_times_define_the_catchment():
    distancier = check_distancier(pd.DataFrame({
        "code_commune_origine": [BREST, VITRE],
        "code_commune_destination": [RENNES, RENNES],
        "minutes": [20, 90],  # a fictitious fast link; a slow one
    }))
    without = catchment_costs([BREST, VITRE, "35047"], [RENNES], 60)
    assert set(without["code_commune_origine"]) == {VITRE, "35047"}  # estimated ~45 min
    costs = catchment_costs([BREST, VITRE, "35047"], [RENNES], 60, distancier=distancier)
    got = costs.set_index("code_commune_origine")
    assert BREST in got.index and got.at[BREST, "source_temps"] == "distancier"
    assert VITRE not in got.index  # 90 min in the distancier, though estimated at ~45
    assert got.at["35047", "source_temps"] == "estimé"


def test_a_prepared_search_answers_each_territory_as_the_whole_country():
    """A batch prepares the search once and queries each territory: the rows of a
    territory are those of the whole country, distancier times included."""
    from ptsm_diag.compute.accessibility import NearestSearch

    resources = _resources([("cmp_adultes", RENNES, -1.6778, 48.1173),
                            ("cmp_adultes", "97411", 55.45, -20.88),
                            ("chs", BREST, -4.486, 48.390)])
    distancier = check_distancier(pd.DataFrame({
        "code_commune_origine": [VITRE, VITRE], "code_commune_destination": [RENNES, BREST],
        "minutes": ["42,5", "150"]}))
    search = NearestSearch(resources, types=["cmp_adultes", "chs"], distancier=distancier)
    country = search.query()
    some = [BREST, "97411", VITRE]
    part = search.query(some)
    assert list(part["code_commune"].cat.categories) == some
    expected = country[country["code_commune"].isin(some)].copy()
    expected["code_commune"] = pd.Categorical(expected["code_commune"].astype(str),
                                              categories=pd.Index(some, name="code_commune"))
    expected = expected.sort_values(["type_ressource", "code_commune"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(part, expected)
    assert part.set_index(["type_ressource", "code_commune"]).at[
        ("cmp_adultes", VITRE), "temps_min"] == 42.5
    pd.testing.assert_frame_equal(part, nearest_resources(
        resources, communes=some, types=["cmp_adultes", "chs"], distancier=distancier))
