"""Cooperation between sectors (table partenariats), its views and the directory of actors."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from ptsm_diag.compute import cooperation as co
from ptsm_diag.errors import Severity
from ptsm_diag.io.sources import read_folder, validate_folder
from ptsm_diag.report import cooperation as cv
from ptsm_diag.report import directory as di
from ptsm_diag.testing import (
    CHROMIUM_FLAGS,
    assert_offline,
    chromium_path,
    open_in_browser,
    write_csv,
)
from ptsm_diag.viz.offline import map_to_html

RESOURCES = pd.DataFrame([
    ("P1", "chs", "CHS Exemple", "35238"),
    ("C1", "cmp_adultes", "CMP Nord", "35238"),
    ("C2", "cmp_adultes", "CMP Sud", "35288"),
    ("M1", "savs", "SAVS Exemple", "35238"),
    ("M2", "samsah", "SAMSAH Exemple", "35238"),
    ("M3", "esat", "ESAT Exemple", "35288"),
    ("S1", "chrs", "CHRS Exemple", "35238"),
    ("S2", "pension_famille", "Pension de famille Exemple", "35288"),
    ("V1", "msp", "MSP Exemple", "35115"),
    ("G1", "gem", "GEM <b>Exemple</b>", "35115"),
], columns=["id_ressource", "type_ressource", "nom", "code_commune"])

LINK_COLUMNS = ["id_lien", "id_ressource_1", "nom_acteur_1", "type_acteur_1", "id_ressource_2",
                "nom_acteur_2", "type_acteur_2", "type_lien", "date_debut", "date_fin",
                "frequence", "note"]
LINKS = pd.DataFrame([
    ("L1", "C1", "", "", "M1", "", "", "convention", "2020-01-01", "", "annuelle", ""),
    ("L2", "C1", "", "", "S1", "", "", "equipe_mobile", "2021-01-01", "", "hebdomadaire", ""),
    ("L3", "P1", "", "", "M2", "", "", "echange_pratiques", "2019-01-01", "2022-12-31", "",
     ""),
    ("L4", "C2", "", "", "M3", "", "", "stage_immersion", "2025-01-01", "", "ponctuelle", ""),
    ("L5", "M1", "", "", "S2", "", "", "convention", "2018-05-01", "", "annuelle", ""),
    ("L6", "C2", "", "", "", "Mission locale de Saint-Malo", "autre", "convention",
     "01/06/2024", "", "annuelle", ""),
    ("L7", "V1", "", "", "P1", "", "", "dossier_partage", "2026-01-01", "", "continue", ""),
    ("L8", "C1", "", "", "P1", "", "", "concertation", "2020-01-01", "", "mensuelle", ""),
], columns=LINK_COLUMNS)
DAY = "2025-01-01"


def _folder(tmp: Path, links: pd.DataFrame | None = LINKS,
            resources: pd.DataFrame | None = RESOURCES) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    if resources is not None:
        write_csv(resources, tmp / "ressources.csv")
    if links is not None:
        write_csv(links, tmp / "partenariats.csv")
    return tmp


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> tuple[pd.DataFrame, pd.DataFrame]:
    data = read_folder(_folder(tmp_path_factory.mktemp("coop")))
    return data.partenariats, data.ressources


def _values(table: pd.DataFrame) -> dict[str, tuple[float, float, float]]:
    return {row.indicateur: (row.numerateur, row.denominateur, row.valeur)
            for row in table.itertuples()}


# --------------------------------------------------------------------------- indicators


def test_link_table_resolves_actors_and_one_off_links(tables) -> None:
    links = co.link_table(*tables).set_index("id_lien")
    assert links.loc["L6", "acteur_2"] == "libre:mission locale de saint-malo"
    assert links.loc["L6", "champ_2"] == "social"  # from type_acteur_2 = autre
    assert links.loc["L1", "nom_2"] == "SAVS Exemple"
    assert links.loc["L1", "champ_2"] == "medico-social"
    assert links.loc["L4", "fin"] == pd.Timestamp(DAY)  # ponctuelle: its start date only
    assert pd.isna(links.loc["L1", "fin"])
    assert list(co.active_links(co.link_table(*tables), DAY)["id_lien"]) == \
        ["L1", "L2", "L4", "L5", "L6", "L8"]


def test_cooperation_indicators_of_a_constructed_territory(tables) -> None:
    values = _values(co.cooperation_indicators(*tables, at=DAY))
    assert values["part_ms_social_lien_psy"] == (3, 5, 60.0)  # M1, M3, S1 of M1-3, S1-2
    assert values["part_ms_lien_psy"][:2] == (2, 3)
    assert values["part_social_lien_psy"] == (1, 2, 50.0)
    assert values["part_cmp_lien_ms_et_social"] == (2, 2, 100.0)  # C2: ESAT + free actor
    assert values["part_structures_isolees"] == (3, 10, 30.0)  # M2, V1, G1
    assert values["liens_actifs"][0] == 6
    assert values["liens_intersectoriels"][0] == 5  # L8 is sanitaire–sanitaire
    assert np.isnan(values["liens_actifs"][1])

    next_day = _values(co.cooperation_indicators(*tables, at="2025-01-02"))
    assert next_day["part_ms_social_lien_psy"][:2] == (2, 5)  # the immersion is over
    assert next_day["part_cmp_lien_ms_et_social"][:2] == (1, 2)


def test_territory_restricts_the_denominators(tables) -> None:
    partenariats, ressources = tables
    local = ressources[ressources["code_commune"] == "35288"]  # C2, M3, S2
    values = _values(co.cooperation_indicators(partenariats, ressources, local, at=DAY))
    assert values["part_ms_social_lien_psy"][:2] == (1, 2)  # M3 yes, S2 only with M1
    assert values["part_cmp_lien_ms_et_social"][:2] == (1, 1)
    assert values["liens_actifs"][0] == 3  # L4, L5 (S2–M1, partner outside), L6
    empty = _values(co.cooperation_indicators(partenariats, ressources,
                                              ressources.iloc[:0], at=DAY))
    assert np.isnan(empty["part_ms_social_lien_psy"][2])


def test_sector_matrix_is_symmetric_with_intra_champ_on_the_diagonal(tables) -> None:
    matrix = co.sector_matrix(*tables, at=DAY, labels=False)
    assert list(matrix.index) == ["sanitaire", "medico-social", "social", "ville", "usagers",
                                  "coordination"]
    assert (matrix.to_numpy() == matrix.to_numpy().T).all()
    assert matrix.loc["sanitaire", "medico-social"] == 2  # L1, L4
    assert matrix.loc["sanitaire", "social"] == 2  # L2, L6
    assert matrix.loc["medico-social", "social"] == 1  # L5
    assert matrix.loc["sanitaire", "sanitaire"] == 1  # L8
    assert matrix.to_numpy().sum() == 2 * 5 + 1
    labelled = co.sector_matrix(*tables, at=DAY)
    assert labelled.loc["Sanitaire", "Médico-social"] == 2


def test_isolated_actors_and_evolution(tables) -> None:
    isolated = co.isolated_actors(*tables, at=DAY)
    assert set(isolated["id_ressource"]) == {"M2", "V1", "G1"}
    assert isolated.set_index("id_ressource").loc["M2", "liens_passes"] == 1
    assert isolated.set_index("id_ressource").loc["V1", "liens_passes"] == 1  # L7, future
    evolution = co.cooperation_evolution(*tables, dates=["2021-06-01", DAY, "2026-02-01"])
    share = evolution[evolution["indicateur"] == "part_ms_social_lien_psy"]
    assert list(share["numerateur"]) == [3, 3, 2]  # M1, S1, M2 (L3) in 2021
    links = co.link_table(*tables)
    assert co.default_dates(links, DAY) == [pd.Timestamp(f"{y}-01-01") for y in
                                            range(2018, 2025)] + [pd.Timestamp(DAY)]


def _brute_force(links: pd.DataFrame, local: pd.DataFrame, day: pd.Timestamp
                 ) -> dict[str, tuple[float, float]]:
    """The indicators of the module's docstring, link by link in plain Python."""
    ids = set(local["id_ressource"])
    champ = dict(zip(local["id_ressource"], local["champ"], strict=True))
    psy, ms, social, linked = set(), set(), set(), set()
    active = cross = 0
    for link in links.itertuples():
        started = pd.isna(link.debut) or link.debut <= day
        not_ended = pd.isna(link.fin) or link.fin >= day
        if not (started and not_ended) or link.acteur_1 == link.acteur_2:
            continue
        if link.acteur_1 not in ids and link.acteur_2 not in ids:
            continue
        active += 1
        cross += link.champ_1 != link.champ_2
        for actor, kind, partner_champ in ((link.acteur_1, link.type_2, link.champ_2),
                                           (link.acteur_2, link.type_1, link.champ_1)):
            if actor in ids:
                linked.add(actor)
                if kind in co.PSYCHIATRIC_TYPES:
                    psy.add(actor)
                if partner_champ == "medico-social":
                    ms.add(actor)
                if partner_champ == "social":
                    social.add(actor)
    medico = {i for i in ids if champ[i] == "medico-social"}
    soc = {i for i in ids if champ[i] == "social"}
    cmps = set(local.loc[local["type_ressource"].isin(co.CMP_TYPES), "id_ressource"])
    return {"part_ms_social_lien_psy": (len((medico | soc) & psy), len(medico | soc)),
            "part_ms_lien_psy": (len(medico & psy), len(medico)),
            "part_social_lien_psy": (len(soc & psy), len(soc)),
            "part_cmp_lien_ms_et_social": (len(cmps & ms & social), len(cmps)),
            "part_structures_isolees": (len(ids - linked), len(ids)),
            "liens_actifs": (active, np.nan), "liens_intersectoriels": (cross, np.nan)}


