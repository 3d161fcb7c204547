"""What a batch computes once for France equals what each territory computes alone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from ptsm_diag.demo import demo_data_dir
from ptsm_diag.diagnostic import diagnostic_densities, diagnostic_nearest, prepare_diagnostic
from ptsm_diag.io.data_cache import write_data_cache
from ptsm_diag.io.sources import read_folder

# Mainland, Corsica, overseas (971 has the communes attached to it), Paris, small, large.
CODES = ["35", "2A", "971", "974", "75", "48", "59"]


@pytest.fixture(scope="module")
def batch_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lot") / "demo.donnees.zip"
    write_data_cache(read_folder(demo_data_dir()), path)
    return path


@pytest.mark.parametrize("code", CODES)
def test_slices_equal_the_territory_alone(batch_cache: Path, code: str) -> None:
    diag = prepare_diagnostic(code, batch_cache)
    assert diag.national_work is not None
    alone = replace(diag, national_work=None)
    pd.testing.assert_frame_equal(diagnostic_nearest(diag), diagnostic_nearest(alone))
    pd.testing.assert_frame_equal(diagnostic_densities(diag), diagnostic_densities(alone))
    assert len(diag.nearest) > 0 and (diag.densities["code_territoire"] == code).all()


def test_national_work_is_shared_by_the_reports_of_one_cache(batch_cache: Path) -> None:
    first = prepare_diagnostic("35", batch_cache)
    second = prepare_diagnostic("29", batch_cache)
    assert first.national_work is second.national_work


def test_a_folder_report_computes_its_territory_alone() -> None:
    assert prepare_diagnostic("35", demo_data_dir()).national_work is None


def test_a_given_distancier_is_not_replaced_by_the_national_estimate(batch_cache: Path) -> None:
    diag = prepare_diagnostic("35", batch_cache)
    slow = diagnostic_nearest(diag, speed_kmh=30.0)
    assert (slow["temps_min"].dropna() > diag.nearest["temps_min"].dropna()).any()


def test_batch_links_equal_the_folder_links(batch_cache: Path) -> None:
    from ptsm_diag.diagnostic import diagnostic_links

    diag = prepare_diagnostic("35", batch_cache)
    alone = replace(diag, national_work=None)
    assert len(diagnostic_links(diag)) > 0
    pd.testing.assert_frame_equal(diagnostic_links(diag), diagnostic_links(alone))


@pytest.mark.parametrize("code", ["35", "971", "2A"])
def test_batch_diagnostic_equals_the_folder_diagnostic(batch_cache: Path, code: str) -> None:
    batch = prepare_diagnostic(code, batch_cache)
    folder = prepare_diagnostic(code, demo_data_dir())
    assert batch.national_work is not None and folder.national_work is None
    pd.testing.assert_frame_equal(batch.rosace, folder.rosace)
    pd.testing.assert_frame_equal(batch.opendata, folder.opendata)
    assert batch.territory.population_total == folder.territory.population_total
    assert batch.territory.population_year == folder.territory.population_year
    pd.testing.assert_frame_equal(batch.territory.population_by_age,
                                  folder.territory.population_by_age)
    pd.testing.assert_frame_equal(batch.densities, folder.densities)
    pd.testing.assert_frame_equal(batch.nearest, folder.nearest)
    from ptsm_diag.report.sections import gap_analysis

    gaps = gap_analysis(batch).gaps
    assert len(gaps) > 0
    pd.testing.assert_frame_equal(gaps, gap_analysis(folder).gaps)


@pytest.mark.parametrize("reference", ["france", "region"])
def test_rosace_verdicts_of_all_territories_equal_each_rosace_table(reference: str) -> None:
    from ptsm_diag.catalog import load_indicator_catalog
    from ptsm_diag.compute.indicators import (
        compute_indicator_values,
        rosace_table,
        rosace_verdicts,
    )
    from ptsm_diag.compute.territory import main_regions

    data = read_folder(demo_data_dir())
    values = compute_indicator_values(data.indicateurs, load_indicator_catalog(),
                                      main_regions(data.territoires))
    codes = sorted(set(values["code_territoire"]))
    together = rosace_verdicts(values, codes + ["absent"], reference)
    assert set(together["code_territoire"]) == set(codes)
    assert together["verdict"].isin(["moins bon", "meilleur"]).any()
    for code in codes:
        alone = rosace_table(values, code, reference=reference)
        mine = together[together["code_territoire"] == code]
        assert list(mine["indicateur"]) == list(alone["indicateur"])
        assert list(mine["verdict"]) == list(alone["verdict"]), code


@pytest.mark.parametrize("code", ["35", "971", "2A"])
def test_batch_context_card_equals_the_folder_card(batch_cache: Path, code: str) -> None:
    from ptsm_diag.diagnostic import context_table

    batch = prepare_diagnostic(code, batch_cache)
    card = context_table(batch)
    assert card["disponible"].any()
    pd.testing.assert_frame_equal(card, context_table(replace(batch, national_work=None)))
    pd.testing.assert_frame_equal(card, context_table(prepare_diagnostic(code)))


def test_batch_synthesis_equals_the_folder_synthesis(batch_cache: Path) -> None:
    """The synthesis job of a batch reuses the national work and indicator values of its
    kernel: same territories, populations, values and rosaces as from the folder."""
    from ptsm_diag.diagnostic import prepare_synthesis

    batch = prepare_synthesis(batch_cache, region="53")
    folder = prepare_synthesis(demo_data_dir(), region="53")
    assert list(batch.territories) == list(folder.territories) and len(batch.territories) >= 4
    for code, territory in folder.territories.items():
        assert batch.territories[code].population_total == territory.population_total
        pd.testing.assert_frame_equal(batch.territories[code].population_by_age,
                                      territory.population_by_age)
        pd.testing.assert_frame_equal(batch.rosaces[code], folder.rosaces[code])
    pd.testing.assert_frame_equal(batch.indicator_values, folder.indicator_values)
    assert batch.year == folder.year


def _opendata(diag, references, national=None):  # type: ignore[no-untyped-def]
    from ptsm_diag.compute.opendata_indicators import opendata_indicators

    data = diag.data
    return opendata_indicators(
        data.ressources, list(diag.territory.communes["code_commune"]), data.population,
        diag.national if national is None else national, code=diag.territory.code,
        region=diag.territory.region_codes[0],
        national_population=getattr(data, "population_nationale", None),
        references=references)


def test_open_data_references_shared_by_a_batch_equal_each_territory_alone(
        batch_cache: Path) -> None:
    """The références R<région> and FRANCE computed for the first territory of a région
    and read back for the next ones give every territory the rows it computes alone,
    including the reason of an indicator the national table cannot give."""
    shared: dict[tuple, object] = {}
    # two territories per région, so that the second reads the first's references
    codes = ["35", "29", "2A", "2B", "971", "972", "59", "62"]
    diags = [prepare_diagnostic(code, batch_cache) for code in codes]
    national = diags[0].national
    assert national is not None
    # a national table without the Finistère: its région and France are incomplete
    holed = national[national["code_departement"].astype(str) != "29"]
    computed = 0
    for table in (None, holed):
        memo: dict[tuple, object] = {}
        for diag in diags:
            batch = _opendata(diag, shared if table is None else memo, table)
            alone = _opendata(diag, None, table)
            pd.testing.assert_frame_equal(batch.rows, alone.rows)
            pd.testing.assert_frame_equal(batch.notes, alone.notes)
            computed += int(batch.notes["calcule"].sum())
        if table is not None:  # the Finistère's département is named as missing
            reasons = _opendata(diags[1], memo, table).notes["raison"].str.cat(sep=" ")
            assert "table nationale incomplète" in reasons and "29" in reasons
    assert computed > 0
    assert any(key[1] == "R53" for key in shared if key[0] == "numérateur")
