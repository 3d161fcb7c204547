"""Gap analysis (insuffisances, CSP R3224-3): evidence → ranked table of gaps.

Each evidence source of :data:`SOURCES` turns one kind of input into gap rows with the
same columns (:data:`GAP_COLUMNS`); a source whose input is absent returns None and the
analysis records why (:data:`SKIP_REASONS`). Thresholds, weights and the map from the ten
R3224-3 parcours points to indicators and resources are data (``catalog/gaps.yaml``),
as are the thresholds of the cooperation shares (``ptsm_diag.compute.cooperation``).

Severity (documented in ``gaps.yaml``)::

    severite = poids[nature] × poids[significativité] × ampleur × log10(1 + population)

``ampleur`` is in [0, 1]; an unknown population counts as a factor 1. A resource type's
density gap and white zone are merged into one row (:func:`merge_supply_gaps`); white
zones only concern the types people travel to (``ResourceType.travel``). A PTSM priority
no datum informs is a knowledge gap « aucune donnée : à documenter »
(:func:`informed_priorities`).
Functions here are pure: DataFrames in, DataFrames out; nothing is read or printed.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ptsm_diag.catalog import (
    Indicator,
    ResourceType,
    load_indicator_catalog,
    load_resource_types,
    load_vocabularies,
)
from ptsm_diag.catalog.vocabularies import parse_yaml
from ptsm_diag.compute.cooperation import INDICATORS as COOPERATION_INDICATORS
from ptsm_diag.errors import CatalogError
from ptsm_diag.fmt import format_number

PACKAGED_FILE = "gaps.yaml"

# Natures of gap, in display order, with their French labels.
NATURES: dict[str, str] = {
    "indicateur": "Indicateur moins favorable que la référence",
    "densite": "Densité inférieure à la référence",
    "prestation_absente": "Prestation du panier absente",
    "zone_blanche": "Zone blanche (temps d'accès)",
    "densite_zone_blanche": "Densité inférieure à la référence et zone blanche",
    "cooperation": "Coopération entre secteurs inférieure au repère",
    "connaissance": "Lacune de connaissance",
    "priorite_sans_action": "Priorité sans action dans la feuille de route",
    "action_sans_insuffisance": "Action sans insuffisance identifiée",
}
# A type's density gap and white zone merged into one row (one fact, not two); its
# severity is the larger of the two, so it has no weight of its own in gaps.yaml.
MERGED_NATURE = "densite_zone_blanche"
SCORED_NATURES = tuple(n for n in NATURES if n != MERGED_NATURE)
SIGNIFICANCES = ("intervalle", "tolerance", "constat")
LEVELS = ("élevée", "moyenne", "faible", "information")

GAP_COLUMNS = [
    "code_territoire", "nature", "code_objet", "sujet", "constat", "valeur", "reference",
    "reference_libelle", "unite", "seuil", "ampleur", "significativite",
    "population_concernee", "nombre_communes", "communes_concernees", "priorite_ptsm",
    "axe_anap", "theme_action", "points_r3224_3", "donnees_a_recueillir", "severite",
    "niveau_severite",
]
_FLOAT_COLUMNS = ["valeur", "reference", "seuil", "ampleur", "population_concernee",
                  "severite"]
_INT_COLUMNS = ["nombre_communes", "priorite_ptsm", "axe_anap", "theme_action"]

DENSITY_COLUMNS = [
    "code_territoire", "type_ressource", "libelle", "champ", "public", "population_ref_age",
    "nombre", "capacite", "densite_nombre", "densite_capacite", "reference", "code_reference",
    "densite_nombre_reference", "densite_capacite_reference", "ecart_nombre_pct",
    "ecart_capacite_pct",
]
ACCESSIBILITY_COLUMNS = ["code_commune", "type_ressource", "distance_km", "temps_min",
                         "source_temps", "population"]

# Cooperation shares (ptsm_diag.compute.cooperation) where more is better, so that a share below
# its threshold is a gap; « part_structures_isolees » (more is worse) is not one of them.
# The sentence of each: what the share counts, « {n} sur {d} » filled in.
COOPERATION_SHARES: dict[str, str] = {
    "part_ms_social_lien_psy": "des structures médico-sociales et sociales ({n} sur {d}) "
                               "ont un lien actif avec un service de psychiatrie",
    "part_ms_lien_psy": "des structures médico-sociales ({n} sur {d}) ont un lien actif "
                        "avec un service de psychiatrie",
    "part_social_lien_psy": "des structures sociales ({n} sur {d}) ont un lien actif avec "
                            "un service de psychiatrie",
    "part_cmp_lien_ms_et_social": "des CMP ({n} sur {d}) sont liés à au moins une structure "
                                  "médico-sociale et à au moins une structure sociale",
}
COOPERATION_REFERENCE_LABEL = ("repère local (choix du territoire, fixé dans gaps.yaml ; "
                               "aucune norme nationale)")
# Unit of the densities compared (ptsm_diag.compute.densities: per 100,000 inhabitants).
DENSITY_UNITS = {"capacite": "lits et places pour 100 000 habitants",
                 "nombre": "structures pour 100 000 habitants"}
NO_DATA = "aucune donnée : à documenter"


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class GapConfig:
    """Validated content of ``gaps.yaml`` (plain nested dicts) and where it came from."""

    data: dict[str, Any]
    source: str = PACKAGED_FILE

    def threshold(self, section: str, key: str) -> Any:
        """One value of ``seuils.<section>.<key>``."""
        return self.data["seuils"][section][key]

    def weight(self, nature: str, significance: str) -> float:
        """Product of the nature and significance weights."""
        weights = self.data["poids"]
        return float(weights["nature"][nature]) * float(weights["significativite"][significance])


Validator = Callable[[Any, str, str], Any]


def _fail(where: str, key: str, message: str, file_name: str) -> CatalogError:
    return CatalogError(file_name, where, key, message)


def _number(minimum: float = 0.0, maximum: float | None = None, *,
            optional: bool = False) -> Validator:
    def check(value: Any, where: str, key: str, file_name: str = PACKAGED_FILE) -> Any:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise _fail(where, key, f"nombre attendu, lu « {value} »", file_name)
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"entre {minimum:g} et {maximum:g}" if maximum is not None else \
                f"supérieur ou égal à {minimum:g}"
            raise _fail(where, key, f"valeur {value} hors bornes (attendu : {bound})", file_name)
        return value
    return check


def _choice(choices: Any, *, optional: bool = False) -> Validator:
    def check(value: Any, where: str, key: str, file_name: str = PACKAGED_FILE) -> Any:
        allowed = list(choices() if callable(choices) else choices)
        if value is None and optional:
            return None
        if value not in allowed:
            raise _fail(where, key, f"« {value} » inconnu ; attendu : "
                        f"{', '.join(str(c) for c in allowed)}", file_name)
        return value
    return check


def _list_of(item: Validator) -> Validator:
    def check(value: Any, where: str, key: str, file_name: str = PACKAGED_FILE) -> Any:
        if not isinstance(value, list):
            raise _fail(where, key, f"liste attendue, lu « {value} »", file_name)
        return [item(v, where, key, file_name) for v in value]
    return check


def _text(value: Any, where: str, key: str, file_name: str = PACKAGED_FILE) -> Any:
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, key, "texte non vide attendu", file_name)
    return value.strip()


def _flag(value: Any, where: str, key: str, file_name: str = PACKAGED_FILE) -> Any:
    if not isinstance(value, bool):
        raise _fail(where, key, f"true ou false attendu, lu « {value} »", file_name)
    return value


@dataclass(frozen=True)
class _Mapping:
    """A mapping section: keys checked by ``key``, every value by ``value``."""

    key: Validator
    value: Any
    complete: Callable[[], tuple[Any, ...]] | None = None  # keys that must all be present


@dataclass(frozen=True)
class _Fields:
    """A fixed section: known keys only; keys in ``optional`` may be absent."""

    fields: dict[str, Any]
    optional: frozenset[str] = field(default_factory=frozenset)


@cache
def _priorities() -> tuple[int, ...]:
    return tuple(load_vocabularies().priorities)


@cache
def _axes() -> tuple[int, ...]:
    return tuple(load_vocabularies().rosace_axes)


@cache
def _themes() -> tuple[int, ...]:
    return tuple(load_vocabularies().action_themes)


@cache
def _prestation_codes() -> tuple[str, ...]:
    return tuple(load_vocabularies().prestations)


@cache
def _type_codes() -> tuple[str, ...]:
    return tuple(load_resource_types())


@cache
def _indicator_ids() -> tuple[str, ...]:
    return tuple(load_indicator_catalog())


_POINTS = tuple(range(1, 11))
_PRESTATION = _Fields({
    "priorite": _choice(_priorities), "axe_anap": _choice(_axes, optional=True),
    "theme_action": _choice(_themes), "points": _list_of(_choice(_POINTS)),
    "verifier": _flag,
}, optional=frozenset({"verifier"}))
_POINT = _Fields({
    "libelle": _text, "priorite": _choice(_priorities),
    "axe_anap": _choice(_axes, optional=True),
    "indicateurs": _list_of(_choice(_indicator_ids)),
    "types_ressource": _list_of(_choice(_type_codes)),
    "accessibilite": _flag, "donnees": _text,
}, optional=frozenset({"accessibilite"}))
_COOPERATION = _Fields({
    "priorite": _choice(_priorities), "axe_anap": _choice(_axes, optional=True),
    "theme_action": _choice(_themes), "points": _list_of(_choice(_POINTS)),
}, optional=frozenset({"axe_anap"}))
_RATIO = _number(0, 1)
_POSITIVE = _number(0)

SCHEMA = _Fields({
    "seuils": _Fields({
        "indicateur": _Fields({"ecart_relatif_min": _number(0)}),
        "densite": _Fields({"ecart_min_pct": _number(0, 100),
                            "mesure": _choice(["capacite", "nombre"])}),
        "accessibilite": _Fields({
            "temps_max_min": _number(1),
            "temps_max_par_type": _Mapping(_choice(_type_codes), _number(1)),
            "vitesse_km_h": _number(1, optional=True),
            "population_min": _POSITIVE,
            "ampleur_min": _RATIO,
        }),
        "prestation": _Fields({"ampleur": _RATIO}),
        "connaissance": _Fields({"ampleur": _RATIO}),
        "feuille_de_route": _Fields({
            "ampleur": _RATIO,
            "statuts_exclus": _list_of(_choice(lambda: load_vocabularies().action_statuses)),
        }),
        "cooperation": _Fields({
            "part_min_pct": _Mapping(_choice(COOPERATION_SHARES), _number(0, 100)),
        }),
    }),
    "poids": _Fields({
        "nature": _Fields(dict.fromkeys(SCORED_NATURES, _POSITIVE)),
        "significativite": _Fields(dict.fromkeys(SIGNIFICANCES, _POSITIVE)),
    }),
    "niveaux": _Fields({"elevee": _POSITIVE, "moyenne": _POSITIVE}),
    "themes_par_defaut": _Fields({n: _choice(_themes) for n in SCORED_NATURES}),
    "prestations": _Mapping(_choice(_prestation_codes), _PRESTATION, _prestation_codes),
    "parcours": _Mapping(_choice(_POINTS), _POINT, lambda: _POINTS),
    "cooperation": _Mapping(_choice(COOPERATION_SHARES), _COOPERATION,
                            lambda: tuple(COOPERATION_SHARES)),
})


def _validate(value: Any, spec: Any, where: str, key: str, file_name: str) -> Any:
    """Check ``value`` against ``spec``; raise a French :class:`CatalogError`."""
    path = f"{where}.{key}" if where else key
    if isinstance(spec, _Fields):
        if not isinstance(value, dict):
            raise _fail(where or "(fichier)", key or "(racine)",
                        "section attendue (clé: valeur)", file_name)
        unknown = sorted(set(value) - set(spec.fields), key=str)
        if unknown:
            raise _fail(path or "(racine)", ", ".join(map(str, unknown)),
                        f"clé(s) inconnue(s) ; clés admises : {', '.join(spec.fields)}",
                        file_name)
        missing = [k for k in spec.fields if k not in value and k not in spec.optional]
        if missing:
            raise _fail(path or "(racine)", ", ".join(missing), "clé(s) obligatoire(s) absente(s)",
                        file_name)
        return {k: _validate(v, spec.fields[k], path, k, file_name) for k, v in value.items()}
    if isinstance(spec, _Mapping):
        if not isinstance(value, dict):
            raise _fail(where, key, "section attendue (clé: valeur)", file_name)
        checked = {spec.key(k, path, str(k), file_name): v for k, v in value.items()}
        if spec.complete is not None:
            missing = [str(k) for k in spec.complete() if k not in checked]
            if missing:
                raise _fail(path, ", ".join(missing), "entrée(s) absente(s)", file_name)
        return {k: _validate(v, spec.value, path, str(k), file_name)
                for k, v in checked.items()}
    return spec(value, where, key, file_name)


def _merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` applied recursively (dicts merged, other values replaced)."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _read(path: str | Path | None) -> tuple[Any, str]:
    if path is None:
        text = resources.files("ptsm_diag.catalog").joinpath(PACKAGED_FILE).read_text(
            encoding="utf-8")
        return parse_yaml(text), PACKAGED_FILE
    try:
        return parse_yaml(Path(path).read_text(encoding="utf-8")), str(path)
    except yaml.YAMLError as exc:
        raise CatalogError(str(path), "(fichier)", "(syntaxe)", f"YAML illisible : {exc}") from exc


def load_gap_config(
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | str | Path | None = None,
) -> GapConfig:
    """Thresholds, weights and mappings of the gap analysis, validated.

    Parameters
    ----------
    path : path, optional
        A complete file with the layout of the packaged ``gaps.yaml`` (the default).
    overrides : dict or path, optional
        Partial changes merged into it, e.g. ``{"seuils": {"densite": {"ecart_min_pct":
        50}}}``, or a YAML file holding such a mapping.

    Raises
    ------
    CatalogError
        Unknown key, missing key or bad value (French message naming the key).
    """
    raw, file_name = _read(path)
    if overrides is not None:
        if isinstance(overrides, str | Path):
            extra, extra_name = _read(overrides)
            file_name = f"{file_name} + {extra_name}"
        else:
            extra, file_name = overrides, f"{file_name} + surcharges"
        if not isinstance(extra, Mapping):
            raise CatalogError(file_name, "(surcharges)", "(racine)",
                               "dictionnaire attendu (clé: valeur)")
        raw = _merge(raw if isinstance(raw, dict) else {}, extra)
    data = _validate(raw, SCHEMA, "", "", file_name)
    return GapConfig(data=data, source=file_name)


def as_config(config: GapConfig | Mapping[str, Any] | str | Path | None) -> GapConfig:
    """A :class:`GapConfig` from a config, overrides of the packaged one, a file, or None."""
    if isinstance(config, GapConfig):
        return config
    if config is None:
        return load_gap_config()
    if isinstance(config, str | Path):
        return load_gap_config(config)
    return load_gap_config(overrides=config)


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class GapInputs:
    """Everything the evidence sources may use; None marks an absent input.

    Attributes
    ----------
    territory : str
        Territory code.
    population_total : float, optional
        Population of the territory.
    population_by_age : dict, optional
        Population by age band (``{"18-64": 605563, ...}``).
    rosace : DataFrame, optional
        :func:`ptsm_diag.compute.indicators.rosace_table` of the territory (chosen reference).
    indicator_values : DataFrame, optional
        :func:`ptsm_diag.compute.indicators.compute_indicator_values` (every indicator).
    resources : DataFrame, optional
        The territory's resources (``type_ressource``, optional ``prestations``).
    densities : DataFrame, optional
        Densities against a reference (:data:`DENSITY_COLUMNS`).
    accessibility : DataFrame, optional
        Time to the nearest resource by commune and type (:data:`ACCESSIBILITY_COLUMNS`).
    actions : DataFrame, optional
        The feuille de route (``actions`` table).
    cooperation : DataFrame, optional
        :func:`ptsm_diag.compute.cooperation.cooperation_indicators` of the territory (one row per
        indicator: ``indicateur``, ``libelle``, ``numerateur``, ``denominateur``,
        ``valeur``, ``unite``); None when there is no ``partenariats`` table.
    found : DataFrame, optional
        Gaps of the sources run before (used by the feuille de route check).
    reference : str, optional
        Reference kept when the densities hold several (« france », « region »).
    evidence : tuple of two sets, optional
        Indicators with a value for the territory and resource types present on it, as
        :func:`territory_evidence` finds them from the tables above; :func:`compute_gaps`
        fills it once for all its sources. None: found from the tables when needed.
    """

    territory: str
    population_total: float | None = None
    population_by_age: Mapping[str, float] | None = None
    rosace: pd.DataFrame | None = None
    indicator_values: pd.DataFrame | None = None
    resources: pd.DataFrame | None = None
    densities: pd.DataFrame | None = None
    accessibility: pd.DataFrame | None = None
    actions: pd.DataFrame | None = None
    cooperation: pd.DataFrame | None = None
    catalog: Mapping[str, Indicator] | None = None
    resource_types: Mapping[str, ResourceType] | None = None
    found: pd.DataFrame | None = None
    reference: str | None = None
    evidence: tuple[frozenset[str], frozenset[str]] | None = None


REFERENCE_LABELS = {"france": "France", "region": "Région"}


def _present(frame: pd.DataFrame | None) -> bool:
    return frame is not None and not frame.empty


def _types(inputs: GapInputs) -> Mapping[str, ResourceType]:
    return inputs.resource_types if inputs.resource_types is not None else load_resource_types()


# --------------------------------------------------------------------------- rows


def _num(value: Any) -> str:
    """A number in French, with decimals that suit its size."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n.d."
    size = abs(float(value))
    decimals = 0 if size >= 1000 or float(value).is_integer() else 1 if size >= 10 else 2
    return format_number(float(value), decimals)


