"""Bundled populations: current vintage, Mayotte, Saint-Barthélemy / Saint-Martin, labels."""

from __future__ import annotations

import pandas as pd
import pytest

from ptsm_diag.catalog.geography import geography_metadata, load_communes
from ptsm_diag.compute.territory import territory_from_communes, territory_from_departements
from ptsm_diag.io.sources.finess import insee_commune_code

ATTACHED = ["97701", "97801"]


@pytest.fixture(scope="module")
def communes() -> pd.DataFrame:
    return pd.DataFrame(load_communes().drop(columns="geometry"))


def _insee_departement(codes: pd.Series) -> pd.Series:
    """INSEE's own département of a commune code (977, 978 kept apart, as INSEE counts)."""
    overseas = codes.str[:2].isin(["97", "98"])
    return codes.str[:2].where(~overseas, codes.str[:3])


@pytest.mark.shared_data
def test_departement_populations_vs_insee_estimates(communes, shared_data_dir):
    """Populations légales 2023 vs INSEE's estimates at 1 January 2023 (shared data).

    The estimates (``pop_dep_grands_ages_2023.csv``) are INSEE's *provisional* ones,
    made at the end of 2022; the populations légales of the same date come later from the
    2021-2025 census surveys and are 0.5 % higher nationally. Measured relative differences
    (bundled − estimate) / estimate: median |diff| 0.64 %, 84 départements of 100 within
    1.5 %, extremes Martinique +3.7 %, Corse-du-Sud +2.7 %, Guyane −2.4 %; Finistère +0.80 %,
    Puy-de-Dôme −0.70 % (with the former 2017 populations: −1.8 % and −2.3 %). Mayotte is
    the 2017 census, the last population légale (−17 % from the 2023 estimate).
    """
    insee = pd.read_csv(shared_data_dir / "insee_pop_dep_age" / "pop_dep_grands_ages_2023.csv",
                        dtype={"dep_code": str}).set_index("dep_code")["pop_total"]
    bundled = communes.groupby(_insee_departement(communes["code_commune"]))["population"].sum()
    aggregates = {"France métropolitaine", "DOM", "France métropolitaine et DOM"}
    assert set(bundled.index) == set(insee.index) - aggregates | {"977", "978"}
    compared = bundled.drop(["977", "978"]).astype(float)
    rel = (compared - insee[compared.index]) / insee[compared.index]
    assert abs(rel["29"]) < 0.015 and abs(rel["63"]) < 0.015
    current = rel.drop("976")
    assert len(current) == 100
    assert (current.abs() < 0.015).sum() >= 84, current[current.abs() >= 0.015].round(3)
    assert current.abs().median() < 0.01
    assert current.abs().max() < 0.04, current.abs().sort_values().tail(3).round(3).to_dict()
    # Mayotte: older vintage, said so by the metadata and far below the estimate
    assert (communes.loc[communes["code_departement"] == "976", "annee_population"] == 2017).all()
    assert -0.20 < rel["976"] < -0.10
    national = insee["France métropolitaine et DOM"] - insee["976"]
    assert compared.drop("976").sum() == pytest.approx(national, rel=0.01)


def test_one_departement_population_and_label():
    meta = geography_metadata()
    finistere = territory_from_departements(["29"])
    assert finistere.population_total == 933_455 and finistere.population_year == 2023
    assert finistere.population_source == "référence"
    # the label is the data's, read from metadata.json, not a year written in the code
    assert finistere.population_label == meta["population_libelle"]
    assert finistere.population_label == (
        "Population municipale 2023 (INSEE, populations légales en vigueur au "
        "1er janvier 2026)")


def test_mayotte_has_its_census_population():
    mayotte = territory_from_departements(["976"])
    assert mayotte.population_total == 256_518 and mayotte.population_year == 2017
    assert mayotte.communes_without_population == ()
    assert mayotte.density == pytest.approx(256_518 / mayotte.area_km2)
    assert mayotte.population_label == (
        "Mayotte : population municipale 2017 (INSEE, recensement de 2017)")
    # a territory mixing both vintages names both, the current one first
    mixed = territory_from_communes(["97611", "29019"], code="x", name="Mixte")
    assert mixed.population_year == 2023
    assert mixed.population_label.startswith("Population municipale 2023")
    assert mixed.population_label.endswith("recensement de 2017)")


def test_saint_barthelemy_and_saint_martin_belong_to_guadeloupe(communes):
    guadeloupe = territory_from_departements(["971"])
    assert set(ATTACHED) <= set(guadeloupe.commune_codes)
    assert guadeloupe.region_codes == ("01",)
    assert guadeloupe.population_total == 384_160 + 10_660 + 31_160
    rows = communes.set_index("code_commune").loc[ATTACHED]
    assert rows["population"].tolist() == [10_660, 31_160]
    # their outline is inside the Guadeloupe territory (maps, accessibility)
    inside = guadeloupe.communes.set_index("code_commune").geometry[ATTACHED]
    assert inside.notna().all()
    assert inside.representative_point().within(guadeloupe.geometry.buffer(1e-6)).all()


def test_finess_lines_of_the_collectivites_land_in_a_known_commune(communes):
    """FINESS writes them under département 9A (Guadeloupe): commune 701 / 801."""
    codes = insee_commune_code(pd.Series(["9A", "9A", "9A"]), pd.Series(["701", "801", "105"]))
    assert codes.tolist() == ["97701", "97801", "97105"]
    known = communes.set_index("code_commune")
    assert (known.loc[codes, "code_departement"] == "971").all()
    assert (known.loc[codes, "code_region"] == "01").all()
