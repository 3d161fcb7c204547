"""Referentials the readers check codes against: communes, départements, régions,
indicator ids, territory codes.

They are plain parameters of the validation functions; :func:`bundled_referentials` loads
the ones shipped with the package (geography, indicator catalogue). A referential left at
None means "not checked".
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache, lru_cache

import pandas as pd

REFERENTIAL_NAMES = ("communes", "departements", "regions", "indicators", "territories",
                     "proportions", "resources")


@dataclass(frozen=True)
class Referentials:
    """Known codes; None disables the corresponding check.

    Attributes
    ----------
    communes : frozenset of str, optional
        INSEE commune codes.
    departements : frozenset of str, optional
        Département codes (``01``, ``2A``, ``971``...).
    regions : frozenset of str, optional
        Région codes (``53``...).
    indicators : frozenset of str, optional
        Indicator ids of the catalogue.
    territories : frozenset of str, optional
        Territory codes (from ``territoires``).
    proportions : frozenset of str, optional
        Indicator ids whose numerator cannot exceed the denominator (proportions). When
        None, the rule numerator ≤ denominator applies to every indicator.
    resources : frozenset of str, optional
        Resource ids (``id_ressource`` of ``ressources``), for the ``partenariats`` table.
    """

    communes: frozenset[str] | None = None
    departements: frozenset[str] | None = None
    regions: frozenset[str] | None = None
    indicators: frozenset[str] | None = None
    territories: frozenset[str] | None = None
    proportions: frozenset[str] | None = None
    resources: frozenset[str] | None = None

    def with_(self, **changes: Collection[str] | None) -> Referentials:
        """A copy with some referentials replaced (None disables a check)."""
        unknown = set(changes) - set(REFERENTIAL_NAMES)
        if unknown:
            raise TypeError(
                f"unknown referential(s) {sorted(unknown)}; expected {REFERENTIAL_NAMES}"
            )
        frozen = {k: (None if v is None else frozenset(str(c) for c in v))
                  for k, v in changes.items()}
        return dataclasses.replace(self, **frozen)


@lru_cache(maxsize=32)
def _as_index(known: frozenset[str]) -> pd.Index:
    return pd.Index(sorted(known), dtype=object)


def is_known(values: pd.Series, known: frozenset[str]) -> pd.Series:
    """``values.isin(known)``, fast for large referentials (the set is indexed once)."""
    if len(known) < 1000:
        return values.isin(known)
    found = _as_index(known).get_indexer(values.astype(object)) >= 0
    return pd.Series(found, index=values.index)


@cache
def bundled_referentials() -> Referentials:
    """Communes, départements, régions of the bundled geography and the indicator ids.

    Each part is None when its provider is not available (then it is not checked).
    """
    communes = departements = regions = None
    try:
        from ptsm_diag.catalog.geography import departement_of_commune, load_communes

        codes = load_communes()["code_commune"].astype(str)
    except (ImportError, FileNotFoundError) as exc:  # geography not built/installed
        warnings.warn(f"géographie embarquée indisponible ({exc}) : codes commune, "
                      "département et région non vérifiés", stacklevel=2)
    else:
        communes = frozenset(codes)
        departements = frozenset(departement_of_commune(c) for c in communes)
        regions = _bundled_regions()
    indicators = proportions = None
    try:
        from ptsm_diag.catalog import load_indicator_catalog
    except ImportError:
        load_indicator_catalog = None
    if load_indicator_catalog is not None:
        catalog = load_indicator_catalog()
        indicators = frozenset(str(k) for k in catalog)
        proportions = frozenset(str(k) for k, i in catalog.items()
                                if getattr(i, "kind", "proportion") == "proportion")
    return Referentials(communes, departements, regions, indicators, None, proportions)


def _bundled_regions() -> frozenset[str] | None:
    try:
        from ptsm_diag.catalog.geography import load_departements
    except ImportError:
        return None
    table = pd.DataFrame(load_departements())
    if "code_region" not in table:
        return None
    return frozenset(table["code_region"].dropna().astype(str))