def _plural(n: int, singular: str, plural: str) -> str:
    return singular if n == 1 else plural


def _sentence_indicator(row: Mapping[str, Any]) -> str:
    unit = f" {row['unite']}" if row["unite"] else ""
    ref_unit = unit if len(unit) <= 8 else ""  # « % », « jours », not « pour 100 000 … »
    if row["significativite"] == "intervalle":
        how = (f"écart significatif : intervalle de confiance à 95 % "
               f"[{_num(row['_ci_low'])} ; {_num(row['_ci_high'])}]")
    else:
        how = f"{row['_method'] or 'écart relatif'}, sans intervalle de confiance"
    return (f"{row['sujet']} : {_num(row['valeur'])}{unit} contre {_num(row['reference'])}"
            f"{ref_unit} pour la référence {row['reference_libelle']}, moins favorable ({how}).")


def density_unit(measure: str, band: str | None) -> str:
    """« lits et places pour 100 000 habitants de 0-17 ans », « structures pour … »."""
    unit = DENSITY_UNITS.get(measure, DENSITY_UNITS["nombre"])
    if not band or band == "ensemble":
        return unit
    return f"{unit} de {band[:-1]} ans ou plus" if band.endswith("+") else f"{unit} de {band} ans"


def _sentence_density(row: Mapping[str, Any]) -> str:
    unit = row["unite"] or density_unit(row["_measure"], row["_band"])
    return (f"{row['sujet']} : {_num(row['valeur'])} {unit} contre "
            f"{_num(row['reference'])} pour la référence {row['reference_libelle']}, "
            f"soit {_num(row['_gap_pct'])} % de moins (seuil retenu : "
            f"{_num(row['seuil'])} % de moins).")


