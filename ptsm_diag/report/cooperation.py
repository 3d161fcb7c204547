"""Views of the cooperation between sectors: network map, sector matrix, isolated actors.

- :func:`network_map` — folium map of the actors (coloured by champ) and their links
  (lines coloured by kind), offline like every map of :mod:`ptsm_diag.viz.maps`;
- :func:`sector_heatmap` — plotly heat-map of the links by pair of champs;
- the « Coopérations » section of the diagnostic report, from a :class:`Diagnostic`:
  :func:`cooperation_intro`, :func:`cooperation_summary`, :func:`cooperation_map`,
  :func:`sector_matrix_figure`, :func:`cooperation_evolution_figure`,
  :func:`isolated_actors_table`; and the workshop slide :func:`network_slide`.

Every function of the section returns a French note (escaped HTML) instead of a figure
when the data folder has no ``partenariats`` table. Input text is escaped here.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import folium
import geopandas as gpd
import pandas as pd
import plotly.graph_objects as go

from ptsm_diag.catalog import load_resource_types
from ptsm_diag.compute.cooperation import (
    UNKNOWN_CHAMP,
    active_links,
    champ_labels,
    cooperation_evolution,
    cooperation_indicators,
    isolated_actors,
    sector_matrix,
    territory_links,
)
from ptsm_diag.compute.resources import locate_resources
from ptsm_diag.diagnostic import (
    Diagnostic,
    diagnostic_cooperation_tables,
    diagnostic_links,
    has_partnerships,
)
from ptsm_diag.io.sources.vocab import vocabulary_labels
from ptsm_diag.report.display import format_number, map_block
from ptsm_diag.viz.maps import (
    CHAMP_COLOURS,
    CompactCircleMarker,
    CompactPolyLine,
    RawHtml,
    add_commune_background,
    base_map,
    safe_html,
)
from ptsm_diag.viz.offline import map_to_html

# Colour of each kind of link (Paul Tol's muted palette, distinct from the champ colours).
LINK_COLOURS: dict[str, str] = {
    "convention": "#332288",
    "echange_pratiques": "#117733",
    "stage_immersion": "#882255",
    "formation_commune": "#AA4499",
    "equipe_mobile": "#44AA99",
    "case_management": "#999933",
    "dossier_partage": "#6699CC",
    "concertation": "#CC6677",
    "autre": "#777777",
}
UNKNOWN_COLOUR = "#999999"
SLIDE_FONT_SCALE = 1.6

NO_DATA_NOTE = (
    '<p class="ptsm-note">Aucun fichier partenariats.csv dans le dossier de données : '
    "les coopérations entre acteurs ne sont pas décrites. Le modèle de fichier "
    "partenariats.csv (dossier data_templates) permet de les recenser (conventions, "
    "échanges de pratiques, stages d'immersion, équipes mobiles...).</p>"
)


def _day(at: str | dt.date | pd.Timestamp | None) -> pd.Timestamp:
    return pd.Timestamp.today().normalize() if at is None else pd.Timestamp(at).normalize()


def _french_date(at: str | dt.date | pd.Timestamp | None) -> str:
    return _day(at).strftime("%d/%m/%Y")


DIAGNOSTIC_DAY = "à la date du diagnostic"


def _when(at: str | dt.date | pd.Timestamp | None) -> str:
    """« à la date du diagnostic » (the report's one date, on its title page) when ``at``
    is None, else « au JJ/MM/AAAA »."""
    return DIAGNOSTIC_DAY if at is None else f"au {_french_date(at)}"


# --------------------------------------------------------------------------- map


def _legend_box(day: str, not_drawn: int, font_scale: float) -> RawHtml:
    size = round(13 * font_scale)
    note = (f"<br>{not_drawn} lien(s) avec un partenaire non localisé (nommé librement ou "
            "hors du dossier) : non tracé(s)." if not_drawn else "")
    return RawHtml(
        '<div class="ptsm-legende-reseau" style="position:absolute;bottom:64px;left:10px;'
        "z-index:1000;background:rgba(255,255,255,.94);padding:8px 10px;border:1px solid "
        f"#999;border-radius:4px;font:{size}px/1.35 sans-serif;"
        f'max-width:{round(330 * font_scale)}px">'
        f"<b>Liens de coopération actifs {safe_html(day)}</b><br>"
        "Trait : nature du lien ; couleur du point : champ de la structure.<br>"
        "● point plein : au moins un lien actif ; ○ point vide : aucun lien actif."
        f"{note}</div>"
    )


def _layer_css(font_scale: float) -> RawHtml:
    size = round(13 * font_scale)
    return RawHtml(
        "<style>"
        f".leaflet-control-layers{{font:{size}px/1.25 sans-serif;max-height:85vh;"
        "overflow-y:auto}"
        f".leaflet-tooltip,.leaflet-popup-content{{font-size:{size}px}}"
        ".ptsm-trait{display:inline-block;width:24px;height:0;vertical-align:middle;"
        "margin-right:4px}"
        ".leaflet-control-layers-overlays::before{content:'Liens (nature) et structures "
        "(champ) : cocher / décocher';display:block;font-weight:bold;margin-bottom:4px}"
        "</style>"
    )


def _panel_css(font_scale: float) -> str:
    """Layer control and legend in a column beside the map (projection)."""
    width = round(270 * font_scale)
    return (
        "<style>"
        f".folium-map{{width:calc(100% - {width}px)!important}}"
        ".ptsm-panneau{position:fixed!important;top:0!important;right:0!important;"
        f"width:{width}px!important;max-height:62vh;margin:0!important;float:none!important;"
        "border-radius:0!important;box-sizing:border-box;overflow-y:auto;border:0!important;"
        "border-left:2px solid #999!important;box-shadow:none!important;z-index:1000;"
        "padding:10px 12px!important}"
        ".ptsm-panneau .leaflet-control-layers-list{height:auto!important;"
        "max-height:none!important;overflow:visible!important}"
        ".ptsm-legende-reseau{position:fixed!important;left:auto!important;right:0!important;"
        f"bottom:0!important;width:{width}px;max-width:none!important;box-sizing:border-box;"
        "border-radius:0!important;border:0!important;border-left:2px solid #999!important;"
        "border-top:1px solid #999!important}"
        "</style>"
        "<script>document.addEventListener('DOMContentLoaded',function(){"
        "document.querySelectorAll('.leaflet-control-layers').forEach(function(c){"
        "c.classList.add('ptsm-panneau');document.body.appendChild(c);});});</script>"
    )


def network_map(
    links: pd.DataFrame,
    actors: gpd.GeoDataFrame,
    outline: gpd.GeoDataFrame,
    *,
    fond: str | None = None,
    font_scale: float = 1.0,
    day: str = "",
    panel: bool = False,
) -> folium.Map:
    """Actors at their location and the links between them.

    Parameters
    ----------
    links : DataFrame
        Links to draw (see :func:`ptsm_diag.compute.cooperation.link_table`), usually the active
        ones.
    actors : GeoDataFrame
        Located resources (``id_ressource``, ``nom``, ``type_ressource``, ``champ``,
        point geometry): those of the territory and their partners outside it.
    outline : GeoDataFrame
        Communes of the territory (background; works offline).
    fond : {None, "osm"}
        Background tiles; None works offline.
    font_scale : float
        Multiplier of the font sizes (1.6 for a projector).
    day : str
        When the links are active, for the legend: « au 30/06/2025 » or « à la date du
        diagnostic ».
    panel : bool
        Put the layer control and the legend in a column beside the map (projection).
    """
    type_labels = {code: t.label for code, t in load_resource_types().items()}
    champs = champ_labels(include_unknown=True)
    kinds = vocabulary_labels("types_lien")
    frequencies = vocabulary_labels("frequences_lien")
    valid = actors[actors.geometry.notna() & ~actors.geometry.is_empty]
    valid = valid[valid.geometry.x.notna() & valid.geometry.y.notna()]
    valid = valid.drop_duplicates("id_ressource")
    # plain lists: filtering and iterating a GeoDataFrame per champ costs more than the map
    ids, names = valid["id_ressource"].tolist(), valid["nom"].tolist()
    kinds_of = valid["type_ressource"].tolist()
    champ_of = valid["champ"].fillna(UNKNOWN_CHAMP).tolist()
    lats, lons = valid.geometry.y.tolist(), valid.geometry.x.tolist()
    where = dict(zip(ids, zip(lats, lons, strict=True), strict=True))
    m = base_map(tuple(outline.total_bounds), fond)
    add_commune_background(m, outline)

    drawable = links["acteur_1"].isin(where) & links["acteur_2"].isin(where)
    not_drawn = int((~drawable).sum())
    drawn = links[drawable.to_numpy()]
    for kind in [*kinds, *sorted(set(drawn["type_lien"]) - set(kinds))]:
        subset = drawn[drawn["type_lien"] == kind]
        if subset.empty:
            continue
        colour = LINK_COLOURS.get(kind, UNKNOWN_COLOUR)
        swatch = f'<span class="ptsm-trait" style="border-top:4px solid {colour}"></span>'
        label = safe_html(kinds.get(kind, kind))
        group = folium.FeatureGroup(name=f"{swatch}{label} ({len(subset)})").add_to(m)
        for row in subset.itertuples(index=False):
            text = (f"<b>{label}</b><br>"
                    f"{safe_html(row.nom_1)} ↔ {safe_html(row.nom_2)}")
            if pd.notna(row.debut):
                text += f"<br>Depuis le {row.debut:%d/%m/%Y}"
            if pd.notna(row.frequence):
                frequency = frequencies.get(row.frequence, str(row.frequence))
                text += f"<br>Fréquence : {safe_html(frequency)}"
            CompactPolyLine(
                [where[row.acteur_1], where[row.acteur_2]],
                color=colour, weight=3 * font_scale, opacity=0.8,
                tooltip_html=text,
            ).add_to(group)

    linked = set(links["acteur_1"]) | set(links["acteur_2"])
    for champ, label in champs.items():
        subset = [i for i, c in enumerate(champ_of) if c == champ]
        if not subset:
            continue
        colour = CHAMP_COLOURS.get(champ, UNKNOWN_COLOUR)
        swatch = f'<span style="color:{colour};font-size:1.3em">●</span>'
        group = folium.FeatureGroup(name=f"{swatch} {safe_html(label)} ({len(subset)})")
        group.add_to(m)
        for i in subset:
            is_linked = ids[i] in linked
            kind_label = type_labels.get(kinds_of[i], str(kinds_of[i]))
            popup = (f"<b>{safe_html(names[i])}</b><br>{safe_html(kind_label)}"
                     f"<br>Champ : {safe_html(label)}<br>"
                     + ("Au moins un lien actif" if is_linked else "<i>Aucun lien actif</i>"))
            CompactCircleMarker(
                [lats[i], lons[i]],
                radius=(6 if is_linked else 4) * font_scale,
                color=colour if not is_linked else "#333333",
                weight=2 if not is_linked else 1,
                fill=True,
                fill_color=colour if is_linked else "#ffffff",
                fill_opacity=0.95,
                tooltip_html=safe_html(names[i]),
                popup_html=popup,
                popup_max_width=320,
            ).add_to(group)
    root = m.get_root()
    root.header.add_child(_layer_css(font_scale))
    root.html.add_child(_legend_box(day, not_drawn, font_scale))
    if panel:
        root.html.add_child(RawHtml(_panel_css(font_scale)))
    folium.LayerControl(collapsed=False).add_to(m)
    return m


# --------------------------------------------------------------------------- figures


def sector_heatmap(matrix: pd.DataFrame, title: str, *, font_scale: float = 1.0) -> go.Figure:
    """Heat-map of a champ × champ matrix of link counts (see :func:`sector_matrix`)."""
    labels = [str(c) for c in matrix.columns]
    values = matrix.to_numpy()
    return go.Figure(go.Heatmap(
        z=values, x=labels, y=[str(i) for i in matrix.index], text=values,
        texttemplate="%{text}", colorscale="Blues", showscale=True,
        colorbar={"title": {"text": "Liens"}},
        hovertemplate="%{y} ↔ %{x} : %{z} lien(s)<extra></extra>",
        textfont={"size": round(14 * font_scale)},
    ), layout={  # given whole: faster than update_layout
        "title": {"text": html.escape(title), "x": 0.5},
        "xaxis": {"side": "bottom", "tickangle": -25},
        "yaxis": {"autorange": "reversed"},
        "height": round(480 * font_scale), "margin": {"l": 170, "r": 30, "t": 70, "b": 120},
        "font": {"size": round(13 * font_scale)}, "plot_bgcolor": "white",
    })


# --------------------------------------------------------------------------- diagnostic


def network_links(diag: Diagnostic, at: str | dt.date | pd.Timestamp | None = None
                  ) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """The territory's active links at ``at`` and the located actors to draw."""
    _partenariats, every, _local = diagnostic_cooperation_tables(diag)
    links = territory_links(active_links(diagnostic_links(diag), at),
                            diag.resources["id_ressource"])
    links = links[(links["acteur_1"] != links["acteur_2"]).to_numpy()]
    inside = set(diag.resources["id_ressource"])
    partners = (set(links["acteur_1"]) | set(links["acteur_2"])) - inside
    outside = every[every["id_ressource"].isin(partners)]
    actors = diag.resources
    if not outside.empty:
        located = locate_resources(outside, diag.territory.communes)
        actors = pd.concat([diag.resources, located], ignore_index=True)
    return links, gpd.GeoDataFrame(actors, geometry="geometry", crs="EPSG:4326")


def cooperation_map(
    diag: Diagnostic,
    fond: str | None = None,
    at: str | dt.date | pd.Timestamp | None = None,
    *,
    font_scale: float = 1.0,
    panel: bool = False,
) -> folium.Map | str:
    """The network map of the territory's cooperation (links active at ``at``, by
    default today: the diagnostic date).

    ``font_scale`` and ``panel`` are those of :func:`network_map` (projection: 1.6, True).
    """
    if not has_partnerships(diag):
        return NO_DATA_NOTE
    links, actors = network_links(diag, at)
    fond = None if fond in (None, "", "aucun") else fond
    return network_map(links, actors, diag.territory.communes, fond=fond,
                       font_scale=font_scale, day=_when(at), panel=panel)


def cooperation_intro(diag: Diagnostic, at: str | dt.date | pd.Timestamp | None = None) -> str:
    """One French paragraph with the key figures (escaped HTML)."""
    if not has_partnerships(diag):
        return NO_DATA_NOTE
    partenariats, every, local = diagnostic_cooperation_tables(diag)
    values = cooperation_indicators(partenariats, every, local, at,
        links=diagnostic_links(diag)).set_index("indicateur")

    def share(code: str) -> str:
        row = values.loc[code]
        if pd.isna(row["valeur"]):
            return "n.d."
        return (f"{format_number(row['valeur'], 1)} % ({int(row['numerateur'])} sur "
                f"{int(row['denominateur'])})")

    return (
        f"<p>{html.escape(_when(at)).capitalize()}, le territoire compte "
        f"<b>{int(values.loc['liens_actifs', 'numerateur'])}</b> lien(s) de coopération "
        f"actif(s), dont {int(values.loc['liens_intersectoriels', 'numerateur'])} entre deux "
        "champs différents. Structures médico-sociales et sociales liées à un service de "
        f"psychiatrie : <b>{html.escape(share('part_ms_social_lien_psy'))}</b> ; CMP liés à "
        "la fois au médico-social et au social : "
        f"<b>{html.escape(share('part_cmp_lien_ms_et_social'))}</b>.</p>"
    )


def cooperation_summary(diag: Diagnostic, at: str | dt.date | pd.Timestamp | None = None
                        ) -> pd.DataFrame | str:
    """The cooperation indicators of the territory (category « processus »), French columns."""
    if not has_partnerships(diag):
        return NO_DATA_NOTE
    partenariats, every, local = diagnostic_cooperation_tables(diag)
    table = cooperation_indicators(partenariats, every, local, at,
        links=diagnostic_links(diag))

    def value(row: pd.Series) -> str:
        if row["unite"] != "%":
            return format_number(row["valeur"])
        return "n.d." if pd.isna(row["valeur"]) else f"{format_number(row['valeur'], 1)} %"

    def detail(row: pd.Series) -> str:
        if row["unite"] != "%":
            return ""
        return f"{int(row['numerateur'])} sur {int(row['denominateur'])}"

    return pd.DataFrame({
        "Indicateur (processus)": table["libelle"],
        _when(at).capitalize(): table.apply(value, axis=1),
        "Détail": table.apply(detail, axis=1),
    })


def sector_matrix_figure(diag: Diagnostic, at: str | dt.date | pd.Timestamp | None = None,
                         *, font_scale: float = 1.0) -> go.Figure | str:
    """Heat-map of the active links by pair of champs."""
    if not has_partnerships(diag):
        return NO_DATA_NOTE
    partenariats, every, local = diagnostic_cooperation_tables(diag)
    matrix = sector_matrix(partenariats, every, local, at,
        links=diagnostic_links(diag))
    return sector_heatmap(matrix, f"Liens actifs entre champs {_when(at)}",
                          font_scale=font_scale)


def cooperation_evolution_figure(diag: Diagnostic) -> go.Figure | str:
    """The shares of linked structures at each 1 January since the first link, and today."""
    if not has_partnerships(diag):
        return NO_DATA_NOTE
    partenariats, every, local = diagnostic_cooperation_tables(diag)
    evolution = cooperation_evolution(partenariats, every, local,
        links=diagnostic_links(diag))
    traces = []
    for code, name in (
        ("part_ms_social_lien_psy", "Médico-social et social liés à la psychiatrie"),
        ("part_cmp_lien_ms_et_social", "CMP liés au médico-social et au social"),
        ("part_structures_isolees", "Structures sans lien actif"),
    ):
        rows = evolution[evolution["indicateur"] == code]
        traces.append(go.Scatter(
            x=rows["date"], y=rows["valeur"], mode="lines+markers", name=name,
            customdata=rows[["numerateur", "denominateur"]].to_numpy(),
            hovertemplate="%{x|%d/%m/%Y} : %{y:.0f} % (%{customdata[0]} sur "
                          "%{customdata[1]})<extra>" + html.escape(name) + "</extra>",
        ))
    # traces and layout given whole: updating them one by one costs twice the time
    return go.Figure(data=traces, layout={
        "title": {"text": "Évolution des coopérations (liens actifs à chaque date)", "x": 0.5},
        "yaxis": {"title": {"text": "% des structures"}, "range": [0, 100],
                  "gridcolor": "#e5e5e5"},
        "xaxis": {"title": {"text": "Date"}}, "height": 420,
        "legend": {"orientation": "h", "y": -0.25}, "plot_bgcolor": "white",
        "margin": {"l": 60, "r": 20, "t": 60, "b": 90},
    })


def isolated_actors_table(diag: Diagnostic, at: str | dt.date | pd.Timestamp | None = None
                          ) -> pd.DataFrame | str:
    """Structures of the territory without any active link (French columns)."""
    if not has_partnerships(diag):
        return NO_DATA_NOTE
    partenariats, every, local = diagnostic_cooperation_tables(diag)
    table = isolated_actors(partenariats, every, local, at,
        links=diagnostic_links(diag))
    types = {code: t.label for code, t in load_resource_types().items()}
    champs = champ_labels(include_unknown=True)
    names = diag.territory.communes.set_index("code_commune")["nom"]
    return pd.DataFrame({
        "Champ": table["champ"].map(champs).fillna(table["champ"]),
        "Type": table["type_ressource"].map(types).fillna(table["type_ressource"]),
        "Structure": table["nom"],
        "Commune": table["code_commune"].map(names).fillna(table["code_commune"]),
        "Liens passés ou à venir": table["liens_passes"],
    })


# --------------------------------------------------------------------------- workshop / files


def network_slide(diag: Diagnostic, fond: str | None = None,
                  at: str | dt.date | pd.Timestamp | None = None) -> str:
    """The network map for a projector: full screen height, large fonts (offline iframe)."""
    m = cooperation_map(diag, fond, at, font_scale=SLIDE_FONT_SCALE, panel=True)
    if isinstance(m, str):
        return m
    return map_block(m, "max(560px, calc(100vh - 9rem))",
                     iframe_class="ptsm-carte ptsm-carte-reseau", preview_px=900)


def write_network_map(diag: Diagnostic, path: str | Path, fond: str | None = None,
                      at: str | dt.date | pd.Timestamp | None = None) -> Path:
    """Write the network map as one standalone offline HTML file (atomic write)."""
    from ptsm_diag.report.directory import write_text_atomic

    m = cooperation_map(diag, fond, at)
    if isinstance(m, str):
        page = f"<!DOCTYPE html><html lang='fr'><meta charset='utf-8'><body>{m}</body></html>"
    else:
        page = map_to_html(m).replace(
            "<head>", f"<head><title>{html.escape(diag.territory.name)} — réseau des "
            "coopérations</title>", 1)
    return write_text_atomic(Path(path), page)


__all__ = [
    "LINK_COLOURS", "NO_DATA_NOTE", "cooperation_evolution_figure", "cooperation_intro",
    "cooperation_map", "cooperation_summary", "has_partnerships", "isolated_actors_table",
    "network_links", "network_map", "network_slide", "sector_heatmap", "sector_matrix_figure",
    "write_network_map",
]
