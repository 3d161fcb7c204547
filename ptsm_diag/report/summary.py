"""Batch pages: key figures per territory, the batch index and error pages.

Plain HTML written by the library (no notebook): small, offline, rendered from the
autoescaped templates of :mod:`ptsm_diag.report.pages` (every text escaped).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

import pandas as pd

from ptsm_diag import __version__
from ptsm_diag.catalog import load_indicator_catalog
from ptsm_diag.catalog.geography import load_regions
from ptsm_diag.compute.indicators import compute_indicator_values, rosace_verdicts
from ptsm_diag.compute.territory import main_regions, territory_communes
from ptsm_diag.io.sources import DataFolder
from ptsm_diag.report.display import format_number
from ptsm_diag.report.execute import safe_file_stem
from ptsm_diag.report.pages import render_page

PAGE_CSS = """
body { font-family: "Marianne", "Segoe UI", "Helvetica Neue", Arial, sans-serif; color: #1e1e1e;
  max-width: 1180px; margin: 0 auto; padding: 1.5rem 2rem 3rem; line-height: 1.5; }
h1 { color: #1f3a68; }
table { border-collapse: collapse; margin: 1rem 0; font-size: .95rem; }
th { background: #1f3a68; color: white; text-align: left; padding: .35rem .6rem; }
td { border-bottom: 1px solid #dde2ea; padding: .3rem .6rem; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr:nth-child(even) td { background: #f7f8fb; }
.statut-réussi { color: #1a7f37; font-weight: bold; }
.statut-inchangé { color: #4b5563; font-weight: bold; }
.statut-échec { color: #b42318; font-weight: bold; }
.erreur { background: #fdecea; border: 2px solid #b42318; padding: 1rem; border-radius: 4px; }
.note { color: #5b6573; font-size: .9rem; }
.synthese { font-size: 1.15rem; font-weight: bold; }
.signal-alerte { color: #b42318; font-weight: bold; }
.signal-calme { color: #1a7f37; }
"""


class Outcome(Protocol):
    """What the index needs of a territory's outcome."""

    code: str
    name: str
    status: str
    report: str | None
    error: str | None
    seconds: float
    made_at: str | None
    log: str | None


def territory_signals(data: DataFolder, codes: Sequence[str],
                      reference: str = "france") -> pd.DataFrame:
    """What each territory's rosace says against ``reference``, in counts of indicators.

    Returns
    -------
    DataFrame
        Index ``code_territoire``; columns ``moins_bons``, ``meilleurs`` (verdicts of the
        comparison, direction-aware) and ``evalues`` (indicators with a verdict). Empty
        when the folder has no indicators.
    """
    columns = ["moins_bons", "meilleurs", "evalues"]
    if data.indicateurs is None or data.indicateurs.empty or data.territoires is None:
        return pd.DataFrame(columns=columns)
    values = compute_indicator_values(data.indicateurs, load_indicator_catalog(),
                                      main_regions(data.territoires))
    verdicts = rosace_verdicts(values, codes, reference)
    by_code = verdicts.groupby("code_territoire", sort=False)["verdict"]
    table = pd.DataFrame({
        "moins_bons": by_code.agg(lambda v: int((v == "moins bon").sum())),
        "meilleurs": by_code.agg(lambda v: int((v == "meilleur").sum())),
        "evalues": by_code.agg(lambda v: int(v.isin(["moins bon", "meilleur",
                                                     "comparable"]).sum())),
    }, columns=columns)
    table.index.name = None
    return table.astype(int)


def _signal(signals: pd.DataFrame | None, code: str) -> tuple[str | None, str]:
    """(text, CSS class) of a territory's signal; no text when it is not known."""
    if signals is None or code not in signals.index:
        return None, "note"
    row = signals.loc[code]
    worse, better, rated = int(row["moins_bons"]), int(row["meilleurs"]), int(row["evalues"])
    text = f"{worse} moins bon(s), {better} meilleur(s) sur {rated}"
    return text, "signal-alerte" if worse > better else "signal-calme"


def _region_label(code: object) -> str:
    if not isinstance(code, str) or not code:
        return "—"
    names = load_regions().set_index("code_region")["nom"]
    return f"{names.get(code, code)} ({code})"


def _made_at(outcome: Outcome) -> str:
    made = getattr(outcome, "made_at", None)
    try:
        return datetime.fromisoformat(made).strftime("%d/%m/%Y %H:%M") if made else "—"
    except ValueError:
        return "—"


def territory_key_figures(data: DataFolder, codes: Sequence[str]) -> pd.DataFrame:
    """Communes, population and resources of each territory (index ``code_territoire``)."""
    members = territory_communes(data.territoires)
    members = members[members["code_territoire"].isin(list(codes))]
    members["population"] = pd.to_numeric(members["population"], errors="coerce")
    figures = members.groupby("code_territoire").agg(
        communes=("code_commune", "size"), population=("population", "sum"))
    if data.ressources is not None and not data.ressources.empty:
        located = members[["code_territoire", "code_commune"]].merge(
            data.ressources[["code_commune"]], on="code_commune")
        figures["ressources"] = located.groupby("code_territoire").size()
        figures["ressources"] = figures["ressources"].fillna(0).astype(int)
    return figures


def batch_index_html(
    outcomes: Iterable[Outcome],
    figures: pd.DataFrame,
    folder: Path,
    data_hash: str,
    generated_at: datetime,
    synthesis: Outcome | None = None,
    *,
    region: str | None = None,
    signals: pd.DataFrame | None = None,
) -> str:
    """The batch index: the région, every territory with its status, signal, key figures,
    links to its report and log and when it was made, and the synthesis of the batch.

    ``figures`` may carry a ``code_region`` column (main région of each territory);
    ``signals`` comes from :func:`territory_signals`.
    """
    outcomes = list(outcomes)
    region_codes = (set(figures["code_region"].dropna()) if "code_region" in figures
                    else set())
    shown_region = region or (next(iter(region_codes)) if len(region_codes) == 1 else None)
    several = len(region_codes) > 1  # a column only when the batch spans several régions
    counts = {status: sum(o.status == status for o in outcomes)
              for status in ("réussi", "inchangé", "échec")}
    rows = []
    for o in outcomes:
        fig = figures.loc[o.code] if o.code in figures.index else None
        signal, signal_css = _signal(signals, o.code)
        region_code = fig.get("code_region") if fig is not None else None
        rows.append({
            "code": o.code, "name": o.name, "status": o.status,
            "region": _region_label(region_code),
            "signal": signal, "signal_css": signal_css,
            "population": format_number(fig["population"] if fig is not None else None),
            "communes": format_number(fig["communes"] if fig is not None else None),
            "resources": format_number(fig.get("ressources") if fig is not None else None),
            "link": o.report or f"erreurs/{safe_file_stem(o.code)}.html",
            "link_text": "rapport" if o.report else "page d'erreur",
            "log": getattr(o, "log", None),
            "made_at": _made_at(o),
            "seconds": format_number(o.seconds, 1),
        })
    summary = (f"{counts['réussi']} rapport(s) produit(s), {counts['inchangé']} inchangé(s), "
               f"{counts['échec']} en échec, sur {len(outcomes)} territoire(s).")
    synthesis_context = None
    if synthesis is not None:
        synthesis_context = {
            "target": synthesis.report or "erreurs/synthese.html",
            "text": ("Synthèse des territoires du lot" if synthesis.report
                     else "Synthèse en échec : voir la page d'erreur"),
            "status": synthesis.status,
            "log": getattr(synthesis, "log", None),
            "made_at": _made_at(synthesis),
        }
    title = "Diagnostics territoriaux PTSM — lot de rapports"
    if shown_region:
        title += f" — région {_region_label(shown_region)}"
    reading = ("Signal : indicateurs de la rosace moins bons et meilleurs que la référence "
               "(France entière, ou la région) parmi ceux comparés ; en rouge quand les moins "
               "bons l'emportent. « Produit le » : date du rapport, gardée quand il est "
               "inchangé ; la durée est celle de sa production.")
    return render_page(
        "index_lot.html.j2", page_title="Diagnostics PTSM — index du lot", css=PAGE_CSS,
        title=title, summary=summary, synthesis=synthesis_context, several=several,
        rows=rows, reading=reading, folder=str(folder), data_hash=data_hash[:12],
        generated_at=generated_at.strftime("%d/%m/%Y à %H:%M"), version=__version__)


def error_page_html(
    code: str, name: str, message: str, cell_index: int | None, log_name: str
) -> str:
    """The page written in place of a report that failed."""
    where = f" (cellule {cell_index} du notebook)" if cell_index is not None else ""
    return render_page("erreur.html.j2", page_title=f"Échec — {name}", css=PAGE_CSS,
                       code=code, name=name, where=where, message=message,
                       log_name=log_name)
