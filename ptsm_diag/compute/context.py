"""The identity card with context: social and demographic indicators of the territory,
its département, its région and France, from the ``contexte`` table.

Every value is a share, ``numerator / denominator × 100``, recomputed at each level from
the summed numerators and denominators of the units below it (communes, then
départements), never averaged. A published value (``niveau`` = ``departement``,
``region`` or ``france``) is used as such for its own unit; a rate given without its
denominator cannot be summed with others. A level is « non disponible » when no row
covers it, or when only part of its communes (or départements) are covered: the reason
says which.

Tables in, table out: no file is read here (the bundled geography comes from
:mod:`ptsm_diag.catalog`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ptsm_diag.catalog.context_indicators import CONTEXT_INDICATORS

LEVELS = ("territoire", "departement", "region", "france")
CARD_COLUMNS = ["indicateur", "libelle", "groupe", "niveau", "code", "annee", "numerateur",
                "denominateur", "valeur", "disponible", "masque", "raison", "source"]
FRANCE = "FRANCE"


@dataclass(frozen=True)
class _Value:
    """A resolved level: summable counts, or a published rate only, or a reason."""

    numerator: float = np.nan
    denominator: float = np.nan
    rate: float = np.nan
    reason: str = ""
    sources: tuple[str, ...] = ()

    @property
    def additive(self) -> bool:
        return not (np.isnan(self.numerator) or np.isnan(self.denominator))

    @property
    def known(self) -> bool:
        return self.additive or not np.isnan(self.rate)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count > 1 else ''}"


def _summed(parts: list[_Value], what: str, total: int, missing: list[str]) -> _Value:
    """The sum of covered units, or « non disponible » naming the coverage."""
    if missing:
        shown = ", ".join(missing[:8]) + ("…" if len(missing) > 8 else "")
        covered = total - len(missing)
        if covered == 0:
            return _Value(reason="absent de la table contexte")
        return _Value(reason=f"couverture partielle : {covered} {what} sur {total} "
                             f"(manquent : {shown})")
    sources = tuple(dict.fromkeys(s for p in parts for s in p.sources))
    return _Value(float(sum(p.numerator for p in parts)),
                  float(sum(p.denominator for p in parts)), sources=sources)


class _Geography:
    """The commune → département → région tree, indexed once."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame.astype({"code_commune": str, "code_departement": str,
                                   "code_region": str})
        self.communes_of_departement = {
            str(dep): sorted(group) for dep, group in
            self.frame.groupby("code_departement")["code_commune"]}
        self.departements_of_region = {
            str(reg): sorted(group.unique()) for reg, group in
            self.frame.groupby("code_region")["code_departement"]}
        self.departements = sorted(self.communes_of_departement)
        self._splits: dict[tuple[str, ...], tuple[list[str], list[str]]] = {}

    def split(self, communes: Sequence[str]) -> tuple[list[str], list[str]]:
        """(whole départements, communes of the others) of a territory, computed once per
        list of communes (every indicator of the card asks for the same territory)."""
        key = tuple(communes)
        if key not in self._splits:
            inside = self.frame[self.frame["code_commune"].isin(set(communes))]
            whole: list[str] = []
            loose: list[str] = []
            for dep, group in inside.groupby("code_departement"):
                if len(group) == len(self.communes_of_departement[str(dep)]):
                    whole.append(str(dep))
                else:
                    loose += sorted(group["code_commune"])
            if len(self._splits) > 64:  # a batch: the territories one after the other
                self._splits.clear()
            self._splits[key] = (whole, loose)
        whole, loose = self._splits[key]
        return list(whole), list(loose)


class _Resolver:
    """Resolves one indicator and one year at any level."""

    def __init__(self, rows: pd.DataFrame, geography: _Geography) -> None:
        self.rows = {(r.niveau, r.code): r for r in rows.itertuples(index=False)}
        self.geography = geography
        self._departements: dict[str, _Value] = {}
        self._regions: dict[str, _Value] = {}
        self._france: _Value | None = None

    def _row(self, level: str, code: str) -> _Value | None:
        row = self.rows.get((level, code))
        if row is None:
            return None
        source = (str(row.source),) if isinstance(row.source, str) and row.source else ()
        return _Value(row.numerateur, row.denominateur,
                      row.valeur if not np.isnan(row.valeur) else np.nan, sources=source)

    def communes(self, codes: Sequence[str]) -> _Value:
        parts, missing = [], []
        for code in codes:
            value = self._row("commune", code)
            if value is None or not value.additive:
                missing.append(code)
            else:
                parts.append(value)
        return _summed(parts, "communes", len(codes), missing)

    def departement(self, code: str) -> _Value:
        if code not in self._departements:
            published = self._row("departement", code)
            if published is not None:
                self._departements[code] = published
            else:
                self._departements[code] = self.communes(
                    self.geography.communes_of_departement.get(code, []))
        return self._departements[code]

    def departements(self, codes: Sequence[str]) -> _Value:
        if len(codes) == 1:
            return self.departement(codes[0])
        parts, missing = [], []
        for code in codes:
            value = self.departement(code)
            (parts if value.additive else missing).append(value if value.additive else code)
        return _summed(parts, "départements", len(codes), missing)

    def region(self, code: str) -> _Value:
        if code not in self._regions:
            published = self._row("region", code)
            self._regions[code] = published if published is not None else self.departements(
                self.geography.departements_of_region.get(code, []))
        return self._regions[code]

    def france(self) -> _Value:
        if self._france is None:
            published = self._row("france", FRANCE)
            self._france = published if published is not None else self.departements(
                self.geography.departements)
        return self._france

    def territory(self, communes: Sequence[str]) -> _Value:
        """Whole départements of the territory through :meth:`departement`, other
        communes one by one."""
        whole, loose = self.geography.split(communes)
        if not whole and not loose:
            return _Value(reason="aucune commune du territoire dans la géographie")
        if whole and not loose:
            return self.departements(whole)
        if loose and not whole:
            return self.communes(loose)
        a, b = self.departements(whole), self.communes(loose)
        if a.additive and b.additive:
            return _summed([a, b], "parties", 2, [])
        return a if not a.additive else b