def test_evolution_equals_a_link_by_link_count_on_every_demo_territory() -> None:
    from ptsm_diag.demo import demo_data_dir
    from ptsm_diag.diagnostic import prepare_diagnostic

    data = read_folder(demo_data_dir())
    links = co.link_table(data.partenariats, data.ressources)
    checked = 0
    for code in ("35", "59", "971", "2A", "48"):
        local = prepare_diagnostic(code).resources
        days = co.default_dates(links, "2026-06-30")
        evolution = co.cooperation_evolution(data.partenariats, data.ressources, local,
                                             dates=days, links=links)
        for day, rows in evolution.groupby("date"):
            expected = _brute_force(links, local, day)
            got = {r.indicateur: (r.numerateur, r.denominateur) for r in rows.itertuples()}
            assert got.keys() == expected.keys()
            for name, (num, den) in expected.items():
                assert got[name][0] == num, (code, day, name)
                assert got[name][1] == den or (np.isnan(den) and np.isnan(got[name][1]))
                checked += 1
    assert checked > 5 * 7 * 5


def test_without_partnerships_everything_is_empty(tables) -> None:
    _partenariats, ressources = tables
    values = _values(co.cooperation_indicators(None, ressources, at=DAY))
    assert values["part_ms_social_lien_psy"] == (0, 5, 0.0)
    assert values["part_structures_isolees"] == (10, 10, 100.0)
    assert co.sector_matrix(None, ressources, at=DAY).to_numpy().sum() == 0


