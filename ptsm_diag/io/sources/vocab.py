"""Controlled vocabularies of the input tables, resolved from :mod:`ptsm_diag.catalog`.

The lists themselves live in ``catalog/vocabularies.yaml`` and ``catalog/resource_types.yaml``;
this module only names them for the table specs and phrases them in French.
"""

from __future__ import annotations

import difflib
from functools import cache

from ptsm_diag.catalog import ResourceType, load_resource_types, load_vocabularies
from ptsm_diag.catalog.vocabularies import parse_yaml

# Composition levels of a territory (table ``territoires``, column ``niveau``).
TERRITORY_LEVELS = {"departement": "Département entier", "commune": "Commune"}

# Where the complete lists are written for the user.
DICTIONARY = "data_templates/README.md"


@cache
def resource_types() -> dict[str, ResourceType]:
    """The packaged resource typology (parsed once per process)."""
    return load_resource_types()


@cache
def link_vocabularies() -> dict[str, dict[str, str]]:
    """Kinds and frequencies of the links between actors (table ``partenariats``)."""
    from importlib import resources

    text = resources.files("ptsm_diag.catalog").joinpath("vocabularies.yaml").read_text(
        encoding="utf-8")
    raw = parse_yaml(text)
    return {name: {str(k): str(v) for k, v in raw.get(name, {}).items()}
            for name in ("types_lien", "frequences_lien")}


def vocabulary_labels(name: str) -> dict[str, str]:
    """Codes → French labels of a vocabulary, codes as text, in catalogue order."""
    vocab = load_vocabularies()
    if name == "types_ressource":
        return {code: t.label for code, t in resource_types().items()}
    if name == "niveaux":
        return dict(TERRITORY_LEVELS)
    if name == "niveaux_contexte":
        from ptsm_diag.catalog.context_indicators import CONTEXT_LEVELS

        return dict(CONTEXT_LEVELS)
    if name == "indicateurs_contexte":
        from ptsm_diag.catalog.context_indicators import CONTEXT_INDICATORS

        return {code: ind.label for code, ind in CONTEXT_INDICATORS.items()}
    if name in ("types_lien", "frequences_lien"):
        return dict(link_vocabularies()[name])
    lists = {
        "champs": vocab.champs,
        "publics": vocab.publics,
        "prestations": vocab.prestations,
        "tranches_age": {band: band for band in vocab.age_bands},
        "statuts_action": {status: status for status in vocab.action_statuses},
        "priorites": {str(k): v for k, v in vocab.priorities.items()},
        "themes_action": {str(k): v for k, v in vocab.action_themes.items()},
    }
    if name not in lists:
        raise KeyError(f"unknown vocabulary {name!r}")
    return dict(lists[name])


def allowed_values(name: str, as_int: bool = False) -> list:
    """The codes of a vocabulary (ints for the integer columns priorite and theme)."""
    codes = list(vocabulary_labels(name))
    return [int(c) for c in codes] if as_int else codes


def describe_allowed(name: str, limit: int = 12) -> str:
    """French 'expected' text: the codes, or the first ones and where the list is."""
    codes = list(vocabulary_labels(name))
    title = VOCABULARY_TITLES.get(name, name)
    if len(codes) <= limit:
        return f"{title} : " + ", ".join(codes)
    shown = ", ".join(codes[:limit])
    return (f"{title} : {shown}, … ({len(codes)} codes, liste complète dans {DICTIONARY}, "
            f"section « {title} »)")


def suggest(value: str, name: str) -> str:
    """`` (vouliez-vous dire « x » ?)`` when a code is close to ``value``, else ``""``."""
    codes = list(vocabulary_labels(name))
    lowered = {c.lower(): c for c in codes}
    if value.strip().lower() in lowered:
        return f" (vouliez-vous dire « {lowered[value.strip().lower()]} » ?)"
    close = difflib.get_close_matches(value, codes, n=1, cutoff=0.6)
    return f" (vouliez-vous dire « {close[0]} » ?)" if close else ""


VOCABULARY_TITLES = {
    "types_ressource": "types de ressources",
    "niveaux": "niveaux de territoire",
    "champs": "champs",
    "publics": "publics",
    "prestations": "prestations",
    "tranches_age": "tranches d'âge",
    "statuts_action": "statuts d'action",
    "priorites": "priorités du PTSM",
    "themes_action": "thèmes d'action",
    "types_lien": "types de liens",
    "frequences_lien": "fréquences des liens",
    "niveaux_contexte": "niveaux géographiques du contexte",
    "indicateurs_contexte": "indicateurs de contexte",
}