def _prepared(contexte: pd.DataFrame) -> pd.DataFrame:
    frame = contexte.copy()
    for column in ("numerateur", "denominateur", "valeur"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    derived = frame["numerateur"].isna() & frame["denominateur"].notna() & frame["valeur"].notna()
    frame.loc[derived, "numerateur"] = frame.loc[derived, "valeur"] / 100.0 \
        * frame.loc[derived, "denominateur"]
    frame["code"] = frame["code"].astype(str)
    frame["niveau"] = frame["niveau"].astype(str)
    if "source" not in frame:
        frame["source"] = ""
    return frame


def context_card_table(
    contexte: pd.DataFrame | None,
    communes: Sequence[str],
    departement: str,
    region: str,
    *,
    geography: pd.DataFrame | None = None,
    secrecy_threshold: int | None = 10,
) -> pd.DataFrame:
    """Every context indicator at the territory, département, région and France levels.

    Parameters
    ----------
    contexte : DataFrame or None
        The ``contexte`` table (``niveau, code, indicateur, annee, numerateur,
        denominateur, valeur, source``); None or empty: everything « non disponible ».
    communes : sequence of str
        The territory's commune codes.
    departement, region : str
        The département and région the territory is compared with.
    geography : DataFrame, optional
        ``code_commune, code_departement, code_region`` of every commune of France; the
        bundled geography by default.
    secrecy_threshold : int or None
        Numerators from 1 to this value are masked (statistical secrecy).

    Returns
    -------
    DataFrame
        One row per indicator and level (:data:`CARD_COLUMNS`), indicators in catalogue
        order and levels in :data:`LEVELS` order. ``valeur`` is in %, NaN when not
        available or masked; ``raison`` says why; ``annee`` is the latest year of the
        indicator in the table (the same for every level).
    """
    return ContextCard(contexte, geography).table(communes, departement, region,
                                                  secrecy_threshold=secrecy_threshold)


class ContextCard:
    """:func:`context_card_table` prepared once for a ``contexte`` table: the table and
    the geography indexed, the département, région and France values of each indicator
    resolved on first use and kept; :meth:`table` then resolves one territory (a batch
    prepares one card for all its reports).

    Parameters
    ----------
    contexte, geography
        As for :func:`context_card_table`.
    """

    def __init__(self, contexte: pd.DataFrame | None,
                 geography: pd.DataFrame | None = None) -> None:
        if geography is None:
            from ptsm_diag.catalog.geography import cached_layer

            geography = pd.DataFrame(cached_layer("communes")[
                ["code_commune", "code_departement", "code_region"]])
        self.geography = _Geography(geography)
        frame = _prepared(contexte) if contexte is not None and not contexte.empty else None
        self.resolvers: dict[str, tuple[int | None, _Resolver | None]] = {}
        for ind in CONTEXT_INDICATORS.values():
            subset = None if frame is None else frame[frame["indicateur"] == ind.id]
            year = None if subset is None or subset.empty else int(subset["annee"].max())
            self.resolvers[ind.id] = (year, None if year is None else _Resolver(
                subset[subset["annee"] == year], self.geography))

    def table(self, communes: Sequence[str], departement: str, region: str, *,
              secrecy_threshold: int | None = 10) -> pd.DataFrame:
        """The card of a territory (see :func:`context_card_table`)."""
        rows = []
        for ind in CONTEXT_INDICATORS.values():
            year, resolver = self.resolvers[ind.id]
            if resolver is None:
                values = dict.fromkeys(LEVELS, _Value(reason="absent de la table contexte"))
            else:
                values = {"territoire": resolver.territory(list(communes)),
                          "departement": resolver.departement(departement),
                          "region": resolver.region(region),
                          "france": resolver.france()}
            codes = {"territoire": "", "departement": departement, "region": region,
                     "france": FRANCE}
            for level in LEVELS:
                value = values[level]
                rate = value.numerator / value.denominator * 100.0 if value.additive \
                    and value.denominator > 0 else value.rate
                masked = bool(secrecy_threshold and value.additive
                              and 1 <= round(value.numerator) <= secrecy_threshold)
                reason = value.reason
                if masked:
                    rate = np.nan
                    reason = f"effectif de 1 à {secrecy_threshold} masqué (secret statistique)"
                available = not masked and not np.isnan(rate)
                if not available and not reason:
                    reason = "taux publié sans dénominateur : non additionnable"
                rows.append({
                    "indicateur": ind.id, "libelle": ind.label, "groupe": ind.group,
                    "niveau": level, "code": codes[level], "annee": year,
                    "numerateur": np.nan if masked else value.numerator,
                    "denominateur": value.denominator, "valeur": rate, "disponible": available,
                    "masque": masked, "raison": "" if available else reason,
                    "source": " ; ".join(value.sources),
                })
        out = pd.DataFrame(rows, columns=CARD_COLUMNS)
        out["annee"] = out["annee"].astype("Int64")
        return out
