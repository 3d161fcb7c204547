"""The pieces of the regional synthesis report, built from a :class:`Synthesis`.

Each function returns a table, a figure, a map or escaped HTML; the notebook
``synthese_regionale.ipynb`` only calls them. :func:`render_synthesis` runs that notebook
and writes one offline HTML file.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import folium
import pandas as pd
import plotly.graph_objects as go

from ptsm_diag import __version__
from ptsm_diag.catalog.geography import load_regions
from ptsm_diag.compute.regional import (
    DIRECTION_ARROWS,
    Synthesis,
    default_indicator,
    heatmap_frame,
    indicator_ranking,
    parse_codes,
    resource_rates,
    territory_outlines,
)
from ptsm_diag.diagnostic import data_sources
from ptsm_diag.report.display import format_number
from ptsm_diag.report.sections import DEMO_BANNER, note
from ptsm_diag.viz.regional import (
    HEAT_CLASSES,
    ranking_figure,
    rosace_key,
    small_multiple_rosaces,
    territory_choropleth,
)
from ptsm_diag.viz.rosace import format_fr

SYNTHESIS_NOTEBOOK = "synthese_regionale.ipynb"

_HATCH = "repeating-linear-gradient(45deg,#D9D9D9 0 4px,#F4F4F4 4px 8px)"
STYLE = (
    "<style>"
    "table.ptsm-heatmap{border-collapse:collapse;margin:.8rem 0 1.2rem;font-size:.9rem}"
    "table.ptsm-heatmap th,table.ptsm-heatmap td{border:1px solid #fff;padding:.3rem .55rem}"
    ".jp-RenderedHTMLCommon table.ptsm-heatmap thead th{background:#1f3b73;color:#fff;"
    "text-align:center;vertical-align:bottom}"
    "table.ptsm-heatmap th.hm-axe{background:#e8ecf4;color:#1f3b73;text-align:left}"
    "table.ptsm-heatmap td.hm-ind{text-align:left;max-width:22rem}"
    "table.ptsm-heatmap td.hm-sens{color:#555;font-size:.8rem;white-space:nowrap}"
    "table.ptsm-heatmap td.hm-cell{text-align:center;font-variant-numeric:tabular-nums;"
    "font-weight:bold;min-width:4.5rem}"
    + "".join(f"table.ptsm-heatmap .{css},.ptsm-hm-legende .{css}{{background:{bg};color:{fg}}}"
              for css, _label, bg, fg in HEAT_CLASSES.values())
    + f".ptsm-heatmap .hm-masque,.ptsm-hm-legende .hm-masque{{background:{_HATCH}}}"
    ".ptsm-heatmap .hm-manquant,.ptsm-heatmap .hm-masque{font-weight:normal;font-style:italic}"
    ".ptsm-heatmap .hm-non-evaluable,.ptsm-hm-legende .hm-non-evaluable{outline:1px solid #bbb;"
    "outline-offset:-1px}"
    ".jp-RenderedHTMLCommon ul.ptsm-hm-legende,ul.ptsm-hm-legende{display:flex;"
    "flex-wrap:wrap;gap:.4rem 1rem;font-size:.85rem;"
    "margin:.2rem 0 1rem;padding:0;list-style:none}"
    ".jp-RenderedHTMLCommon ul.ptsm-hm-legende li{list-style:none;margin:0}"
    ".ptsm-hm-legende span{display:inline-block;width:1.6rem;height:1rem;margin-right:.35rem;"
    "vertical-align:middle;border:1px solid #999}"
    "table.ptsm-classement td.num,table.ptsm-classement th.num{text-align:right}"
    "table.ptsm-classement td.hm-masque,table.ptsm-classement td.hm-manquant{font-style:italic}"
    "</style>"
)


def _region_name(code: str | None) -> str | None:
    if not code:
        return None
    regions = load_regions().set_index("code_region")["nom"]
    return str(regions.get(code, code))


def synthesis_title(synthesis: Synthesis) -> str:
    """French title: « … — région Bretagne », or the number of territories compared."""
    name = _region_name(synthesis.region)
    if name:
        return f"Synthèse régionale des diagnostics PTSM — {name}"
    return f"Synthèse des diagnostics PTSM — {len(synthesis.codes)} territoires"


def title_page(synthesis: Synthesis) -> str:
    """Title block, parameters, the demo warning when relevant, and the report's styles."""
    region = _region_name(synthesis.region)
    params = {
        "Région": f"{region} ({synthesis.region})" if region else "—",
        "Territoires comparés": ", ".join(f"{synthesis.names[c]} ({c})" for c in synthesis.codes),
        "Référence des indices": synthesis.reference_label,
        "Année des indicateurs": synthesis.year if synthesis.year is not None else "n.d.",
        "Données": ("démonstration (fictives)" if synthesis.is_demo
                    else synthesis.data_folder.name),
        "Produit le": synthesis.generated_at.strftime("%d/%m/%Y à %H:%M"),
        "Outil": f"ptsm-diag {__version__}",
    }
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                   for k, v in params.items())
    return (
        f"{STYLE}"
        '<header class="ptsm-page-titre">'
        f"<h1>{html.escape(synthesis_title(synthesis))}</h1>"
        '<p class="sous-titre">Comparaison des territoires : indicateurs de parcours, '
        "état des ressources, repères pour le dialogue entre territoires.</p></header>"
        f"{DEMO_BANNER if synthesis.is_demo else ''}"
        f'<table class="ptsm-table"><caption>Paramètres du rapport</caption>{rows}</table>'
    )


