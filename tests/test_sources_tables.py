"""Table rules: counts, numerators, dates, statuses, territories, coordinates, targets."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ptsm_diag.errors import Severity
from ptsm_diag.io.sources import read_table

REFS = {
    "communes": {"01001", "35238", "35288", "35093", "2A004", "75056", "97411"},
    "departements": {"01", "35", "2A", "974"},
    "regions": {"53", "84", "94"},
    "indicators": {"densite_cmp", "rehospit_15j", "delai_mdph"},
}


def table(tmp_path: Path, name: str, text: str, **refs):
    """Write ``text`` (``;``-separated, first line = header) and read it."""
    path = tmp_path / f"{name}.csv"
    path.write_text(text, encoding="utf-8")
    result = read_table(name, path, **{**REFS, **refs})
    rows = len([line for line in text.splitlines()[1:] if line.strip(" ;")])
    assert result.n_read == rows == result.n_accepted + result.n_rejected
    return result


def found(result, severity=Severity.ERREUR) -> set[tuple[int | None, str | None]]:
    return {(p.row, p.column) for p in result.problems if p.severity == severity}


INDICATEURS = "code_territoire;indicateur;annee;numerateur;denominateur;valeur\n"


def test_numerator_above_denominator(tmp_path: Path) -> None:
    result = table(tmp_path, "indicateurs", INDICATEURS
                   + "35;rehospit_15j;2023;30;20;\n35;densite_cmp;2023;20;20;\n",
                   proportions=None)  # no catalogue information: the rule applies to all
    assert found(result) == {(2, "numerateur")}
    (error,) = result.problems
    assert error.value == "numerateur=30 ; denominateur=20"
    assert "supérieur au dénominateur" in error.message


def test_numerator_may_exceed_denominator_for_a_ratio(tmp_path: Path) -> None:
    result = table(tmp_path, "indicateurs", INDICATEURS
                   + "35;densite_cmp;2023;30;20;\n35;rehospit_15j;2023;30;20;\n",
                   proportions={"rehospit_15j"})
    assert found(result) == {(3, "numerateur")}
    assert result.data["indicateur"].tolist() == ["densite_cmp"]


def test_negative_counts_and_zero_denominator(tmp_path: Path) -> None:
    result = table(tmp_path, "indicateurs", INDICATEURS
                   + "35;densite_cmp;2023;-3;20;\n35;rehospit_15j;2023;2;0;\n"
                     "35;delai_mdph;2023;;;-1,5\n")
    assert found(result) == {(2, "numerateur"), (3, "denominateur")}
    assert result.data["valeur"].tolist() == [-1.5]  # a value may be negative


def test_indicator_row_needs_a_value(tmp_path: Path) -> None:
    result = table(tmp_path, "indicateurs", INDICATEURS
                   + "35;densite_cmp;2023;;;\n35;rehospit_15j;2023;4;;\n"
                     "FRANCE;delai_mdph;2023;;;90\nR53;delai_mdph;2023;;;80\n"
                     "R99;delai_mdph;2023;;;80\n35;densite_cmp;2022;;100;\n",
                   territories={"35"})
    assert found(result) == {(2, "valeur"), (3, "denominateur"), (6, "code_territoire"),
                             (7, "denominateur")}
    assert len(result.problems) == 4
    assert result.data["code_territoire"].tolist() == ["FRANCE", "R53"]


def test_unknown_indicator_and_territory(tmp_path: Path) -> None:
    result = table(tmp_path, "indicateurs", INDICATEURS
                   + "35;densite_cpm;2023;1;10;\n36;densite_cmp;2023;1;10;\n",
                   territories={"35"})
    problems = {p.row: p for p in result.problems}
    assert problems[2].column == "indicateur" and "densite_cmp" in problems[2].message
    assert problems[3].column == "code_territoire" and "36" in problems[3].message
    assert "35" in problems[3].expected


ACTIONS = ("id_action;code_territoire;priorite;theme;intitule;pilote;statut;date_debut;"
           "date_echeance;date_suivi;avancement;motif;indicateurs\n")


def test_date_formats(tmp_path: Path) -> None:
    result = table(tmp_path, "actions", ACTIONS
                   + "A1;35;1;3;Former;CH;En cours;15/01/2024;2026-12-31;2024-06-30;10;;\n"
                     "A2;35;1;3;Former;CH;En cours;31/02/2024;;2024-06-30;;;\n"
                     "A3;35;1;3;Former;CH;En cours;2024-13-01;;30-06-2024;;;\n"
                     "A4;35;1;3;Former;CH;En cours;2025-01-01;2024-12-31;2024-06-30;;;\n")
    assert found(result) == {(3, "date_debut"), (4, "date_debut"), (4, "date_suivi"),
                             (5, "date_echeance")}
    assert result.data.loc[2, "date_debut"] == pd.Timestamp("2024-01-15")
    bad = next(p for p in result.problems if p.row == 3)
    assert bad.value == "31/02/2024" and "JJ/MM/AAAA" in bad.expected


def test_suspended_action_without_motif_is_a_warning(tmp_path: Path) -> None:
    result = table(tmp_path, "actions", ACTIONS
                   + "A1;35;1;3;Former;CH;Suspendue;;;2024-06-30;;;\n"
                     "A2;35;1;3;Former;CH;Abandonnée;;;2024-06-30;;Plus de financement;\n"
                     "A3;35;1;3;Former;Dr Martin;En cours;;;2024-06-30;;;\n")
    assert result.n_accepted == 3
    assert found(result, Severity.AVERTISSEMENT) == {(2, "motif"), (4, "pilote")}


def test_action_codes_and_bounds(tmp_path: Path) -> None:
    result = table(tmp_path, "actions", ACTIONS
                   + "A1;35;7;3;Former;CH;En cours;;;2024-06-30;120;;\n"
                     "A2;35;1;3;Former;CH;Terminée;;;2024-06-30;;;densite_cmp|inconnu\n"
                     "A2;35;1;3;Former;CH;En cours;;;30/06/2024;;;\n",
                   territories={"35"})
    assert found(result) == {(2, "priorite"), (2, "avancement"), (3, "statut"),
                             (3, "indicateurs"), (4, None)}
    duplicate = next(p for p in result.problems if p.row == 4)
    assert "ligne 3" in duplicate.message  # same action, same follow-up date in two formats
    listed = next(p for p in result.problems if p.column == "indicateurs")
    assert "« inconnu »" in listed.message and "densite_cmp" not in listed.message


def test_territories(tmp_path: Path) -> None:
    result = table(tmp_path, "territoires",
                   "code_territoire;nom_territoire;code_region;niveau;code\n"
                   "T1;Territoire 1;53;departement;35\n"
                   "T2;Territoire 2;53;departement;1\n"
                   "T3;Territoire 3;53;commune;35288\n"
                   "T3;Territoire trois;53;commune;35093\n"
                   "T4;Territoire 4;53;commune;35\n"
                   "T5;Territoire 5;53;commune;35999\n"
                   "R53;Bretagne;53;departement;35\n"
                   "T6;Territoire 6;99;region;35\n"
                   "T7;Territoire 7;53;departement;35\n")
    assert found(result) == {(6, "code"), (7, "code"), (8, "code_territoire"),
                             (9, "code_region"), (9, "niveau")}
    assert found(result, Severity.REPARATION) == {(3, "code")}
    assert found(result, Severity.AVERTISSEMENT) == {(5, "nom_territoire"), (10, "code")}
    assert result.data.loc[3, "code"] == "01"


def test_resource_coordinates_and_defaults(tmp_path: Path) -> None:
    result = table(tmp_path, "ressources",
                   "id_ressource;nom;type_ressource;champ;code_commune;longitude;latitude;"
                   "x_lambert93;y_lambert93;prestations;telephone\n"
                   "R1;A;cmp_enfants;;35238;-1,68;48,11;;;;02 99 00 00 00\n"
                   "R2;B;cmp_enfants;;35238;48,11;-1,68;;;;\n"
                   "R3;C;cmp_enfants;;97411;55,45;-20,88;;;;0262 00 00 00\n"
                   "R4;D;cmp_enfants;;35238;;;351000;6789000;;\n"
                   "R5;E;cmp_enfants;;35238;;;351000;;;\n"
                   "R6;F;cmp_enfants;;35238;;;35100;6789000;;\n"
                   "R7;G;gem;social;75112;;;;;pair_aidance|logements;+33 1 00 00 00 00\n"
                   "R8;H;gem;;35238;;;;;;06 12\n")
    assert found(result) == {(3, "longitude"), (6, "y_lambert93"), (7, "x_lambert93"),
                             (8, "prestations")}
    assert found(result, Severity.REPARATION) == {(8, "code_commune")}
    assert found(result, Severity.AVERTISSEMENT) == {(9, "telephone")}
    data = result.data
    assert data.loc[2, "champ"] == "sanitaire" and data.loc[2, "public"] == "enfants"
    assert data.loc[9, "champ"] == "usagers"  # default of the GEM type


def test_arrondissement_is_repaired_to_its_commune(tmp_path: Path) -> None:
    result = table(tmp_path, "population",
                   "code_commune;annee;tranche_age;population\n75112;2021;65+;30000\n")
    assert result.data["code_commune"].tolist() == ["75056"]
    (repair,) = result.problems
    assert repair.severity == Severity.REPARATION and repair.value == "75112"


def test_targets(tmp_path: Path) -> None:
    result = table(tmp_path, "cibles",
                   "code_territoire;indicateur;annee_initiale;valeur_initiale;annee_cible;"
                   "valeur_cible;annee_actuelle;valeur_actuelle\n"
                   "35;rehospit_15j;2023;12,7;2028;6,4;2024;11,9\n"
                   "35;delai_mdph;2023;120;2023;60;;\n"
                   "36;densite_cmp;2023;1;2028;2;2022;1\n"
                   "35;densite_cmp;2023;1;2028;2;;1\n"
                   "35;rehospit_15j;2022;12;2027;6;;\n"
                   "R53;rehospit_15j;2023;12;2028;6;;\n",
                   territories={"35"})
    assert found(result) == {(3, "annee_cible"), (4, "code_territoire"), (4, "annee_actuelle"),
                             (5, "valeur_actuelle"), (6, None)}
    assert result.data["valeur_actuelle"].fillna(-1).tolist() == [11.9, -1]
    assert result.data["code_territoire"].tolist() == ["35", "R53"]  # a regional target


@pytest.mark.parametrize("population", ["-5", "12,5", "beaucoup"])
def test_population_must_be_a_count(tmp_path: Path, population: str) -> None:
    result = table(tmp_path, "population",
                   f"code_commune;annee;tranche_age;population\n35238;2021;65+;{population}\n")
    (error,) = result.problems
    assert (error.row, error.column, error.value) == (2, "population", population)


def test_vocabulary_values_with_other_case_or_accents_are_repaired(tmp_path: Path) -> None:
    result = table(tmp_path, "actions", ACTIONS
                   + "A1;35;1;3;Former;CH;en cours;;;2024-06-30;;;\n"
                     "A2;35;1;3;Former;CH;NON COMMENCEE;;;2024-06-30;;;\n"
                     "A3;35;1;3;Former;CH;En cour;;;2024-06-30;;;\n")
    assert result.data["statut"].tolist() == ["En cours", "Non commencée"]
    assert {(p.row, p.value) for p in result.problems
            if p.severity == Severity.REPARATION} == {(2, "en cours"), (3, "NON COMMENCEE")}
    (error,) = [p for p in result.problems if p.severity == Severity.ERREUR]
    assert error.row == 4 and "En cours" in error.message  # suggestion


def test_territory_level_repaired_before_its_code(tmp_path: Path) -> None:
    result = table(tmp_path, "territoires",
                   "code_territoire;nom_territoire;niveau;code\nT1;Ain;Département;1\n")
    assert result.data[["niveau", "code"]].values.tolist() == [["departement", "01"]]
    assert len(result.problems) == 2
