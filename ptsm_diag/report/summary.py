"""Batch pages: key figures per territory, the batch index and error pages.

Plain HTML written by the library (no notebook): small, offline, every text escaped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

import pandas as pd

from ptsm_diag import __version__
from ptsm_diag.compute.territory import territory_communes
from ptsm_diag.io.sources import DataFolder
from ptsm_diag.report.display import format_number
from ptsm_diag.report.execute import safe_file_stem

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
"""


class Outcome(Protocol):
    """What the index needs of a territory's outcome."""

    code: str
    name: str
    status: str
    report: str | None
    error: str | None
    seconds: float


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


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{PAGE_CSS}</style></head>"
            f"<body>{body}</body></html>")


def batch_index_html(
    outcomes: Iterable[Outcome],
    figures: pd.DataFrame,
    folder: Path,
    data_hash: str,
    generated_at: datetime,
    synthesis: Outcome | None = None,
) -> str:
    """The batch index: every territory with its status, key figures and links, and the
    synthesis of the batch when one was asked for."""
    outcomes = list(outcomes)
    counts = {status: sum(o.status == status for o in outcomes)
              for status in ("réussi", "inchangé", "échec")}
    rows = []
    for o in outcomes:
        fig = figures.loc[o.code] if o.code in figures.index else None
        link = (f'<a href="{html.escape(o.report)}">rapport</a>' if o.report else
                f'<a href="erreurs/{html.escape(safe_file_stem(o.code))}.html">page d\'erreur</a>')
        rows.append(
            "<tr>"
            f"<td>{html.escape(o.code)}</td><td>{html.escape(o.name)}</td>"
            f'<td class="statut-{html.escape(o.status)}">{html.escape(o.status)}</td>'
            f'<td class="num">{format_number(fig["population"] if fig is not None else None)}</td>'
            f'<td class="num">{format_number(fig["communes"] if fig is not None else None)}</td>'
            f'<td class="num">'
            f'{format_number(fig.get("ressources") if fig is not None else None)}</td>'
            f"<td>{link}</td>"
            f'<td class="num">{format_number(o.seconds, 1)}</td>'
            "</tr>"
        )
    summary = (f"{counts['réussi']} rapport(s) produit(s), {counts['inchangé']} inchangé(s), "
               f"{counts['échec']} en échec, sur {len(outcomes)} territoire(s).")
    synthesis_html = ""
    if synthesis is not None:
        target = (html.escape(synthesis.report) if synthesis.report
                  else "erreurs/synthese.html")
        text = "Synthèse des territoires du lot" if synthesis.report else \
            "Synthèse en échec : voir la page d'erreur"
        synthesis_html = (f'<p class="synthese"><a href="{target}">{html.escape(text)}</a> '
                          f'<span class="statut-{html.escape(synthesis.status)}">'
                          f"({html.escape(synthesis.status)})</span></p>")
    body = (
        "<h1>Diagnostics territoriaux PTSM — lot de rapports</h1>"
        f"<p>{html.escape(summary)}</p>{synthesis_html}"
        '<table><thead><tr><th>Code</th><th>Territoire</th><th>Statut</th>'
        '<th class="num">Population</th><th class="num">Communes</th>'
        '<th class="num">Ressources</th><th>Lien</th><th class="num">Durée (s)</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f'<p class="note">Données : {html.escape(str(folder))} (empreinte '
        f"{html.escape(data_hash[:12])}) — produit le "
        f"{generated_at.strftime('%d/%m/%Y à %H:%M')} par ptsm-diag "
        f"{html.escape(__version__)}. Population municipale INSEE (géographie embarquée).</p>"
    )
    return _page("Diagnostics PTSM — index du lot", body)


def error_page_html(
    code: str, name: str, message: str, cell_index: int | None, log_name: str
) -> str:
    """The page written in place of a report that failed."""
    where = f" (cellule {cell_index} du notebook)" if cell_index is not None else ""
    body = (
        f"<h1>Rapport non produit — {html.escape(name)} ({html.escape(code)})</h1>"
        f'<div class="erreur"><p><b>Erreur{html.escape(where)} :</b></p>'
        f"<pre>{html.escape(message)}</pre></div>"
        f"<p>Le détail est dans le journal <code>journaux/{html.escape(log_name)}</code>. "
        "Les autres territoires du lot ne sont pas affectés ; corrigez puis relancez "
        "<code>ptsm-diag batch</code> : seuls les territoires modifiés ou en échec seront "
        "refaits.</p>"
        '<p><a href="../index.html">Retour à l\'index du lot</a></p>'
    )
    return _page(f"Échec — {name}", body)