def territories_table(synthesis: Synthesis) -> pd.DataFrame:
    """Key figures of each territory (French columns)."""
    counts = synthesis.resources.groupby("code_territoire").size()
    return pd.DataFrame({
        "Code": synthesis.codes,
        "Territoire": [t.name for t in synthesis.territories.values()],
        "Départements": [", ".join(t.departement_codes) for t in synthesis.territories.values()],
        "Population": [t.population_total for t in synthesis.territories.values()],
        "Superficie (km²)": [round(t.area_km2) for t in synthesis.territories.values()],
        "Densité (hab./km²)": [round(t.density, 1) for t in synthesis.territories.values()],
        "Ressources recensées": [int(counts.get(c, 0)) for c in synthesis.codes],
    })


def chosen_indicator(synthesis: Synthesis, indicateur: str | None = None) -> str:
    """The indicator of the map and ranking: ``indicateur``, else the first of the rosace."""
    return (indicateur or "").strip() or default_indicator(synthesis.catalog)


def indicator_label(synthesis: Synthesis, indicateur: str | None = None) -> str:
    """French label of the chosen indicator, with its unit."""
    ind = synthesis.catalog[chosen_indicator(synthesis, indicateur)]
    return f"{ind.label} ({ind.unit})" if ind.unit else ind.label


def indicator_map(
    synthesis: Synthesis, indicateur: str | None = None, fond: str | None = None
) -> folium.Map:
    """Map of the territories coloured by their index on the chosen indicator."""
    code = chosen_indicator(synthesis, indicateur)
    ranking = indicator_ranking(synthesis, code)
    return territory_choropleth(territory_outlines(synthesis), ranking,
                                synthesis.catalog[code].label, fond=fond)


def rosaces(synthesis: Synthesis) -> go.Figure | str:
    """Small-multiple rosaces, one per territory, on the same scale."""
    if not synthesis.rosaces:
        return note("Aucun indicateur n'est fourni : pas de rosace.")
    return small_multiple_rosaces(synthesis.rosaces, synthesis.names)


def rosace_numbers(synthesis: Synthesis) -> pd.DataFrame | str:
    """The key of the numbered petals."""
    if not synthesis.rosaces:
        return ""
    return rosace_key(next(iter(synthesis.rosaces.values())))


