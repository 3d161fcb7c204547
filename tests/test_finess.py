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
    merge_resources,
    read_finess,
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