def _sentence_prestation(row: Mapping[str, Any]) -> str:
    providers = f" (types qui l'offrent : {row['_providers']})" if row["_providers"] else ""
    return (f"Aucune ressource recensée sur le territoire n'offre la prestation "
            f"« {row['sujet']} »{providers}.")


def _sentence_white_zone(row: Mapping[str, Any]) -> str:
    n = int(row["nombre_communes"])
    share = (f" ({_num(row['valeur'])} % de la population)"
             if not pd.isna(row["valeur"]) else "")
    return (f"{format_number(n)} {_plural(n, 'commune', 'communes')}, "
            f"{format_number(row['population_concernee'])} habitants{share}, "
            f"{_plural(n, 'est', 'sont')} à plus de {_num(row['seuil'])} min "
            f"de la structure la plus proche de type « {row['sujet']} » (temps moyen de "
            f"ces habitants : {_num(row['reference'])} min).")


def _sentence_cooperation(row: Mapping[str, Any]) -> str:
    template = COOPERATION_SHARES.get(row["code_objet"])
    counts = {"n": _num(row["_numerator"]), "d": _num(row["_denominator"])}
    what = (template.format(**counts) if template else
            f"pour « {row['sujet']} » ({counts['n']} sur {counts['d']})")
    return (f"{_num(row['valeur'])} % {what} ; repère local de {_num(row['reference'])} % "
            f"(choix du territoire fixé dans gaps.yaml, aucune norme nationale).")


def _sentence_knowledge(row: Mapping[str, Any]) -> str:
    if str(row["code_objet"]).startswith("priorite-"):
        return (f"Priorité {row['priorite_ptsm']} (« {row['sujet']} ») : {NO_DATA}. Aucune "
                f"donnée du territoire ne l'éclaire ; le manque de connaissance est en soi "
                f"un constat (CSP, art. R3224-3). Données à recueillir : "
                f"{row['donnees_a_recueillir']}")
    return (f"Aucune donnée n'éclaire le point {row['points_r3224_3']}° de l'article R3224-3 "
            f"(« {row['sujet']} ») ; données à recueillir : {row['donnees_a_recueillir']}")


