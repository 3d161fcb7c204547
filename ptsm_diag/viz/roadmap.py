"""Figures of the feuille de route follow-up (plotly), built from :mod:`ptsm_diag.compute.roadmap`.

Status colours follow the ANAP follow-up slides: Réalisée green, En cours blue,
Non commencée grey, Suspendue orange, Abandonnée red. Text from input files is
HTML-escaped before it reaches a label (plotly renders a subset of HTML in labels).
Show the figures with :func:`ptsm_diag.report.display.show` (plotly.js is embedded once per
report by :func:`ptsm_diag.report.display.init_display`).
"""

from __future__ import annotations

import html
import textwrap

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ptsm_diag.compute.roadmap import APPRECIATIONS, CLOSED_STATUSES, statuses

STATUS_COLOURS = {
    "Réalisée": "#2E8B3E",
    "En cours": "#1F6FB4",
    "Non commencée": "#A0A4AB",
    "Suspendue": "#F08A00",
    "Abandonnée": "#C8202A",
}
APPRECIATION_COLOURS = {
    "Cible atteinte": "#2E8B3E",
    "En bonne voie": "#1F6FB4",
    "En retard": "#F08A00",
    "S'éloigne de la cible": "#C8202A",
    "Non évaluable": "#A0A4AB",
}
FONT = {"family": "Segoe UI, Helvetica Neue, Arial, sans-serif", "size": 14}
TITLE_FONT_SIZE = 17


def _label(text: object, width: int = 45, max_lines: int = 2) -> str:
    """An escaped label wrapped on ``<br>`` (plotly), shortened with « … »."""
    lines = textwrap.wrap(str(text), width) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: width - 1].rstrip() + "…"
    return "<br>".join(html.escape(line) for line in lines)


# What plotly's « plotly_white » template changes for cartesian figures, set on the figure:
# naming the template deep-copies and validates all of it (about 10 ms a figure).
_WHITE_AXIS = {"gridcolor": "#EBF0F8", "linecolor": "#EBF0F8", "zerolinecolor": "#EBF0F8"}


def _figure(traces: list, title: str, height: int, *, xaxis: dict | None = None,
            yaxis: dict | None = None, margin: dict | None = None,
            **layout: object) -> go.Figure:
    """The figure of ``traces`` with the common layout of the roadmap figures, given whole
    (adding traces and updating the layout one call at a time costs twice the time).

    ``xaxis``, ``yaxis`` and ``margin`` complete the common ones; ``layout`` adds keys.
    """
    return go.Figure(data=traces, layout={
        "title": {"text": html.escape(title), "font": {"size": TITLE_FONT_SIZE}, "x": 0.01},
        "font": FONT, "height": height, "plot_bgcolor": "white",
        "xaxis": {**_WHITE_AXIS, **(xaxis or {})}, "yaxis": {**_WHITE_AXIS, **(yaxis or {})},
        "margin": {"l": 20, "r": 30, "t": 70, "b": 40, **(margin or {})},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "left",
                   "x": 0, "traceorder": "normal"},
        **layout,
    })


def status_bars(
    table: pd.DataFrame, title: str, axis_title: str = "", highlight: str | None = None
) -> go.Figure:
    """Stacked horizontal bars: actions by group (rows of ``table``) and status.

    Parameters
    ----------
    table : DataFrame
        :func:`ptsm_diag.compute.roadmap.status_table` (index = group labels, one column per
        status; other columns such as ``Total`` are ignored).
    title : str
        Figure title (French).
    axis_title : str
        Title of the group axis.
    highlight : str, optional
        Group shown in bold (the territory of the report among others).
    """
    groups = [f"<b>{_label(g, 50)}</b>" if g == highlight else _label(g, 50)
              for g in table.index]
    traces = []
    for status in statuses():
        counts = table[status] if status in table else pd.Series(0, index=table.index)
        traces.append(go.Bar(
            y=groups, x=counts.to_numpy(), name=status, orientation="h",
            marker={"color": STATUS_COLOURS[status], "line": {"color": "white", "width": 1}},
            text=[str(int(c)) if c else "" for c in counts], textposition="inside",
            insidetextanchor="middle", textfont={"color": "white"},
            hovertemplate=f"%{{y}}<br>{html.escape(status)} : %{{x}}<extra></extra>",
        ))
    height = max(260, 90 + (48 if len(groups) <= 15 else 24) * len(groups))
    dtick = {"dtick": 1} if _max_total(table) <= 12 else {}
    return _figure(traces, title, height, barmode="stack", bargap=0.3,
                   xaxis={"title": {"text": "Nombre d'actions"}, **dtick},
                   yaxis={"title": {"text": html.escape(axis_title)},
                          "autorange": "reversed", "automargin": True})


def _max_total(table: pd.DataFrame) -> int:
    columns = [s for s in statuses() if s in table]
    return int(table[columns].sum(axis=1).max()) if len(table) else 0


def status_evolution_figure(over_time: pd.DataFrame, title: str) -> go.Figure:
    """Stacked bars of actions by status at each follow-up date (oldest at the top).

    Parameters
    ----------
    over_time : DataFrame
        :func:`ptsm_diag.compute.roadmap.status_over_time` (index = follow-up dates).
    """
    table = over_time.copy()
    table.index = [f"Suivi du {pd.Timestamp(d).strftime('%d/%m/%Y')}" for d in table.index]
    return status_bars(table, title)


