"""Controlled vocabularies of the PTSM (priorities, themes, statuses, champs, publics,
prestations, resource types), loaded from the YAML files of this folder."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ptsm_diag.errors import CatalogError

# libyaml's safe loader when PyYAML has it (10× faster), else the pure-Python one.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> Any:
    """Parse YAML text safely (no Python objects), with libyaml when available.

    The same text is parsed once per process (the catalogues are read by every section
    of every report of a batch): each call gets its own deep copy of the result.
    """
    return copy.deepcopy(_parse_yaml_once(text))


@lru_cache(maxsize=32)
def _parse_yaml_once(text: str) -> Any:
    return yaml.load(text, Loader=_SAFE_LOADER)


def _read_yaml(name: str) -> dict[str, Any]:
    text = resources.files("ptsm_diag.catalog").joinpath(name).read_text(encoding="utf-8")
    return parse_yaml(text)


@dataclass(frozen=True)
class Vocabularies:
    """Every controlled vocabulary, as plain dicts and lists (codes → French labels)."""

    priorities: dict[int, str]
    action_themes: dict[int, str]
    action_statuses: list[str]
    statuses_requiring_motive: list[str]
    champs: dict[str, str]
    publics: dict[str, str]
    age_bands_partition: list[str]
    age_bands: list[str]
    prestations: dict[str, str]
    rosace_axes: dict[int, str]
    indicator_categories: list[str]


@dataclass(frozen=True)
class ResourceType:
    """One resource type of the typology."""

    code: str
    label: str
    finess_categories: tuple[int, ...]
    champ: str
    public: str
    prestations: tuple[str, ...]
    psychiatric: bool = False
    travel: bool = True


@cache
def load_vocabularies() -> Vocabularies:
    """The controlled vocabularies shipped with the package."""
    raw = _read_yaml("vocabularies.yaml")
    bands = raw["tranches_age"]
    return Vocabularies(
        priorities={int(k): v["libelle"] for k, v in raw["priorites"].items()},
        action_themes={int(k): v["libelle"] for k, v in raw["themes_action"].items()},
        action_statuses=list(raw["statuts_action"]),
        statuses_requiring_motive=list(raw["statuts_avec_motif"]),
        champs=dict(raw["champs"]),
        publics=dict(raw["publics"]),
        age_bands_partition=list(bands["partition"]),
        age_bands=list(bands["partition"]) + list(bands["autres"]),
        prestations=dict(raw["prestations"]),
        rosace_axes={int(k): v for k, v in raw["axes_rosace"].items()},
        indicator_categories=list(raw["categories_indicateur"]),
    )


def load_resource_types(path: str | Path | None = None) -> dict[str, ResourceType]:
    """The resource typology, keyed by type code.

    Parameters
    ----------
    path : path, optional
        A user's own typology file with the same layout; the packaged one by default.
    """
    if path is None:  # read by many sections of every report: built once, copied
        return dict(_packaged_resource_types())
    return _resource_types(parse_yaml(Path(path).read_text(encoding="utf-8")), str(path))


@cache
def _packaged_resource_types() -> dict[str, ResourceType]:
    return _resource_types(_read_yaml("resource_types.yaml"), "resource_types.yaml")


def _resource_types(raw: dict[str, Any], file_name: str) -> dict[str, ResourceType]:
    """The typology ``raw`` (parsed from ``file_name``) checked against the vocabularies."""
    vocab = load_vocabularies()
    psychiatric = _type_list(raw, "psychiatrie", file_name)
    # Without a « deplacement » list, every type is a place people travel to.
    travel = (_type_list(raw, "deplacement", file_name) if "deplacement" in raw
              else set(raw["types"]))
    types: dict[str, ResourceType] = {}
    for code, entry in raw["types"].items():
        for field_name in ("libelle", "champ", "public"):
            if field_name not in entry:
                raise CatalogError(file_name, code, field_name, "champ obligatoire absent")
        if entry["champ"] not in vocab.champs:
            raise CatalogError(
                file_name, code, "champ",
                f"« {entry['champ']} » inconnu ; attendu : {', '.join(vocab.champs)}",
            )
        if entry["public"] not in vocab.publics:
            raise CatalogError(
                file_name, code, "public",
                f"« {entry['public']} » inconnu ; attendu : {', '.join(vocab.publics)}",
            )
        unknown = [p for p in entry.get("prestations", []) if p not in vocab.prestations]
        if unknown:
            raise CatalogError(
                file_name, code, "prestations", f"prestation(s) inconnue(s) : {unknown}"
            )
        types[code] = ResourceType(
            code=code,
            label=entry["libelle"],
            finess_categories=tuple(int(c) for c in entry.get("finess", [])),
            champ=entry["champ"],
            public=entry["public"],
            prestations=tuple(entry.get("prestations", [])),
            psychiatric=code in psychiatric,
            travel=code in travel,
        )
    return types


def _type_list(raw: dict[str, Any], key: str, file_name: str) -> set[str]:
    """A list of type codes of the typology (``psychiatrie``, ``deplacement``), checked."""
    value = raw.get(key) or []
    if not isinstance(value, list):
        raise CatalogError(file_name, key, key, f"liste de codes de types attendue, lu « {value} »")
    unknown = sorted({str(v) for v in value} - set(raw["types"]))
    if unknown:
        raise CatalogError(file_name, key, key, f"type(s) inconnu(s) : {', '.join(unknown)}")
    return {str(v) for v in value}


def travel_types(path: str | Path | None = None) -> tuple[str, ...]:
    """Codes of the types a person travels to (the « deplacement » list of the typology)."""
    return tuple(code for code, rtype in load_resource_types(path).items() if rtype.travel)


def psychiatric_types(path: str | Path | None = None) -> tuple[str, ...]:
    """Codes of the psychiatric services (the « psychiatrie » list of the typology)."""
    return tuple(code for code, rtype in load_resource_types(path).items() if rtype.psychiatric)