def _sentence_no_action(row: Mapping[str, Any]) -> str:
    n = int(row["valeur"])
    return (f"{n} {_plural(n, 'insuffisance relevée', 'insuffisances relevées')} pour la "
            f"priorité {row['priorite_ptsm']} (« {row['sujet']} ») et aucune action de la "
            f"feuille de route sur cette priorité.")


def _sentence_unfounded_action(row: Mapping[str, Any]) -> str:
    n = int(row["valeur"])
    return (f"{n} {_plural(n, 'action', 'actions')} de la feuille de route "
            f"({row['_actions']}) {_plural(n, 'porte', 'portent')} sur la priorité "
            f"{row['priorite_ptsm']} (« {row['sujet']} »), où les données analysées ne font "
            f"apparaître aucune insuffisance.")


# Registry: the French sentence (constat) of each nature, written from its evidence.
SENTENCES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "indicateur": _sentence_indicator,
    "densite": _sentence_density,
    "prestation_absente": _sentence_prestation,
    "zone_blanche": _sentence_white_zone,
    "cooperation": _sentence_cooperation,
    "connaissance": _sentence_knowledge,
    "priorite_sans_action": _sentence_no_action,
    "action_sans_insuffisance": _sentence_unfounded_action,
}


def severity(ampleur: float, population: float | None, weight: float) -> float:
    """``weight × ampleur × log10(1 + population)``; an unknown population counts as 1."""
    factor = 1.0 if population is None or pd.isna(population) else math.log10(
        1 + max(float(population), 0.0))
    return float(weight) * float(ampleur) * factor


def severity_level(score: float, config: GapConfig) -> str:
    """« élevée », « moyenne », « faible », or « information » for a null score."""
    levels = config.data["niveaux"]
    if not score or pd.isna(score):
        return "information"
    if score >= levels["elevee"]:
        return "élevée"
    return "moyenne" if score >= levels["moyenne"] else "faible"


def _finish(rows: list[dict[str, Any]], nature: str, inputs: GapInputs,
            config: GapConfig) -> pd.DataFrame:
    """Complete the rows of one source: severity, level, sentence, default theme."""
    theme = config.data["themes_par_defaut"][nature]
    for row in rows:
        row["nature"] = nature
        row.setdefault("code_territoire", inputs.territory)
        for column in GAP_COLUMNS:
            row.setdefault(column, None)
        if row["theme_action"] is None:
            row["theme_action"] = theme
        row["severite"] = severity(row["ampleur"], row["population_concernee"],
                                   config.weight(nature, row["significativite"]))
        row["niveau_severite"] = severity_level(row["severite"], config)
        row["constat"] = SENTENCES[nature](row)
    return gap_frame(rows)


def gap_frame(rows: list[dict[str, Any]] | None = None) -> pd.DataFrame:
    """A gap table with the standard columns and dtypes (empty without rows).

    Keys of ``rows`` outside :data:`GAP_COLUMNS` are left out, missing ones are empty.
    Numbers are read as :func:`pandas.to_numeric` with ``errors="coerce"`` would (text
    that is no number is NaN); whole-number columns are rounded to ``Int64``.
    """
    rows = rows or []
    columns: dict[str, Any] = {}
    for column in GAP_COLUMNS:
        values = [row.get(column) for row in rows]
        if column in _FLOAT_SET:
            columns[column] = np.array([_as_float(v) for v in values], dtype=float)
        elif column in _INT_SET:
            columns[column] = pd.array([_as_whole(v) for v in values], dtype="Int64")
        else:
            # a column no row names is NaN (float), as a frame of records reindexed on
            # these columns would have it
            named = any(column in row for row in rows)
            columns[column] = values if named else np.full(len(rows), math.nan)
    # built column by column from plain lists: a frame of records then ten conversions
    # cost ten times more, and the analysis makes a dozen such frames per territory
    return pd.DataFrame(columns, index=pd.RangeIndex(len(rows)))


_FLOAT_SET = frozenset(_FLOAT_COLUMNS)
_INT_SET = frozenset(_INT_COLUMNS)


def _as_float(value: Any) -> float:
    """``value`` as a float; NaN when it is empty or no number (« n.d. », a word)."""
    if value is None or value is pd.NA:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _as_whole(value: Any) -> int | None:
    """``value`` rounded to an integer (half to even, as NumPy); None when not a finite
    number."""
    number = _as_float(value)
    return int(round(number)) if math.isfinite(number) else None


def _prestation_info(code: str | None, config: GapConfig) -> dict[str, Any]:
    entry = config.data["prestations"].get(code) if code else None
    if entry is None:
        return {"priorite_ptsm": None, "axe_anap": None, "theme_action": None,
                "points_r3224_3": None}
    return {"priorite_ptsm": entry["priorite"], "axe_anap": entry["axe_anap"],
            "theme_action": entry["theme_action"],
            "points_r3224_3": ", ".join(str(p) for p in entry["points"])}


def _type_info(code: str, types: Mapping[str, ResourceType], config: GapConfig) -> dict:
    """Priority, axis, theme of a resource type: those of its first mapped prestation."""
    rtype = types.get(code)
    prestations = [p for p in (rtype.prestations if rtype else ())
                   if p in config.data["prestations"]]
    return _prestation_info(prestations[0] if prestations else None, config)


def _type_label(code: str, types: Mapping[str, ResourceType]) -> str:
    return types[code].label if code in types else str(code)


# --------------------------------------------------------------------------- sources


def indicator_gaps(inputs: GapInputs, config: GapConfig) -> pd.DataFrame | None:
    """Rosace indicators significantly less favourable than the chosen reference.

    Uses the verdict of :func:`~ptsm_diag.compute.indicators.rosace_table` (interval, or relative
    tolerance for values without interval): a worse point value whose interval includes
    the reference is "comparable" and never a gap.
    """
    rosace = inputs.rosace
    if not _present(rosace) or "verdict" not in rosace.columns:
        return None
    catalog = inputs.catalog if inputs.catalog is not None else load_indicator_catalog()
    minimum = float(config.threshold("indicateur", "ecart_relatif_min"))
    worse = rosace[(rosace["verdict"] == "moins bon") & (rosace["statut"] == "ok")]
    rows = []
    for r in worse.to_dict("records"):
        value, ref = float(r["value"]), float(r["reference"])
        gap = abs(value - ref) / abs(ref) if ref else 1.0
        if gap < minimum:
            continue
        has_ci = not (pd.isna(r.get("ci_low")) or pd.isna(r.get("ci_high")))
        indicator = catalog.get(r["indicateur"])
        axis = r.get("axis")
        rows.append({
            "code_objet": r["indicateur"], "sujet": r["label"], "valeur": value,
            "reference": ref, "reference_libelle": r.get("reference_label") or "",
            "unite": r.get("unit") or "", "ampleur": min(gap, 1.0),
            "significativite": "intervalle" if has_ci else "tolerance",
            "population_concernee": inputs.population_total,
            "priorite_ptsm": indicator.priority if indicator else None,
            "axe_anap": None if pd.isna(axis) else int(axis),
            "points_r3224_3": _points_of_indicator(r["indicateur"], config),
            "_ci_low": r.get("ci_low"), "_ci_high": r.get("ci_high"),
            "_method": r.get("comparison_method"),
        })
    return _finish(rows, "indicateur", inputs, config)


