"""The indicator catalogue: rosace ("Parcours") and impact indicators, loaded from YAML.

The packaged ``indicators.yaml`` can be replaced by a user's own file, or amended with
``overrides`` (e.g. another reading direction for an access rate) without editing the
package. Every entry is validated at load; a bad entry raises :class:`CatalogError`
naming the file, the entry and the field, in French.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ptsm_diag.catalog.vocabularies import load_vocabularies, parse_yaml
from ptsm_diag.errors import CatalogError

PACKAGED_FILE = "indicators.yaml"

KINDS = ("proportion", "rate", "mean", "ratio", "value")
DIRECTIONS = ("higher_is_worse", "higher_is_better", "neutral")
SCALES = (1, 100, 1000, 100000)
TARGET_TYPES = ("relative", "absolute")

REQUIRED_FIELDS = (
    "id", "label", "priority", "category", "numerator", "unit", "scale", "kind",
    "direction", "sources",
)
OPTIONAL_FIELDS = (
    "short_label", "axis", "denominator", "population", "target", "age_breakdown",
    "in_rosace", "secrecy", "note", "demo",
)
DEMO_FIELDS = ("typical", "spread", "min", "max", "denominator_per_100000")


# Rosace indicators ptsm-diag computes from open data (FINESS + équipements + INSEE; see
# ptsm_diag.compute.opendata_indicators): id → (resource types of the numerator, what is
# counted: "nombre" of structures or installed "places").
OPEN_DATA_INDICATORS: dict[str, tuple[tuple[str, ...], str]] = {
    "densite_cmp": (("cmp_adultes", "cmp_enfants"), "nombre"),
    "places_savs_samsah": (("savs", "samsah"), "places"),
    "places_mas_eam": (("mas", "eam"), "places"),
    "places_esat": (("esat",), "places"),
    "places_logement_accompagne": (("pension_famille",), "places"),
}


@dataclass(frozen=True)
class Target:
    """A 5-year target: French text, and a machine-readable form when numeric.

    ``type`` is ``"relative"`` (reach ``factor`` × baseline) or ``"absolute"`` (reach
    ``value`` in ``unit``; the indicator's direction says which side is the goal).
    """

    text: str
    type: str | None = None
    factor: float | None = None
    value: float | None = None
    unit: str | None = None


@dataclass(frozen=True)
class Demo:
    """Plausible order of magnitude for the fictional demo data (not a reference)."""

    typical: float
    spread: float
    min: float | None = None
    max: float | None = None
    denominator_per_100000: float | None = None


@dataclass(frozen=True)
class Indicator:
    """One indicator of the catalogue (see ``indicators.yaml`` for the field meanings)."""

    id: str
    label: str
    short_label: str
    axis: int | None
    priority: int
    category: str
    numerator: str
    denominator: str | None
    unit: str
    scale: int
    kind: str
    population: str | None
    direction: str
    sources: tuple[str, ...]
    target: Target | None
    age_breakdown: bool
    in_rosace: bool
    secrecy: bool
    note: str
    demo: Demo | None

    @property
    def has_interval(self) -> bool:
        """Whether counts give a 95 % interval (Wilson or exact Poisson)."""
        return self.kind in ("proportion", "rate")


def load_indicator_catalog(
    path: str | Path | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | str | Path | None = None,
) -> dict[str, Indicator]:
    """The indicator catalogue, keyed by id, ordered by rosace axis then declaration.

    Parameters
    ----------
    path : path, optional
        A user's own catalogue with the same layout; the packaged one by default.
    overrides : dict or path, optional
        Changes to apply before validation: ``{id: {field: value}}``, or a YAML file with
        that mapping (optionally under an ``indicators`` key), e.g.
        ``{"recours_ambulatoire": {"direction": "neutral"}}``.

    Returns
    -------
    dict of str to Indicator
        Indicators with an axis first (axis 1 to 5), then the others, each group in
        file order.

    Raises
    ------
    CatalogError
        Unknown axis, priority, category, direction, kind, scale or population, missing
        required field, unknown field, duplicate id, or an override naming an unknown
        indicator.
    """
    if path is None and overrides is None:  # read by every report: built once, copied
        return dict(_packaged_catalog())
    return _catalog(path, overrides)


@cache
def _packaged_catalog() -> dict[str, Indicator]:
    return _catalog(None, None)


def _catalog(
    path: str | Path | None, overrides: Mapping[str, Mapping[str, Any]] | str | Path | None
) -> dict[str, Indicator]:
    """The catalogue of ``path`` (packaged when None) with ``overrides``, validated."""
    if path is None:
        text = resources.files("ptsm_diag.catalog").joinpath(PACKAGED_FILE).read_text(
            encoding="utf-8"
        )
        file_name = PACKAGED_FILE
    else:
        text = Path(path).read_text(encoding="utf-8")
        file_name = str(path)
    raw = parse_yaml(text)
    if not isinstance(raw, dict) or not isinstance(raw.get("indicators"), list):
        raise CatalogError(file_name, "(fichier)", "indicators",
                           "liste « indicators » absente ou mal formée")
    entries = [dict(e) if isinstance(e, dict) else e for e in raw["indicators"]]
    if overrides is not None:
        entries = _apply_overrides(entries, overrides, file_name)
    indicators: list[Indicator] = []
    seen: set[str] = set()
    for position, entry in enumerate(entries, start=1):
        indicator = _validate(entry, position, file_name)
        if indicator.id in seen:
            raise CatalogError(file_name, indicator.id, "id", "identifiant en double")
        seen.add(indicator.id)
        indicators.append(indicator)
    ordered = sorted(indicators, key=lambda ind: 99 if ind.axis is None else ind.axis)
    return {ind.id: ind for ind in ordered}


def _apply_overrides(
    entries: list[Any], overrides: Mapping[str, Mapping[str, Any]] | str | Path, file_name: str
) -> list[Any]:
    """Entries with the overridden fields replaced; unknown ids or fields are errors."""
    if isinstance(overrides, str | Path):
        source = str(overrides)
        loaded = parse_yaml(Path(overrides).read_text(encoding="utf-8")) or {}
        if isinstance(loaded, dict) and isinstance(loaded.get("indicators"), dict):
            loaded = loaded["indicators"]
    else:
        source, loaded = "surcharges", overrides
    if not isinstance(loaded, Mapping):
        raise CatalogError(source, "(fichier)", "(surcharges)",
                           "attendu : un dictionnaire identifiant → {champ: valeur}")
    by_id = {e.get("id"): e for e in entries if isinstance(e, dict)}
    allowed = set(REQUIRED_FIELDS + OPTIONAL_FIELDS) - {"id"}
    for ind_id, changes in loaded.items():
        if ind_id not in by_id:
            raise CatalogError(source, str(ind_id), "id",
                               f"indicateur inconnu du catalogue {file_name}")
        if not isinstance(changes, Mapping):
            raise CatalogError(source, str(ind_id), "(surcharges)",
                               "attendu : un dictionnaire {champ: valeur}")
        for field_name, value in changes.items():
            if field_name not in allowed:
                raise CatalogError(
                    source, str(ind_id), str(field_name),
                    f"champ inconnu ; champs modifiables : {', '.join(sorted(allowed))}",
                )
            by_id[ind_id][field_name] = value
    return entries


def _validate(entry: Any, position: int, file_name: str) -> Indicator:
    """One YAML entry checked and turned into an :class:`Indicator`."""
    name = str(entry.get("id")) if isinstance(entry, dict) and entry.get("id") else f"n° {position}"
    if not isinstance(entry, dict):
        raise CatalogError(file_name, name, "(entrée)", "attendu : un dictionnaire de champs")

    def fail(field_name: str, message: str) -> CatalogError:
        return CatalogError(file_name, name, field_name, message)

    for field_name in REQUIRED_FIELDS:
        if entry.get(field_name) in (None, ""):
            raise fail(field_name, "champ obligatoire absent")
    unknown = sorted(set(entry) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
    if unknown:
        raise fail(unknown[0], "champ inconnu ; champs possibles : "
                   + ", ".join(REQUIRED_FIELDS + OPTIONAL_FIELDS))
    vocab = load_vocabularies()

    axis = entry.get("axis")
    if axis is not None and (not _is_int(axis) or axis not in vocab.rosace_axes):
        raise fail("axis", f"axe « {axis} » inconnu ; attendu : "
                   f"{', '.join(map(str, vocab.rosace_axes))} ou null")
    priority = entry["priority"]
    if not _is_int(priority) or priority not in vocab.priorities:
        raise fail("priority", f"priorité « {priority} » inconnue ; attendu : "
                   f"{', '.join(map(str, vocab.priorities))}")
    _check_choice(entry["category"], vocab.indicator_categories, "category", "catégorie", fail)
    _check_choice(entry["kind"], KINDS, "kind", "nature", fail)
    _check_choice(entry["direction"], DIRECTIONS, "direction", "sens de lecture", fail)
    scale = entry["scale"]
    if not _is_int(scale) or scale not in SCALES:
        raise fail("scale", f"échelle « {scale} » inconnue ; attendu : "
                   f"{', '.join(map(str, SCALES))}")
    population = entry.get("population")
    if population is not None and str(population) not in vocab.age_bands:
        raise fail("population", f"tranche d'âge « {population} » inconnue ; attendu : "
                   f"{', '.join(vocab.age_bands)}")
    if entry["kind"] != "value" and entry.get("denominator") in (None, ""):
        raise fail("denominator", "champ obligatoire absent (sauf pour kind: value)")
    sources = entry["sources"]
    if not isinstance(sources, list) or not all(isinstance(s, str) and s for s in sources):
        raise fail("sources", "attendu : une liste non vide de noms de sources")
    flags = {}
    for flag, default in (("age_breakdown", False), ("in_rosace", False), ("secrecy", True)):
        value = entry.get(flag, default)
        if not isinstance(value, bool):
            raise fail(flag, f"« {value} » : attendu true ou false")
        flags[flag] = value
    if flags["in_rosace"] and axis is None:
        raise fail("axis", "un indicateur de la rosace (in_rosace: true) doit avoir un axe")

    return Indicator(
        id=str(entry["id"]),
        label=str(entry["label"]),
        short_label=str(entry.get("short_label") or entry["label"]),
        axis=axis,
        priority=priority,
        category=entry["category"],
        numerator=str(entry["numerator"]),
        denominator=None if entry.get("denominator") is None else str(entry["denominator"]),
        unit=str(entry["unit"]),
        scale=scale,
        kind=entry["kind"],
        population=None if population is None else str(population),
        direction=entry["direction"],
        sources=tuple(sources),
        target=_target(entry.get("target"), fail),
        age_breakdown=flags["age_breakdown"],
        in_rosace=flags["in_rosace"],
        secrecy=flags["secrecy"],
        note=str(entry.get("note") or ""),
        demo=_demo(entry.get("demo"), fail),
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_choice(value: Any, choices: Any, field_name: str, what: str, fail: Any) -> None:
    if value not in choices:
        raise fail(field_name,
                   f"valeur « {value} » inconnue ({what}) ; attendu : {', '.join(choices)}")


def _target(raw: Any, fail: Any) -> Target | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return Target(text=raw)
    if not isinstance(raw, dict) or not raw.get("text"):
        raise fail("target", "attendu : {text: ..., type: relative|absolute, ...}")
    kind = raw.get("type")
    extra = sorted(set(raw) - {"text", "type", "factor", "value", "unit"})
    if extra:
        raise fail("target",
                   f"clé inconnue « {extra[0]} » ; attendu : text, type, factor, value, unit")
    if kind is not None and kind not in TARGET_TYPES:
        raise fail("target", f"type de cible « {kind} » inconnu ; attendu : relative, absolute")
    if kind == "relative" and not _is_number(raw.get("factor")):
        raise fail("target", "une cible relative demande un facteur numérique (factor)")
    if kind == "absolute" and not _is_number(raw.get("value")):
        raise fail("target", "une cible absolue demande une valeur numérique (value)")
    return Target(
        text=str(raw["text"]),
        type=kind,
        factor=None if raw.get("factor") is None else float(raw["factor"]),
        value=None if raw.get("value") is None else float(raw["value"]),
        unit=raw.get("unit"),
    )


def _demo(raw: Any, fail: Any) -> Demo | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not {"typical", "spread"} <= set(raw):
        raise fail("demo", "attendu : {typical: ..., spread: ...}")
    extra = sorted(set(raw) - set(DEMO_FIELDS))
    if extra:
        raise fail("demo", f"clé inconnue « {extra[0]} » ; attendu : {', '.join(DEMO_FIELDS)}")
    if not all(_is_number(v) for v in raw.values()):
        raise fail("demo", "toutes les valeurs de démonstration doivent être numériques")
    return Demo(**{k: float(v) for k, v in raw.items()})
