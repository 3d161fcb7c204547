"""Table-specific rules that involve more than one column.

- :func:`error_rules` — row rules that reject a row (run by pandera, see :mod:`.checks`);
- :func:`prepare` — repairs that depend on another column (territory codes by level);
- :func:`warnings` — rows kept but worth a look;
- :func:`finish` — documented defaults (champ and public of a resource from its type).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

import pandas as pd

from ptsm_diag.catalog import load_vocabularies
from ptsm_diag.errors import Problem, Severity
from ptsm_diag.io.sources.parsing import cell_problems, repair_column
from ptsm_diag.io.sources.referentials import Referentials, is_known
from ptsm_diag.io.sources.schemas import (
    COMMUNE_PATTERN,
    DEPARTEMENT_PATTERN,
    REFERENCE_FRANCE,
    REFERENCE_REGION_PATTERN,
    REGION_PATTERN,
)
from ptsm_diag.io.sources.vocab import resource_types

# Plausible WGS84 boxes (lon_min, lon_max, lat_min, lat_max) of the départements and
# Saint-Pierre-et-Miquelon, with a margin of a few kilometres.
FRANCE_BOXES = {
    "métropole et Corse": (-5.5, 9.9, 41.2, 51.3),
    "Antilles (Guadeloupe, Martinique, Saint-Martin, Saint-Barthélemy)": (
        -63.3, -60.6, 14.2, 18.2),
    "Guyane": (-54.8, -51.4, 1.9, 6.0),
    "La Réunion": (55.1, 56.0, -21.5, -20.7),
    "Mayotte": (44.9, 45.4, -13.1, -12.5),
    "Saint-Pierre-et-Miquelon": (-56.6, -55.9, 46.7, 47.2),
}
PERSON_TITLE = re.compile(
    r"^\s*(?:m\.|mme|mlle|monsieur|madame|mademoiselle|dr\.?|docteur|pr\.?|professeur)"
    r"(?:\s|$)",
    re.IGNORECASE,
)
PHONE = re.compile(r"0\d{9}|\+\d{8,15}|00\d{8,15}|[1-9]\d{1,5}")  # short: 15, 3114


@dataclass(frozen=True)
class RowRule:
    """A rule on several columns of a row; the row is rejected when ``ok`` is False.

    Attributes
    ----------
    key : str
        Unique name (used as the pandera check error).
    column : str
        Column the problem is reported on.
    columns : tuple of str
        Columns whose values are quoted in the problem.
    ok : callable
        Typed frame → boolean Series (True = fine; NA-safe).
    message, expected : str
        French wording.
    """

    key: str
    column: str
    columns: tuple[str, ...]
    ok: Callable[[pd.DataFrame], pd.Series]
    message: str
    expected: str


def _fine(mask: pd.Series) -> pd.Series:
    return mask.fillna(True).astype(bool)


def matches(values: pd.Series, pattern: str | re.Pattern) -> pd.Series:
    """Full match of a text column as a plain boolean Series (False when missing)."""
    return values.str.fullmatch(pattern).fillna(False).astype(bool)


def in_france(lon: pd.Series, lat: pd.Series) -> pd.Series:
    """Whether WGS84 points fall in one of :data:`FRANCE_BOXES`."""
    inside = pd.Series(False, index=lon.index)
    for lon_min, lon_max, lat_min, lat_max in FRANCE_BOXES.values():
        inside |= lon.between(lon_min, lon_max) & lat.between(lat_min, lat_max)
    return inside


def is_reference_code(codes: pd.Series, regions: frozenset[str] | None) -> pd.Series:
    """``FRANCE`` or ``R`` + a région code (a known one when ``regions`` is given)."""
    region = matches(codes, REFERENCE_REGION_PATTERN)
    if regions is not None:
        region &= codes.str[1:].isin(regions)
    return (codes == REFERENCE_FRANCE) | region


def error_rules(table: str, refs: Referentials) -> list[RowRule]:
    """The multi-column rules of a table that reject a row."""
    return _ERROR_RULES.get(table, lambda _refs: [])(refs)


def _level(df: pd.DataFrame, name: str) -> pd.Series:
    """Rows whose ``niveau`` is ``name`` (False where it is missing)."""
    return (df["niveau"] == name).fillna(False).astype(bool)


def _known_codes(df: pd.DataFrame, known_by_level: dict[str, object]) -> pd.Series:
    """Rows whose ``code`` is known at its level (True where no referential is given)."""
    bad = pd.Series(False, index=df.index)
    code = df["code"]
    for name, known in known_by_level.items():
        if known is not None:
            bad |= _level(df, name) & code.notna() & ~is_known(code, known)
    return ~bad


def _territoires_rules(refs: Referentials) -> list[RowRule]:
    def format_ok(df: pd.DataFrame) -> pd.Series:
        code = df["code"]
        dep = _level(df, "departement") & ~matches(code, DEPARTEMENT_PATTERN)
        com = _level(df, "commune") & ~matches(code, COMMUNE_PATTERN)
        return ~((dep | com) & code.notna())

    def known_ok(df: pd.DataFrame) -> pd.Series:
        return _known_codes(df, {"departement": refs.departements, "commune": refs.communes})

    def not_reserved(df: pd.DataFrame) -> pd.Series:
        code = df["code_territoire"]
        return ~(is_reference_code(code, None) & code.notna())

    return [
        RowRule("territoires_code_format", "code", ("niveau", "code"), format_ok,
                "code au mauvais format pour ce niveau",
                "département : 2 ou 3 caractères (01, 2A, 971) ; commune : code INSEE à "
                "5 caractères (01001)"),
        RowRule("territoires_code_connu", "code", ("niveau", "code"), known_ok,
                "code inconnu de la géographie embarquée (COG)",
                "un code département ou commune existant du Code officiel géographique"),
        RowRule("territoires_code_reserve", "code_territoire", ("code_territoire",),
                not_reserved, "code de territoire réservé aux valeurs de référence",
                "un code différent de « FRANCE » et de « R » + 2 chiffres"),
    ]


def _contexte_rules(refs: Referentials) -> list[RowRule]:
    def format_ok(df: pd.DataFrame) -> pd.Series:
        code = df["code"]
        bad = (_level(df, "departement") & ~matches(code, DEPARTEMENT_PATTERN)) \
            | (_level(df, "commune") & ~matches(code, COMMUNE_PATTERN)) \
            | (_level(df, "region") & ~matches(code, REGION_PATTERN)) \
            | (_level(df, "france") & (code != REFERENCE_FRANCE).fillna(True))
        return ~(bad & code.notna())

    def known_ok(df: pd.DataFrame) -> pd.Series:
        return _known_codes(df, {"departement": refs.departements, "commune": refs.communes,
                                 "region": refs.regions})

    def has_value(df: pd.DataFrame) -> pd.Series:
        return (df["numerateur"].notna() & df["denominateur"].notna()) | df["valeur"].notna()

    def num_le_den(df: pd.DataFrame) -> pd.Series:
        return _fine(df["numerateur"] <= df["denominateur"]) | df["denominateur"].isna() \
            | df["numerateur"].isna()

    return [
        RowRule("contexte_code_format", "code", ("niveau", "code"), format_ok,
                "code au mauvais format pour ce niveau",
                "commune : code INSEE à 5 caractères (01001) ; département : 01, 2A, 971 ; "
                "région : 2 chiffres (53) ; france : FRANCE"),
        RowRule("contexte_code_connu", "code", ("niveau", "code"), known_ok,
                "code inconnu de la géographie embarquée (COG)",
                "un code commune, département ou région existant du Code officiel "
                "géographique"),
        RowRule("contexte_valeur_absente", "valeur", ("numerateur", "denominateur", "valeur"),
                has_value, "aucune valeur : ni numérateur et dénominateur, ni valeur",
                "numerateur et denominateur, ou valeur (taux en %)"),
        RowRule("contexte_num_sup_den", "numerateur", ("numerateur", "denominateur"),
                num_le_den, "numérateur supérieur au dénominateur",
                "numerateur ≤ denominateur"),
    ]


def _ressources_rules(_refs: Referentials) -> list[RowRule]:
    def pair(a: str, b: str) -> Callable[[pd.DataFrame], pd.Series]:
        return lambda df: df[a].isna() == df[b].isna()

    def located(df: pd.DataFrame) -> pd.Series:
        lon, lat = df["longitude"], df["latitude"]
        return _fine(in_france(lon, lat).where(lon.notna() & lat.notna()))

    boxes = ", ".join(FRANCE_BOXES)
    return [
        RowRule("ressources_lonlat_paire", "latitude", ("longitude", "latitude"),
                pair("longitude", "latitude"), "longitude et latitude vont ensemble",
                "les deux coordonnées WGS84, ou aucune"),
        RowRule("ressources_xy_paire", "y_lambert93", ("x_lambert93", "y_lambert93"),
                pair("x_lambert93", "y_lambert93"), "x_lambert93 et y_lambert93 vont ensemble",
                "les deux coordonnées Lambert-93, ou aucune"),
        RowRule("ressources_hors_france", "longitude", ("longitude", "latitude"), located,
                "coordonnées WGS84 hors de France (vérifiez aussi l'ordre longitude, "
                "latitude)",
                f"longitude et latitude en degrés décimaux dans : {boxes}"),
    ]


def _indicateurs_rules(refs: Referentials) -> list[RowRule]:
    def has_value(df: pd.DataFrame) -> pd.Series:
        return df["numerateur"].notna() | df["denominateur"].notna() | df["valeur"].notna()

    def pair(df: pd.DataFrame) -> pd.Series:
        return df["numerateur"].isna() == df["denominateur"].isna()

    def num_le_den(df: pd.DataFrame) -> pd.Series:
        ok = _fine(df["numerateur"] <= df["denominateur"]) | df["denominateur"].isna() \
            | df["numerateur"].isna()
        if refs.proportions is not None:  # a ratio such as an SMR may exceed 1
            ok |= ~is_known(df["indicateur"], refs.proportions)
        return ok

    return [
        RowRule("indicateurs_valeur_absente", "valeur", ("numerateur", "denominateur", "valeur"),
                has_value, "aucune valeur : ni numérateur et dénominateur, ni valeur",
                "numerateur et denominateur, ou valeur"),
        RowRule("indicateurs_paire", "denominateur", ("numerateur", "denominateur"), pair,
                "numérateur et dénominateur vont ensemble",
                "les deux, ou aucun (et alors une valeur)"),
        RowRule("indicateurs_num_sup_den", "numerateur", ("numerateur", "denominateur"),
                num_le_den, "numérateur supérieur au dénominateur pour une proportion",
                "numerateur ≤ denominateur"),
    ]


def _actions_rules(_refs: Referentials) -> list[RowRule]:
    def dates(df: pd.DataFrame) -> pd.Series:
        return _fine(df["date_echeance"] >= df["date_debut"]) | df["date_debut"].isna() \
            | df["date_echeance"].isna()

    return [
        RowRule("actions_echeance_avant_debut", "date_echeance", ("date_debut", "date_echeance"),
                dates, "date d'échéance antérieure à la date de début",
                "date_echeance postérieure ou égale à date_debut"),
    ]


def _cibles_rules(_refs: Referentials) -> list[RowRule]:
    def after(late: str, early: str, strict: bool) -> Callable[[pd.DataFrame], pd.Series]:
        def ok(df: pd.DataFrame) -> pd.Series:
            test = df[late] > df[early] if strict else df[late] >= df[early]
            return _fine(test)
        return ok

    def pair(df: pd.DataFrame) -> pd.Series:
        return df["annee_actuelle"].isna() == df["valeur_actuelle"].isna()

    return [
        RowRule("cibles_annee_cible", "annee_cible", ("annee_initiale", "annee_cible"),
                after("annee_cible", "annee_initiale", True),
                "année cible antérieure ou égale à l'année initiale",
                "annee_cible > annee_initiale"),
        RowRule("cibles_annee_actuelle", "annee_actuelle", ("annee_initiale", "annee_actuelle"),
                after("annee_actuelle", "annee_initiale", False),
                "année actuelle antérieure à l'année initiale",
                "annee_actuelle ≥ annee_initiale"),
        RowRule("cibles_actuelle_paire", "valeur_actuelle", ("annee_actuelle", "valeur_actuelle"),
                pair, "année actuelle et valeur actuelle vont ensemble",
                "les deux, ou aucune"),
    ]


def _partenariats_rules(refs: Referentials) -> list[RowRule]:
    def named(number: int) -> Callable[[pd.DataFrame], pd.Series]:
        return lambda df: df[f"id_ressource_{number}"].notna() | df[f"nom_acteur_{number}"].notna()

    def different(df: pd.DataFrame) -> pd.Series:
        same_id = _fine(df["id_ressource_1"] == df["id_ressource_2"])
        same_name = _fine(df["nom_acteur_1"].str.casefold() == df["nom_acteur_2"].str.casefold())
        same_name &= df["id_ressource_1"].isna() & df["id_ressource_2"].isna()
        return ~((same_id & df["id_ressource_1"].notna()) | (same_name & df["nom_acteur_1"]
                                                             .notna()))

    def dates(df: pd.DataFrame) -> pd.Series:
        return _fine(df["date_fin"] >= df["date_debut"]) | df["date_debut"].isna() \
            | df["date_fin"].isna()

    rules = []
    for number in (1, 2):
        rules.append(RowRule(
            f"partenariats_acteur_{number}", f"id_ressource_{number}",
            (f"id_ressource_{number}", f"nom_acteur_{number}"), named(number),
            f"acteur {number} non désigné",
            f"id_ressource_{number} (identifiant de ressources.csv) ou nom_acteur_{number} "
            "(nom de la structure)"))
    if refs.resources is not None:
        known = refs.resources
        for number in (1, 2):
            column = f"id_ressource_{number}"
            rules.append(RowRule(
                f"partenariats_ressource_{number}_inconnue", column, (column,),
                lambda df, c=column: ~(df[c].notna() & ~is_known(df[c], known)),
                "identifiant de ressource inconnu : absent de ressources.csv (ou ligne "
                "rejetée dans ce fichier)",
                f"un id_ressource de ressources.csv, ou laissez {column} vide et nommez la "
                f"structure dans nom_acteur_{number}"))
    rules += [
        RowRule("partenariats_meme_acteur", "id_ressource_2",
                ("id_ressource_1", "nom_acteur_1", "id_ressource_2", "nom_acteur_2"),
                different, "les deux acteurs du lien sont identiques",
                "deux structures différentes"),
        RowRule("partenariats_fin_avant_debut", "date_fin", ("date_debut", "date_fin"),
                dates, "date de fin antérieure à la date de début",
                "date_fin postérieure ou égale à date_debut"),
    ]
    return rules


_ERROR_RULES: dict[str, Callable[[Referentials], list[RowRule]]] = {
    "territoires": _territoires_rules,
    "contexte": _contexte_rules,
    "ressources": _ressources_rules,
    "indicateurs": _indicateurs_rules,
    "actions": _actions_rules,
    "cibles": _cibles_rules,
    "partenariats": _partenariats_rules,
}


def prepare(
    table: str, text: pd.DataFrame, label: str, refs: Referentials
) -> tuple[pd.DataFrame, list[Problem]]:
    """Repairs that depend on another column: territory ``code`` repaired by ``niveau``."""
    if table not in ("territoires", "contexte") or "code" not in text or "niveau" not in text:
        return text, []
    text = text.copy()
    problems: list[Problem] = []
    for level, how in (("departement", "departement"), ("commune", "commune")):
        rows = text["niveau"] == level
        if rows.any():
            repaired, found = repair_column(text.loc[rows, "code"], how, label, "code",
                                            refs.communes)
            text.loc[rows, "code"] = repaired
            problems += found
    return text, problems


def warnings(
    table: str, typed: pd.DataFrame, label: str, rejected: Collection[int] = ()
) -> list[Problem]:
    """Rows worth a look (AVERTISSEMENT); rules across rows only use accepted rows."""
    if table == "actions":
        return _actions_warnings(typed, label)
    if table == "ressources":
        return _ressources_warnings(typed, label)
    if table == "territoires":
        return _territoires_warnings(typed.drop(index=list(rejected)), label)
    if table == "partenariats":
        return _partenariats_warnings(typed.drop(index=list(rejected)), label)
    return []


def _partenariats_warnings(typed: pd.DataFrame, label: str) -> list[Problem]:
    undated = typed["date_fin"].isna() & typed["frequence"].isna()
    problems = cell_problems(
        label, typed.loc[undated, "frequence"], "frequence",
        "une date de fin ou une fréquence",
        "ni date de fin ni fréquence : le lien est compté comme toujours actif",
        Severity.AVERTISSEMENT,
    )
    for number in (1, 2):
        column = f"nom_acteur_{number}"
        person = typed[column].str.contains(PERSON_TITLE).fillna(False).astype(bool)
        problems += cell_problems(
            label, typed.loc[person, column], column,
            "une structure (établissement, service, association), pas une personne",
            "le nom de l'acteur semble être celui d'une personne : indiquez la structure",
            Severity.AVERTISSEMENT,
        )
    return problems


def _actions_warnings(typed: pd.DataFrame, label: str) -> list[Problem]:
    needing = load_vocabularies().statuses_requiring_motive
    no_motive = typed["statut"].isin(needing) & typed["motif"].isna()
    problems = cell_problems(
        label, typed.loc[no_motive, "statut"], "motif",
        "le motif de la suspension ou de l'abandon",
        lambda status: f"motif absent pour une action au statut « {status} »",
        Severity.AVERTISSEMENT,
    )
    person = typed["pilote"].str.contains(PERSON_TITLE).fillna(False).astype(bool)
    problems += cell_problems(
        label, typed.loc[person, "pilote"], "pilote",
        "une structure (établissement, association, collectivité), pas une personne",
        "le pilote semble être une personne : indiquez la structure pilote",
        Severity.AVERTISSEMENT,
    )
    return problems


def _ressources_warnings(typed: pd.DataFrame, label: str) -> list[Problem]:
    phone = typed["telephone"].dropna()
    cleaned = phone.str.replace(r"[\s.\-()/\u00a0]", "", regex=True)
    bad = ~matches(cleaned, PHONE)
    return cell_problems(
        label, phone[bad], "telephone",
        "numéro public à 10 chiffres (ex. 02 99 00 00 00) ou au format international",
        "numéro de téléphone peu plausible", Severity.AVERTISSEMENT,
    )


def _territoires_warnings(typed: pd.DataFrame, label: str) -> list[Problem]:
    problems: list[Problem] = []
    named = typed.dropna(subset=["code_territoire", "nom_territoire"])
    first_name = named.groupby("code_territoire")["nom_territoire"].transform("first")
    other = named[named["nom_territoire"] != first_name]
    problems += [
        Problem(label, int(line), "nom_territoire", name, f"« {first} » (comme plus haut)",
                f"le territoire « {code} » porte plusieurs noms", Severity.AVERTISSEMENT)
        for line, name, first, code in zip(other.index, other["nom_territoire"],
                                           first_name[other.index], other["code_territoire"],
                                           strict=True)
    ]
    parts = typed.dropna(subset=["code_territoire", "niveau", "code"])
    parts = parts.drop_duplicates(subset=["code_territoire", "niveau", "code"])
    owner = parts.groupby(["niveau", "code"])["code_territoire"].transform("first")
    shared = parts[parts["code_territoire"] != owner]
    problems += [
        Problem(label, int(line), "code", code, "une composante par territoire",
                f"{level} « {code} » déjà dans le territoire « {first} »",
                Severity.AVERTISSEMENT)
        for line, code, level, first in zip(shared.index, shared["code"], shared["niveau"],
                                            owner[shared.index], strict=True)
    ]
    return problems


def finish(table: str, typed: pd.DataFrame) -> pd.DataFrame:
    """Documented defaults: empty champ / public of a resource ← those of its type."""
    if table != "ressources":
        return typed
    types = resource_types()
    typed = typed.copy()
    for column in ("champ", "public"):
        default = typed["type_ressource"].map(
            {code: getattr(t, column) for code, t in types.items()}
        )
        typed[column] = typed[column].fillna(default)
    return typed