def _points_of_indicator(indicator: str, config: GapConfig) -> str | None:
    points = [str(p) for p, e in config.data["parcours"].items()
              if indicator in e["indicateurs"]]
    return ", ".join(points) or None


def density_gaps(inputs: GapInputs, config: GapConfig) -> pd.DataFrame | None:
    """Resource types whose density is below the reference by more than the threshold.

    The capacity is compared when ``mesure`` is « capacite » and it is known, else the
    number of structures.
    """
    frame = inputs.densities
    if not _present(frame):
        return None
    if "code_territoire" in frame.columns:
        frame = frame[frame["code_territoire"].astype(str) == str(inputs.territory)]
    if inputs.reference is not None and "reference" in frame.columns and (
            frame["reference"] == inputs.reference).any():
        frame = frame[frame["reference"] == inputs.reference]
    types = _types(inputs)
    limit = float(config.threshold("densite", "ecart_min_pct"))
    prefer_capacity = config.threshold("densite", "mesure") == "capacite"
    ages = dict(inputs.population_by_age or {})
    rows = []
    for r in frame.to_dict("records"):
        use_capacity = prefer_capacity and not pd.isna(r.get("ecart_capacite_pct"))
        suffix = "capacite" if use_capacity else "nombre"
        gap_pct = r.get(f"ecart_{suffix}_pct")
        if gap_pct is None or pd.isna(gap_pct) or -float(gap_pct) <= limit:
            continue
        population, band = _reference_population(r, ages)
        code = str(r["type_ressource"])
        label = r.get("libelle")
        rows.append({
            "code_objet": code,
            "sujet": label if isinstance(label, str) and label else _type_label(code, types),
            "valeur": r.get(f"densite_{suffix}"),
            "reference": r.get(f"densite_{suffix}_reference"),
            "reference_libelle": REFERENCE_LABELS.get(
                r.get("reference"), str(r.get("reference") or r.get("code_reference") or "")),
            "unite": density_unit(suffix, band), "ampleur": min(-float(gap_pct) / 100, 1.0),
            "seuil": limit, "significativite": "constat",
            "population_concernee": population if population is not None
            else inputs.population_total,
            **_type_info(code, types, config),
            "_measure": suffix, "_band": band, "_gap_pct": -float(gap_pct),
        })
    return _finish(rows, "densite", inputs, config)


def _reference_population(
    row: Mapping[str, Any], ages: Mapping[str, float]
) -> tuple[float | None, str | None]:
    """Population a density is counted against, and its age band when known.

    ``population_ref_age`` is that population (ptsm_diag.compute.densities) or an age band
    label; ``tranche_age`` names the band.
    """
    raw = row.get("population_ref_age")
    band = row.get("tranche_age")
    band = str(band) if isinstance(band, str) and band else None
    number = pd.to_numeric(pd.Series([raw]), errors="coerce").iloc[0]
    if not pd.isna(number):
        return float(number), band
    if isinstance(raw, str) and raw:
        band = raw
    return (ages.get(band) if band else None), band


def _split_list(value: Any) -> list[str]:
    if isinstance(value, list | tuple | set):
        return [str(v).strip() for v in value if str(v).strip()]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    return [p.strip() for p in str(value).split("|") if p.strip()]


DECLARED = "déclarée"
INFERRED = "déduite du type (non déclarée)"
ABSENT = "absente"
BASKET_COLUMNS = ["prestation", "libelle", "priorite_ptsm", "statut", "ressources_declarant",
                  "ressources_deduites", "types_declarant", "types_deduits",
                  "types_qui_l_offrent"]


def resource_prestations(
    resources: pd.DataFrame, types: Mapping[str, ResourceType] | None = None
) -> pd.DataFrame:
    """One row per (resource, prestation): ``type_ressource``, ``prestation``, ``origine``.

    A resource that declares its prestations (non-empty ``prestations`` cell, codes
    separated by ``|``) offers those and only those (« declaree »); a resource that
    declares none is assumed to offer the usual prestations of its type (« deduite »),
    which the report labels as inferred.
    """
    types = types if types is not None else load_resource_types()
    declared_column = (resources["prestations"] if "prestations" in resources.columns
                       else pd.Series([None] * len(resources), index=resources.index))
    kinds = resources.get("type_ressource", pd.Series([None] * len(resources),
                                                      index=resources.index))
    rows = []
    for position, (kind, value) in enumerate(zip(kinds, declared_column, strict=True)):
        declared = _split_list(value)
        kind = None if kind is None or pd.isna(kind) else str(kind)
        if declared:
            rows += [(position, kind, p, "declaree") for p in declared]
        elif kind in types:
            rows += [(position, kind, p, "deduite") for p in types[kind].prestations]
    return pd.DataFrame(rows, columns=["ligne", "type_ressource", "prestation", "origine"])


def provided_prestations(
    resources: pd.DataFrame, types: Mapping[str, ResourceType] | None = None,
    *, declared_only: bool = False,
) -> set[str]:
    """Prestations offered by the resources: declared, or inferred from the type of a
    resource that declares none (see :func:`resource_prestations`)."""
    offered = resource_prestations(resources, types)
    if declared_only:
        offered = offered[offered["origine"] == "declaree"]
    return set(offered["prestation"])


def prestation_basket(
    resources: pd.DataFrame | None,
    types: Mapping[str, ResourceType] | None = None,
    config: GapConfig | None = None,
) -> pd.DataFrame:
    """The panier de prestations of a territory (columns :data:`BASKET_COLUMNS`).

    For each prestation of the vocabulary: how many resources declare it, how many are
    only assumed to offer it from their type (they declare nothing), the types concerned,
    and a ``statut``: :data:`DECLARED`, :data:`INFERRED` or :data:`ABSENT`.
    """
    types = types if types is not None else load_resource_types()
    config = as_config(config)
    offered = (resource_prestations(resources, types) if _present(resources)
               else pd.DataFrame(columns=["ligne", "type_ressource", "prestation", "origine"]))
    labels = load_vocabularies().prestations
    # (prestation, origin) → resources (lines) and their types, in one pass over the rows
    lines: dict[tuple[str, str], set[int]] = {}
    kinds: dict[tuple[str, str], set[str]] = {}
    for line, kind, prestation, origin in zip(
            offered["ligne"], offered["type_ressource"], offered["prestation"],
            offered["origine"], strict=True):
        lines.setdefault((prestation, origin), set()).add(line)
        if kind is not None and not pd.isna(kind):
            kinds.setdefault((prestation, origin), set()).add(kind)
    rows = []
    for code, label in labels.items():
        declared, inferred = lines.get((code, "declaree"), ()), lines.get((code, "deduite"), ())
        entry = config.data["prestations"].get(code, {})
        rows.append({
            "prestation": code, "libelle": label, "priorite_ptsm": entry.get("priorite"),
            "statut": DECLARED if declared else INFERRED if inferred else ABSENT,
            "ressources_declarant": len(declared),
            "ressources_deduites": len(inferred),
            "types_declarant": ", ".join(_type_label(t, types) for t in
                                         sorted(kinds.get((code, "declaree"), ()))),
            "types_deduits": ", ".join(_type_label(t, types) for t in
                                       sorted(kinds.get((code, "deduite"), ()))),
            "types_qui_l_offrent": ", ".join(t.label for t in types.values()
                                             if code in t.prestations),
        })
    return pd.DataFrame(rows, columns=BASKET_COLUMNS)