# --------------------------------------------------------------------------- validation


def _problems(report, file: str = "partenariats.csv") -> list:
    return [p for p in report.problems if p.file == file]


def test_a_folder_without_partenariats_stays_valid(tmp_path) -> None:
    report = validate_folder(_folder(tmp_path, links=None))
    assert report.problems == [] and not report.has_errors
    assert read_folder(tmp_path).partenariats is None


def test_bad_rows_give_clear_french_errors(tmp_path) -> None:
    bad = pd.DataFrame([
        ("B1", "X99", "", "", "M1", "", "", "convention", "2020-01-01", "", "annuelle", ""),
        ("B2", "C1", "", "", "", "", "", "convention", "2020-01-01", "", "annuelle", ""),
        ("B3", "C1", "", "", "M1", "", "", "convention", "2024-01-01", "2023-01-01", "", ""),
        ("B4", "C1", "", "", "M1", "", "", "conventon", "2020-01-01", "", "annuelle", ""),
        ("B5", "C1", "", "", "C1", "", "", "convention", "2020-01-01", "", "annuelle", ""),
        ("B6", "C1", "", "", "M1", "", "", "convention", "2020-01-01", "", "", ""),
        ("B7", "C1", "", "", "", "Mme Martin", "", "convention", "2020-01-01", "",
         "annuelle", ""),
        ("B1", "C1", "", "", "M1", "", "", "convention", "2020-01-01", "", "annuelle", ""),
    ], columns=LINK_COLUMNS)
    report = validate_folder(_folder(tmp_path, links=bad))
    found = {(p.row, p.column, p.severity): p for p in _problems(report)}
    unknown = found[(2, "id_ressource_1", Severity.ERREUR)]
    assert "inconnu" in unknown.message and "ressources.csv" in unknown.message
    assert unknown.value == "id_ressource_1=X99"
    assert "nom_acteur_1" in unknown.expected
    assert "acteur 2 non désigné" in found[(3, "id_ressource_2", Severity.ERREUR)].message
    assert "date de fin" in found[(4, "date_fin", Severity.ERREUR)].message
    assert "convention" in found[(5, "type_lien", Severity.ERREUR)].message  # suggestion
    assert "identiques" in found[(6, "id_ressource_2", Severity.ERREUR)].message
    assert found[(7, "frequence", Severity.AVERTISSEMENT)]
    assert "personne" in found[(8, "nom_acteur_2", Severity.AVERTISSEMENT)].message
    assert "ligne 2" in found[(9, "id_lien", Severity.ERREUR)].message
    counts = report.counts().set_index("table").loc["partenariats"]
    assert (counts["lues"], counts["acceptees"], counts["rejetees"]) == (8, 2, 6)
    assert "partenariats.csv" in unknown.to_french() and "ligne 2" in unknown.to_french()


