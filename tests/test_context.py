"""The identity card with context: the contexte table, its aggregation to the territory,
département, région and France, the INSEE age-structure adapter, and the report card.

Fixture provenance (real published layout, real figures):

- ``_insee_age_workbook`` rebuilds, with openpyxl, a few rows of the INSEE workbook
  « Estimation de population au 1er janvier, par département, sexe et âge quinquennal »,
  sheet « Année 2023 » (copy kept in ``../shared/data/insee_pop_dep_age/
  estim-pop-dep-sexe-aq_annee2023.xlsx``, from GitHub ``fredco30/stat_deces``,
  ``population_francaise.xlsx``, see ``../shared/data/SOURCES.md`` §3): its two title rows,
  its empty row, its two header rows, the « Ensemble » block of the rows of Ain (01),
  Guadeloupe (971, an integer code in the sheet), « France métropolitaine » (label only: the
  converter skips it) and « France métropolitaine et DOM », and its source note — figures
  copied from that sheet.
  The « Hommes » and « Femmes » blocks are left out (the converter reads the first block).
- ``FILOSOFI_2013`` is the header and eight rows, verbatim, of ``fr-dpt-pauvrete-2013.csv``
  (INSEE Filosofi 2013 by département, labelled columns, ``,``-separated, decimal commas in
  quotes), GitHub ``AtelierCartographie/Khartis``, ``public/data/examples/``, commit
  ``d168bfe4473735e6338753186ca35c094b478b1b``, found with the ``pages`` search.
  One row (``SECRET_ROW``) is added by the test, not from the file: an empty rate, as a
  suppressed cell.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ptsm_diag.compute.context import context_card_table
from ptsm_diag.io.opendata.context import convert_age_structure, convert_poverty
from ptsm_diag.io.opendata.converters import Context
from ptsm_diag.io.opendata.download import FormatChangedError
from ptsm_diag.io.sources import read_table, validate_folder

BANDS = [f"{a} à {a + 4} ans" for a in range(0, 95, 5)] + ["95 ans et plus"]
# « Ensemble » block of the INSEE sheet « Année 2023 » (see the module docstring).
REAL_ROWS = [
    ("01", "Ain", [37167, 44341, 47368, 41851, 33385, 32300, 40240, 44035, 45914, 44143,
                   47484, 45586, 40402, 35995, 32966, 24933, 15541, 10616, 5748, 1922],
     671937),
]


def _insee_age_workbook(path: Path, rows: list[tuple], total_row: tuple | None = None) -> Path:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Feuil1"
    sheet.append(["Estimation de population au 1er janvier, par département, sexe et âge "
                  "quinquennal"])
    sheet.append(["Année 2023"])
    sheet.append([])
    sheet.append(["Départements", None, "Ensemble"] + [None] * 20 + ["Hommes"])
    sheet.append([None, None, *BANDS, "Total"])
    for row in rows:
        if len(row) == 4:  # (code, name, bands, total)
            code, name, bands, total = row
            sheet.append([code, name, *bands, total])
        else:
            sheet.append(list(row))
    if total_row is not None:
        sheet.append(list(total_row))
    sheet.append([])
    sheet.append(["Source : Insee - Estimations de population (résultats provisoires arrêtés "
                  "fin 2022)"])
    workbook.save(path)
    return path


# ----------------------------------------------------------------------------- aggregation

# A toy France: région R1 = départements D1 (communes a, b, c) and D2 (d, e); région R2 =
# département D3 (f).
GEO = pd.DataFrame({
    "code_commune": list("abcdef"),
    "code_departement": ["D1", "D1", "D1", "D2", "D2", "D3"],
    "code_region": ["R1"] * 5 + ["R2"],
})
# taux_chomage: (chômeurs, actifs) per commune.
COUNTS = {"a": (120, 1000), "b": (30, 400), "c": (90, 600), "d": (200, 2500),
          "e": (15, 100), "f": (500, 4000)}


def _rows(counts: dict[str, tuple[int, int]], indicator: str = "taux_chomage",
          year: int = 2021) -> pd.DataFrame:
    return pd.DataFrame([{"niveau": "commune", "code": c, "indicateur": indicator,
                          "annee": year, "numerateur": n, "denominateur": d,
                          "valeur": np.nan, "source": "recensement"}
                         for c, (n, d) in counts.items()])


def _card(table, communes, dep="D1", region="R1", **kwargs) -> pd.DataFrame:
    out = context_card_table(table, communes, dep, region, geography=GEO, **kwargs)
    return out[out["indicateur"] == "taux_chomage"].set_index("niveau")


def _pooled(codes: str) -> float:
    n = sum(COUNTS[c][0] for c in codes)
    d = sum(COUNTS[c][1] for c in codes)
    return 100 * n / d


def test_rates_are_pooled_from_numerators_and_denominators_never_averaged() -> None:
    card = _card(_rows(COUNTS), ["a", "b", "d"])
    assert card.loc["territoire", "valeur"] == pytest.approx(_pooled("abd"))
    assert card.loc["departement", "valeur"] == pytest.approx(_pooled("abc"))
    assert card.loc["region", "valeur"] == pytest.approx(_pooled("abcde"))
    assert card.loc["france", "valeur"] == pytest.approx(_pooled("abcdef"))
    # the mean of the commune rates would differ: the test can tell them apart
    mean = np.mean([100 * n / d for n, d in COUNTS.values()])
    assert not math.isclose(card.loc["france", "valeur"], mean, rel_tol=1e-3)
    assert card["disponible"].all() and (card["annee"] == 2021).all()


def test_partial_coverage_is_not_available_and_says_which_units_are_missing() -> None:
    counts = {k: v for k, v in COUNTS.items() if k != "c"}
    card = _card(_rows(counts), ["a", "b"])
    assert card.loc["territoire", "disponible"]  # a and b are there
    for level in ("departement", "region", "france"):
        assert not card.loc[level, "disponible"] and np.isnan(card.loc[level, "valeur"])
    assert card.loc["departement", "raison"] == \
        "couverture partielle : 2 communes sur 3 (manquent : c)"
    assert "1 départements sur 2" in card.loc["region", "raison"]
    assert "manquent : D1" in card.loc["france", "raison"]


def test_published_rows_are_used_for_their_own_unit() -> None:
    published = pd.DataFrame([
        # a Filosofi-like rate with its denominator: the numerator is derived from it
        {"niveau": "departement", "code": "D3", "indicateur": "taux_chomage", "annee": 2021,
         "numerateur": np.nan, "denominateur": 4000, "valeur": 12.5, "source": "publiée"},
        {"niveau": "france", "code": "FRANCE", "indicateur": "taux_chomage", "annee": 2021,
         "numerateur": np.nan, "denominateur": np.nan, "valeur": 7.3, "source": "publiée"},
    ])
    counts = {k: v for k, v in COUNTS.items() if k != "f"}
    card = _card(pd.concat([_rows(counts), published]), ["f"], dep="D3", region="R2")
    assert card.loc["territoire", "valeur"] == pytest.approx(12.5)
    assert card.loc["region", "valeur"] == pytest.approx(12.5)
    assert card.loc["france", "valeur"] == pytest.approx(7.3)  # published, used as such


def test_a_territory_of_a_whole_departement_and_loose_communes() -> None:
    """D2 entire (its published row) plus commune a of D1 (its commune row)."""
    published = pd.DataFrame([{"niveau": "departement", "code": "D2",
                               "indicateur": "taux_chomage", "annee": 2021, "numerateur": 300,
                               "denominateur": 2000, "valeur": np.nan, "source": "publiée"}])
    card = _card(pd.concat([_rows({"a": COUNTS["a"]}), published]), ["a", "d", "e"])
    assert card.loc["territoire", "valeur"] == pytest.approx(100 * (120 + 300) / (1000 + 2000))


def test_a_rate_without_denominator_cannot_be_summed() -> None:
    rows = _rows({k: v for k, v in COUNTS.items() if k not in "abc"})
    rows = pd.concat([rows, pd.DataFrame([{
        "niveau": "departement", "code": "D1", "indicateur": "taux_chomage", "annee": 2021,
        "numerateur": np.nan, "denominateur": np.nan, "valeur": 9.0, "source": "x"}])])
    card = _card(rows, ["a", "b", "c"])
    assert card.loc["departement", "valeur"] == pytest.approx(9.0)
    assert card.loc["territoire", "valeur"] == pytest.approx(9.0)
    assert not card.loc["region", "disponible"]
    assert "manquent : D1" in card.loc["region", "raison"]


def test_latest_year_is_used_at_every_level() -> None:
    old = _rows(dict.fromkeys(COUNTS, (1, 10)), year=2019)
    card = _card(pd.concat([old, _rows(COUNTS)]), ["a"])
    assert (card["annee"] == 2021).all()
    assert card.loc["territoire", "valeur"] == pytest.approx(12.0)


def test_small_counts_are_masked() -> None:
    card = _card(_rows({**COUNTS, "e": (7, 100)}), ["e"], dep="D2")
    assert card.loc["territoire", "masque"] and np.isnan(card.loc["territoire", "valeur"])
    assert "secret statistique" in card.loc["territoire", "raison"]
    assert card.loc["departement", "disponible"]  # 207 chômeurs: shown


def test_without_table_everything_is_not_available() -> None:
    card = context_card_table(None, ["a"], "D1", "R1", geography=GEO)
    assert not card["disponible"].any()
    assert set(card["raison"]) == {"absent de la table contexte"}
    assert card["annee"].isna().all()


# ----------------------------------------------------------------------------- validation


def test_bad_rows_give_french_errors_naming_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "contexte.csv"
    path.write_text(
        "niveau;code;indicateur;annee;numerateur;denominateur;valeur;source\n"
        "commune;35238;taux_chomage;2021;12480;110250;;INSEE\n"        # fine (line 2)
        "commune;35;taux_chomage;2021;10;100;;INSEE\n"                # département code
        "departement;35;taux_pauvrete;2021;;;150;Filosofi\n"          # rate above 100 %
        "departement;29;taux_chomage;2021;500;100;;INSEE\n"           # numerator > denominator
        "departement;29;chomage;2021;5;100;;INSEE\n"                  # unknown indicator
        "france;FRANCE;part_65_plus;2023;;;;INSEE\n",                 # no value at all
        encoding="utf-8")
    result = read_table("contexte", path)
    assert result.n_accepted == 1
    errors = {(p.row, p.column): p for p in result.problems}
    assert "mauvais format" in errors[(3, "code")].message
    assert errors[(4, "valeur")].value == "150"
    assert "numérateur supérieur au dénominateur" in errors[(5, "numerateur")].message
    assert "indicateurs de contexte" in errors[(6, "indicateur")].expected
    assert "aucune valeur" in errors[(7, "valeur")].message
    assert all(p.file == "contexte.csv" for p in result.problems)


def test_contexte_is_an_optional_table_of_a_folder(tmp_path: Path) -> None:
    (tmp_path / "territoires.csv").write_text(
        "code_territoire;nom_territoire;niveau;code\n35;PTSM 35;departement;35\n",
        encoding="utf-8")
    report = validate_folder(tmp_path)
    assert not report.has_errors and "contexte" not in report.results


# ----------------------------------------------------------------------------- adapter


FRANCE_METRO = ("France métropolitaine", None)
FRANCE_ALL = ("France métropolitaine et DOM", None,
              3528519, 3963628, 4283679, 4243962, 3974246, 3718567, 4041269, 4179961,
              4294724, 4210764, 4500572, 4440273, 4198598, 3908807, 3705258, 2754934,
              1805432, 1352198, 708448, 228752, 68042591)


def test_age_structure_adapter_reads_the_insee_layout(tmp_path: Path) -> None:
    guadeloupe = (971, "Guadeloupe ", [18739, 20348, 23160, 24691, 18459, 15904, 18529,
                                       18407, 20033, 24168, 28441, 30771, 29817, 25641,
                                       21671, 15829, 10446, 6531, 3187, 1073], 375845)
    path = _insee_age_workbook(tmp_path / "estim-pop-dep-sexe-aq.xlsx",
                               [*REAL_ROWS, guadeloupe, (*FRANCE_METRO, *[None] * 21)],
                               total_row=FRANCE_ALL)
    converted = convert_age_structure(path, Context("structure_age"))
    table = converted.table.set_index(["code", "indicateur"])
    assert converted.producer_date == "2023"
    assert set(table.reset_index()["code"]) == {"01", "971", "FRANCE"}
    ain = REAL_ROWS[0][2]
    assert table.loc[("01", "part_0_19"), "numerateur"] == sum(ain[:4])
    assert table.loc[("01", "part_20_64"), "numerateur"] == sum(ain[4:13])
    assert table.loc[("01", "part_65_plus"), "numerateur"] == sum(ain[13:])
    assert table.loc[("01", "part_75_plus"), "numerateur"] == sum(ain[15:])
    assert (table.loc["01", "denominateur"] == 671937).all()
    assert table.loc[("FRANCE", "part_65_plus"), "denominateur"] == 68042591
    assert table.loc[("971", "part_0_19"), "numerateur"] == 18739 + 20348 + 23160 + 24691
    assert "INSEE" in table["source"].iloc[0] and (table["annee"] == 2023).all()


def test_age_structure_adapter_refuses_a_changed_layout(tmp_path: Path) -> None:
    bad = [("01", "Ain", REAL_ROWS[0][2], 671938)]  # bands no longer add up to the total
    path = _insee_age_workbook(tmp_path / "estim.xlsx", bad)
    with pytest.raises(FormatChangedError, match=r"ligne 6 \(01\) : la somme des tranches"):
        convert_age_structure(path, Context("structure_age"))


@pytest.mark.shared_data
def test_age_structure_of_the_real_insee_sheet_matches_a_hand_computation(
        shared_data_dir: Path) -> None:
    folder = shared_data_dir / "insee_pop_dep_age"
    converted = convert_age_structure(folder / "estim-pop-dep-sexe-aq_annee2023.xlsx",
                                      Context("structure_age"))
    table = converted.table
    assert table[table["niveau"] == "departement"]["code"].nunique() == 101
    # hand computation from the derived CSV (sums of the same sheet's bands, SOURCES.md §3)
    hand = pd.read_csv(folder / "pop_dep_grands_ages_2023.csv", dtype={"dep_code": str})
    hand = hand.set_index("dep_code")
    card = context_card_table(table, [], "35", "53")
    for level, code in (("departement", "35"), ("france", "France métropolitaine et DOM")):
        row = hand.loc[code]
        got = card[card["niveau"] == level].set_index("indicateur")["valeur"]
        assert got["part_0_19"] == pytest.approx(100 * row["pop_0_19"] / row["pop_total"])
        assert got["part_65_plus"] == pytest.approx(100 * row["pop_65_plus"] / row["pop_total"])
        assert got["part_75_plus"] == pytest.approx(100 * row["pop_75_plus"] / row["pop_total"])
    # Bretagne (53) = 22 + 29 + 35 + 56, pooled
    bretagne = hand.loc[["22", "29", "35", "56"]].sum()
    got = card[card["niveau"] == "region"].set_index("indicateur")["valeur"]
    assert got["part_20_64"] == pytest.approx(100 * bretagne["pop_20_64"] / bretagne["pop_total"])
    # the France row of the sheet equals the sum of its 101 départements
    france = table[(table["niveau"] == "france") & (table["indicateur"] == "part_0_19")]
    deps = table[(table["niveau"] == "departement") & (table["indicateur"] == "part_0_19")]
    assert int(france["numerateur"].iloc[0]) == int(deps["numerateur"].sum())


# ----------------------------------------------------------------------------- report


@pytest.fixture(scope="module")
def folder_29(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("donnees_29")
    (folder / "territoires.csv").write_text(
        "code_territoire;nom_territoire;code_region;niveau;code\n"
        "29;PTSM du Finistère;53;departement;29\n", encoding="utf-8")
    return folder


def test_card_says_not_available_without_a_contexte_table(folder_29: Path) -> None:
    from ptsm_diag.diagnostic import prepare_diagnostic
    from ptsm_diag.report import sections

    diag = prepare_diagnostic("29", folder_29)
    card = sections.context_card(diag)
    levels = [c for c in card.columns if c.startswith(("Territoire", "Département", "Région"))
              or c == "France"]
    assert levels[1] == "Département (Finistère)" and levels[2] == "Région (Bretagne)"
    assert (card[levels] == "non disponible").all().all()
    assert "Aucune table contexte" in sections.context_card_note(diag)


def test_card_shows_pooled_values_with_year_and_escaped_source(folder_29: Path,
                                                              tmp_path: Path) -> None:
    import shutil

    from ptsm_diag.diagnostic import prepare_diagnostic
    from ptsm_diag.report import sections
    from ptsm_diag.report.display import to_html

    folder = tmp_path / "donnees"
    shutil.copytree(folder_29, folder)
    (folder / "contexte.csv").write_text(
        "niveau;code;indicateur;annee;numerateur;denominateur;valeur;source\n"
        "departement;29;taux_chomage;2021;40000;400000;;<img src=x onerror=alert(1)>\n"
        "departement;22;taux_chomage;2021;30000;280000;;INSEE\n"
        "departement;29;part_population_qpv;2020;8;915000;;ANCT\n",
        encoding="utf-8")
    diag = prepare_diagnostic("29", folder)
    card = sections.context_card(diag).set_index("Indicateur")
    line = card.loc["Taux de chômage des 15-64 ans (recensement)"]
    assert line["Territoire (PTSM du Finistère)"] == "10,0 %"
    assert line["Région (Bretagne)"] == "non disponible"  # 35 and 56 missing
    assert "couverture partielle : 2 départements sur 4" in line["Remarque"]
    assert line["Année"] == "2021"
    qpv = card.loc["Part de la population vivant en quartier prioritaire (QPV)"]
    assert qpv["Territoire (PTSM du Finistère)"] == "secret statistique"
    page = to_html(sections.context_card(diag))
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_donnees_telecharger_writes_a_valid_contexte_table(tmp_path: Path) -> None:
    """``ptsm-diag donnees telecharger --sources structure_age`` through a local mirror."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from ptsm_diag.io.opendata.cache import OpenDataCache
    from ptsm_diag.io.opendata.pipeline import Options, telecharger

    mirror = tmp_path / "miroir"
    mirror.mkdir()
    _insee_age_workbook(mirror / "estim-pop-dep-sexe-aq.xlsx", REAL_ROWS,
                        total_row=FRANCE_ALL)
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(mirror))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        report = telecharger(
            "structure_age", sortie=tmp_path / "out", departements="01",
            options=Options(url_base=f"http://127.0.0.1:{httpd.server_address[1]}",
                            timeout=10),
            cache=OpenDataCache(tmp_path / "cache"))
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert (tmp_path / "out" / "contexte.csv") in report.files
    check = validate_folder(tmp_path / "out")
    assert not check.has_errors, check.to_french_text()
    table = check.results["contexte"].data
    assert len(table) == 8 and set(table["code"]) == {"01", "FRANCE"}