def prestation_gaps(inputs: GapInputs, config: GapConfig) -> pd.DataFrame | None:
    """Prestations of the panier that no resource of the territory provides."""
    if inputs.resources is None:
        return None
    types = _types(inputs)
    offered = provided_prestations(inputs.resources, types)
    labels = load_vocabularies().prestations
    ampleur = float(config.threshold("prestation", "ampleur"))
    rows = []
    for code, entry in config.data["prestations"].items():
        if code in offered or not entry.get("verifier", True):
            continue
        providers = [t.label for t in types.values() if code in t.prestations]
        rows.append({
            "code_objet": code, "sujet": labels.get(code, code), "valeur": 0.0,
            "ampleur": ampleur, "significativite": "constat",
            "population_concernee": inputs.population_total,
            **_prestation_info(code, config), "_providers": ", ".join(providers),
        })
    return _finish(rows, "prestation_absente", inputs, config)


def accessibility_times(accessibility: pd.DataFrame, speed_km_h: float | None) -> pd.Series:
    """Access time in minutes; estimated from the distance at ``speed_km_h`` when missing."""
    times = pd.to_numeric(accessibility["temps_min"], errors="coerce").astype(float)
    if speed_km_h:
        distance = pd.to_numeric(accessibility["distance_km"], errors="coerce").astype(float)
        times = times.fillna(distance / float(speed_km_h) * 60)
    return times


def white_zone_communes(accessibility: pd.DataFrame, config: GapConfig,
                        types: Mapping[str, ResourceType] | None = None) -> pd.DataFrame:
    """Communes beyond the maximal access time of each resource type people travel to.

    Types whose ``travel`` flag is false (« deplacement » list of the typology: CLSM,
    CPTS, DAC, MDPH, associations, mobile teams...) are left out: nobody travels to them.
    Returns the accessibility rows beyond their threshold with ``temps`` (minutes used)
    and ``seuil`` (the threshold of the type).
    """
    types = types if types is not None else load_resource_types()
    staying = {code for code, rtype in types.items() if not rtype.travel}
    times = accessibility_times(accessibility, config.threshold("accessibilite",
                                                                "vitesse_km_h"))
    by_type = config.threshold("accessibilite", "temps_max_par_type")
    default = float(config.threshold("accessibilite", "temps_max_min"))
    # threshold and travel flag decided once per type, then spread to its rows
    codes, kinds = pd.factorize(accessibility["type_ressource"])
    names = [str(kind) for kind in kinds]
    limit_of = np.array([float(by_type.get(name, default)) for name in names] + [default])
    travel_of = np.array([name not in staying for name in names] + [True])
    limits = limit_of[codes]  # code -1 (no type): the last entries, default and travel
    far = travel_of[codes] & (times.to_numpy() > limits)
    # only the rows beyond their threshold are copied (a few among every commune × type)
    access = accessibility[far].copy()
    access["type_ressource"] = access["type_ressource"].astype(str)
    access["temps"] = times[far]
    access["seuil"] = limits[far]
    return access


def accessibility_gaps(inputs: GapInputs, config: GapConfig) -> pd.DataFrame | None:
    """Zones blanches: communes (and their population) beyond the maximal access time."""
    access = inputs.accessibility
    if not _present(access):
        return None
    types = _types(inputs)
    minimum = float(config.threshold("accessibilite", "population_min"))
    floor = float(config.threshold("accessibilite", "ampleur_min"))
    population = pd.to_numeric(access["population"], errors="coerce").fillna(0)
    totals = population.groupby(access["type_ressource"].astype(str)).sum()
    far = white_zone_communes(access, config, types)
    # one pass over plain arrays: a type's communes are a mask, not a grouped frame
    kinds = far["type_ressource"].to_numpy(dtype=object)
    people = pd.to_numeric(far["population"], errors="coerce").fillna(0).to_numpy(float)
    times = far["temps"].to_numpy(dtype=float)
    limits = far["seuil"].to_numpy(dtype=float)
    communes_of = far["code_commune"].astype(str).to_numpy(dtype=object)
    rows = []
    for code in sorted(set(kinds)):
        mine = kinds == code
        pop = people[mine]
        concerned = float(pop.sum())
        if concerned < minimum or concerned <= 0:
            continue
        threshold = float(limits[mine][0])
        mean_time = float((times[mine] * pop).sum() / concerned)
        total = float(totals.get(code, 0))
        communes = sorted(set(communes_of[mine]))
        rows.append({
            "code_objet": code, "sujet": _type_label(code, types),
            "valeur": 100 * concerned / total if total else None,
            "reference": mean_time, "unite": "% de la population",
            "seuil": threshold, "significativite": "constat",
            "ampleur": min(max((mean_time - threshold) / threshold, floor), 1.0),
            "population_concernee": concerned, "nombre_communes": len(communes),
            "communes_concernees": ", ".join(communes),
            **_type_info(code, types, config),
        })
    return _finish(rows, "zone_blanche", inputs, config)


def cooperation_gaps(inputs: GapInputs, config: GapConfig) -> pd.DataFrame | None:
    """Cooperation shares below their threshold (``seuils.cooperation.part_min_pct``).

    A share whose denominator is 0 (no structure of that kind) is never a gap.
    """
    table = inputs.cooperation
    if not _present(table):
        return None
    if "code_territoire" in table.columns:
        table = table[table["code_territoire"].astype(str) == str(inputs.territory)]
    thresholds = config.threshold("cooperation", "part_min_pct")
    rows = []
    for r in table.to_dict("records"):
        code = r["indicateur"]
        if code not in thresholds:
            continue
        value = pd.to_numeric(r.get("valeur"), errors="coerce")
        limit = float(thresholds[code])
        if pd.isna(value) or float(value) >= limit or limit <= 0:
            continue
        entry = config.data["cooperation"][code]
        label = r.get("libelle")
        rows.append({
            "code_objet": code,
            "sujet": label if isinstance(label, str) and label
            else COOPERATION_INDICATORS.get(code, code),
            "valeur": float(value), "reference": limit,
            "reference_libelle": COOPERATION_REFERENCE_LABEL, "unite": "%", "seuil": limit,
            "ampleur": min((limit - float(value)) / limit, 1.0),
            "significativite": "constat", "population_concernee": inputs.population_total,
            "priorite_ptsm": entry["priorite"], "axe_anap": entry.get("axe_anap"),
            "theme_action": entry["theme_action"],
            "points_r3224_3": ", ".join(str(p) for p in entry["points"]) or None,
            "_numerator": r.get("numerateur"), "_denominator": r.get("denominateur"),
        })
    return _finish(rows, "cooperation", inputs, config)


def territory_evidence(inputs: GapInputs) -> tuple[frozenset[str], frozenset[str]]:
    """Indicators with a value for the territory, resource types present on it.

    ``inputs.evidence`` when it is given, else read from the indicator values, the rosace,
    the resources and the densities of ``inputs``.
    """
    if inputs.evidence is not None:
        return inputs.evidence
    indicators: set[str] = set()
    for frame in (inputs.indicator_values, inputs.rosace):
        if _present(frame) and {"indicateur", "statut"} <= set(frame.columns):
            rows = frame
            if "code_territoire" in frame.columns:
                rows = frame[frame["code_territoire"].astype(str) == str(inputs.territory)]
            indicators.update(rows.loc[rows["statut"] != "manquant", "indicateur"])
    present: set[str] = set()
    if _present(inputs.resources) and "type_ressource" in inputs.resources.columns:
        present.update(inputs.resources["type_ressource"].dropna().astype(str))
    if _present(inputs.densities):
        counted = pd.to_numeric(inputs.densities["nombre"], errors="coerce").fillna(0) > 0
        present.update(inputs.densities.loc[counted, "type_ressource"].astype(str))
    return frozenset(indicators), frozenset(present)