def timeline_figure(
    timeline: pd.DataFrame, date: pd.Timestamp | None, title: str
) -> go.Figure:
    """Gantt-style timeline: one bar per action from its start to its due date.

    Bars are coloured by status at ``date``; the label gives the progress, « ⚠ en
    retard » marks an overdue action, and a dashed line marks ``date`` (the title should
    give it). Actions without
    a due date are drawn as a point at their start.

    Parameters
    ----------
    timeline : DataFrame
        :func:`ptsm_diag.compute.roadmap.timeline_data`.
    """
    frame = timeline.sort_values(["priorite", "id_action"], kind="stable").reset_index(drop=True)
    labels = [f"{html.escape(str(a))} · {_label(t, 42, 1)}"
              for a, t in zip(frame["id_action"], frame["intitule"], strict=True)]
    traces = []
    for status in statuses():
        rows = frame[frame["statut"] == status]
        if rows.empty:
            continue
        start = pd.to_datetime(rows["debut"])
        end = pd.to_datetime(rows["echeance"]).fillna(start)
        duration_ms = ((end - start).dt.total_seconds() * 1000).clip(lower=86_400_000)
        texts = []
        for progress, late in zip(rows["avancement"], rows["en_retard"], strict=True):
            text = "" if pd.isna(progress) else f"{progress:.0f} %"
            if late:
                text = f"{text} ⚠ en retard".strip()
            texts.append(text)
        traces.append(go.Bar(
            y=[labels[i] for i in rows.index], x=duration_ms.to_numpy(),
            base=start.dt.strftime("%Y-%m-%d").to_numpy(), orientation="h", name=status,
            marker={"color": STATUS_COLOURS[status],
                        "line": {"color": ["#000000" if late else STATUS_COLOURS[status]
                                         for late in rows["en_retard"]], "width": 2}},
            text=texts, textposition="inside", insidetextanchor="start",
            textfont={"color": "white"},
            customdata=np.stack([start.dt.strftime("%d/%m/%Y"),
                                 end.dt.strftime("%d/%m/%Y"), texts], axis=-1),
            hovertemplate=("%{y}<br>du %{customdata[0]} au %{customdata[1]}"
                           f"<br>{html.escape(status)} %{{customdata[2]}}<extra></extra>"),
        ))
    height = max(280, 110 + 42 * len(frame))
    shapes = []
    if date is not None:
        when = pd.Timestamp(date).strftime("%Y-%m-%d")
        shapes.append({"type": "line", "x0": when, "x1": when, "y0": 0, "y1": 1,
                       "yref": "paper", "line": {"color": "#1e1e1e", "width": 2,
                                                 "dash": "dash"}})
    return _figure(traces, title, height, barmode="overlay", bargap=0.35,
                   xaxis={"type": "date", "tickformat": "%m/%Y", "title": {"text": ""}},
                   yaxis={"categoryorder": "array", "categoryarray": labels,
                          "autorange": "reversed", "automargin": True},
                   **({"shapes": shapes} if shapes else {}))


def progress_figure(progress: pd.DataFrame, title: str) -> go.Figure:
    """Progress towards target of each impact indicator, against the expected progress.

    Bars give the progress (% of the way from baseline to target, coloured by
    appreciation); a black tick marks the progress expected on a straight trajectory;
    the dashed line at 100 % is the target. Not assessable indicators are listed at 0.

    Parameters
    ----------
    progress : DataFrame
        :func:`ptsm_diag.compute.roadmap.impact_progress` of one territory.
    """
    frame = progress.reset_index(drop=True)
    labels = [_label(t, 48) for t in frame["libelle"]]
    values = frame["progression"].astype(float)
    shown = values.clip(-50, 150).fillna(0)
    traces: list = []
    for verdict in APPRECIATIONS:
        rows = frame.index[frame["appreciation"] == verdict]
        if len(rows) == 0:
            continue
        texts = ["n.é." if pd.isna(values[i]) else
                 f"{values[i]:.0f} %".replace("-", "−") for i in rows]
        traces.append(go.Bar(
            y=[labels[i] for i in rows], x=shown[rows].to_numpy(), orientation="h",
            name=verdict, marker={"color": APPRECIATION_COLOURS[verdict]},
            text=texts, textposition="outside", cliponaxis=False,
            hovertemplate="%{y}<br>progression : %{text}<extra>" + html.escape(verdict)
                          + "</extra>",
        ))
    expected = frame["progression_attendue"].astype(float)
    has_expected = expected.notna()
    traces.append(go.Scatter(
        y=[labels[i] for i in frame.index[has_expected]], x=expected[has_expected].to_numpy(),
        mode="markers", name="Progression attendue à date",
        marker={"symbol": "line-ns", "size": 22, "line": {"width": 3, "color": "#1e1e1e"}},
        hovertemplate="%{y}<br>attendue : %{x:.0f} %<extra></extra>",
    ))
    height = max(300, 110 + 46 * len(frame))
    return _figure(
        traces, title, height, barmode="overlay", bargap=0.35, margin={"r": 60},
        shapes=[{"type": "line", "x0": 100, "x1": 100, "y0": 0, "y1": 1, "yref": "paper",
                 "line": {"color": "#2E8B3E", "width": 2, "dash": "dash"}},
                {"type": "line", "x0": 0, "x1": 0, "y0": 0, "y1": 1, "yref": "paper",
                 "line": {"color": "#5b6573", "width": 1}}],
        xaxis={"title": {"text": "Progression de la valeur initiale vers la cible (%)"},
               "range": [min(-10, float(shown.min()) - 10),
                         max(120, float(shown.max()) + 25)], "ticksuffix": " %"},
        yaxis={"categoryorder": "array", "categoryarray": labels, "autorange": "reversed",
               "automargin": True})


__all__ = [
    "APPRECIATION_COLOURS", "CLOSED_STATUSES", "STATUS_COLOURS", "progress_figure",
    "status_bars", "status_evolution_figure", "timeline_figure",
]