FILOSOFI_2013 = (
    "Code géographique,Libellé géographique,Nombre de ménages fiscaux,Nombre de personnes "
    "dans les ménages fiscaux,Part des ménages fiscaux imposés (%),Taux de pauvreté-Ensemble "
    "(% pop totale),Taux de pauvreté selon l’âge du référent fiscal (% des moins de 30 ans),"
    "Taux de pauvreté selon l’âge du référent fiscal (% des 30 à 39 ans) ,Taux de pauvreté "
    "selon l’âge du référent fiscal (% des 40 à 49 ans),Taux de pauvreté selon l’âge du "
    "référent fiscal (% des 50 à 59 ans),Taux de pauvreté selon l’âge du référent fiscal (% "
    "des 60 à 74 ans),Taux de pauvreté selon l’âge du référent fiscal (% des 75 ans ou plus),"
    "Taux de pauvreté selon le statut d’occupation du logement (propriétaires),Taux de "
    "pauvreté selon le statut d’occupation du logement (locataires),Revenu disponible par "
    "unité de consommation (Médiane),Revenu disponible par unité de consommation (Rapport "
    "inter-décile 9e décile/1er decile),Revenu disponible par unité de consommation (1er "
    "décile),Revenu disponible par unité de consommation (9e décile du niveau de vie)\n"
    '01,Ain,245638,"601507,0","60,2","10,6","15,5","11,7","11,8","10,2","7,4","7,1","5,6",'
    '"20,8","21489,7","3,4","11881,8","40696,5"\n'
    '04,Alpes-de-Haute-Provence,71306,"154509,5","53,0","16,5","26,3","19,7","20,2","16,2",'
    '"11,0","11,8","9,6","27,4","19003,3","3,3","10155,2","33417,0"\n'
    '22,Côtes-d\'Armor,263924,"588545,5","54,0","11,6","19,5","13,2","14,1","11,5","6,2",'
    '"9,7","7,1","25,2","19844,0","2,9","11586,4","33560,0"\n'
    '29,Finistère,399909,"884150,0","55,9","10,3","19,0","11,4","12,1","10,1","5,4","7,9",'
    '"5,8","23,9","20267,3","2,8","12020,4","34112,9"\n'
    '2A,Corse-du-Sud,56961,"127518,0","55,9","17,6","23,7","18,5","19,3","17,9","14,6",'
    '"16,7","10,3","26,7","19490,5","3,7","9842,8","36149,3"\n'
    '35,Ille-et-Vilaine,419197,"980620,0","58,1","10,1","20,8","11,1","10,9","8,7","5,2",'
    '"7,1","5,0","22,6","20688,3","2,9","12080,0","35577,8"\n'
    '56,Morbihan,324617,"732042,0","55,8","11,1","18,7","13,2","13,6","10,8","5,8","8,2",'
    '"6,3","24,1","20117,9","2,9","11735,0","34288,7"\n'
    '93,Seine-Saint-Denis,566884,"1556417,0","54,0","27,8","30,6","30,4","32,7","27,5",'
    '"21,2","12,0","12,7","37,8","16744,6","4,0","8123,8","32268,5"\n'
)
SECRET_ROW = '29019,Brest,,,,,,,,,,,,,,,,\n'  # added by the test (see the module docstring)