def informed_points(inputs: GapInputs, config: GapConfig) -> dict[int, bool]:
    """Whether each R3224-3 point is informed by at least one datum of the territory."""
    indicators, present = territory_evidence(inputs)
    has_access = _present(inputs.accessibility)
    by_cooperation: set[int] = set()  # points informed by a computed cooperation share
    cooperation = inputs.cooperation
    if _present(cooperation) and {"indicateur", "valeur"} <= set(cooperation.columns):
        known = cooperation[pd.to_numeric(cooperation["valeur"], errors="coerce").notna()]
        for code in known["indicateur"]:
            by_cooperation.update(config.data["cooperation"].get(code, {}).get("points", []))
    return {
        point: bool(indicators & set(e["indicateurs"]) or present & set(e["types_ressource"])
                    or (has_access and e.get("accessibilite", False))
                    or point in by_cooperation)
        for point, e in config.data["parcours"].items()
    }


def informed_priorities(inputs: GapInputs, config: GapConfig) -> dict[int, bool]:
    """Whether each PTSM priority (1 to 6) is informed by at least one datum.

    A priority is informed by an indicator of the catalogue with that priority and a
    value for the territory, by a present resource type offering a prestation of that
    priority (``gaps.yaml``), by an informed R3224-3 point of that priority, or by a
    computed cooperation share of that priority. An uninformed priority is « aucune
    donnée : à documenter », never « no problem ».
    """
    catalog = inputs.catalog if inputs.catalog is not None else load_indicator_catalog()
    indicators, present = territory_evidence(inputs)
    types = _types(inputs)
    informed: set[int] = set()
    informed.update(int(catalog[i].priority) for i in indicators
                    if i in catalog and catalog[i].priority is not None)
    for code in present:
        for prestation in (types[code].prestations if code in types else ()):
            entry = config.data["prestations"].get(prestation)
            if entry is not None:
                informed.add(int(entry["priorite"]))
    for point, ok in informed_points(inputs, config).items():
        if ok:
            informed.add(int(config.data["parcours"][point]["priorite"]))
    cooperation = inputs.cooperation
    if _present(cooperation) and {"indicateur", "valeur"} <= set(cooperation.columns):
        known = cooperation[pd.to_numeric(cooperation["valeur"], errors="coerce").notna()]
        for code in known["indicateur"]:
            entry = config.data["cooperation"].get(code)
            if entry is not None:
                informed.add(int(entry["priorite"]))
    return {p: p in informed for p in load_vocabularies().priorities}


def _data_to_collect(priority: int, catalog: Mapping[str, Indicator]) -> str:
    """The impact indicators of a priority and their sources, as a French sentence."""
    wanted = [f"{i.label} ({', '.join(i.sources)})" if i.sources else i.label
              for i in catalog.values() if i.priority == priority]
    if not wanted:
        return "indicateurs à définir dans le catalogue (indicators.yaml)."
    return "; ".join(wanted) + "."


def knowledge_gaps(inputs: GapInputs, config: GapConfig) -> pd.DataFrame:
    """R3224-3 points and PTSM priorities without any datum: gaps of knowledge, with the
    data to collect."""
    ampleur = float(config.threshold("connaissance", "ampleur"))
    catalog = inputs.catalog if inputs.catalog is not None else load_indicator_catalog()
    labels = load_vocabularies().priorities
    rows = []
    for priority, informed in informed_priorities(inputs, config).items():
        if informed:
            continue
        rows.append({
            "code_objet": f"priorite-{priority}", "sujet": labels[priority],
            "ampleur": ampleur, "significativite": "constat",
            "population_concernee": inputs.population_total, "priorite_ptsm": priority,
            "donnees_a_recueillir": _data_to_collect(priority, catalog),
        })
    for point, informed in informed_points(inputs, config).items():
        if informed:
            continue
        entry = config.data["parcours"][point]
        rows.append({
            "code_objet": f"R3224-3-{point}", "sujet": entry["libelle"],
            "ampleur": ampleur, "significativite": "constat",
            "population_concernee": inputs.population_total,
            "priorite_ptsm": entry["priorite"], "axe_anap": entry["axe_anap"],
            "points_r3224_3": str(point), "donnees_a_recueillir": entry["donnees"],
        })
    return _finish(rows, "connaissance", inputs, config)


def current_actions(actions: pd.DataFrame, territory: str, config: GapConfig) -> pd.DataFrame:
    """Latest follow-up of each action of the territory, without the excluded statuses."""
    rows = actions[actions["code_territoire"].astype(str) == str(territory)]
    if "date_suivi" in rows.columns:
        rows = rows.sort_values("date_suivi", kind="stable")
    rows = rows.drop_duplicates("id_action", keep="last")
    excluded = config.threshold("feuille_de_route", "statuts_exclus")
    if "statut" in rows.columns:
        rows = rows[~rows["statut"].isin(excluded)]
    return rows


def roadmap_gaps(inputs: GapInputs, config: GapConfig) -> pd.DataFrame | None:
    """Priorities with gaps but no action, and actions on priorities without any gap."""
    if inputs.actions is None:
        return None
    all_actions = inputs.actions[inputs.actions["code_territoire"].astype(str)
                                 == str(inputs.territory)]
    if all_actions.empty:
        return None
    actions = current_actions(inputs.actions, inputs.territory, config)
    found = inputs.found if inputs.found is not None else gap_frame()
    found = found[~found["nature"].isin(["priorite_sans_action", "action_sans_insuffisance"])]
    labels = load_vocabularies().priorities
    ampleur = float(config.threshold("feuille_de_route", "ampleur"))
    by_priority = pd.to_numeric(actions["priorite"], errors="coerce").to_numpy(dtype=float)
    action_ids = actions["id_action"].astype(str).to_numpy()
    gap_priority = pd.to_numeric(found["priorite_ptsm"], errors="coerce").to_numpy(
        dtype=float, na_value=np.nan)
    no_action, unfounded = [], []
    for priority, label in labels.items():
        gaps = found[gap_priority == priority]
        ids = sorted(set(action_ids[by_priority == priority]))
        if not gaps.empty and not ids:
            no_action.append({
                "code_objet": f"priorite-{priority}", "sujet": label,
                "valeur": float(len(gaps)), "ampleur": ampleur, "significativite": "constat",
                "population_concernee": gaps["population_concernee"].max(),
                "priorite_ptsm": priority, "axe_anap": _single_axis(gaps),
            })
        elif gaps.empty and ids:
            unfounded.append({
                "code_objet": f"priorite-{priority}", "sujet": label,
                "valeur": float(len(ids)), "ampleur": 0.0, "significativite": "constat",
                "priorite_ptsm": priority, "_actions": ", ".join(ids),
            })
    return pd.concat([_finish(no_action, "priorite_sans_action", inputs, config),
                      _finish(unfounded, "action_sans_insuffisance", inputs, config)],
                     ignore_index=True)