def test_partenariats_without_ressources_warns_that_ids_are_not_checked(tmp_path) -> None:
    report = validate_folder(_folder(tmp_path, resources=None))
    assert not report.has_errors
    assert any("non vérifiés" in p.message and p.severity == Severity.AVERTISSEMENT
               for p in report.folder_problems)


# --------------------------------------------------------------------------- demo data


def test_demo_partnerships_are_deterministic_and_valid() -> None:
    from ptsm_diag.demo import _communes, demo_partnerships

    communes = _communes()
    communes = communes[communes["code_departement"] == "22"]
    resources = pd.DataFrame([
        {"id_ressource": f"D{i}", "type_ressource": t, "champ": c, "public": "adultes",
         "code_commune": code, "longitude": "", "latitude": ""}
        for i, (t, c, code) in enumerate([
            ("cmp_adultes", "sanitaire", "22278"), ("chs", "sanitaire", "22278"),
            ("savs", "medico-social", "22113"), ("chrs", "social", "22278"),
            ("esat", "medico-social", "22050"), ("gem", "usagers", "22113")] * 4)])
    first = demo_partnerships(resources, communes, np.random.default_rng(7))
    again = demo_partnerships(resources, communes, np.random.default_rng(7))
    pd.testing.assert_frame_equal(first, again)
    assert len(first) > 0
    assert set(first["type_lien"]) <= set(cv.vocabulary_labels("types_lien"))


@pytest.fixture(scope="module")
def demo_diag():
    from ptsm_diag.diagnostic import prepare_diagnostic

    return prepare_diagnostic("35")


def test_demo_territory_has_partnerships_and_a_section(demo_diag) -> None:
    assert demo_diag.data.partenariats is not None and len(demo_diag.data.partenariats) > 1000
    problems = [p for p in demo_diag.data.problems if "partenariats" in p.file]
    assert problems == []
    summary = cv.cooperation_summary(demo_diag, at="2025-06-30")
    assert isinstance(summary, pd.DataFrame) and len(summary) == len(co.INDICATORS)
    assert list(summary.columns) == ["Indicateur (processus)", "Au 30/06/2025", "Détail"]
    assert re.fullmatch(r"\d+,\d %", summary.iloc[0, 1])
    assert re.fullmatch(r"\d+ sur \d+", summary.iloc[0, 2])
    intro = cv.cooperation_intro(demo_diag, at="2025-06-30")
    assert "30/06/2025" in intro
    assert isinstance(cv.sector_matrix_figure(demo_diag), cv.go.Figure)
    assert isinstance(cv.cooperation_evolution_figure(demo_diag), cv.go.Figure)
    isolated = cv.isolated_actors_table(demo_diag)
    assert list(isolated.columns) == ["Champ", "Type", "Structure", "Commune",
                                      "Liens passés ou à venir"]


def test_section_functions_without_partnerships_return_a_note(demo_diag) -> None:
    import dataclasses

    diag = dataclasses.replace(demo_diag, data=dataclasses.replace(demo_diag.data,
                                                                   partenariats=None))
    for function in (cv.cooperation_summary, cv.cooperation_map, cv.sector_matrix_figure,
                     cv.cooperation_evolution_figure, cv.isolated_actors_table,
                     cv.cooperation_intro, cv.network_slide):
        assert function(diag) == cv.NO_DATA_NOTE


