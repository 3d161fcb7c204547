"""Indicator values: intervals, pooled references, secrecy, direction-aware comparisons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ptsm_diag.catalog import load_indicator_catalog
from ptsm_diag.compute.indicators import (
    compute_indicator_values,
    french_column_labels,
    poisson_interval,
    rosace_table,
    wilson_interval,
)
from ptsm_diag.errors import InputError, UnknownCodeError

COLUMNS = ["code_territoire", "indicateur", "annee", "numerateur", "denominateur", "valeur",
           "source"]
REGIONS = {"A": "11", "B": "11", "C": "84"}


def _table(*rows: tuple) -> pd.DataFrame:
    """Rows (territory, indicator, year, numerator, denominator[, value[, source]])."""
    full = [tuple(row) + (None,) * (7 - len(row)) for row in rows]
    frame = pd.DataFrame(full, columns=COLUMNS)
    frame["source"] = frame["source"].fillna("RIM-P")
    return frame


def _row(values: pd.DataFrame, territory: str, indicator: str, year: int = 2023) -> pd.Series:
    hit = values[(values["code_territoire"] == territory) & (values["indicateur"] == indicator)
                 & (values["annee"] == year)]
    assert len(hit) == 1
    return hit.iloc[0]


# --------------------------------------------------------------------------- intervals


@pytest.mark.parametrize(("k", "n"), [(0, 10), (1, 10), (7, 50), (50, 100), (120, 120),
                                      (3, 3000), (2500, 10000)])
def test_wilson_matches_scipy(k, n):
    expected = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson_interval([k], [n])
    assert low[0] == pytest.approx(expected.low, abs=1e-12)
    assert high[0] == pytest.approx(expected.high, abs=1e-12)


@pytest.mark.parametrize("k", [1, 3, 10, 57, 1000])
def test_garwood_bounds_are_the_exact_poisson_tail_quantiles(k):
    low, high = poisson_interval([k])
    # exact interval: P(X >= k | low) = P(X <= k | high) = 2.5 %
    assert stats.poisson.sf(k - 1, low[0]) == pytest.approx(0.025, rel=1e-6)
    assert stats.poisson.cdf(k, high[0]) == pytest.approx(0.025, rel=1e-6)


def test_garwood_matches_published_values():
    low, high = poisson_interval([0, 10])
    # tabulated exact 95 % limits (e.g. Ulm 1990): 0 → [0, 3.689], 10 → [4.795, 18.390]
    np.testing.assert_allclose(low, [0.0, 4.7954], atol=1e-4)
    np.testing.assert_allclose(high, [3.6889, 18.3904], atol=1e-4)


def test_interval_columns_use_the_indicator_kind():
    values = compute_indicator_values(_table(
        ("A", "isolement_contention", 2023, 40, 400),       # proportion → Wilson
        ("A", "soins_sans_consentement", 2023, 150, 90000),  # rate → Poisson
        ("A", "densite_cmp", 2023, 5, 100000),               # ratio → none
    ), regions=REGIONS)
    prop = _row(values, "A", "isolement_contention")
    wilson = stats.binomtest(40, 400).proportion_ci(method="wilson")
    assert prop["value"] == pytest.approx(10.0)
    assert prop["ci_low"] == pytest.approx(100 * wilson.low)
    assert prop["ci_high"] == pytest.approx(100 * wilson.high)
    rate = _row(values, "A", "soins_sans_consentement")
    assert rate["ci_low"] == pytest.approx(stats.chi2.ppf(0.025, 300) / 2 / 90000 * 1e5)
    assert rate["ci_high"] == pytest.approx(stats.chi2.ppf(0.975, 302) / 2 / 90000 * 1e5)
    ratio = _row(values, "A", "densite_cmp")
    assert ratio["value"] == pytest.approx(5.0)
    assert np.isnan(ratio["ci_low"]) and ratio["statut"] == "ok"  # public count: not masked
    assert ratio["comparison_method"].startswith("écart relatif")


# --------------------------------------------------------------------------- references

THREE = _table(
    ("A", "soins_sans_consentement", 2023, 300, 100000),
    ("B", "soins_sans_consentement", 2023, 500, 200000),
    ("C", "soins_sans_consentement", 2023, 20, 50000),
)


def test_pooled_references_are_sums_of_counts_not_means_of_rates():
    values = compute_indicator_values(THREE, regions=REGIONS)
    a, c = _row(values, "A", "soins_sans_consentement"), _row(values, "C",
                                                              "soins_sans_consentement")
    assert a["reference_region"] == pytest.approx(800 / 300000 * 1e5)
    assert a["reference_region"] != pytest.approx((300 + 250) / 2)  # not the mean of rates
    assert c["reference_region"] == pytest.approx(20 / 50000 * 1e5)
    assert a["reference_france"] == pytest.approx(820 / 350000 * 1e5)
    assert c["reference_france"] == a["reference_france"]
    assert a["reference_source_region"] == "calculée"
    assert a["reference_n_region"] == 2 and a["reference_n_france"] == 3


def test_given_reference_rows_win_and_say_so():
    table = pd.concat([THREE, _table(("FRANCE", "soins_sans_consentement", 2023, None, None,
                                      170.0, "DREES"))])
    values = compute_indicator_values(table, regions=REGIONS)
    a = _row(values, "A", "soins_sans_consentement")
    assert a["reference_france"] == 170.0
    assert a["reference_source_france"] == "fournie"
    assert a["reference_source_region"] == "calculée"
    assert set(values["code_territoire"]) == {"A", "B", "C"}  # reference rows are not territories


def test_region_reference_rows_use_the_r_prefix():
    table = pd.concat([THREE, _table(("R84", "soins_sans_consentement", 2023, 90, 60000))])
    values = compute_indicator_values(table, regions=REGIONS)
    assert _row(values, "C", "soins_sans_consentement")["reference_region"] == pytest.approx(150)
    assert _row(values, "A", "soins_sans_consentement")["reference_source_region"] == "calculée"


def test_user_group_reference():
    values = compute_indicator_values(THREE, regions=REGIONS, groups={"ruraux": ["A", "C"]})
    b = _row(values, "B", "soins_sans_consentement")
    assert b["reference_ruraux"] == pytest.approx(320 / 150000 * 1e5)
    assert french_column_labels(["reference_ruraux"]) == {"reference_ruraux":
                                                          "Référence (ruraux)"}


# --------------------------------------------------------------------------- secrecy

SECRET = _table(
    ("A", "isolement_contention", 2022, 60, 500),
    ("B", "isolement_contention", 2022, 35, 400),
    ("C", "isolement_contention", 2022, 40, 300),
    ("A", "isolement_contention", 2023, 50, 500),
    ("B", "isolement_contention", 2023, 7, 100),
    ("C", "isolement_contention", 2023, 30, 300),
    ("D", "isolement_contention", 2023, 45, 350),
)
REGIONS_4 = {"A": "11", "B": "11", "C": "84", "D": "84"}


def test_a_count_of_seven_masks_everything_derived_from_it():
    values = compute_indicator_values(SECRET, regions=REGIONS_4)
    b = _row(values, "B", "isolement_contention")
    assert b["statut"] == "masqué" and b["masking"] == "primaire"
    for column in ("numerateur", "denominateur", "value", "ci_low", "ci_high", "index_france",
                   "index_region", "rank", "percentile", "evolution", "evolution_relative"):
        assert pd.isna(b[column]), column
    assert b["verdict_france"] == "non évaluable"
    shown = values[values["statut"] == "ok"]
    assert (shown["indicateur"] == "isolement_contention").any()
    assert not (shown["numerateur"] == 7).any()
    # B (and A, masked to protect B, see below) are not ranked: C and D are ranked 1 and 2
    ranked = values[(values["annee"] == 2023) & values["rank"].notna()]
    assert sorted(ranked["code_territoire"]) == ["C", "D"]
    assert sorted(ranked["rank"]) == [1, 2] and (ranked["rank_count"] == 2).all()


def test_masked_count_cannot_be_recovered_from_references():
    values = compute_indicator_values(SECRET, regions=REGIONS_4)
    year = values[values["annee"] == 2023]
    # région 11 = {A, B}: its pooled reference would give B back from A → A is masked too
    a = _row(values, "A", "isolement_contention")
    assert a["statut"] == "masqué" and a["masking"] == "secondaire"
    # every displayed pooled reference has 0 or at least 2 masked contributors
    for lvl, codes in (("region", [["A", "B"], ["C", "D"]]), ("france", [["A", "B", "C", "D"]])):
        for members in codes:
            rows = year[year["code_territoire"].isin(members)]
            n_masked = (rows["statut"] == "masqué").sum()
            shown_ref = rows[f"reference_{lvl}"].notna().any()
            assert n_masked != 1 or not shown_ref
    # the references still use every count (secrecy protects publication, not computation)
    assert a["reference_france"] == pytest.approx(132 / 1250 * 100)
    assert a["reference_region"] == pytest.approx(57 / 600 * 100)


def test_evolution_is_masked_when_either_year_is_masked():
    values = compute_indicator_values(
        pd.concat([SECRET, _table(("B", "isolement_contention", 2024, 40, 100),
                                  ("A", "isolement_contention", 2024, 45, 500),
                                  ("C", "isolement_contention", 2024, 30, 300),
                                  ("D", "isolement_contention", 2024, 40, 350))]),
        regions=REGIONS_4)
    b = _row(values, "B", "isolement_contention", 2024)
    assert b["statut"] == "ok" and b["value"] == pytest.approx(40)
    assert pd.isna(b["evolution"])  # would give the masked 2023 value back
    assert b["previous_year"] == 2023


def test_secrecy_threshold_is_configurable_and_zero_is_not_masked():
    table = _table(("A", "isolement_contention", 2023, 7, 100),
                   ("B", "isolement_contention", 2023, 0, 100))
    values = compute_indicator_values(table, regions=REGIONS, secrecy_threshold=5)
    assert _row(values, "A", "isolement_contention")["statut"] == "ok"
    zero = _row(values, "B", "isolement_contention")
    assert zero["statut"] == "ok" and zero["value"] == 0
    masked = compute_indicator_values(table, regions=REGIONS)
    assert _row(masked, "A", "isolement_contention")["statut"] == "masqué"


def test_small_pooled_reference_is_masked():
    values = compute_indicator_values(_table(("C", "isolement_contention", 2023, 40, 300),
                                             ("A", "isolement_contention", 2023, 4, 100),
                                             ("B", "isolement_contention", 2023, 3, 100)),
                                      regions=REGIONS)
    c = _row(values, "C", "isolement_contention")
    assert c["statut"] == "ok"  # two masked counts in France: no secondary mask needed
    assert c["reference_source_region"] == "calculée"
    a = _row(values, "A", "isolement_contention")
    assert a["reference_source_region"] == "masquée"  # région 11 pools 7 patients
    assert np.isnan(a["reference_region"])
    assert a["reference_france"] == pytest.approx(47 / 500 * 100)


def test_lone_masked_contributor_masks_its_pooled_reference_or_a_neighbour():
    values = compute_indicator_values(_table(("C", "isolement_contention", 2023, 40, 300),
                                             ("A", "isolement_contention", 2023, 4, 100)),
                                      regions={"A": "11", "C": "84"})
    # France pools A and C: showing C and the France value would give A back
    c = _row(values, "C", "isolement_contention")
    assert (c["statut"], c["masking"]) == ("masqué", "secondaire")
    # C alone in région 84: its région reference would be C's own value
    assert c["reference_source_region"] == "masquée"
    # the documented opt-out keeps C visible
    values = compute_indicator_values(_table(("C", "isolement_contention", 2023, 40, 300),
                                             ("A", "isolement_contention", 2023, 4, 100)),
                                      regions={"A": "11", "C": "84"}, secondary_secrecy=False)
    assert _row(values, "C", "isolement_contention")["statut"] == "ok"


# --------------------------------------------------------------------------- comparisons


def test_index_and_verdict_follow_the_direction():
    table = _table(
        # higher_is_worse: A at twice the reference
        ("A", "isolement_contention", 2023, 200, 1000),
        ("FRANCE", "isolement_contention", 2023, None, None, 10.0),
        # higher_is_better: A at twice the reference
        ("A", "suivi_15j_sortie", 2023, 800, 1000),
        ("FRANCE", "suivi_15j_sortie", 2023, None, None, 40.0),
        # comparable: the interval contains the reference
        ("A", "rehospit_15j", 2023, 101, 1000),
        ("FRANCE", "rehospit_15j", 2023, None, None, 10.0),
    )
    values = compute_indicator_values(table, regions={"A": "11"})
    worse = _row(values, "A", "isolement_contention")
    assert worse["index_france"] == pytest.approx(50)
    assert worse["significance_france"] == "supérieur"
    assert worse["verdict_france"] == "moins bon"
    better = _row(values, "A", "suivi_15j_sortie")
    assert better["index_france"] == pytest.approx(200)
    assert (better["significance_france"], better["verdict_france"]) == ("supérieur", "meilleur")
    same = _row(values, "A", "rehospit_15j")
    assert same["verdict_france"] == "comparable"
    assert same["index_france"] == pytest.approx(100 * 10 / 10.1)

    neutral = load_indicator_catalog(overrides={"isolement_contention": {"direction":
                                                                          "neutral"}})
    values = compute_indicator_values(table, neutral, regions={"A": "11"})
    flat = _row(values, "A", "isolement_contention")
    assert flat["index_france"] == pytest.approx(200)  # not inverted
    assert flat["verdict_france"] == "non évaluable"


def test_values_without_interval_use_the_tolerance():
    table = _table(("A", "delai_premier_rdv_cmp", 2023, None, None, 30.0),
                   ("B", "delai_premier_rdv_cmp", 2023, None, None, 22.0),
                   ("FRANCE", "delai_premier_rdv_cmp", 2023, None, None, 21.0))
    values = compute_indicator_values(table, regions={"A": "11", "B": "11"})
    assert _row(values, "A", "delai_premier_rdv_cmp")["verdict_france"] == "moins bon"
    assert _row(values, "B", "delai_premier_rdv_cmp")["verdict_france"] == "comparable"
    strict = compute_indicator_values(table, regions={"A": "11", "B": "11"}, tolerance=None)
    assert _row(strict, "A", "delai_premier_rdv_cmp")["verdict_france"] == "non évaluable"


def test_rank_and_percentile_are_direction_aware():
    table = _table(*[(t, "isolement_contention", 2023, n, 1000)
                     for t, n in (("A", 50), ("B", 150), ("C", 100))])
    values = compute_indicator_values(table, regions=REGIONS)
    ranks = {t: _row(values, t, "isolement_contention")["rank"] for t in "ABC"}
    assert ranks == {"A": 1, "C": 2, "B": 3}  # lowest isolation rate is the most favourable
    assert _row(values, "A", "isolement_contention")["percentile"] == 100
    assert _row(values, "B", "isolement_contention")["percentile"] == 0
    assert _row(values, "A", "isolement_contention")["rank_count"] == 3


def test_pooled_mean_is_total_days_over_total_persons():
    table = _table(("A", "delai_mdph", 2023, 1200, 10), ("B", "delai_mdph", 2023, 3000, 30))
    values = compute_indicator_values(table, regions={"A": "11", "B": "11"},
                                      secrecy_threshold=None)
    assert _row(values, "A", "delai_mdph")["value"] == 120
    assert _row(values, "A", "delai_mdph")["reference_france"] == pytest.approx(4200 / 40)
    # a mean over 10 persons is masked under the default threshold (persons, not days)
    masked = compute_indicator_values(table, regions={"A": "11", "B": "11"})
    assert _row(masked, "A", "delai_mdph")["statut"] == "masqué"


# --------------------------------------------------------------------------- missing, evolution


def test_missing_values_stay_nan_with_an_explicit_status():
    table = _table(("A", "isolement_contention", 2023, 40, 400),
                   ("B", "isolement_contention", 2023, 0, 0),
                   ("C", "isolement_contention", 2023, None, None))
    values = compute_indicator_values(table, regions={**REGIONS, "D": "84"})
    for territory in ("B", "C", "D"):  # zero denominator, empty row, no row at all
        row = _row(values, territory, "isolement_contention")
        assert row["statut"] == "manquant"
        assert np.isnan(row["value"])
        assert row["verdict_france"] == "non évaluable"


def test_evolution_between_years():
    table = _table(("A", "suivi_15j_sortie", 2021, 500, 1000),
                   ("A", "suivi_15j_sortie", 2023, 600, 1000))
    values = compute_indicator_values(table, regions={"A": "11"})
    row = _row(values, "A", "suivi_15j_sortie", 2023)
    assert row["evolution"] == pytest.approx(10.0)
    assert row["evolution_relative"] == pytest.approx(20.0)
    assert row["previous_year"] == 2021
    assert pd.isna(_row(values, "A", "suivi_15j_sortie", 2021)["evolution"])


# --------------------------------------------------------------------------- bad input


def test_bad_input_names_the_problem_rows():
    table = _table(("A", "isolement_contention", 2023, 50, 40),
                   ("A", "soins_sans_consentement", 2023, -3, 1000),
                   ("B", "isolement_contention", 2023, 5, 40),
                   ("B", "isolement_contention", 2023, 6, 40))
    with pytest.raises(InputError) as caught:
        compute_indicator_values(table, regions=REGIONS)
    problems = caught.value.problems
    assert {p.column for p in problems} == {"numerateur", None}
    assert any("supérieur au dénominateur" in p.message for p in problems)
    assert any("négatif" in p.message for p in problems)
    assert any("double" in p.message for p in problems)


def test_unknown_indicator_and_territory_without_region():
    with pytest.raises(UnknownCodeError, match="taux_inconnu"):
        compute_indicator_values(_table(("A", "taux_inconnu", 2023, 1, 2)), regions=REGIONS)
    with pytest.raises(UnknownCodeError, match="Z"):
        compute_indicator_values(_table(("Z", "isolement_contention", 2023, 40, 400)),
                                 regions=REGIONS)


# --------------------------------------------------------------------------- rosace table


def test_rosace_table_has_every_rosace_indicator_in_catalogue_order():
    table = pd.concat([THREE, _table(("A", "isolement_contention", 2022, 40, 400),
                                     ("A", "isolement_contention", 2023, None, None))])
    values = compute_indicator_values(table, regions=REGIONS)
    rosace = rosace_table(values, "A", reference="region")
    catalog = load_indicator_catalog()
    assert rosace["indicateur"].tolist() == [i.id for i in catalog.values() if i.in_rosace]
    assert (rosace.loc[rosace["indicateur"] == "densite_cmp", "statut"] == "manquant").all()
    isolement = rosace[rosace["indicateur"] == "isolement_contention"].iloc[0]
    assert isolement["annee"] == 2022  # latest year with a value for this territory
    assert isolement["reference_label"] == "région 11"
    ssc = rosace[rosace["indicateur"] == "soins_sans_consentement"].iloc[0]
    assert ssc["reference"] == pytest.approx(800 / 300000 * 1e5)
    assert ssc["index"] == pytest.approx(100 * ssc["reference"] / ssc["value"])
    with pytest.raises(UnknownCodeError):
        rosace_table(values, "ZZ")
    with pytest.raises(UnknownCodeError):
        rosace_table(values, "A", reference="ruraux")


# --------------------------------------------------------------------------- real data


@pytest.mark.shared_data
def test_real_departement_rates_match_their_published_values(shared_data_dir, tmp_path):
    path = shared_data_dir / "derived_indicators" / "indicateurs_derives_dep_sans_29_63.csv"
    if not path.exists():
        pytest.skip("indicateurs dérivés absents")
    data = pd.read_csv(path, dtype={"dep_code": str})
    catalog_file = tmp_path / "catalogue.yaml"
    catalog_file.write_text(
        "indicators:\n"
        "  - {id: sites_chs, label: \"Sites de CHS\", axis: 1, priority: 1,\n"
        "     category: structure, numerator: Sites, denominator: Population,\n"
        "     unit: \"pour 100 000 habitants\", scale: 100000, kind: ratio,\n"
        "     direction: higher_is_better, sources: [FINESS], secrecy: false}\n",
        encoding="utf-8")
    catalog = load_indicator_catalog(catalog_file)
    table = pd.DataFrame({
        "code_territoire": data["dep_code"], "indicateur": "sites_chs", "annee": 2023,
        "numerateur": data["n_sites_chs_maladies_mentales_finess2020"],
        "denominateur": data["pop_total_2023"], "source": "FINESS 2020, INSEE 2023",
    })
    values = compute_indicator_values(table, catalog)
    merged = values.merge(data, left_on="code_territoire", right_on="dep_code")
    assert len(merged) == len(data) == 99
    np.testing.assert_allclose(merged["value"], merged["sites_chs_pour_100k"], atol=6e-4)
    france = data["n_sites_chs_maladies_mentales_finess2020"].sum() / data[
        "pop_total_2023"].sum() * 1e5
    assert values["reference_france"].iloc[0] == pytest.approx(france)
    assert (values["statut"] == "ok").all()
    best = merged.loc[merged["rank"] == 1, "sites_chs_pour_100k"].iloc[0]
    assert best == merged["sites_chs_pour_100k"].max()