def _single_axis(gaps: pd.DataFrame) -> int | None:
    axes = gaps["axe_anap"].dropna().unique()
    return int(axes[0]) if len(axes) == 1 else None


GapSource = Callable[[GapInputs, GapConfig], "pd.DataFrame | None"]

# Registry of evidence sources, run in this order; the feuille de route check comes last
# because it reads the gaps found by the others.
for _source in (indicator_gaps, density_gaps, prestation_gaps, accessibility_gaps,
                cooperation_gaps, knowledge_gaps):
    _source.reads_found = False  # type: ignore[attr-defined]

SOURCES: dict[str, GapSource] = {
    "indicateurs": indicator_gaps,
    "densites": density_gaps,
    "prestations": prestation_gaps,
    "zones_blanches": accessibility_gaps,
    "cooperation": cooperation_gaps,
    "connaissance": knowledge_gaps,
    "feuille_de_route": roadmap_gaps,
}
SOURCE_LABELS: dict[str, str] = {
    "indicateurs": "Indicateurs de la rosace comparés à la référence",
    "densites": "Densités de ressources comparées à la référence",
    "prestations": "Panier de prestations",
    "zones_blanches": "Temps d'accès aux ressources (zones blanches)",
    "cooperation": "Coopération entre secteurs (table partenariats)",
    "connaissance": "Points de parcours de l'article R3224-3 et priorités du PTSM sans donnée",
    "feuille_de_route": "Confrontation avec la feuille de route",
}
SKIP_REASONS: dict[str, str] = {
    "indicateurs": "aucun indicateur de la rosace n'a été calculé (table indicateurs absente "
                   "ou vide)",
    "densites": "les densités de ressources rapportées à une référence n'ont pas été "
                "fournies",
    "prestations": "la table des ressources est absente",
    "zones_blanches": "les temps d'accès des communes aux ressources n'ont pas été fournis",
    "cooperation": "la table partenariats est absente",
    "connaissance": "",
    "feuille_de_route": "aucune action de la feuille de route pour ce territoire "
                        "(table actions absente ou sans ligne pour ce territoire)",
}


@dataclass(frozen=True)
class GapAnalysis:
    """Result of :func:`compute_gaps`: ranked gaps, analyses not run, config used, and
    whether each PTSM priority is informed by some datum (:func:`informed_priorities`)."""

    gaps: pd.DataFrame
    skipped: dict[str, str]
    config: GapConfig
    sources_run: tuple[str, ...] = ()
    informed_priorities: dict[int, bool] = field(default_factory=dict)


def merge_supply_gaps(gaps: pd.DataFrame, config: GapConfig) -> pd.DataFrame:
    """One row per resource type for its density gap and its white zone.

    A type absent or scarce on the territory shows both a low density and communes far
    from it: one fact, counted once. The merged row (nature :data:`MERGED_NATURE`) keeps
    the density's values, adds the communes of the white zone, joins both sentences and
    takes the larger severity.
    """
    density = gaps[gaps["nature"] == "densite"]
    white = gaps[gaps["nature"] == "zone_blanche"]
    common = sorted(set(density["code_objet"]) & set(white["code_objet"]))
    if not common:
        return gaps
    first_density = _first_record_by_subject(density)
    first_white = _first_record_by_subject(white)
    merged = []
    for code in common:
        d, w = first_density[code], first_white[code]
        score = max(float(d["severite"]), float(w["severite"]))
        merged.append({**d, "nature": MERGED_NATURE, "constat": f"{d['constat']} {w['constat']}",
                       "nombre_communes": w["nombre_communes"],
                       "communes_concernees": w["communes_concernees"],
                       "ampleur": max(float(d["ampleur"]), float(w["ampleur"])),
                       "severite": score, "niveau_severite": severity_level(score, config)})
    rest = gaps[~(gaps["nature"].isin(["densite", "zone_blanche"])
                  & gaps["code_objet"].isin(common))]
    return gap_frame([*rest.to_dict("records"), *merged])


def _first_record_by_subject(gaps: pd.DataFrame) -> dict[Any, dict[str, Any]]:
    """The first row of each ``code_objet``, as a dict (one pass over the table)."""
    records: dict[Any, dict[str, Any]] = {}
    for record in gaps.to_dict("records"):
        records.setdefault(record["code_objet"], record)
    return records


def rank_gaps(gaps: pd.DataFrame) -> pd.DataFrame:
    """Gaps sorted by decreasing severity (then nature, subject), with a ``rang`` column."""
    order = {n: i for i, n in enumerate(NATURES)}
    ranked = gaps.assign(_order=gaps["nature"].map(order)).sort_values(
        ["severite", "_order", "sujet"], ascending=[False, True, True], kind="stable",
        na_position="last").drop(columns="_order").reset_index(drop=True)
    ranked.insert(0, "rang", np.arange(1, len(ranked) + 1))
    return ranked


def compute_gaps(
    inputs: GapInputs,
    config: GapConfig | Mapping[str, Any] | str | Path | None = None,
    sources: Mapping[str, GapSource] | None = None,
) -> GapAnalysis:
    """Run every evidence source and rank the gaps.

    Parameters
    ----------
    inputs : GapInputs
        The territory's tables; absent ones are None.
    config : GapConfig, dict of overrides, path or None
        Thresholds and weights (packaged ``gaps.yaml`` by default).
    sources : dict, optional
        Evidence sources to run (:data:`SOURCES` by default). Each gets the gaps found by
        the sources before it (``inputs.found``, density and white-zone gaps merged)
        unless it has an attribute ``reads_found = False`` (then merging waits).

    Returns
    -------
    GapAnalysis
        ``gaps`` (``rang`` + :data:`GAP_COLUMNS`, most severe first), ``skipped``
        (source → French reason) and the config.
    """
    config = as_config(config)
    sources = SOURCES if sources is None else sources
    # what the territory's tables inform, found once for every source that asks
    inputs = replace(inputs, evidence=territory_evidence(inputs))
    parts: list[pd.DataFrame] = []
    skipped: dict[str, str] = {}
    run: list[str] = []
    found = gap_frame()  # the gaps found so far (parts[:merged]), merged when they change
    merged = 0
    for name, source in sources.items():
        # Only a source that reads the gaps found before it (roadmap_gaps; any source of
        # the user's unless it says otherwise) waits for them to be merged.
        if len(parts) != merged and getattr(source, "reads_found", True):
            found, merged = _merged(found, parts[merged:], config), len(parts)
        result = source(replace(inputs, found=found), config)
        if result is None:
            skipped[name] = SKIP_REASONS.get(name, "donnée d'entrée absente")
            continue
        run.append(name)
        if not result.empty:
            parts.append(result)
    gaps = _merged(found, parts[merged:], config)
    return GapAnalysis(gaps=rank_gaps(gap_frame(gaps.to_dict("records"))), skipped=skipped,
                       config=config, sources_run=tuple(run),
                       informed_priorities=informed_priorities(inputs, config))


def _merged(found: pd.DataFrame, new: list[pd.DataFrame], config: GapConfig) -> pd.DataFrame:
    """``found`` (already merged) with the ``new`` gaps, density and white zone merged."""
    if not new:
        return found
    return merge_supply_gaps(pd.concat([found, *new] if len(found) else new,
                                       ignore_index=True), config)