# --------------------------------------------------------------------------- views and files


def test_network_map_escapes_names_and_is_offline(tables) -> None:
    import geopandas as gpd

    from ptsm_diag.catalog.geography import load_communes
    from ptsm_diag.compute.resources import locate_resources

    partenariats, ressources = tables
    communes = load_communes()
    communes = communes[communes["code_commune"].str.startswith("35")]
    actors = locate_resources(ressources, communes)
    links = co.active_links(co.link_table(partenariats, ressources), DAY)
    page = map_to_html(cv.network_map(links, actors, communes, day="01/01/2025"))
    assert_offline(page)
    # HTML-escaped, then written as a JavaScript string (< as \x3c)
    assert "GEM <b>Exemple</b>" not in page and "GEM &lt;b&gt;Exemple" in page
    assert "Convention de partenariat (2)" in page  # L1, L5 (L6's partner is not located)
    assert "1 lien(s) avec un partenaire non localisé" in page
    assert isinstance(actors, gpd.GeoDataFrame)


def test_directory_table_keeps_only_public_columns(tables) -> None:
    _partenariats, ressources = tables
    frame = ressources.assign(telephone="02 99 00 00 00", courriel="jean.dupont@example.org",
                              site_web="https://exemple.fr", referent="Dr Dupont")
    table = di.directory_table(frame)
    assert "Téléphone" in table and "Site internet" in table
    assert not any("dupont" in str(v).lower() for v in table.to_numpy().ravel())
    assert list(table["Champ"].drop_duplicates()) == ["Sanitaire", "Médico-social", "Social",
                                                      "Ville (soins primaires)",
                                                      "Associatif / usagers"]
    page = di.directory_html(table, "Annuaire <test>")
    assert "<title>Annuaire &lt;test&gt;</title>" in page
    assert "GEM <b>" not in page and 'href="https://exemple.fr"' in page
    assert_offline(page)
    assert "<script src" not in page and "<link" not in page


def test_directory_xlsx_is_printable(tmp_path, tables) -> None:
    _partenariats, ressources = tables
    path = di.write_directory_xlsx(di.directory_table(ressources), tmp_path / "a.xlsx",
                                   "Annuaire test", "sous-titre")
    assert [p.name for p in tmp_path.iterdir()] == ["a.xlsx"]  # no temporary file left
    sheet = load_workbook(path)["Annuaire"]
    assert sheet["A1"].value == "Annuaire test"
    assert [c.value for c in sheet[4]][:4] == ["Champ", "Type", "Structure", "Commune"]
    assert sheet.max_row == 4 + len(ressources)
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.page_setup.fitToWidth == 1 and sheet.freeze_panes == "A5"
    assert sheet.print_title_rows == "$4:$4"


# --------------------------------------------------------------------------- browser

needs_chromium = pytest.mark.skipif(chromium_path() is None, reason="Chromium absent")


@needs_chromium
def test_demo_network_map_opens_offline_without_script_errors(tmp_path, demo_diag) -> None:
    path = cv.write_network_map(demo_diag, tmp_path / "reseau.html")
    page = path.read_text(encoding="utf-8")
    assert_offline(page)
    seen = open_in_browser(path)
    assert seen.script_errors == []
    assert seen.leaflet_maps == 1
    assert "leaflet-interactive" in seen.dom  # links and markers were drawn


@needs_chromium
def test_demo_directory_opens_offline_and_its_search_filters(tmp_path, demo_diag) -> None:
    paths = di.write_directory(demo_diag, tmp_path)
    page = paths["html"].read_text(encoding="utf-8")
    assert_offline(page)
    seen = open_in_browser(paths["html"])
    assert seen.script_errors == []
    total = page.count("<tr data-champ=")
    assert f"{total} structure(s) affichée(s) sur {total}" in seen.dom

    texts = re.findall(r'data-texte="([^"]*)"', page)
    expected = sum("cmp" in t for t in texts)
    assert 0 < expected < total
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [chromium_path(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom",
             paths["html"].resolve().as_uri() + "?q=CMP"],
            capture_output=True, text=True, timeout=180, check=False).stdout
    rows = re.findall(r"<tr data-champ=[^>]*>", dom)
    visible = [r for r in rows if " hidden" not in r]
    assert len(rows) == total and len(visible) == expected
    assert f"{expected} structure(s) affichée(s) sur {total}" in dom
