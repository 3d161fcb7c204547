"""FINESS extract reader: official layout, commune codes, CRS per row, flags, merge, CSV."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer

from ptsm_diag.errors import InputError, Severity, UnknownCodeError
from ptsm_diag.io.sources import empty_table, read_table
from ptsm_diag.io.sources.finess import (
    FLAG_COLUMNS,
    STRUCTURE_FIELDS,
    convert_finess,
    epsg_of_label,
    finess_categories,
    merge_resources,
    read_finess,
    write_finess_report,
)
from ptsm_diag.io.sources.schemas import RESSOURCES
from ptsm_diag.testing import write_csv, write_finess_extract

FIXTURES = Path(__file__).parent / "fixtures" / "finess"
NATIONAL = FIXTURES / "etalab-cs1100507-stock-20260512-0339.csv"
LATIN1 = FIXTURES / "etalab-cs1100507-stock-20191231-latin1.csv"
TOLERANCE = 1e-4  # degrees, about 10 m


@pytest.fixture(scope="module")
def extract():
    return read_finess(NATIONAL)


def row(extract, finess: str) -> pd.Series:
    table = extract.table
    found = table[table["finess"] == finess]
    assert len(found) == 1, f"{finess} : {len(found)} lignes"
    return found.iloc[0]


def problems_at(extract, line: int):
    return [p for p in extract.problems if p.row == line]


# --------------------------------------------------------------------------- codes, CRS


@pytest.mark.parametrize(("finess", "commune", "lon", "lat"), [
    ("010000032", "01451", 5.20918, 46.22229),  # control point of domain.md §4.2 (Viriat)
    ("350000014", "35238", -1.6778, 48.1173),  # Rennes
    ("2A0000016", "2A004", 8.7369, 41.9192),  # Ajaccio
    ("2B0000014", "2B033", 9.45, 42.70),  # Bastia
    ("970100016", "97101", -61.5050, 16.2710),  # Les Abymes, EPSG:5490
    ("970200014", "97209", -61.0588, 14.6161),  # Fort-de-France, EPSG:5490
    ("970300012", "97302", -52.3260, 4.9372),  # Cayenne, EPSG:2972
    ("970400010", "97411", 55.4481, -20.8823),  # Saint-Denis de La Réunion, EPSG:2975
    ("970600015", "97611", 45.2279, -12.7806),  # Mamoudzou, EPSG:4471
    ("970500017", "97502", -56.1773, 46.7811),  # Saint-Pierre-et-Miquelon, WGS84 UTM 21N
    ("690000018", "69123", 4.8357, 45.7640),  # Lyon, old label LAMBERT_93
    ("970400028", "97416", 55.4781, -21.3393),  # Saint-Pierre (974), old label UTM_S40
])
def test_commune_code_and_wgs84_position(extract, finess, commune, lon, lat):
    found = row(extract, finess)
    assert found["code_commune"] == commune
    assert found["position"] == "finess"
    assert abs(found["longitude"] - lon) < TOLERANCE
    assert abs(found["latitude"] - lat) < TOLERANCE
    assert not found["hors_departement"]


def test_every_crs_of_the_file_is_used(extract):
    assert set(extract.summary.crs) == {
        "EPSG:2154", "EPSG:5490", "EPSG:2972", "EPSG:2975", "EPSG:4471", "EPSG:32621"}


@pytest.mark.parametrize(("label", "epsg"), [
    ("1,ATLASANTE,96,BAN,EPSG:2154 RGF93 / Lambert-93 (Métropole)", 2154),
    ("2,ATLASANTE,96,BAN,EPSG:5490 RGAF09/UTM Zone 20N (Antilles)", 5490),
    ("1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93", 2154),
    ("1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,UTM_N22", 2972),
    ("1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,UTM_S38", 4471),
    ("2,ATLASANTE,90,BAN,WGS84/UTM zone 21N (St-Pierre-et-Miquelon)", 32621),
    ("1,ATLASANTE,100,BAN", None),
    ("", None),
    ("1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_II_ETENDU", -1),
])
def test_crs_named_in_sourcecoordet(label, epsg):
    assert epsg_of_label(label) == epsg


def test_missing_crs_label_uses_the_departement_crs(extract):
    found = row(extract, "350000048")
    assert found["position"] == "finess"
    assert abs(found["longitude"] - -1.65) < TOLERANCE
    assert extract.summary.crs_deduits == 1
    [problem] = [p for p in extract.problems if p.column == "sourcecoordet"
                 and p.severity == Severity.REPARATION]
    assert "département" in problem.message


def test_paris_arrondissement_repaired_to_the_commune(extract):
    assert row(extract, "750000018")["code_commune"] == "75056"
    [problem] = [p for p in extract.problems if p.value == "75113"]
    assert problem.severity == Severity.REPARATION


# --------------------------------------------------------------------------- positions


def test_establishments_without_coordinates_placed_at_their_commune(extract):
    rennes = (-1.68, 48.11)
    for finess in ("350000055", "350000063"):  # no geolocalisation line; empty coordinates
        found = row(extract, finess)
        assert found["position"] == "centre_commune"
        assert math.dist((found["longitude"], found["latitude"]), rennes) < 0.05
    assert extract.summary.sans_geolocalisation == 2


def test_coordinates_outside_the_departement_are_flagged(extract):
    assert row(extract, "350000071")["hors_departement"]  # Marseille for Rennes
    assert row(extract, "350000089")["hors_departement"]  # X and Y swapped
    assert extract.summary.hors_departement == 2
    assert extract.summary.non_verifiables == 1  # Saint-Pierre-et-Miquelon: no outline
    flagged = extract.table[extract.table["hors_departement"]]
    assert set(flagged["finess"]) == {"350000071", "350000089"}


def test_unreadable_coordinates_and_unknown_crs_keep_the_establishment(extract):
    for finess, column, value in (("350000097", "coordxet", "3521O7.4"),
                                  ("350000105", "sourcecoordet", None)):
        found = row(extract, finess)
        assert found["position"] == "centre_commune"
        [problem] = [p for p in extract.problems if p.column == column
                     and p.severity == Severity.ERREUR]
        assert problem.row is not None and problem.expected
        if value:
            assert problem.value == value
    assert extract.summary.coordonnees_rejetees == 2


# --------------------------------------------------------------------------- typology, bad lines


def test_typology_filter_and_counts(extract):
    summary = extract.summary
    assert summary.categories_hors_typologie == {"355": 1, "500": 1, "620": 1}
    assert not extract.table["categorie_finess"].isin(["355", "500", "620"]).any()
    assert summary.par_type["chs"] == 4
    assert summary.par_type["cmp_adultes"] == 7
    assert sum(summary.par_type.values()) == summary.etablissements_retenus == 22
    rejected_structures = summary.lignes_rejetees - summary.rejets["type_ligne_inconnu"]
    assert summary.etablissements_lus == (summary.etablissements_retenus
                                          + summary.hors_typologie + rejected_structures)


def test_child_cmp_recognised_by_its_name(extract):
    found = row(extract, "350000030")
    assert found["type_ressource"] == "cmp_enfants"
    assert found["public"] == "enfants"
    assert row(extract, "350000022")["type_ressource"] == "cmp_adultes"


def test_bad_lines_are_reported_in_french_with_their_line(extract):
    assert extract.summary.rejets == {"ligne_mal_formee": 1, "type_ligne_inconnu": 1,
                                      "finess_en_double": 1, "categorie_illisible": 1}
    [wide] = problems_at(extract, 27)
    assert "33 champs" in wide.message and "31 ou 32" in wide.expected
    [shifted] = problems_at(extract, 28)
    assert shifted.column == "categetab"
    [double] = problems_at(extract, 29)
    assert double.value == "350000022" and "déjà lu" in double.message
    [unknown] = problems_at(extract, 30)
    assert "commentaire" in unknown.message
    text = unknown.to_french()
    assert text.startswith("[erreur] etalab-cs1100507-stock-20260512-0339.csv, ligne 30")
    assert extract.summary.geolocalisations_orphelines == 1
    # the kept row of the doubled number is the first one
    assert row(extract, "350000022")["nom"] == "CMP ADULTES RENNES SUD"


def test_requested_types_only(extract):
    cmp = read_finess(NATIONAL, types=["cmp_adultes", "cmp_enfants"])
    assert set(cmp.table["type_ressource"]) == {"cmp_adultes", "cmp_enfants"}
    assert len(cmp.table) == 8
    with pytest.raises(UnknownCodeError, match="cmp_adulte"):
        read_finess(NATIONAL, types=["cmp_adulte"])


# --------------------------------------------------------------------------- encodings, layout


def test_latin1_file_read_with_its_accents():
    extract = read_finess(LATIN1)
    assert "\xe9" in LATIN1.read_bytes().decode("latin-1")  # the fixture really is Latin-1
    assert extract.summary.encodage == "cp1252"
    assert extract.summary.date_extraction == "2019-12-31"
    assert list(extract.table["nom"]) == ["CENTRE MÉDICO-PSYCHOLOGIQUE DE SAINT-BRIEUC",
                                          "ÉTABLISSEMENT PUBLIC DE SANTÉ MENTALE"]
    assert abs(extract.table["longitude"].iloc[0] - -2.7603) < TOLERANCE


def test_mixed_encoding_line_decoded_and_reported(tmp_path):
    path = write_finess_extract(tmp_path / "f.csv", [
        {"nofinesset": "350000014", "rslongue": "CMP ÉTOILE", "commune": "238",
         "departement": "35", "categetab": "156"}])
    values = {"structureet": "structureet", "nofinesset": "350000022", "rs": "CMP CÉSSON",
              "commune": "238", "departement": "35", "categetab": "156"}
    line = ";".join(values.get(name, "") for name in STRUCTURE_FIELDS) + ";\n"
    path.write_bytes(path.read_bytes() + line.encode("cp1252"))
    extract = read_finess(path)
    assert list(extract.table["nom"]) == ["CMP ÉTOILE", "CMP CÉSSON"]
    assert extract.summary.encodage.startswith("mixte")
    [problem] = [p for p in extract.problems if "encodage mélangé" in p.message]
    assert problem.row == 3 and problem.severity == Severity.AVERTISSEMENT


def test_old_31_field_lines_without_trailing_separator(tmp_path):
    fields = {"nofinesset": "350000014", "rs": "CMP", "commune": "238",
              "departement": "35", "categetab": "156"}
    line = ";".join(fields.get(name, "structureet" if name == "structureet" else "")
                    for name in STRUCTURE_FIELDS[:31])
    path = write_finess_extract(tmp_path / "f.csv", [line], trailing_separator=False)
    extract = read_finess(path)
    assert len(extract.table) == 1 and not extract.problems


def test_not_a_finess_file_is_refused_in_french(tmp_path):
    other = write_csv(pd.DataFrame({"id_ressource": ["R1"], "nom": ["GEM"]}),
                      tmp_path / "ressources.csv")
    with pytest.raises(InputError, match="pas une extraction FINESS") as error:
        read_finess(other)
    assert error.value.problems[0].row == 1
    with pytest.raises(InputError, match="introuvable"):
        read_finess(tmp_path / "absent.csv")


def test_progress_reported(tmp_path):
    calls = []
    read_finess(NATIONAL, progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1][0] == calls[-1][1] == NATIONAL.stat().st_size


# --------------------------------------------------------------------------- output format


def test_table_in_template_format(extract):
    table = extract.table
    assert list(table.columns) == RESSOURCES.column_names + FLAG_COLUMNS
    template = empty_table("ressources")
    assert (table[RESSOURCES.column_names].dtypes == template.dtypes).all()
    assert table.index.name == "ligne"
    assert table["hors_departement"].dtype == bool
    assert set(table["position"]) <= {"finess", "centre_commune", "absente"}
    assert (table["id_ressource"] == table["finess"]).all()
    assert table["source"].eq("FINESS 2026-05-12").all()


def test_convert_finess_writes_a_valid_ressources_file(tmp_path):
    out = tmp_path / "sortie" / "ressources.csv"
    summary = convert_finess(NATIONAL, out)
    assert summary.etablissements_retenus == 22
    assert [p.name for p in out.parent.iterdir()] == ["ressources.csv"]  # no temp left
    result = read_table("ressources", out)
    errors = [p for p in result.problems if p.severity == Severity.ERREUR]
    # Saint-Pierre-et-Miquelon is not in the bundled geography: its row is refused there
    assert [p.value for p in errors] == ["97502"], [p.to_french() for p in errors]
    assert result.n_accepted == 21
    data = result.data.set_index("finess")
    assert math.isnan(data.loc["350000055", "longitude"])  # placed again by the pipeline
    assert "centre de la commune" in data.loc["350000055", "source"]
    assert "hors du département" in data.loc["350000071", "source"]
    assert math.isnan(data.loc["350000071", "longitude"])  # wrong coordinates not kept
    assert abs(data.loc["970400010", "latitude"] - -20.8823) < TOLERANCE


# --------------------------------------------------------------------------- merge


def test_merge_with_local_resources_without_duplicates(extract, tmp_path):
    local = pd.DataFrame({
        "id_ressource": ["L1", "L2", "350000014"],
        "finess": ["350000022", "", ""],
        "nom": ["CMP Rennes Sud (Colombier)", "GEM L'Envol", "EPSM (site principal)"],
        "type_ressource": ["cmp_adultes", "gem", "chs"],
        "code_commune": ["35238", "35238", "35238"],
        "capacite_places": ["", "", "120"],
        "etp": ["6,5", "", ""],
        "prestations": ["soins_specialises|aller_vers", "pair_aidance", ""],
        "longitude": ["-1,6700", "", ""],
        "latitude": ["48,0960", "", ""],
    })
    path = write_csv(local, tmp_path / "ressources.csv")
    local_table = read_table("ressources", path).data
    merged = merge_resources(extract, local_table)
    assert len(merged) == 22 + 1  # two local rows matched FINESS rows, the GEM is added
    assert not merged["finess"].dropna().duplicated().any()
    cmp = merged[merged["finess"] == "350000022"].iloc[0]
    assert cmp["nom"] == "CMP Rennes Sud (Colombier)"
    assert cmp["etp"] == 6.5 and cmp["origine"] == "finess+locale"
    assert cmp["position"] == "locale" and abs(cmp["longitude"] - -1.67) < 1e-9
    chs = merged[merged["finess"] == "350000014"].iloc[0]  # matched by id_ressource
    assert chs["capacite_places"] == 120 and chs["nom"] == "EPSM (site principal)"
    assert chs["position"] == "finess"
    gem = merged[merged["type_ressource"] == "gem"].iloc[0]
    assert gem["origine"] == "locale" and gem["position"] == "centre_commune"
    assert not np.isnan(gem["longitude"])


def test_merge_refuses_a_finess_number_twice_in_the_local_file(extract):
    local = empty_table("ressources").reindex([2, 3])
    local["id_ressource"] = ["A", "B"]
    local["finess"] = ["350000022", "350000022"]
    with pytest.raises(InputError, match="plusieurs lignes"):
        merge_resources(extract, local)


# --------------------------------------------------------------------------- real data


def _official_extract_from_eurostat(csv_path: Path, out: Path) -> pd.DataFrame:
    """Real FINESS sites (Eurostat copy, WGS84) written back in the official layout."""
    sites = pd.read_csv(csv_path, dtype=str)
    sites["finess"] = sites["id"].str.zfill(9)
    prefix = sites["finess"].str[:2]
    dep = prefix.where(prefix != "97", "97" + sites["finess"].str[3])
    dep = dep.where(prefix != "98", "976")
    field = dep.map({"971": "9A", "972": "9B", "973": "9C", "974": "9D", "975": "9E",
                     "976": "9F"}).fillna(dep)
    epsg = dep.map({"971": 5490, "972": 5490, "973": 2972, "974": 2975, "975": 32621,
                    "976": 4471}).fillna(2154).astype(int)
    x = np.full(len(sites), np.nan)
    y = np.full(len(sites), np.nan)
    lon, lat = sites["lon"].astype(float).to_numpy(), sites["lat"].astype(float).to_numpy()
    for code in epsg.unique():
        rows = (epsg == code).to_numpy()
        x[rows], y[rows] = Transformer.from_crs(4326, int(code), always_xy=True).transform(
            lon[rows], lat[rows])
    chs = sites["facility_type"].str.contains("Maladies Mentales", na=False)
    rows = [{"nofinesset": f, "rs": "SITE", "departement": d,
             "commune": (d[-1] + "01") if d.startswith("97") else "001",
             "categetab": "292" if c else "355", "coordxet": f"{xx:.1f}",
             "coordyet": f"{yy:.1f}", "sourcecoordet": f"1,ATLASANTE,100,BAN,EPSG:{e}"}
            for f, d, c, xx, yy, e in zip(sites["finess"], field, chs, x, y, epsg,
                                          strict=True)]
    write_finess_extract(out, rows)
    return sites.assign(chs=chs)


def test_real_files_of_shared_data(shared_data_dir, tmp_path):
    official = sorted(shared_data_dir.rglob("etalab-cs1100507-stock-*.csv"))
    for path in official:  # none is kept there today (see SOURCES.md §5)
        extract = read_finess(path)
        assert extract.summary.etablissements_lus > 0
        assert extract.summary.etablissements_retenus > 0
    eurostat = shared_data_dir / "finess_hospitals_eurostat" / \
        "FR_hospitals_finess20200306_sans_29_63.csv"
    if not eurostat.is_file():
        pytest.skip("extrait FINESS Eurostat absent")
    sites = _official_extract_from_eurostat(eurostat, tmp_path / "etalab.csv")
    extract = read_finess(tmp_path / "etalab.csv")
    table = extract.table
    assert len(table) == int(sites["chs"].sum()) == extract.summary.par_type["chs"]
    truth = sites.set_index("finess").loc[table["finess"]]
    assert np.allclose(table["longitude"], truth["lon"].astype(float), atol=1e-5)
    assert np.allclose(table["latitude"], truth["lat"].astype(float), atol=1e-5)
    # real psychiatric sites fall inside their département (simplified outlines)
    assert table["hors_departement"].mean() < 0.01


# --------------------------------------------------------------------------- published lines
# Lines of the published extracts found in public repositories (fixtures/finess/README.md).

PUBLISHED = FIXTURES / "etalab-cs1100507-stock-20260512-publie-latin1-crlf.csv"


@pytest.fixture(scope="module")
def published():
    return read_finess(PUBLISHED)


def _geography_has(*codes: str) -> bool:
    from ptsm_diag.catalog.geography import cached_layer

    known = set(cached_layer("communes")["code_commune"].astype(str))
    return all(code in known for code in codes)


def test_published_fixture_is_latin1_with_crlf():
    data = PUBLISHED.read_bytes()
    assert b"\r\n" in data and data.count(b"\n") == data.count(b"\r\n")
    assert "MÉDICO".encode("latin-1") in data  # not UTF-8


def test_published_lines_kept_with_their_names_unquoted(published):
    summary = published.summary
    assert summary.lignes_rejetees == 0, published.lignes_signalees
    assert summary.etablissements_lus == 12
    assert summary.encodage == "cp1252"
    names = dict(zip(published.table["finess"], published.table["nom"], strict=True))
    # in scope: CMPP of Martinique, SAVS of Mayotte, CMP of Saint-Barthélemy, Saint-Martin,
    # Viriat and Ambérieu; Wallis is set aside, the others are outside the typology
    assert sorted(names) == ["010009983", "010009991", "970109983", "970109991",
                             "970210126", "980509991"]
    # a quoted field holding doubled quotes and a ";" (Mayotte layout)
    assert names["980509991"] == 'SAVS "LES BANGAS" ; ANTENNE DE CHIRONGUI'
    assert names["010009983"] == "CENTRE MÉDICO-PSYCHOLOGIQUE D'AMBÉRIEU"
    # the verbatim quoted Mayotte line (category 462) is read, not rejected: counted outside
    assert published.summary.categories_hors_typologie.get("462") == 1


def test_saint_barthelemy_and_saint_martin_get_their_current_codes(published):
    table = published.table.set_index("finess")
    assert table.loc["970109991", "code_commune"] == "97701"  # 9A + 123
    assert table.loc["970109983", "code_commune"] == "97801"  # 9A + 127
    # placed with the Antilles CRS, not flagged outside a département
    assert abs(table.loc["970109991", "longitude"] - -62.8498) < TOLERANCE
    assert abs(table.loc["970109983", "latitude"] - 18.0686) < TOLERANCE
    if _geography_has("97701", "97801"):  # attached to 971, whose outline then holds them
        assert not table.loc[["970109991", "970109983"], "hors_departement"].any()
        assert not [p for p in published.problems if p.value in ("97701", "97801")]


def test_wallis_is_set_aside_as_outside_the_ars_territories(published):
    assert published.summary.hors_territoire_ars == 1
    assert "980609991" not in set(published.table["finess"])
    (problem,) = [p for p in published.problems if p.column == "departement"]
    assert problem.row == 11 and problem.value == "9J"
    assert problem.severity == Severity.AVERTISSEMENT  # not an error of the file
    assert "Wallis-et-Futuna" in problem.message
    assert "hors des territoires des ARS" in problem.message
    assert "illisible" not in problem.message
    assert not published.has_errors
    assert "hors des territoires des ARS" in published.summary.to_french()


def test_both_geolocalisation_layouts_are_read(published):
    table = published.table.set_index("finess")
    assert published.summary.geolocalisations_format_ancien == 1
    assert published.summary.coordonnees_rejetees == 0
    assert (table["position"] == "finess").all()
    # 6-field layout (EPSG:2154 label): Viriat control point of domain.md §4.2
    assert abs(table.loc["010009991", "longitude"] - 5.20918) < TOLERANCE
    assert abs(table.loc["010009991", "latitude"] - 46.22229) < TOLERANCE
    # 12-field layout …;1;ATLASANTE;100;IGN;BD_ADRESSE;V2.1;LAMBERT_93;2016-02-29
    x, y = Transformer.from_crs(2154, 4326, always_xy=True).transform(882538.9, 6542885.8)
    assert abs(table.loc["010009983", "longitude"] - x) < TOLERANCE
    assert abs(table.loc["010009983", "latitude"] - y) < TOLERANCE
    assert published.summary.crs == {"EPSG:2154": 2, "EPSG:4471": 1, "EPSG:5490": 3}


def test_old_layout_with_a_trailing_separator_and_an_unknown_width(tmp_path):
    path = write_finess_extract(tmp_path / "etalab.csv", [
        {"nofinesset": "010009983", "departement": "01", "commune": "004", "categetab": "156"},
        {"nofinesset": "010009991", "departement": "01", "commune": "451", "categetab": "156"},
    ])
    with path.open("a", encoding="utf-8") as handle:
        handle.write("geolocalisation;010009983;882538.9;6542885.8;1;ATLASANTE;100;IGN;"
                     "BD_ADRESSE;V2.1;LAMBERT_93;2016-02-29;\n")
        handle.write("geolocalisation;010009991;870262.2;6571540.8;1;ATLASANTE;100;IGN;"
                     "BD_ADRESSE;V2.1;LAMBERT_93;pas une date\n")
    extract = read_finess(path)
    assert extract.summary.geolocalisations_format_ancien == 1
    assert extract.summary.rejets == {"ligne_mal_formee": 1}
    positions = extract.table.set_index("finess")["position"]
    assert positions["010009983"] == "finess"
    assert positions["010009991"] == "centre_commune"


def test_a_quoted_field_with_a_separator_is_not_split(tmp_path):
    line = ('structureet;350009991;350999999;"CMP ""LE PHARE"";RENNES";CMP LE PHARE;;;;;;;;238;'
            "35;ILLE-ET-VILAINE;35000 RENNES;;;156;Centre Médico-Psychologique (C.M.P.);1101;"
            "x;;;;;;;;2020-01-01;2020-01-01;2020-01-01;")
    extract = read_finess(write_finess_extract(tmp_path / "etalab.csv", [line]))
    assert extract.summary.lignes_rejetees == 0
    assert list(extract.table["finess"]) == ["350009991"]


def test_category_608_is_the_medico_social_precarity_team_not_psychiatry():
    # ANS TRE_R66: 608 = « Équipe mobile médico-sociale précarité (EMMSP) »
    assert "608" not in finess_categories()
    assert "608" not in finess_categories(["equipe_mobile"])


def test_published_extract_converts_to_a_file_valider_accepts(tmp_path):
    from ptsm_diag.io.sources.folder import validate_folder  # what `ptsm-diag valider` runs

    folder = tmp_path / "donnees"
    summary = convert_finess(PUBLISHED, folder / "ressources.csv")
    assert summary.etablissements_retenus == 6
    data = read_table("ressources", folder / "ressources.csv").data.set_index("finess")
    assert data.loc["980509991", "nom"] == 'SAVS "LES BANGAS" ; ANTENNE DE CHIRONGUI'
    report = validate_folder(folder)
    errors = [p for p in report.problems if p.severity == Severity.ERREUR]
    pending = {"97701", "97801"}
    if not _geography_has(*pending):
        # PENDING: 97701 / 97801 are being added to the bundled geography by another
        # developer; until then `valider` refuses exactly these two rows.
        assert sorted(p.value for p in errors) == sorted(pending), \
            [p.to_french() for p in errors]
    else:
        assert errors == [], [p.to_french() for p in errors]


def test_cli_finess_writes_every_reported_line_to_the_rapport(tmp_path, capsys):
    from ptsm_diag.cli import main

    rapport = tmp_path / "controle" / "finess-rapport.csv"
    code = main(["finess", str(NATIONAL), "--sortie", str(tmp_path / "ressources.csv"),
                 "--rapport", str(rapport)])
    assert code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert str(rapport) in out.replace(" ", "") or rapport.name in out
    lines = pd.read_csv(rapport, sep=";", dtype=str, encoding="utf-8-sig",
                        keep_default_na=False)
    assert list(lines.columns) == ["fichier", "ligne", "colonne", "valeur", "attendu",
                                   "message", "gravite"]
    extract = read_finess(NATIONAL)
    assert len(lines) == len(extract.lignes_signalees) >= len(extract.problems)
    rejected = lines[lines["gravite"] == "erreur"]
    # every rejected line of the fixture, with its number, value and reason
    assert {"27", "28", "29", "30"} <= set(rejected["ligne"])
    assert (rejected["message"] != "").all()
    by_line = rejected.drop_duplicates("ligne").set_index("ligne")
    assert "déjà lu" in by_line.loc["29", "message"]
    assert by_line.loc["29", "valeur"] == "350000022"
    assert "type de ligne inconnu" in by_line.loc["30", "message"]


def test_rapport_lists_every_line_even_when_the_summary_groups_them(tmp_path):
    # 30 decimal commas: one grouped problem in the summary, 30 lines in the report
    rows = [{"nofinesset": f"35{i:07d}", "departement": "35", "commune": "238",
             "categetab": "156", "coordxet": "352107,4", "coordyet": "6789966,5"}
            for i in range(1, 31)]
    extract = read_finess(write_finess_extract(tmp_path / "etalab.csv", rows))
    assert len([p for p in extract.problems if "virgule" in p.message]) == 1
    path = write_finess_report(extract, tmp_path / "rapport.csv")
    lines = pd.read_csv(path, sep=";", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    commas = lines[lines["message"].str.contains("virgule")]
    assert len(commas) == 30
    assert sorted(commas["ligne"].astype(int)) == list(range(32, 62))  # geolocalisation lines


def test_rapport_cells_are_not_read_as_formulas(tmp_path):
    rows = [{"nofinesset": "=1+1", "departement": "35", "commune": "238", "categetab": "156"},
            {"nofinesset": "350009991", "departement": "35", "commune": "238",
             "categetab": "156"}]
    extract = read_finess(write_finess_extract(tmp_path / "etalab.csv", rows))
    path = write_finess_report(extract, tmp_path / "rapport.csv")
    lines = pd.read_csv(path, sep=";", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert list(lines["valeur"]) == ["'=1+1"]
