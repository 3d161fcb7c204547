"""Regional synthesis: every territory of a région (or any list) side by side.

Tables in, tables out (no file read or written, nothing drawn). The facade
:func:`ptsm_diag.diagnostic.prepare_synthesis` builds a :class:`Synthesis` (territories,
located resources, indicator values and one rosace table per territory, computed once):

- :func:`heatmap_frame` / :func:`heatmap_class` — indices by territory × indicator with a
  direction-aware class (more favourable, comparable, less favourable, masked, missing);
- :func:`indicator_ranking` — territories ranked on one indicator (1 = most favourable),
  masked and missing values listed last, never as zero;
- :func:`resource_rates` — resources per 100,000 inhabitants by type, side by side;
- :func:`territory_outlines` — the dissolved outline of every territory.

Its figures and maps are in :mod:`ptsm_diag.viz.regional`, the report pieces in
:mod:`ptsm_diag.report.regional`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ptsm_diag.catalog import Indicator, load_indicator_catalog, load_resource_types
from ptsm_diag.compute.densities import REFERENCE_LABELS
from ptsm_diag.compute.indicators import (
    STATUT_MANQUANT,
    STATUT_MASQUE,
    STATUT_OK,
)
from ptsm_diag.compute.resources import summarise_by_type
from ptsm_diag.compute.territory import Territory, main_regions
from ptsm_diag.errors import UnknownCodeError

_VERDICT_CLASS = {"meilleur": "mieux", "comparable": "comparable", "moins bon": "moins-bon"}

DIRECTION_ARROWS = {
    "higher_is_better": "↗ plus élevé = plus favorable",
    "higher_is_worse": "↘ plus élevé = moins favorable",
    "neutral": "sans sens de lecture",
}


@dataclass
class Synthesis:
    """What a regional synthesis shows, computed once for the selected territories."""

    territories: dict[str, Territory]
    data: Any  # the validated data folder (ptsm_diag.io.sources.DataFolder)
    data_folder: Path
    is_demo: bool
    reference: str
    region: str | None
    catalog: dict[str, Indicator]
    resources: gpd.GeoDataFrame
    indicator_values: pd.DataFrame
    rosaces: dict[str, pd.DataFrame]
    year: int | None
    generated_at: datetime = field(default_factory=datetime.now)
    national: pd.DataFrame | None = None  # the national reference table, when there is one
    national_origin: str = ""  # where it comes from (French)

    @property
    def codes(self) -> list[str]:
        """Codes of the territories, in display order."""
        return list(self.territories)

    @property
    def names(self) -> dict[str, str]:
        """Territory code → name."""
        return {code: t.name for code, t in self.territories.items()}

    @property
    def reference_label(self) -> str:
        """French label of the reference of the indices."""
        return REFERENCE_LABELS[self.reference]


# --------------------------------------------------------------------------- selection


def parse_codes(codes: str | Iterable[str] | None) -> list[str]:
    """Territory codes from a comma-separated string (or a list), stripped, deduplicated.

    >>> parse_codes(" 22, 29,,22 ")
    ['22', '29']
    """
    if codes is None:
        return []
    items = codes.split(",") if isinstance(codes, str) else [str(c) for c in codes]
    return list(dict.fromkeys(c.strip() for c in items if c.strip()))


def select_territories(
    territoires: pd.DataFrame,
    *,
    region: str | None = None,
    codes: str | Iterable[str] | None = None,
) -> list[str]:
    """Codes of the territories of a synthesis.

    Parameters
    ----------
    territoires : DataFrame
        The ``territoires`` table.
    region : str, optional
        Région code (``"53"``): its territories (main région, by population), in table
        order. Ignored when ``codes`` is given.
    codes : str or list, optional
        Territory codes (``"22,29"``), in the given order.

    Returns
    -------
    list of str
        Every territory of the table when neither is given.

    Raises
    ------
    UnknownCodeError
        A code absent from the table, or a région without any territory.
    """
    known = list(dict.fromkeys(territoires["code_territoire"].astype(str).str.strip()))
    wanted = parse_codes(codes)
    if wanted:
        unknown = [c for c in wanted if c not in set(known)]
        if unknown:
            raise UnknownCodeError("territoire", unknown,
                                   hint=f"Territoires du dossier : {', '.join(sorted(known))}")
        return wanted
    region = str(region).strip() if region is not None else ""
    if not region:
        return known
    regions = main_regions(territoires)
    selected = [c for c in known if regions.get(c) == region]
    if not selected:
        raise UnknownCodeError(
            "région", [region],
            hint=f"Régions des territoires : {', '.join(sorted(set(regions.values())))}",
        )
    return selected


# --------------------------------------------------------------------------- tables


def heatmap_class(statut: str, verdict: str | None, index: float | None) -> str:
    """Heat-map class of one cell (a key of :data:`ptsm_diag.viz.regional.HEAT_CLASSES`).

    The verdict is already direction-aware (computed from the indicator's direction):
    "meilleur" is more favourable whether a higher value is better or worse. Masked
    and missing values get their own class, never a colour of a value.
    """
    if statut == STATUT_MASQUE:
        return "masque"
    if statut != STATUT_OK:
        return "manquant"
    if index is None or (isinstance(index, float) and math.isnan(index)):
        return "sans-reference"
    return _VERDICT_CLASS.get(str(verdict), "non-evaluable")


def heatmap_text(statut: str, index: float | None) -> str:
    """Text of one heat-map cell: the rounded index, « masqué », « n.d. » or « s. réf. »."""
    if statut == STATUT_MASQUE:
        return "masqué"
    if statut != STATUT_OK:
        return "n.d."
    if index is None or not np.isfinite(index):
        return "s. réf." if index is None or np.isnan(index) else "∞"
    return f"{index:.0f}"


def heatmap_frame(synthesis: Synthesis) -> pd.DataFrame:
    """Indices of every territory × rosace indicator, with their heat-map class.

    Returns
    -------
    DataFrame
        Long table in catalogue then territory order: ``code_territoire, territoire,
        indicateur, label, short_label, axis, axis_label, unit, direction, annee, value,
        reference, index, verdict, statut, classe, texte``.
    """
    columns = ["code_territoire", "indicateur", "label", "short_label", "axis", "axis_label",
               "unit", "direction", "annee", "value", "reference", "index", "verdict",
               "statut"]
    frames = [synthesis.rosaces[c][columns] for c in synthesis.codes if c in synthesis.rosaces]
    if not frames:
        return pd.DataFrame(columns=[*columns, "territoire", "classe", "texte"])
    frame = pd.concat(frames, ignore_index=True)
    frame.insert(1, "territoire", frame["code_territoire"].map(synthesis.names))
    index = frame["index"].astype(float)
    frame["classe"] = [heatmap_class(s, v, i) for s, v, i in
                       zip(frame["statut"], frame["verdict"], index, strict=True)]
    frame["texte"] = [heatmap_text(s, i) for s, i in zip(frame["statut"], index, strict=True)]
    return frame


def default_indicator(catalog: Mapping[str, Indicator] | None = None) -> str:
    """The first rosace indicator of the catalogue."""
    catalog = catalog if catalog is not None else load_indicator_catalog()
    return next(ind.id for ind in catalog.values() if ind.in_rosace)


def indicator_ranking(synthesis: Synthesis, indicator: str | None = None) -> pd.DataFrame:
    """Territories ranked on one rosace indicator (1 = most favourable among them).

    Direction-aware: for a "higher is worse" indicator the lowest value ranks first; for
    a neutral one, the highest. Ties share the best rank. Masked and missing values keep
    NaN (never 0), no rank, and come last with their ``statut``.

    Returns
    -------
    DataFrame
        ``rang, code_territoire, territoire, value, unit, reference, index, verdict,
        statut, direction, annee``.
    """
    indicator = indicator or default_indicator(synthesis.catalog)
    if indicator not in synthesis.catalog:
        raise UnknownCodeError("indicateur", [indicator],
                               hint="Voir le catalogue des indicateurs (catalog/indicators.yaml).")
    rows = []
    for code in synthesis.codes:
        table = synthesis.rosaces.get(code)
        found = (table[table["indicateur"] == indicator] if table is not None
                 else pd.DataFrame())
        ind = synthesis.catalog[indicator]
        if found.empty:
            rows.append({"code_territoire": code, "value": np.nan, "unit": ind.unit,
                         "reference": np.nan, "index": np.nan, "verdict": "non évaluable",
                         "statut": STATUT_MANQUANT, "direction": ind.direction,
                         "annee": pd.NA})
            continue
        row = found.iloc[0]
        rows.append({name: row[name] for name in ("code_territoire", "value", "unit",
                                                  "reference", "index", "verdict", "statut",
                                                  "direction", "annee")})
    frame = pd.DataFrame(rows)
    frame["value"] = frame["value"].astype(float)
    frame["value"] = frame["value"].where(frame["statut"] == STATUT_OK)
    ascending = synthesis.catalog[indicator].direction == "higher_is_worse"
    frame["rang"] = frame["value"].rank(ascending=ascending, method="min")
    frame.insert(1, "territoire", frame["code_territoire"].map(synthesis.names))
    order = frame["statut"].map({STATUT_OK: 0, STATUT_MASQUE: 1}).fillna(2)
    frame = frame.assign(_order=order).sort_values(["_order", "rang", "code_territoire"],
                                                   kind="stable")
    columns = ["rang", "code_territoire", "territoire", "value", "unit", "reference", "index",
               "verdict", "statut", "direction", "annee"]
    return frame[columns].reset_index(drop=True)


def resource_rates(synthesis: Synthesis) -> pd.DataFrame:
    """Resources per 100,000 inhabitants by type, one column per territory.

    Returns
    -------
    DataFrame
        ``type_ressource, libelle, champ``, then one column per territory code (rate per
        100,000) and ``ensemble`` (all selected territories pooled); every type of the
        typology appears (0 when a territory has none).
    """
    types = load_resource_types()
    base = pd.DataFrame({"type_ressource": list(types)})
    result = None
    rates: dict[str, np.ndarray] = {}  # one column per territory, joined once at the end
    resources = synthesis.resources
    for code, territory in synthesis.territories.items():
        subset = resources[resources["code_territoire"] == code]
        summary = summarise_by_type(_resource_columns(subset), territory.population_total or 0,
                                    types)
        if result is None:
            result = base.merge(summary[["type_ressource", "libelle", "champ"]])
        rates[code] = summary["pour_100000_hab"].to_numpy()
    assert result is not None
    population = sum(t.population_total or 0 for t in synthesis.territories.values())
    pooled = resources.drop_duplicates("id_ressource") if "id_ressource" in resources else resources
    total = summarise_by_type(_resource_columns(pooled), population, types)
    rates["ensemble"] = total["pour_100000_hab"].to_numpy()
    return pd.concat([result, pd.DataFrame(rates, index=result.index)], axis=1)


def _resource_columns(resources: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame(resources).copy()
    for column in ("id_ressource", "type_ressource", "capacite_lits", "capacite_places"):
        if column not in frame:
            frame[column] = pd.Series(dtype=float)
    return frame


# --------------------------------------------------------------------------- map


def territory_outlines(synthesis: Synthesis) -> gpd.GeoDataFrame:
    """Dissolved outline of every territory: ``code_territoire, nom, population``."""
    return gpd.GeoDataFrame(
        {
            "code_territoire": synthesis.codes,
            "nom": [t.name for t in synthesis.territories.values()],
            "population": [t.population_total for t in synthesis.territories.values()],
        },
        geometry=[t.geometry for t in synthesis.territories.values()],
        crs="EPSG:4326",
    )


# --------------------------------------------------------------------------- figures