def test_poverty_adapter_reads_the_labelled_filosofi_export(tmp_path: Path) -> None:
    path = tmp_path / "fr-dpt-pauvrete-2013.csv"
    path.write_text(FILOSOFI_2013 + SECRET_ROW, encoding="utf-8")
    converted = convert_poverty(path, Context("pauvrete"))
    table = converted.table.set_index("code")
    assert list(table.index) == ["01", "04", "22", "29", "2A", "35", "56", "93"]
    assert table.loc["01", "denominateur"] == 601507.0 and table.loc["01", "valeur"] == 10.6
    assert table.loc["04", "denominateur"] == 154509.5  # INSEE's half persons kept
    assert (table["annee"] == 2013).all() and (table["niveau"] == "departement").all()
    assert "Filosofi 2013" in table.loc["29", "source"]
    assert converted.problems and "29019" in converted.problems[0].message
    # the region is pooled from rates × persons, never the mean of the rates
    card = context_card_table(converted.table, [], "29", "53")
    card = card[card["indicateur"] == "taux_pauvrete"].set_index("niveau")
    bretagne = {"22": (11.6, 588545.5), "29": (10.3, 884150.0), "35": (10.1, 980620.0),
                "56": (11.1, 732042.0)}
    pooled = sum(r * n for r, n in bretagne.values()) / sum(n for _, n in bretagne.values())
    assert card.loc["region", "valeur"] == pytest.approx(pooled)
    assert card.loc["departement", "valeur"] == pytest.approx(10.3)
    assert not card.loc["france", "disponible"]  # 8 départements only
    # what the converter writes validates as a contexte table
    out = tmp_path / "contexte.csv"
    converted.table.to_csv(out, sep=";", index=False)
    assert read_table("contexte", out).problems == []


def test_poverty_adapter_names_a_missing_column_and_a_missing_year(tmp_path: Path) -> None:
    path = tmp_path / "fr-dpt-pauvrete-2013.csv"
    path.write_text(FILOSOFI_2013.replace("Taux de pauvreté-Ensemble", "Taux"), encoding="utf-8")
    with pytest.raises(FormatChangedError, match="Taux de pauvreté-Ensemble"):
        convert_poverty(path, Context("pauvrete"))
    undated = tmp_path / "pauvrete.csv"
    undated.write_text(FILOSOFI_2013, encoding="utf-8")
    with pytest.raises(Exception, match="millésime"):
        convert_poverty(undated, Context("pauvrete"))
