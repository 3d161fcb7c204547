"""Gap analysis on constructed territories whose expected gaps are known."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest

from ptsm_diag.catalog import load_indicator_catalog, load_resource_types
from ptsm_diag.compute.cooperation import INDICATORS as COOPERATION_INDICATORS
from ptsm_diag.compute.gaps import (
    GAP_COLUMNS,
    SOURCES,
    GapInputs,
    accessibility_gaps,
    compute_gaps,
    cooperation_gaps,
    density_gaps,
    indicator_gaps,
    knowledge_gaps,
    load_gap_config,
    prestation_gaps,
    roadmap_gaps,
)
from ptsm_diag.compute.indicators import compute_indicator_values, rosace_table
from ptsm_diag.compute.territory import build_territory
from ptsm_diag.diagnostic import Diagnostic
from ptsm_diag.errors import CatalogError
from ptsm_diag.io.sources import DataFolder
from ptsm_diag.report.gaps import (
    ACTION_COLUMN,
    export_gaps_csv,
    export_gaps_xlsx,
    gap_analysis,
    gap_inputs,
    gap_section_html,
    gap_table,
    summary_by_axis,
    summary_by_priority,
    zones_blanches_map,
)

NBSP = "\u202f"  # thousands separator of display.format_number
POPULATION = 100_000
HOSTILE = '<script>alert("x")</script>'


@pytest.fixture(scope="module")
def config():
    return load_gap_config()


@pytest.fixture(scope="module")
def rosace() -> pd.DataFrame:
    """T1 vs France: rehospit_15j significantly worse; hospit_long_cours worse, not
    significantly (small counts); suivi_15j_sortie better."""
    rows = [
        ("T1", "rehospit_15j", 300, 2000), ("FRANCE", "rehospit_15j", 1000, 10000),
        ("T1", "hospit_long_cours", 22, 500), ("FRANCE", "hospit_long_cours", 400, 10000),
        ("T1", "suivi_15j_sortie", 800, 1000), ("FRANCE", "suivi_15j_sortie", 6000, 10000),
    ]
    table = pd.DataFrame(rows, columns=["code_territoire", "indicateur", "numerateur",
                                        "denominateur"]).assign(annee=2023)
    values = compute_indicator_values(table, secrecy_threshold=None)
    return rosace_table(values, "T1")


def _densities(savs_gap: float = -70.0, esat_gap: float = -10.0, label: str = "SAVS"):
    return pd.DataFrame([
        {"code_territoire": "T1", "type_ressource": "savs", "libelle": label,
         "champ": "medico-social", "public": "adultes", "population_ref_age": "18-64",
         "nombre": 1, "capacite": 30, "densite_nombre": 1.6, "densite_capacite": 0.48,
         "reference": "France", "code_reference": "FRANCE", "densite_nombre_reference": 2.0,
         "densite_capacite_reference": 1.6, "ecart_nombre_pct": -20.0,
         "ecart_capacite_pct": savs_gap},
        {"code_territoire": "T1", "type_ressource": "esat", "libelle": "ESAT",
         "champ": "medico-social", "public": "adultes", "population_ref_age": "18-64",
         "nombre": 2, "capacite": 150, "densite_nombre": 3.2, "densite_capacite": 2.4,
         "reference": "France", "code_reference": "FRANCE", "densite_nombre_reference": 3.0,
         "densite_capacite_reference": 2.67, "ecart_nombre_pct": 6.7,
         "ecart_capacite_pct": esat_gap},
    ])


# Every prestation of the panier but « soins intensifs à domicile ».
RESOURCES = pd.DataFrame({
    "id_ressource": [f"R{i}" for i in range(8)],
    "type_ressource": ["chs", "cmp_adultes", "centre_crise", "msp", "clsm", "gem", "savs",
                       "esat"],
    "prestations": [None] * 8,
})


def _accessibility() -> pd.DataFrame:
    return pd.DataFrame({
        "code_commune": ["35024", "35047", "35238", "35024", "35047", "35238"],
        "type_ressource": ["cmp_adultes"] * 3 + ["msp"] * 3,
        "distance_km": [40.0, 55.0, 3.0, 2.0, 3.0, 1.0],
        "temps_min": [50.0, 60.0, 8.0, 5.0, 6.0, 4.0],
        "source_temps": ["route"] * 6,
        "population": [10_000, 8_400, 5_000, 10_000, 8_400, 5_000],
    })


def _cooperation(ms_social: tuple[int, int] = (39, 98), cmp: tuple[int, int] = (18, 24)
                 ) -> pd.DataFrame:
    """Output of cooperation_indicators: médico-social/social linked to psychiatry 39,8 %
    (below the 50 % of gaps.yaml), CMPs linked to both sectors 75 % (above)."""
    counts = {"part_ms_social_lien_psy": ms_social, "part_ms_lien_psy": (30, 60),
              "part_social_lien_psy": (9, 38), "part_cmp_lien_ms_et_social": cmp,
              "part_structures_isolees": (40, 150), "liens_actifs": (80, None),
              "liens_intersectoriels": (60, None)}
    return pd.DataFrame([
        {"indicateur": code, "libelle": COOPERATION_INDICATORS[code], "numerateur": num,
         "denominateur": float("nan") if den is None else float(den),
         "valeur": float(num) if den is None else (100 * num / den if den else float("nan")),
         "unite": "liens" if den is None else "%"}
        for code, (num, den) in counts.items()])


def _inputs(**kwargs) -> GapInputs:
    return GapInputs(territory="T1", population_total=POPULATION,
                     population_by_age={"18-64": 60_000}, **kwargs)


# --------------------------------------------------------------------------- sources


def test_significant_indicator_gap_only(rosace, config):
    gaps = indicator_gaps(_inputs(rosace=rosace), config)
    assert list(gaps.columns) == GAP_COLUMNS
    assert list(gaps["code_objet"]) == ["rehospit_15j"]  # not the non-significant one
    row = gaps.iloc[0]
    assert row["significativite"] == "intervalle"
    assert row["valeur"] == pytest.approx(15.0)
    assert row["reference"] == pytest.approx(10.0)
    assert row["ampleur"] == pytest.approx(0.5)
    assert row["priorite_ptsm"] == 2 and row["axe_anap"] == 2
    assert "15 % contre 10 % pour la référence France" in row["constat"]
    # the point value of hospit_long_cours is worse, but its interval includes France
    long_stay = rosace.set_index("indicateur").loc["hospit_long_cours"]
    assert long_stay["value"] > long_stay["reference"]
    assert long_stay["verdict"] == "comparable"


def test_indicator_threshold_from_config(rosace):
    strict = load_gap_config(overrides={"seuils": {"indicateur": {"ecart_relatif_min": 0.6}}})
    assert indicator_gaps(_inputs(rosace=rosace), strict).empty


def test_density_far_below_reference(config):
    gaps = density_gaps(_inputs(densities=_densities()), config)
    assert list(gaps["code_objet"]) == ["savs"]
    row = gaps.iloc[0]
    assert row["ampleur"] == pytest.approx(0.7)
    assert row["valeur"] == pytest.approx(0.48) and row["reference"] == pytest.approx(1.6)
    assert row["population_concernee"] == 60_000  # population of the reference age band
    assert row["priorite_ptsm"] == 2
    assert row["severite"] == pytest.approx(0.7 * math.log10(60_001))
    assert "70 % de moins" in row["constat"]


def test_density_population_from_densities_module(config):
    """ptsm_diag.compute.densities gives the population counted and the band separately."""
    frame = _densities().assign(population_ref_age=[62_500, 62_500], tranche_age="18+")
    row = density_gaps(_inputs(densities=frame), config).iloc[0]
    assert row["population_concernee"] == 62_500
    assert "pour 100 000 habitants de 18 ans ou plus" in row["constat"]


def test_density_threshold_changes_result():
    low = load_gap_config(overrides={"seuils": {"densite": {"ecart_min_pct": 5}}})
    high = load_gap_config(overrides={"seuils": {"densite": {"ecart_min_pct": 80}}})
    count = load_gap_config(overrides={"seuils": {"densite": {"mesure": "nombre"}}})
    assert set(density_gaps(_inputs(densities=_densities()), low)["code_objet"]) == {
        "savs", "esat"}
    assert density_gaps(_inputs(densities=_densities()), high).empty
    assert density_gaps(_inputs(densities=_densities()), count).empty  # −20 % in number


def test_missing_prestation(config):
    gaps = prestation_gaps(_inputs(resources=RESOURCES), config)
    assert list(gaps["code_objet"]) == ["soins_intensifs_domicile"]
    row = gaps.iloc[0]
    assert row["priorite_ptsm"] == 4 and row["axe_anap"] == 5
    assert row["severite"] == pytest.approx(1.2 * math.log10(1 + POPULATION))
    assert row["niveau_severite"] == "élevée"
    assert "SAMSAH" in row["constat"]
    declared = RESOURCES.assign(prestations=[
        "soins_specialises|hospitalisation|crise_ambulatoire|rehabilitation|"
        "soins_intensifs_domicile"]
        + [None] * 7)
    assert prestation_gaps(_inputs(resources=declared), config).empty
    # A resource that declares its prestations offers those only, not all of its type's:
    # a CHS declaring outpatient care alone leaves full-time hospitalisation uncovered.
    only_outpatient = RESOURCES.assign(prestations=["soins_specialises"] + [None] * 7)
    missing = set(prestation_gaps(_inputs(resources=only_outpatient), config)["code_objet"])
    assert "hospitalisation" in missing
    unchecked = load_gap_config(overrides={
        "prestations": {"soins_intensifs_domicile": {"verifier": False}}})
    assert prestation_gaps(_inputs(resources=RESOURCES), unchecked).empty


def test_white_zone_with_known_population(config):
    gaps = accessibility_gaps(_inputs(accessibility=_accessibility()), config)
    assert list(gaps["code_objet"]) == ["cmp_adultes"]
    row = gaps.iloc[0]
    assert row["population_concernee"] == 18_400
    assert row["nombre_communes"] == 2
    assert row["communes_concernees"] == "35024, 35047"
    assert row["valeur"] == pytest.approx(100 * 18_400 / 23_400)
    assert f"2 communes, 18{NBSP}400 habitants" in row["constat"]
    assert "sont à plus de 45 min" in row["constat"] and "CMP adultes" in row["constat"]


def test_white_zone_threshold_changes_result():
    relaxed = load_gap_config(overrides={
        "seuils": {"accessibilite": {"temps_max_par_type": {"cmp_adultes": 55}}}})
    row = accessibility_gaps(_inputs(accessibility=_accessibility()), relaxed).iloc[0]
    assert row["population_concernee"] == 8_400 and row["nombre_communes"] == 1
    assert "1 commune, 8" in row["constat"] and "est à plus de 55 min" in row["constat"]
    strict = load_gap_config(overrides={"seuils": {"accessibilite": {"temps_max_min": 5,
                                                                      "temps_max_par_type": {}}}})
    # with an empty per-type map merged into the default one, the msp threshold stays 30
    assert set(accessibility_gaps(_inputs(accessibility=_accessibility()), strict)[
        "code_objet"]) == {"cmp_adultes"}


def test_cooperation_share_below_threshold(config):
    gaps = cooperation_gaps(_inputs(cooperation=_cooperation()), config)
    assert list(gaps.columns) == GAP_COLUMNS
    assert list(gaps["code_objet"]) == ["part_ms_social_lien_psy"]  # not the CMPs (75 %)
    row = gaps.iloc[0]
    assert row["nature"] == "cooperation"
    assert row["sujet"] == COOPERATION_INDICATORS["part_ms_social_lien_psy"]
    assert row["constat"] == ("39,8 % des structures médico-sociales et sociales (39 sur 98) "
                              "ont un lien actif avec un service de psychiatrie ; repère "
                              "local de 50 % (choix du territoire fixé dans gaps.yaml, aucune "
                              "norme nationale).")
    assert row["valeur"] == pytest.approx(100 * 39 / 98)
    assert row["reference"] == 50 and row["seuil"] == 50 and row["unite"] == "%"
    assert row["reference_libelle"].startswith("repère local")
    assert "aucune norme nationale" in row["reference_libelle"]
    assert row["significativite"] == "constat"
    assert row["population_concernee"] == POPULATION
    assert row["priorite_ptsm"] == 2 and row["theme_action"] == 1
    assert pd.isna(row["axe_anap"])
    ampleur = (50 - 100 * 39 / 98) / 50
    assert row["ampleur"] == pytest.approx(ampleur)
    assert row["severite"] > 0
    assert row["severite"] == pytest.approx(ampleur * math.log10(1 + POPULATION))
    # no structure of a kind (denominator 0): never a gap
    assert cooperation_gaps(_inputs(cooperation=_cooperation(ms_social=(0, 0))), config).empty


def test_cooperation_threshold_changes_result():
    lower = load_gap_config(overrides={
        "seuils": {"cooperation": {"part_min_pct": {"part_ms_social_lien_psy": 30}}}})
    assert cooperation_gaps(_inputs(cooperation=_cooperation()), lower).empty
    higher = load_gap_config(overrides={"seuils": {"cooperation": {"part_min_pct": {
        "part_cmp_lien_ms_et_social": 80, "part_social_lien_psy": 25}}}})
    gaps = cooperation_gaps(_inputs(cooperation=_cooperation()), higher)
    assert set(gaps["code_objet"]) == {"part_ms_social_lien_psy",
                                       "part_cmp_lien_ms_et_social", "part_social_lien_psy"}
    cmp = gaps.set_index("code_objet").loc["part_cmp_lien_ms_et_social"]
    assert cmp["theme_action"] == 4 and cmp["reference"] == 80
    assert cmp["constat"] == ("75 % des CMP (18 sur 24) sont liés à au moins une structure "
                              "médico-sociale et à au moins une structure sociale ; repère "
                              "local de 80 % (choix du territoire fixé dans gaps.yaml, aucune "
                              "norme nationale).")
    weightless = load_gap_config(overrides={"poids": {"nature": {"cooperation": 0}}})
    row = cooperation_gaps(_inputs(cooperation=_cooperation()), weightless).iloc[0]
    assert row["severite"] == 0 and row["niveau_severite"] == "information"


def test_cooperation_absent_is_not_run(config):
    assert cooperation_gaps(_inputs(), config) is None
    analysis = compute_gaps(_inputs(resources=RESOURCES))
    assert analysis.skipped["cooperation"] == "la table partenariats est absente"
    assert "cooperation" not in analysis.sources_run
    ran = compute_gaps(_inputs(resources=RESOURCES, cooperation=_cooperation()))
    assert "cooperation" in ran.sources_run and "cooperation" not in ran.skipped
    assert (ran.gaps["nature"] == "cooperation").sum() == 1


def test_cooperation_informs_parcours_point(config):
    without = knowledge_gaps(_inputs(), config)
    assert "R3224-3-4" in set(without["code_objet"])
    informed = knowledge_gaps(_inputs(cooperation=_cooperation()), config)
    assert "R3224-3-4" not in set(informed["code_objet"])


def test_knowledge_gaps(config):
    nothing = knowledge_gaps(_inputs(), config)
    points = nothing[nothing["code_objet"].str.startswith("R3224-3-")]
    assert len(points) == 10
    assert nothing["donnees_a_recueillir"].notna().all()
    some = knowledge_gaps(_inputs(resources=RESOURCES), config)
    # centre de crise informs point 9; nothing informs point 6 (droits)
    assert "R3224-3-9" not in set(some["code_objet"])
    assert "R3224-3-6" in set(some["code_objet"])
    access = knowledge_gaps(_inputs(resources=RESOURCES, accessibility=_accessibility()), config)
    assert "R3224-3-5" not in set(access["code_objet"])


def test_roadmap_gaps(config):
    actions = pd.DataFrame({
        "id_action": ["A1", "A2", "A2", "A3"], "code_territoire": ["T1"] * 4,
        "priorite": [6, 4, 4, 1], "statut": ["En cours", "En cours", "Abandonnée", "En cours"],
        "date_suivi": pd.to_datetime(["2024-06-30", "2024-06-30", "2025-06-30",
                                      "2024-06-30"]),
        "intitule": ["a", "b", "c", "d"],
    })
    found = pd.concat([prestation_gaps(_inputs(resources=RESOURCES), config),
                       density_gaps(_inputs(densities=_densities()), config)])
    gaps = roadmap_gaps(_inputs(actions=actions, found=found), config)
    by_nature = gaps.groupby("nature")["priorite_ptsm"].apply(set).to_dict()
    # priority 4 has a gap and only an abandoned action; priority 2 has a gap, no action
    assert by_nature["priorite_sans_action"] == {2, 4}
    # priorities 1 and 6 have actions but no gap among those found
    assert by_nature["action_sans_insuffisance"] == {1, 6}
    info = gaps[(gaps["nature"] == "action_sans_insuffisance")
                & (gaps["priorite_ptsm"] == 6)].iloc[0]
    assert info["severite"] == 0 and info["niveau_severite"] == "information"
    assert "A1" in info["constat"]
    assert roadmap_gaps(_inputs(actions=actions.assign(code_territoire="T2")), config) is None


def test_compute_gaps_ranks_and_reports_skipped(rosace):
    analysis = compute_gaps(_inputs(rosace=rosace, resources=RESOURCES))
    assert set(analysis.skipped) == {"densites", "zones_blanches", "cooperation",
                                     "feuille_de_route"}
    gaps = analysis.gaps
    assert list(gaps["rang"]) == list(range(1, len(gaps) + 1))
    assert gaps["severite"].is_monotonic_decreasing
    assert gaps.iloc[0]["nature"] == "prestation_absente"
    assert set(SOURCES) >= set(analysis.sources_run)
    empty = compute_gaps(GapInputs(territory="T1"))
    assert set(empty.skipped) == set(SOURCES) - {"connaissance"}


def test_a_source_of_the_user_giving_numbers_as_text_is_read_like_the_packaged_ones():
    """Numbers written as text are numbers, words in a number column are empty, whole
    numbers are rounded half to even; columns the source does not name are empty."""
    def survey(inputs, config):
        return pd.DataFrame({
            "nature": ["connaissance", "connaissance"], "code_objet": ["E1", "E2"],
            "sujet": ["Enquête locale", "Enquête régionale"], "valeur": ["12.5", "n.d."],
            "ampleur": ["0.5", 0.25], "priorite_ptsm": ["2", None], "axe_anap": [2.5, 3.5],
            "severite": [1.0, "?"], "niveau_severite": ["faible", "information"],
        })

    gaps = compute_gaps(_inputs(), sources={"enquete": survey}).gaps
    first, second = gaps.set_index("code_objet").loc[["E1", "E2"]].to_dict("records")
    assert first["valeur"] == 12.5 and math.isnan(second["valeur"])
    assert (first["ampleur"], second["ampleur"]) == (0.5, 0.25)
    assert first["priorite_ptsm"] == 2 and pd.isna(second["priorite_ptsm"])
    assert (first["axe_anap"], second["axe_anap"]) == (2, 4)
    assert math.isnan(second["severite"]) and math.isnan(first["population_concernee"])
    assert str(gaps["priorite_ptsm"].dtype) == "Int64"
    assert list(gaps["code_objet"]) == ["E1", "E2"]  # the NaN severity ranked last


def test_what_informs_the_priorities_is_found_once_and_agrees_with_each_source(rosace,
                                                                               config):
    from ptsm_diag.compute.gaps import informed_priorities, territory_evidence

    inputs = _inputs(rosace=rosace, resources=RESOURCES, accessibility=_accessibility())
    indicators, present = territory_evidence(inputs)
    assert "rehospit_15j" in indicators and {"chs", "cmp_adultes"} <= present
    analysis = compute_gaps(inputs, config)
    assert analysis.informed_priorities == informed_priorities(inputs, config)
    alone = knowledge_gaps(inputs, config)
    shown = analysis.gaps[analysis.gaps["nature"] == "connaissance"]
    assert sorted(shown["code_objet"]) == sorted(alone["code_objet"])
    # evidence given by the caller is used as given: nothing present, every point unknown
    blind = replace(inputs, evidence=(frozenset(), frozenset()))
    assert "R3224-3-9" in set(knowledge_gaps(blind, config)["code_objet"])
    assert "R3224-3-9" not in set(alone["code_objet"])


# --------------------------------------------------------------------------- config


def test_config_validation(tmp_path):
    with pytest.raises(CatalogError, match="inconnue"):
        load_gap_config(overrides={"seuils": {"densite": {"ecart_minimum": 5}}})
    with pytest.raises(CatalogError, match="hors bornes"):
        load_gap_config(overrides={"seuils": {"densite": {"ecart_min_pct": -5}}})
    with pytest.raises(CatalogError, match="nombre attendu"):
        load_gap_config(overrides={"niveaux": {"elevee": "beaucoup"}})
    with pytest.raises(CatalogError, match="inconnu"):
        load_gap_config(overrides={"prestations": {"teleportation": {
            "priorite": 1, "axe_anap": 1, "theme_action": 1, "points": [1]}}})
    with pytest.raises(CatalogError, match="inconnu"):
        load_gap_config(overrides={"parcours": {1: {"indicateurs": ["pas_un_indicateur"]}}})
    with pytest.raises(CatalogError, match="hors bornes"):
        load_gap_config(overrides={"seuils": {"cooperation": {"part_min_pct": {
            "part_ms_social_lien_psy": 150}}}})
    with pytest.raises(CatalogError, match="nombre attendu"):
        load_gap_config(overrides={"seuils": {"cooperation": {"part_min_pct": {
            "part_ms_social_lien_psy": "la moitié"}}}})
    with pytest.raises(CatalogError, match="inconnu"):  # more isolated is worse, not better
        load_gap_config(overrides={"seuils": {"cooperation": {"part_min_pct": {
            "part_structures_isolees": 20}}}})
    with pytest.raises(CatalogError, match="inconnue"):
        load_gap_config(overrides={"seuils": {"cooperation": {"part_minimale": 50}}})
    with pytest.raises(CatalogError, match="inconnu"):
        load_gap_config(overrides={"cooperation": {"part_ms_lien_psy": {"theme_action": 9}}})
    with pytest.raises(CatalogError, match="nombre attendu"):
        load_gap_config(overrides={"poids": {"nature": {"cooperation": "fort"}}})
    own = tmp_path / "mes_seuils.yaml"
    own.write_text("seuils:\n  densite:\n    ecart_min_pct: 50\n", encoding="utf-8")
    config = load_gap_config(overrides=own)
    assert config.threshold("densite", "ecart_min_pct") == 50
    assert "mes_seuils.yaml" in config.source


# --------------------------------------------------------------------------- report


@pytest.fixture(scope="module")
def diag(rosace, tmp_path_factory) -> Diagnostic:
    folder = tmp_path_factory.mktemp("donnees")
    territory = build_territory("T1", "Territoire test", communes=["35024", "35047", "35238"])
    actions = pd.DataFrame({
        "id_action": ["T1-A1"], "code_territoire": ["T1"], "priorite": [6],
        "statut": ["En cours"], "date_suivi": pd.to_datetime(["2024-06-30"]),
        "intitule": [HOSTILE],
    })
    data = DataFolder(path=folder, ressources=RESOURCES, actions=actions)
    resources = gpd.GeoDataFrame(RESOURCES.assign(code_commune="35238"),
                                 geometry=gpd.points_from_xy([-1.68] * 8, [48.11] * 8),
                                 crs="EPSG:4326")
    return Diagnostic(territory=territory, data=data, data_folder=folder, is_demo=False,
                      reference="france", catalog=load_indicator_catalog(),
                      resources=resources, indicator_values=pd.DataFrame(), rosace=rosace,
                      year=2023)


def test_gap_table_and_section_escape_hostile_text(diag):
    densities = _densities(label=HOSTILE)
    gaps = gap_table(diag, densities=densities, accessibility=_accessibility())
    assert set(gaps["nature"]) >= {"indicateur", "densite", "prestation_absente",
                                   "zone_blanche", "priorite_sans_action"}
    section = gap_section_html(diag, densities=densities, accessibility=_accessibility())
    assert "<script>" not in section
    assert "&lt;script&gt;" in section
    assert "Seuils et poids utilisés" in section and "45 min" in section
    skipped = gap_section_html(diag)
    assert "Analyses non réalisées" in skipped and "temps d&#x27;accès" in skipped
    by_priority = summary_by_priority(gaps)
    assert len(by_priority) == 6 and by_priority["Insuffisances"].sum() > 0
    assert len(summary_by_axis(gaps)) == 6


def _with_partnerships(diag: Diagnostic) -> Diagnostic:
    """The test diagnostic with a partenariats table: the CMP is linked with the SAVS only
    (since 2020), so 1 of the 2 médico-social structures is linked with psychiatry and the
    CMP is not linked with any social structure."""
    types = load_resource_types()
    every = RESOURCES.assign(nom=[f"Structure {i}" for i in range(8)],
                             champ=[types[t].champ for t in RESOURCES["type_ressource"]],
                             code_commune="35238")
    links = pd.DataFrame([{
        "id_lien": "L1", "id_ressource_1": "R1", "nom_acteur_1": None, "type_acteur_1": None,
        "id_ressource_2": "R6", "nom_acteur_2": None, "type_acteur_2": None,
        "type_lien": "convention", "date_debut": pd.Timestamp("2020-01-01"),
        "date_fin": pd.NaT, "frequence": "annuelle", "note": None}])
    located = gpd.GeoDataFrame(every, geometry=gpd.points_from_xy([-1.68] * 8, [48.11] * 8),
                               crs="EPSG:4326")
    return replace(diag, data=replace(diag.data, ressources=every, partenariats=links),
                   resources=located)


def test_gap_analysis_uses_partnerships(diag):
    assert gap_inputs(diag).cooperation is None
    assert "la table partenariats est absente" in gap_section_html(diag)
    linked = _with_partnerships(diag)
    shares = gap_inputs(linked).cooperation.set_index("indicateur")["valeur"]
    assert shares["part_ms_social_lien_psy"] == 50  # not below the 50 % of gaps.yaml
    assert shares["part_cmp_lien_ms_et_social"] == 0
    analysis = gap_analysis(linked)
    assert "cooperation" in analysis.sources_run
    found = analysis.gaps[analysis.gaps["nature"] == "cooperation"]
    assert list(found["code_objet"]) == ["part_cmp_lien_ms_et_social"]
    assert found.iloc[0]["constat"].startswith("0 % des CMP (0 sur 1) sont liés")
    # before the link started, nothing was linked: both shares are gaps
    before = gap_inputs(linked, at="2019-06-01").cooperation.set_index("indicateur")
    assert before.loc["part_ms_social_lien_psy", "valeur"] == 0


def test_white_zone_map_offline(diag):
    m = zones_blanches_map(diag, _accessibility())
    page = m.get_root().render()
    assert "Communes au-delà du temps" in page
    assert "tile.openstreetmap" not in page
    assert "35047" in page


def test_exports(diag, tmp_path: Path):
    evil = _densities(label="=HYPERLINK(\"http://x\")")
    analysis_gaps = gap_table(diag, densities=evil, accessibility=_accessibility())
    xlsx = export_gaps_xlsx(analysis_gaps, tmp_path / "sortie" / "insuffisances.xlsx")
    workbook = openpyxl.load_workbook(xlsx)
    assert workbook.sheetnames == ["Synthèse", *(f"Priorité {p}" for p in range(1, 7)),
                                   "Paramètres"]
    sheet = workbook["Priorité 2"]
    header = [c.value for c in sheet[1]]
    assert header[0] == "Rang" and "Constat" in header and header[-1] == ACTION_COLUMN
    assert sheet.max_row >= 2
    subjects = [row[header.index("Sujet")] for row in sheet.iter_rows(min_row=2,
                                                                       values_only=True)]
    assert "'=HYPERLINK(\"http://x\")" in subjects  # kept as text, neutralised
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row]
    assert all(c.data_type != "f" for c in cells)
    assert not list((tmp_path / "sortie").glob(".*.tmp"))
    csv = export_gaps_csv(analysis_gaps, tmp_path / "insuffisances.csv")
    text = csv.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("Rang;")
    assert text.splitlines()[0].endswith(ACTION_COLUMN)
    assert "'=HYPERLINK" in text
    back = pd.read_csv(csv, sep=";", encoding="utf-8-sig", dtype=str)
    assert len(back) == len(analysis_gaps)


@pytest.mark.slow
def test_demo_territory_ranked_table():
    from ptsm_diag.diagnostic import prepare_diagnostic

    gaps = gap_table(prepare_diagnostic("35"))
    assert not gaps.empty
    assert gaps["severite"].is_monotonic_decreasing
    assert gaps["constat"].str.len().gt(20).all()


# --------------------------------------------------------------------------- issue 14


def format_number(value: float) -> str:
    from ptsm_diag.fmt import format_number as french

    return french(value)


def _supply(code: str, label: str, density: float, reference: float) -> dict:
    return {"code_territoire": "T1", "type_ressource": code, "libelle": label,
            "champ": "coordination", "public": "tous", "population_ref_age": "ensemble",
            "nombre": 0, "capacite": None, "densite_nombre": density, "densite_capacite": None,
            "reference": "France", "code_reference": "FRANCE",
            "densite_nombre_reference": reference, "densite_capacite_reference": None,
            "ecart_nombre_pct": 100 * (density - reference) / reference,
            "ecart_capacite_pct": None}


def test_density_and_white_zone_of_a_type_are_one_gap():
    densities = pd.DataFrame([_supply("cmp_adultes", "CMP adultes", 0.0, 2.4)])
    gaps = compute_gaps(_inputs(densities=densities, accessibility=_accessibility())).gaps
    cmp = gaps[gaps["code_objet"] == "cmp_adultes"]
    assert len(cmp) == 1  # not a density gap and a white zone for the same fact
    row = cmp.iloc[0]
    assert row["nature"] == "densite_zone_blanche"
    assert "0 structures pour 100 000 habitants contre 2,40" in row["constat"]
    assert f"2 communes, {format_number(18_400)} habitants" in row["constat"]
    assert row["nombre_communes"] == 2 and row["communes_concernees"] == "35024, 35047"
    alone = compute_gaps(_inputs(densities=densities)).gaps  # without access times
    assert list(alone.loc[alone["code_objet"] == "cmp_adultes", "nature"]) == ["densite"]


def test_bodies_nobody_travels_to_have_no_white_zone():
    types = load_resource_types()
    assert not any(types[c].travel for c in ("clsm", "cpts", "dac", "mdph",
                                             "association_usagers", "equipe_mobile"))
    assert all(types[c].travel for c in ("cmp_adultes", "chs", "msp", "gem"))
    far = _accessibility().assign(type_ressource=["clsm"] * 3 + ["dac"] * 3,
                                  temps_min=[90.0] * 6)
    assert accessibility_gaps(_inputs(accessibility=far), load_gap_config()).empty
    near_cmp = pd.concat([far, _accessibility().head(3)])
    found = accessibility_gaps(_inputs(accessibility=near_cmp), load_gap_config())
    assert list(found["code_objet"]) == ["cmp_adultes"]


def test_travel_list_of_a_user_typology_is_checked(tmp_path):
    from ptsm_diag.catalog.vocabularies import _read_yaml

    raw = _read_yaml("resource_types.yaml")
    bad = tmp_path / "types.yaml"
    bad.write_text(__import__("yaml").safe_dump({**raw, "deplacement": ["cmp_adultes", "cmq"]},
                                                allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogError, match="deplacement.*cmq"):
        load_resource_types(bad)
    without = tmp_path / "sans.yaml"
    without.write_text(__import__("yaml").safe_dump(
        {k: v for k, v in raw.items() if k != "deplacement"}, allow_unicode=True),
        encoding="utf-8")
    assert all(t.travel for t in load_resource_types(without).values())  # former behaviour


def test_coordination_gaps_are_not_on_the_inadequate_hospitalisation_axis():
    densities = pd.DataFrame([_supply(c, c.upper(), 0.1, 1.0)
                              for c in ("clsm", "cpts", "dac", "equipe_mobile")])
    gaps = density_gaps(_inputs(densities=densities), load_gap_config())
    assert len(gaps) == 4
    assert not (gaps["axe_anap"] == 2).any()
    assert gaps.set_index("code_objet").loc["equipe_mobile", "axe_anap"] == 1
    assert gaps.set_index("code_objet").loc["cpts", "axe_anap"] is pd.NA


def test_panier_from_declared_prestations_labels_the_inferred_ones():
    from ptsm_diag.compute.gaps import DECLARED, INFERRED, prestation_basket

    resources = pd.DataFrame({
        "type_ressource": ["chs", "cmp_adultes", "gem"],
        "prestations": ["soins_specialises|hospitalisation", "", None],
    })
    basket = prestation_basket(resources).set_index("prestation")
    assert basket.loc["hospitalisation", "statut"] == DECLARED
    assert basket.loc["hospitalisation", "ressources_declarant"] == 1
    # the CHS declares no rehabilitation or crisis care: its type alone does not offer it
    assert basket.loc["rehabilitation", "statut"] == "absente"
    assert basket.loc["crise_ambulatoire", "statut"] == "absente"
    # the CMP and the GEM declare nothing: their type's prestations are inferred, and said so
    assert basket.loc["aller_vers", "statut"] == INFERRED == "déduite du type (non déclarée)"
    assert basket.loc["pair_aidance", "types_deduits"] == "Groupe d'entraide mutuelle (GEM)"
    assert basket.loc["soins_specialises", "statut"] == DECLARED  # declared by the CHS


def test_basket_section_of_the_report(diag):
    from ptsm_diag.report.gaps import basket_section_html

    section = basket_section_html(diag)
    assert "Déduite du type" in section and "déduite du type (non déclarée)" in section
    assert "Sur 15 prestations du panier : 0 déclarées" in section


def test_priority_without_data_reads_no_data_to_document(diag):
    analysis = compute_gaps(_inputs(resources=RESOURCES))
    assert analysis.informed_priorities[6] is False
    assert analysis.informed_priorities[1] is True  # the CHS, the CMP
    row = analysis.gaps[analysis.gaps["code_objet"] == "priorite-6"].iloc[0]
    assert row["nature"] == "connaissance" and row["priorite_ptsm"] == 6
    assert "aucune donnée : à documenter" in row["constat"]
    assert "Oscarsanté" in row["donnees_a_recueillir"]  # the priority's impact indicator
    table = summary_by_priority(analysis.gaps, analysis.informed_priorities)
    assert table.loc[5, "Données"] == "aucune donnée : à documenter"
    assert table.loc[0, "Données"] == "documentée"
    values = pd.DataFrame({"code_territoire": ["T1"],
                           "indicateur": ["part_actions_cps_parentalite"], "statut": ["ok"]})
    informed = compute_gaps(_inputs(resources=RESOURCES, indicator_values=values))
    assert informed.informed_priorities[6] is True
    assert "priorite-6" not in set(informed.gaps["code_objet"])
    section = gap_section_html(diag)
    assert "aucune donnée : à documenter" in section


def test_section_shows_every_gap_folded_beyond_the_first(diag):
    densities = pd.DataFrame([_supply(c, f"Type {c}", 0.1, 1.0)
                              for c in list(load_resource_types())[:30]])
    analysis = gap_analysis(diag, densities=densities, accessibility=_accessibility())
    n = len(analysis.gaps)
    assert n > 30
    section = gap_section_html(diag, analysis=analysis, limit=25)
    shown, _, folded = section.partition("<details")
    assert shown.count("<tr>") == 1 + 25  # header and the first 25 ranked gaps, unfolded
    assert f"Les {n - 25} autres constats (rangs 26 à {n}" in section
    assert all(str(sentence) in html_unescape(section) for sentence in analysis.gaps["constat"])
    assert "insuffisances_T1.xlsx" in section and "voir l'export" not in section
    assert ">Score<" not in section and "Score cumulé" not in section
    assert "Indice de sévérité" in section and "sert à classer" in section
    assert "pour 100 000 habitants" in section  # densities come with their unit


def html_unescape(text: str) -> str:
    import html

    return html.unescape(text)
