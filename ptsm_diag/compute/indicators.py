"""Indicator values, references, 95 % intervals, comparisons and statistical secrecy.

Everything is computed at once for all territories, indicators and years of the long
``indicateurs`` table (``code_territoire, indicateur, annee, numerateur, denominateur,
valeur, source``).

Rules (see also ``catalog/indicators.yaml``):

- Value: ``numerateur / denominateur × scale``; else ``valeur``; for ``kind: value``
  indicators a lone ``numerateur`` is the value. A value that cannot be computed is NaN
  with ``statut`` "manquant", never zero.
- References: "france" (every territory, or the ``FRANCE`` rows), "region" (the
  territories of the région, or the ``R<code>`` rows, e.g. ``R53``) and any user group
  (its name as the code of its own rows). Given rows win over the pooled value
  ``Σ numerateurs / Σ dénominateurs × scale`` (never a mean of rates);
  ``reference_source_<niveau>`` says "fournie" or "calculée".
- 95 % interval: Wilson for proportions, exact Poisson (Garwood) for rates; none for
  means, ratios and lone values, which are compared with a relative tolerance instead
  (``tolerance``, 10 % by default) and say so in ``comparison_method``.
- Statistical secrecy: a count between 1 and ``secrecy_threshold`` (10 by default;
  the numerator, or the number of persons for a mean) masks the territory's value and
  everything shown that derives from it: numerator, denominator, interval, index,
  comparison, rank, evolution (both years). References are pooled from the unmasked
  source counts (secrecy protects publication, not computation), so a pooled reference
  could give a masked count back by difference: when exactly one contributor of a pooled
  reference is masked, the next smallest one is masked too (secret secondaire, ``masking``
  "secondaire"), or the reference itself when there is no other contributor. This is
  sound for nested groups (territories ⊂ régions ⊂ France); overlapping user groups may
  need a manual check. A pooled reference whose own count is small is masked.
- Index: ``100 × value / reference``, inverted for ``higher_is_worse`` so that > 100
  always reads "more favourable than the reference"; not inverted for ``neutral``.
- Rank (1 = most favourable) and percentile (100 = most favourable) among territories,
  per indicator and year; masked and missing values are not ranked.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from ptsm_diag.catalog import Indicator, load_indicator_catalog, load_vocabularies
from ptsm_diag.errors import InputError, Problem, UnknownCodeError

FRANCE = "FRANCE"
KEYS = ["code_territoire", "indicateur", "annee"]
STATUT_OK, STATUT_MANQUANT, STATUT_MASQUE = "ok", "manquant", "masqué"
VERDICTS = ("meilleur", "comparable", "moins bon", "non évaluable")
SIGNIFICANCES = ("supérieur", "inférieur", "comparable", "non évaluable")
_FILE = "indicateurs"
_PER_LEVEL = ("reference", "reference_source", "reference_n", "index", "significance",
              "verdict")


# --------------------------------------------------------------------------- intervals


def wilson_interval(
    k: Any, n: Any, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion ``k / n`` (bounds in [0, 1]).

    Parameters
    ----------
    k, n : array-like
        Successes and trials (n > 0); NaN gives NaN bounds.
    level : float
        Confidence level.
    """
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    z = special.ndtri(0.5 + level / 2)  # normal quantile
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def poisson_interval(k: Any, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval of a Poisson count ``k`` (bounds on the count).

    Lower bound ``χ²(α/2; 2k) / 2`` (0 when k = 0), upper ``χ²(1 − α/2; 2k + 2) / 2``,
    computed as the inverse regularised incomplete gamma functions they equal
    (``χ²(q; 2a) / 2 = P⁻¹(a, q)``): ``scipy.special`` without ``scipy.stats``, which
    costs a report's kernel 60 MB and 0.3 s to import.
    """
    k = np.asarray(k, dtype=float)
    alpha = 1 - level
    with np.errstate(invalid="ignore"):
        low = np.where(k > 0, special.gammaincinv(np.maximum(k, 1e-300), alpha / 2), 0.0)
        high = special.gammainccinv(k + 1, alpha / 2)
    low = np.where(np.isnan(k), np.nan, low)
    return low, high


# --------------------------------------------------------------------------- main entry


def compute_indicator_values(
    indicateurs: pd.DataFrame,
    catalog: Mapping[str, Indicator] | None = None,
    regions: pd.DataFrame | Mapping[str, str] | None = None,
    *,
    secrecy_threshold: int | None = 10,
    groups: Mapping[str, Iterable[str]] | None = None,
    tolerance: float | None = 0.10,
    secondary_secrecy: bool = True,
    level: float = 0.95,
) -> pd.DataFrame:
    """Values, intervals, references, comparisons, ranks and evolution of every indicator.

    Parameters
    ----------
    indicateurs : DataFrame
        Long table ``code_territoire, indicateur, annee`` plus any of ``numerateur,
        denominateur, valeur, source``. Reference rows have code ``FRANCE``, ``R<région>``
        or a group name. An optional ``ligne`` column (line in the source file) is used
        in error messages.
    catalog : dict, optional
        Indicator catalogue (:func:`load_indicator_catalog` by default).
    regions : DataFrame or dict, optional
        Territory → région code (``{"T01": "53"}``, or a DataFrame with
        ``code_territoire`` and ``code_region`` or ``region``). Without it there is no
        "region" reference.
    secrecy_threshold : int or None
        Counts from 1 to this value are masked; None or 0 disables secrecy.
    groups : dict, optional
        User-defined references: group name → territory codes.
    tolerance : float or None
        Relative gap beyond which a value without interval differs from its reference;
        None makes such values "non évaluable".
    secondary_secrecy : bool
        Mask a second contributor when a pooled reference would give a masked count
        back by difference.
    level : float
        Confidence level of the intervals.

    Returns
    -------
    DataFrame
        One row per territory × indicator × year (the years the table has for that
        indicator): ``code_territoire, code_region, indicateur, annee, numerateur,
        denominateur, value, ci_low, ci_high, statut, masking, source,
        comparison_method``, then for each reference level ``<niveau>`` in ("region",
        "france", *groups): ``reference_<niveau>, reference_source_<niveau>,
        reference_n_<niveau>, index_<niveau>, significance_<niveau>,
        verdict_<niveau>``; then ``rank, rank_count, percentile, previous_year,
        evolution, evolution_relative``. Masked rows show NaN in every numeric column.

    Raises
    ------
    InputError
        Missing column, non-numeric count, negative count, numerator above denominator
        for a proportion, duplicated territory × indicator × year.
    UnknownCodeError
        Indicator not in the catalogue, territory without région, unknown group member.
    """
    catalog = dict(catalog) if catalog is not None else load_indicator_catalog()
    groups = {str(name): [str(c) for c in codes] for name, codes in (groups or {}).items()}
    region_of = _region_map(regions)
    table = _normalise(indicateurs, catalog)

    ref_level = _reference_levels(table["code_territoire"], region_of, groups)
    is_ref = ref_level.notna()
    territories = sorted(set(table.loc[~is_ref, "code_territoire"]) | set(region_of or {}))
    _check_codes(territories, region_of, groups)

    frame = _grid(table, territories, is_ref)
    attrs = _catalog_frame(catalog)
    frame = frame.merge(attrs, left_on="indicateur", right_index=True, how="left")
    frame["_raw"], frame["_counts"] = _values(frame)
    frame["ci_low"], frame["ci_high"] = _intervals(frame, level)
    frame["_secret"] = np.where(frame["_kind"] == "mean", frame["denominateur"],
                                frame["numerateur"])
    frame["masking"] = np.where(_small(frame["_secret"], frame["_secrecy"], secrecy_threshold),
                                "primaire", None)

    membership = _membership(territories, region_of, groups)
    references = _references(frame, table[is_ref], ref_level[is_ref], membership, attrs,
                             secrecy_threshold)
    if secondary_secrecy:
        _secondary_secrecy(frame, membership, references)

    masked = frame["masking"].notna()
    frame["statut"] = np.where(masked, STATUT_MASQUE,
                               np.where(frame["_raw"].isna(), STATUT_MANQUANT, STATUT_OK))
    shown = frame["statut"] == STATUT_OK
    frame["value"] = frame["_raw"].where(shown)
    for column in ("ci_low", "ci_high"):
        frame[column] = frame[column].where(shown)
    for column in ("numerateur", "denominateur"):
        frame[column] = frame[column].where(~masked)
    has_ci = frame["ci_low"].notna() & frame["ci_high"].notna()
    method_no_ci = (f"écart relatif de plus de {tolerance:.0%}".replace("%", " %")
                    if tolerance else None)
    frame["comparison_method"] = np.where(
        ~shown, None, np.where(has_ci, f"intervalle de confiance à {level:.0%}".replace(
            "%", " %"), method_no_ci))

    if region_of is not None:
        frame["code_region"] = frame["code_territoire"].map(region_of)
    levels = (["region"] if region_of is not None else []) + ["france", *groups]
    for lvl in levels:
        _add_comparison(frame, references, lvl, region_of, tolerance)
    _add_rank(frame)
    _add_evolution(frame)

    columns = (["code_territoire"] + (["code_region"] if region_of is not None else [])
               + ["indicateur", "annee", "numerateur", "denominateur", "value", "ci_low",
                  "ci_high", "statut", "masking", "source", "comparison_method"]
               + [f"{name}_{lvl}" for lvl in levels for name in _PER_LEVEL]
               + ["rank", "rank_count", "percentile", "previous_year", "evolution",
                  "evolution_relative"])
    order = {ind: i for i, ind in enumerate(catalog)}
    frame["_order"] = frame["indicateur"].map(order)
    frame = frame.sort_values(["code_territoire", "_order", "annee"], kind="stable")
    return frame[columns].reset_index(drop=True)


# --------------------------------------------------------------------------- rosace table


def rosace_table(
    values: pd.DataFrame,
    territory: str,
    year: int | None = None,
    reference: str = "france",
    *,
    catalog: Mapping[str, Indicator] | None = None,
) -> pd.DataFrame:
    """One row per rosace indicator of a territory, in catalogue order, for the figure.

    Parameters
    ----------
    values : DataFrame
        Output of :func:`compute_indicator_values`.
    territory : str
        Territory code.
    year : int, optional
        Year to show; by default, for each indicator, the territory's latest year with a
        value (or masked value), else the latest year of the indicator.
    reference : str
        "france", "region" or a group name given to :func:`compute_indicator_values`.
    catalog : dict, optional
        The catalogue used for the values (labels, axes, rosace membership).

    Returns
    -------
    DataFrame
        ``code_territoire, indicateur, label, short_label, label_wrapped, axis,
        axis_label, unit, direction, kind, annee, value, ci_low, ci_high, numerateur,
        denominateur, statut, masking, reference, reference_label, reference_source,
        index, significance, verdict, comparison_method, rank, rank_count, percentile,
        previous_year, evolution, source``. Indicators without any row are "manquant".
    """
    catalog = dict(catalog) if catalog is not None else load_indicator_catalog()
    if f"reference_{reference}" not in values.columns:
        known = [c.removeprefix("reference_source_") for c in values.columns
                 if c.startswith("reference_source_")]
        raise UnknownCodeError("de référence", [reference], f"Références calculées : "
                               f"{', '.join(known)}.")
    territory = str(territory)
    if not (values["code_territoire"] == territory).any():
        raise UnknownCodeError("territoire", [territory],
                               "Il n'a aucune ligne dans la table des indicateurs calculés.")
    rosace = [ind for ind in catalog.values() if ind.in_rosace]
    rows = values[(values["code_territoire"] == territory)
                  & values["indicateur"].isin([ind.id for ind in rosace])].copy()
    if year is not None:
        rows = rows[rows["annee"] == int(year)]
    rows["_has"] = rows["statut"] != STATUT_MANQUANT
    rows = rows.sort_values(["indicateur", "_has", "annee"]).drop_duplicates(
        "indicateur", keep="last")
    renamed = rows.rename(columns={
        f"{name}_{reference}": name for name in _PER_LEVEL
    })
    axes = load_vocabularies().rosace_axes
    base = pd.DataFrame({
        "code_territoire": territory,
        "indicateur": [ind.id for ind in rosace],
        "label": [ind.label for ind in rosace],
        "short_label": [ind.short_label for ind in rosace],
        "label_wrapped": [wrap_label(ind.short_label) for ind in rosace],
        "axis": [ind.axis for ind in rosace],
        "axis_label": [axes.get(ind.axis, "") for ind in rosace],
        "unit": [ind.unit for ind in rosace],
        "direction": [ind.direction for ind in rosace],
        "kind": [ind.kind for ind in rosace],
        "_sources": [", ".join(ind.sources) for ind in rosace],
    })
    keep = ["indicateur", "annee", "value", "ci_low", "ci_high", "numerateur", "denominateur",
            "statut", "masking", "reference", "reference_source", "index", "significance",
            "verdict", "comparison_method", "rank", "rank_count", "percentile",
            "previous_year", "evolution", "source", "code_region"]
    table = base.merge(renamed[[c for c in keep if c in renamed.columns]], on="indicateur",
                       how="left")
    table["statut"] = table["statut"].fillna(STATUT_MANQUANT)
    table["verdict"] = table["verdict"].fillna("non évaluable")
    table["significance"] = table["significance"].fillna("non évaluable")
    table["source"] = table["source"].where(table["source"].notna(), table["_sources"])
    region = (table["code_region"].dropna().iloc[0]
              if "code_region" in table and table["code_region"].notna().any() else None)
    table["reference_label"] = _reference_label(reference, region)
    columns = ["code_territoire", "indicateur", "label", "short_label", "label_wrapped",
               "axis", "axis_label", "unit", "direction", "kind", "annee", "value", "ci_low",
               "ci_high", "numerateur", "denominateur", "statut", "masking", "reference",
               "reference_label", "reference_source", "index", "significance", "verdict",
               "comparison_method", "rank", "rank_count", "percentile", "previous_year",
               "evolution", "source"]
    table = table.reindex(columns=columns)
    table["annee"] = table["annee"].astype("Int64")
    return table


def rosace_verdicts(
    values: pd.DataFrame,
    territories: Sequence[str],
    reference: str = "france",
    *,
    catalog: Mapping[str, Indicator] | None = None,
) -> pd.DataFrame:
    """The ``verdict`` column of :func:`rosace_table` for many territories at once.

    Same rows as ``rosace_table(values, code, reference=reference)`` for each code (each
    rosace indicator at the territory's latest year with a value), in one pass over the
    table instead of one per territory: what a batch index needs for a whole country.

    Returns
    -------
    DataFrame
        ``code_territoire, indicateur, verdict`` for the territories present in
        ``values`` (``non évaluable`` where the rosace table would say so).
    """
    catalog = dict(catalog) if catalog is not None else load_indicator_catalog()
    column = f"verdict_{reference}"
    if column not in values.columns:
        raise UnknownCodeError("de référence", [reference])
    rosace = [ind.id for ind in catalog.values() if ind.in_rosace]
    wanted = [str(t) for t in territories]
    rows = values[values["code_territoire"].isin(wanted) & values["indicateur"].isin(rosace)]
    rows = rows.assign(_has=rows["statut"] != STATUT_MANQUANT).sort_values(
        ["code_territoire", "indicateur", "_has", "annee"]).drop_duplicates(
        ["code_territoire", "indicateur"], keep="last")
    present = [t for t in dict.fromkeys(wanted) if t in set(values["code_territoire"])]
    grid = pd.MultiIndex.from_product([present, rosace],
                                      names=["code_territoire", "indicateur"])
    verdicts = rows.set_index(["code_territoire", "indicateur"])[column].reindex(grid)
    return verdicts.fillna("non évaluable").rename("verdict").reset_index()


def wrap_label(text: str, width: int = 15) -> str:
    """A label broken with ``<br>`` every ``width`` characters at most (plotly text)."""
    return "<br>".join(textwrap.wrap(text, width=width, break_long_words=False)) or text


# --------------------------------------------------------------------------- French labels

_LABELS_FR = {
    "code_territoire": "Territoire",
    "code_region": "Région",
    "indicateur": "Indicateur (code)",
    "label": "Indicateur",
    "short_label": "Indicateur (libellé court)",
    "label_wrapped": "Libellé de la rosace",
    "axis": "Axe",
    "axis_label": "Porte d'entrée",
    "unit": "Unité",
    "direction": "Sens de lecture",
    "kind": "Nature",
    "annee": "Année",
    "numerateur": "Numérateur",
    "denominateur": "Dénominateur",
    "value": "Valeur",
    "ci_low": "IC 95 % (borne basse)",
    "ci_high": "IC 95 % (borne haute)",
    "statut": "Statut",
    "masking": "Secret statistique",
    "source": "Source",
    "comparison_method": "Méthode de comparaison",
    "reference": "Référence",
    "reference_label": "Référence retenue",
    "reference_source": "Origine de la référence",
    "reference_n": "Territoires agrégés dans la référence",
    "index": "Indice (100 = référence, > 100 = plus favorable)",
    "significance": "Écart à la référence",
    "verdict": "Appréciation",
    "rank": "Rang (1 = plus favorable)",
    "rank_count": "Territoires classés",
    "percentile": "Centile (100 = plus favorable)",
    "previous_year": "Année précédente",
    "evolution": "Évolution",
    "evolution_relative": "Évolution (%)",
}
_LEVEL_FR = {"france": "France", "region": "région"}


def french_column_labels(columns: Iterable[str]) -> dict[str, str]:
    """French labels of computed columns (``reference_france`` → ``Référence (France)``)."""
    labels = {}
    for column in columns:
        if column in _LABELS_FR:
            labels[column] = _LABELS_FR[column]
            continue
        for name in sorted(_PER_LEVEL, key=len, reverse=True):
            if column.startswith(f"{name}_"):
                lvl = column.removeprefix(f"{name}_")
                labels[column] = f"{_LABELS_FR[name]} ({_LEVEL_FR.get(lvl, lvl)})"
                break
        else:
            labels[column] = column
    return labels


# --------------------------------------------------------------------------- helpers


def _region_map(regions: pd.DataFrame | Mapping[str, str] | None) -> dict[str, str] | None:
    """Territory → région code (without the ``R`` prefix), as strings."""
    if regions is None:
        return None
    if isinstance(regions, pd.DataFrame):
        column = next((c for c in ("code_region", "region") if c in regions.columns), None)
        if "code_territoire" not in regions.columns or column is None:
            raise InputError([Problem(
                "territoires", None, None, None,
                "colonnes « code_territoire » et « code_region » (ou « region »)",
                "table des régions sans les colonnes attendues")])
        pairs = zip(regions["code_territoire"], regions[column], strict=True)
    else:
        pairs = regions.items()
    result = {}
    for territory, region in pairs:
        if region is None or (isinstance(region, float) and np.isnan(region)):
            continue
        code = str(int(region)) if isinstance(region, int | float) else str(region).strip()
        code = code.removeprefix("R")
        result[str(territory)] = code.zfill(2) if code.isdigit() else code
    return result


def _normalise(indicateurs: pd.DataFrame, catalog: Mapping[str, Indicator]) -> pd.DataFrame:
    """Input table with typed columns; every problem found is raised at once."""
    problems: list[Problem] = []
    for column in KEYS:
        if column not in indicateurs.columns:
            problems.append(Problem(_FILE, None, column, None, "colonne présente",
                                    "colonne obligatoire absente"))
    if problems:
        raise InputError(problems)
    table = pd.DataFrame({
        "code_territoire": indicateurs["code_territoire"].astype(str).str.strip(),
        "indicateur": indicateurs["indicateur"].astype(str).str.strip(),
    })
    lines = indicateurs["ligne"] if "ligne" in indicateurs.columns else pd.Series(
        [None] * len(indicateurs), index=indicateurs.index)

    def where(i: Any) -> str:
        return (f"territoire « {table.at[i, 'code_territoire']} », indicateur "
                f"« {table.at[i, 'indicateur']} », année {indicateurs.at[i, 'annee']}")

    def line(i: Any) -> int | None:
        return None if pd.isna(lines.at[i]) else int(lines.at[i])

    year = pd.to_numeric(indicateurs["annee"], errors="coerce")
    for i in year.index[year.isna() | (year != year.round())]:
        problems.append(Problem(_FILE, line(i), "annee", str(indicateurs.at[i, "annee"]),
                                "une année (nombre entier)", f"{where(i)} : année invalide"))
    table["annee"] = year.fillna(-1).round().astype(int)
    for column in ("numerateur", "denominateur", "valeur"):
        raw = indicateurs[column] if column in indicateurs.columns else pd.Series(
            np.nan, index=indicateurs.index)
        numbers = pd.to_numeric(raw, errors="coerce").astype(float)
        bad = numbers.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
        for i in numbers.index[bad]:
            problems.append(Problem(_FILE, line(i), column, str(raw.at[i]), "un nombre",
                                    f"{where(i)} : valeur non numérique"))
        if column != "valeur":
            for i in numbers.index[numbers < 0]:
                problems.append(Problem(_FILE, line(i), column, str(raw.at[i]),
                                        "un effectif positif ou nul",
                                        f"{where(i)} : effectif négatif"))
        table[column] = numbers
    table["source"] = (indicateurs["source"].astype("object").where(
        indicateurs["source"].notna(), None) if "source" in indicateurs.columns else None)

    unknown = sorted(set(table["indicateur"]) - set(catalog))
    if unknown:
        raise UnknownCodeError("indicateur", unknown,
                               "Les identifiants valides sont ceux du catalogue des indicateurs.")
    kinds = table["indicateur"].map({k: ind.kind for k, ind in catalog.items()})
    above = (kinds == "proportion") & (table["numerateur"] > table["denominateur"])
    for i in table.index[above]:
        problems.append(Problem(
            _FILE, line(i), "numerateur", f"{table.at[i, 'numerateur']:g}",
            f"au plus le dénominateur ({table.at[i, 'denominateur']:g})",
            f"{where(i)} : numérateur supérieur au dénominateur pour une proportion"))
    duplicated = table.duplicated(KEYS, keep="first")
    for i in table.index[duplicated]:
        problems.append(Problem(_FILE, line(i), None, None,
                                "une seule ligne par territoire, indicateur et année",
                                f"{where(i)} : ligne en double"))
    if problems:
        raise InputError(problems)
    return table.reset_index(drop=True)


def _reference_levels(
    codes: pd.Series, region_of: dict[str, str] | None, groups: Mapping[str, list[str]]
) -> pd.Series:
    """Reference level of each code ("france", "region", group name) or None (territory)."""
    level = pd.Series(None, index=codes.index, dtype="object")
    level[codes == FRANCE] = "france"
    territory_codes = set(region_of or {})
    looks_regional = codes.str.fullmatch(r"R\d{2,3}|R[0-9A-Z]{2}") & ~codes.isin(
        territory_codes)
    level[looks_regional] = "region"
    for name in groups:
        level[codes == name] = name
    return level


def _check_codes(
    territories: list[str], region_of: dict[str, str] | None,
    groups: Mapping[str, list[str]],
) -> None:
    if region_of is not None:
        missing = [t for t in territories if t not in region_of]
        if missing:
            raise UnknownCodeError("territoire (sans région)", missing,
                                   "Indiquez la région de chaque territoire.")
    known = set(territories)
    for name, members in groups.items():
        unknown = [m for m in members if m not in known]
        if unknown:
            raise UnknownCodeError(f"territoire (groupe « {name} »)", unknown)


def _grid(table: pd.DataFrame, territories: list[str], is_ref: pd.Series) -> pd.DataFrame:
    """Every territory × (indicator, year) present in the table, data rows merged in."""
    pairs = table[["indicateur", "annee"]].drop_duplicates()
    grid = pairs.merge(pd.DataFrame({"code_territoire": territories}), how="cross")
    return grid.merge(table[~is_ref], on=KEYS, how="left").reset_index(drop=True)


def _catalog_frame(catalog: Mapping[str, Indicator]) -> pd.DataFrame:
    return pd.DataFrame({
        "_scale": [float(ind.scale) for ind in catalog.values()],
        "_kind": [ind.kind for ind in catalog.values()],
        "_direction": [ind.direction for ind in catalog.values()],
        "_secrecy": [ind.secrecy for ind in catalog.values()],
    }, index=pd.Index(list(catalog)))


def _values(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Raw (unmasked) value and whether it comes from usable counts."""
    num, den, given = frame["numerateur"], frame["denominateur"], frame["valeur"]
    counts = num.notna() & den.notna() & (den > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = (num / den * frame["_scale"]).where(counts)
    value = value.where(value.notna(), given)
    lone_count = (frame["_kind"] == "value") & value.isna()
    value = value.where(~lone_count, num)
    return value.astype(float), counts


def _intervals(frame: pd.DataFrame, level: float) -> tuple[np.ndarray, np.ndarray]:
    low = np.full(len(frame), np.nan)
    high = np.full(len(frame), np.nan)
    num = frame["numerateur"].to_numpy(dtype=float)
    den = frame["denominateur"].to_numpy(dtype=float)
    scale = frame["_scale"].to_numpy(dtype=float)
    counts = frame["_counts"].to_numpy(dtype=bool)
    prop = counts & (frame["_kind"] == "proportion").to_numpy()
    if prop.any():
        lo, hi = wilson_interval(num[prop], den[prop], level)
        low[prop], high[prop] = lo * scale[prop], hi * scale[prop]
    rate = counts & (frame["_kind"] == "rate").to_numpy()
    if rate.any():
        lo, hi = poisson_interval(num[rate], level)
        low[rate], high[rate] = lo / den[rate] * scale[rate], hi / den[rate] * scale[rate]
    return low, high


def _small(count: pd.Series, applies: pd.Series, threshold: int | None) -> pd.Series:
    """Counts protected by statistical secrecy: 0 < count <= threshold."""
    if not threshold:
        return pd.Series(False, index=count.index)
    return applies.astype(bool) & (count > 0) & (count <= threshold)


def _membership(
    territories: list[str], region_of: dict[str, str] | None, groups: Mapping[str, list[str]]
) -> pd.DataFrame:
    """Long table (niveau, code_reference, code_territoire) of every reference group."""
    parts = [pd.DataFrame({"niveau": "france", "code_reference": FRANCE,
                           "code_territoire": territories})]
    if region_of is not None:
        parts.append(pd.DataFrame({
            "niveau": "region",
            "code_reference": [f"R{region_of[t]}" for t in territories],
            "code_territoire": territories,
        }))
    for name, members in groups.items():
        parts.append(pd.DataFrame({"niveau": name, "code_reference": name,
                                   "code_territoire": list(dict.fromkeys(members))}))
    return pd.concat(parts, ignore_index=True)


_GKEYS = ["niveau", "code_reference", "indicateur", "annee"]


def _references(
    frame: pd.DataFrame, ref_rows: pd.DataFrame, ref_level: pd.Series,
    membership: pd.DataFrame, attrs: pd.DataFrame, threshold: int | None,
) -> pd.DataFrame:
    """Reference value of every group × indicator × year: given rows win over pooling."""
    contributors = frame.loc[frame["_counts"], KEYS + ["numerateur", "denominateur"]]
    pooled = membership.merge(contributors, on="code_territoire").groupby(
        _GKEYS, as_index=False).agg(
        numerateur=("numerateur", "sum"), denominateur=("denominateur", "sum"),
        reference_n=("code_territoire", "size"))
    pooled = pooled.merge(attrs, left_on="indicateur", right_index=True)
    pooled["pooled"] = pooled["numerateur"] / pooled["denominateur"] * pooled["_scale"]
    pooled.loc[pooled["_kind"] == "value", "pooled"] = np.nan
    secret = np.where(pooled["_kind"] == "mean", pooled["denominateur"], pooled["numerateur"])
    pooled["pooled_masked"] = _small(pd.Series(secret, index=pooled.index), pooled["_secrecy"],
                                     threshold)

    given = ref_rows.assign(niveau=ref_level.to_numpy(),
                            code_reference=ref_rows["code_territoire"].to_numpy())
    given = given.merge(attrs, left_on="indicateur", right_index=True)
    given_value, _ = _values(given)
    given_secret = np.where(given["_kind"] == "mean", given["denominateur"],
                            given["numerateur"])
    given = given.assign(
        given=given_value,
        given_masked=_small(pd.Series(given_secret, index=given.index), given["_secrecy"],
                            threshold))
    refs = pooled[[*_GKEYS, "pooled", "pooled_masked", "reference_n"]].merge(
        given[[*_GKEYS, "given", "given_masked"]], on=_GKEYS, how="outer")
    use_given = refs["given"].notna()
    refs["reference"] = refs["given"].where(use_given, refs["pooled"])
    masked = np.where(use_given, refs["given_masked"].eq(True), refs["pooled_masked"].eq(True))
    refs["reference_source"] = np.select(
        [masked, use_given, refs["pooled"].notna()], ["masquée", "fournie", "calculée"], None)
    refs.loc[masked, "reference"] = np.nan
    refs.loc[use_given, "reference_n"] = np.nan
    return refs[[*_GKEYS, "reference", "reference_source", "reference_n"]]


def _secondary_secrecy(
    frame: pd.DataFrame, membership: pd.DataFrame, references: pd.DataFrame
) -> None:
    """Mask a second contributor (or the reference) when one pooled count is masked.

    Levels are handled one at a time, smallest groups first (régions, user groups,
    France), so that a mask chosen for a région also protects France; passes repeat
    until nothing changes.
    """
    pooled = references.loc[references["reference_source"] == "calculée", _GKEYS]
    if pooled.empty or frame["masking"].isna().all():
        return
    contributors = frame.loc[frame["_counts"], KEYS + ["_secret"]].reset_index(
        names="_row")
    links = membership.merge(contributors, on="code_territoire").merge(pooled, on=_GKEYS)
    levels = list(dict.fromkeys(membership["niveau"]))
    levels.sort(key=lambda lvl: {"region": 0, "france": 2}.get(lvl, 1))
    changed = True
    while changed:
        changed = False
        for lvl in levels:
            level_links = links[links["niveau"] == lvl]
            masked = frame["masking"].notna().to_numpy()[level_links["_row"].to_numpy()]
            n_masked = pd.Series(masked, index=level_links.index).groupby(
                [level_links[k] for k in _GKEYS]).transform("sum")
            exposed = level_links[(n_masked == 1).to_numpy()].assign(
                _masked=masked[(n_masked == 1).to_numpy()])
            if exposed.empty:
                continue
            changed = True
            candidates = exposed[~exposed["_masked"]].sort_values(
                ["_secret", "code_territoire"]).drop_duplicates(_GKEYS)
            frame.loc[candidates["_row"].unique(), "masking"] = "secondaire"
            alone = exposed.groupby(_GKEYS, as_index=False)["_masked"].all()
            alone = alone.loc[alone["_masked"], _GKEYS]
            if not alone.empty:
                hit = references.merge(alone.assign(_hit=True), on=_GKEYS, how="left")
                hit = hit["_hit"].eq(True).to_numpy()
                references.loc[hit, "reference"] = np.nan
                references.loc[hit, "reference_source"] = "masquée"
                links = links.merge(alone, on=_GKEYS, how="left", indicator=True)
                links = links[links["_merge"] == "left_only"].drop(columns="_merge")


def _reference_label(reference: str, region: str | None) -> str:
    if reference == "france":
        return "France"
    if reference == "region":
        return f"région {region.removeprefix('R')}" if region else "région"
    return reference


def _add_comparison(
    frame: pd.DataFrame, references: pd.DataFrame, lvl: str,
    region_of: dict[str, str] | None, tolerance: float | None,
) -> None:
    """Reference, index, significance and verdict of each row against one level."""
    if lvl == "region":
        code = "R" + frame["code_territoire"].map(region_of)
    elif lvl == "france":
        code = pd.Series(FRANCE, index=frame.index)
    else:
        code = pd.Series(lvl, index=frame.index)
    refs = references[references["niveau"] == lvl].drop(columns="niveau")
    merged = pd.DataFrame({"code_reference": code, "indicateur": frame["indicateur"],
                           "annee": frame["annee"]}).merge(
        refs, on=["code_reference", "indicateur", "annee"], how="left")
    ref = merged["reference"].to_numpy(dtype=float)
    value = frame["value"].to_numpy(dtype=float)
    low = frame["ci_low"].to_numpy(dtype=float)
    high = frame["ci_high"].to_numpy(dtype=float)
    direction = frame["_direction"].to_numpy()
    worse_up = direction == "higher_is_worse"

    with np.errstate(divide="ignore", invalid="ignore"):
        index = np.where(worse_up, 100 * ref / value, 100 * value / ref)
    has_ci = ~np.isnan(low) & ~np.isnan(high)
    tol = np.nan if tolerance is None else tolerance
    above = np.where(has_ci, low > ref, value > ref * (1 + tol))
    below = np.where(has_ci, high < ref, value < ref * (1 - tol))
    evaluable = ~np.isnan(value) & ~np.isnan(ref) & (has_ci | (tolerance is not None))
    significance = np.select([~evaluable, above, below], ["non évaluable", "supérieur",
                                                          "inférieur"], "comparable")
    better_up = direction == "higher_is_better"
    better = (above & better_up) | (below & worse_up)
    worse = (below & better_up) | (above & worse_up)
    verdict = np.select(
        [~evaluable, significance == "comparable", better, worse],
        ["non évaluable", "comparable", "meilleur", "moins bon"], "non évaluable")

    frame[f"reference_{lvl}"] = ref
    frame[f"reference_source_{lvl}"] = merged["reference_source"].to_numpy()
    frame[f"reference_n_{lvl}"] = merged["reference_n"].to_numpy(dtype=float)
    frame[f"index_{lvl}"] = index
    frame[f"significance_{lvl}"] = significance
    frame[f"verdict_{lvl}"] = verdict


def _add_rank(frame: pd.DataFrame) -> None:
    """Direction-aware rank (1 = most favourable) and percentile among territories."""
    sign = frame["_direction"].map({"higher_is_worse": -1.0}).fillna(1.0)
    score = frame["value"] * sign
    by = [frame["indicateur"], frame["annee"]]
    frame["rank"] = score.groupby(by).rank(ascending=False, method="min")
    count = score.groupby(by).transform("count").astype(float)
    average = score.groupby(by).rank(ascending=False, method="average")
    with np.errstate(divide="ignore", invalid="ignore"):
        percentile = 100 * (count - average) / (count - 1)
    frame["rank_count"] = count.where(frame["value"].notna())
    frame["percentile"] = percentile.where(count > 1)


def _add_evolution(frame: pd.DataFrame) -> None:
    """Change since the previous year of the table for the same territory and indicator."""
    ordered = frame[["code_territoire", "indicateur", "annee", "value"]].sort_values(
        ["code_territoire", "indicateur", "annee"])
    grouped = ordered.groupby(["code_territoire", "indicateur"], sort=False)
    previous_value = grouped["value"].shift(1)
    frame["previous_year"] = grouped["annee"].shift(1).astype("Int64")
    frame["evolution"] = ordered["value"] - previous_value
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["evolution_relative"] = 100 * (ordered["value"] / previous_value - 1)