def heatmap(synthesis: Synthesis) -> str:
    """Heat-map table of the indices, indicators × territories (escaped HTML).

    Each cell shows the index (100 = reference); its colour says whether the territory
    is more favourable, comparable or less favourable than the reference, taking the
    direction of the indicator into account. Masked and missing cells say so in words.
    """
    frame = heatmap_frame(synthesis)
    if frame.empty:
        return note("Aucun indicateur n'est fourni : pas de tableau des indices.")
    codes = synthesis.codes
    head = ("<tr><th>Indicateur</th><th>Sens de lecture</th>"
            + "".join(f"<th>{html.escape(synthesis.names[c])}</th>" for c in codes) + "</tr>")
    body = []
    current_axis = None
    for _, rows in frame.groupby("indicateur", sort=False):
        first = rows.iloc[0]
        if first["axis"] != current_axis:
            current_axis = first["axis"]
            body.append(f'<tr><th class="hm-axe" colspan="{len(codes) + 2}">Axe '
                        f"{int(current_axis)} – {html.escape(str(first['axis_label']))}</th></tr>")
        cells = []
        by_code = rows.set_index("code_territoire")
        for code in codes:
            if code not in by_code.index:
                css, text, tip = HEAT_CLASSES["manquant"][0], "n.d.", "Donnée manquante"
            else:
                row = by_code.loc[code]
                css, text = HEAT_CLASSES[row["classe"]][0], row["texte"]
                tip = _cell_tooltip(row)
            cells.append(f'<td class="hm-cell {css}" title="{html.escape(tip)}">'
                         f"{html.escape(text)}</td>")
        body.append(
            f'<tr><td class="hm-ind">{html.escape(str(first["label"]))}</td>'
            f'<td class="hm-sens">{html.escape(DIRECTION_ARROWS.get(first["direction"], ""))}'
            f"</td>{''.join(cells)}</tr>"
        )
    caption = (f"Indices des territoires (100 = référence : "
               f"{html.escape(synthesis.reference_label)} ; au-delà de 100, plus favorable)")
    return (
        f'{STYLE}<div class="ptsm-table-wrap"><table class="ptsm-heatmap">'
        f"<caption>{caption}</caption><thead>{head}</thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>{heatmap_legend()}"
    )


def _cell_tooltip(row: pd.Series) -> str:
    unit = str(row["unit"] or "")
    if row["statut"] == "masqué":
        return "Valeur masquée (secret statistique)"
    if row["statut"] != "ok":
        return "Donnée manquante"
    parts = [f"Valeur : {format_fr(row['value'], unit)} {'' if unit == '%' else unit}".strip(),
             f"Référence : {format_fr(row['reference'], unit)}",
             f"Appréciation : {row['verdict']}"]
    if pd.notna(row["annee"]):
        parts.append(f"Année : {int(row['annee'])}")
    return " ; ".join(parts)


def heatmap_legend() -> str:
    """Legend of the heat-map colours (escaped HTML)."""
    items = "".join(f'<li><span class="{css}"></span>{html.escape(label)}</li>'
                    for css, label, _bg, _fg in HEAT_CLASSES.values())
    return f'<ul class="ptsm-hm-legende">{items}</ul>'


def ranking(synthesis: Synthesis, indicateur: str | None = None) -> str:
    """Ranking table of the territories on the chosen indicator (escaped HTML).

    Masked and missing values read « masqué » and « n.d. », without a rank.
    """
    code = chosen_indicator(synthesis, indicateur)
    frame = indicator_ranking(synthesis, code)
    unit = synthesis.catalog[code].unit
    head = ("<tr><th class='num'>Rang</th><th>Territoire</th><th class='num'>Valeur</th>"
            f"<th class='num'>Référence ({html.escape(synthesis.reference_label)})</th>"
            "<th class='num'>Indice</th><th>Appréciation</th></tr>")
    rows = []
    for _, row in frame.iterrows():
        state = {"masqué": "hm-masque", "ok": ""}.get(row["statut"], "hm-manquant")
        value = ("masqué" if row["statut"] == "masqué" else "n.d." if row["statut"] != "ok"
                 else format_fr(row["value"], unit))
        rank = "—" if pd.isna(row["rang"]) else str(int(row["rang"]))
        index = "—" if row["statut"] != "ok" or pd.isna(row["index"]) else f"{row['index']:.0f}"
        verdict = row["verdict"] if row["statut"] == "ok" else "—"
        rows.append(
            f"<tr><td class='num'>{rank}</td><td>{html.escape(str(row['territoire']))}</td>"
            f"<td class='num {state}'>{html.escape(value)}</td>"
            f"<td class='num'>{html.escape(format_fr(row['reference'], unit))}</td>"
            f"<td class='num'>{index}</td><td>{html.escape(str(verdict))}</td></tr>"
        )
    caption = html.escape(f"Classement : {indicator_label(synthesis, code)} — rang 1 = "
                          "situation la plus favorable")
    return (f'{STYLE}<div class="ptsm-table-wrap"><table class="ptsm-table ptsm-classement">'
            f"<caption>{caption}</caption><thead>{head}</thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def ranking_chart(synthesis: Synthesis, indicateur: str | None = None) -> go.Figure:
    """Bar chart of the ranking on the chosen indicator, reference dashed."""
    code = chosen_indicator(synthesis, indicateur)
    return ranking_figure(indicator_ranking(synthesis, code), indicator_label(synthesis, code))


def resources_side_by_side(synthesis: Synthesis) -> pd.DataFrame:
    """Resources per 100,000 inhabitants by type, one column per territory (French)."""
    frame = resource_rates(synthesis)
    columns = {"libelle": "Type de ressource", "champ": "Champ",
               **{c: synthesis.names[c] for c in synthesis.codes},
               "ensemble": "Ensemble des territoires"}
    frame = frame.drop(columns="type_ressource").rename(columns=columns)
    numeric = [c for c in frame.columns if c not in ("Type de ressource", "Champ")]
    frame[numeric] = frame[numeric].astype(float).round(2)
    return frame[list(columns.values())]


def sources(synthesis: Synthesis) -> pd.DataFrame:
    """The sources and vintages of the data shown."""
    return data_sources(synthesis)  # type: ignore[arg-type]  # same attributes used


def population_note(synthesis: Synthesis) -> str:
    """One sentence on the total population covered (escaped HTML)."""
    total = sum(t.population_total or 0 for t in synthesis.territories.values())
    return note(f"Population couverte : {format_number(total)} habitants, "
                f"{len(synthesis.codes)} territoire(s).")


def render_synthesis(
    donnees: str | Path | None,
    sortie: str | Path,
    *,
    region: str | None = None,
    territoires: str | Sequence[str] | None = None,
    file_name: str | None = None,
    parameters: dict[str, Any] | None = None,
    options: Any = None,
    runner: Any = None,
) -> Path:
    """Produce the HTML regional synthesis and return its path.

    Parameters
    ----------
    donnees : path or None
        Data folder; None uses the demo data.
    sortie : path
        Output folder (created when missing).
    region : str, optional
        Région code (``"53"``).
    territoires : str or list, optional
        Territory codes; win over ``region``. Neither: every territory of the data.
    file_name : str, optional
        HTML file name; ``synthese_region_<code>.html``, ``synthese_territoires.html``
        or ``synthese_france.html`` by default.
    parameters : dict, optional
        Further notebook parameters (``reference``, ``indicateur``, ``fond``).
    options : ReportOptions, optional
        Kernel, timeout, shared assets; the notebook is the synthesis one unless an
        adapted copy is named.
    runner : NotebookRunner, optional
        Where to run the notebook (see :func:`ptsm_diag.report.execute.render_report`);
        by default a fresh kernel.
    """
    from ptsm_diag.report.execute import (
        ReportOptions,
        execute_notebook,
        notebook_path,
        safe_file_stem,
        save_report,
    )

    if options is None:
        options = ReportOptions(notebook=SYNTHESIS_NOTEBOOK)
    elif options.notebook == ReportOptions().notebook:
        options = dataclasses.replace(options, notebook=SYNTHESIS_NOTEBOOK)
    codes = parse_codes(territoires)
    region_code = "" if codes or region is None else str(region).strip()
    values = {
        "territoires": ",".join(codes),
        "region": region_code,
        "donnees": str(Path(donnees).resolve()) if donnees else "",
        **(parameters or {}),
    }
    label = (f"région {region_code}" if region_code else
             f"territoires {', '.join(codes)}" if codes else "France")
    nb = execute_notebook(notebook_path(options.notebook), values, options,
                          label=f"synthèse {label}", runner=runner)
    default = (f"synthese_region_{safe_file_stem(region_code)}.html" if region_code
               else "synthese_territoires.html" if codes else "synthese_france.html")
    return save_report(nb, Path(sortie).resolve() / (file_name or default), options)


__all__ = [
    "chosen_indicator", "heatmap", "heatmap_legend", "indicator_label", "indicator_map",
    "population_note", "ranking", "ranking_chart", "render_synthesis", "resources_side_by_side",
    "rosace_numbers", "rosaces", "sources", "synthesis_title", "territories_table",
    "title_page",
]
