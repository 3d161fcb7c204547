"""The gap analysis in the report: ranked French table, summaries, map, XLSX/CSV export.

Report-ready functions take a :class:`~ptsm_diag.diagnostic.Diagnostic` plus the optional
densities and accessibility tables (see :mod:`ptsm_diag.compute.gaps` for their columns)::

    analysis = gap_analysis(diag, densities=densities, accessibility=accessibility)
    show(gap_section_html(diag, analysis=analysis))
    show(zones_blanches_map(diag, accessibility))
    export_gaps_xlsx(analysis.gaps, "reports/insuffisances_35.xlsx", analysis.config)

Every text that comes from input files is escaped before it reaches HTML, and text cells
that a spreadsheet would read as a formula are neutralised in the exports.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, NamedStyle, PatternFill
from openpyxl.utils import get_column_letter

from ptsm_diag.catalog import load_resource_types, load_vocabularies
from ptsm_diag.compute.cooperation import INDICATORS as COOPERATION_INDICATORS
from ptsm_diag.compute.cooperation import (
    cooperation_indicators,
)
from ptsm_diag.compute.gaps import (
    ABSENT,
    DECLARED,
    INFERRED,
    LEVELS,
    NATURES,
    NO_DATA,
    SOURCE_LABELS,
    GapAnalysis,
    GapConfig,
    GapInputs,
    as_config,
    compute_gaps,
    prestation_basket,
    white_zone_communes,
)
from ptsm_diag.diagnostic import (
    Diagnostic,
    diagnostic_cooperation_tables,
    diagnostic_links,
    has_partnerships,
)
from ptsm_diag.io.exports import save_workbook, set_cell, write_csv
from ptsm_diag.report.display import collapsible, format_number, table_html
from ptsm_diag.viz.maps import RawHtml, base_map, safe_html
from ptsm_diag.viz.offline import SharedGeoJson

ACTION_COLUMN = "Action proposée"
SEVERITY_INDEX = "Indice de sévérité"
GAPS_EXPORT_PREFIX = "insuffisances"
# What the severity index is, for a reader (the formula is in the thresholds table).
SEVERITY_EXPLAINED = (
    "L'indice de sévérité combine l'ampleur de l'écart (0 à 1), le poids de la nature du "
    "constat et la population concernée (log10(1 + population)) ; il sert à classer les "
    "constats entre eux, pas à les mesurer. Niveaux : « élevée » à partir de {high}, "
    "« moyenne » à partir de {medium}, « faible » en dessous.")
NO_AXIS = "Hors axes ANAP"
SHEET_SUMMARY = "Synthèse"
SHEET_PARAMETERS = "Paramètres"
SHEET_NO_PRIORITY = "Sans priorité"

# Export headers (French), in order; the last column is left for the workshop.
EXPORT_HEADERS: dict[str, str] = {
    "rang": "Rang",
    "niveau_severite": "Niveau de sévérité",
    "severite": "Indice de sévérité",
    "nature": "Nature du constat",
    "sujet": "Sujet",
    "constat": "Constat",
    "valeur": "Valeur",
    "reference": "Référence",
    "reference_libelle": "Référence (libellé)",
    "unite": "Unité",
    "seuil": "Seuil",
    "ampleur": "Ampleur",
    "population_concernee": "Population concernée",
    "nombre_communes": "Nombre de communes",
    "communes_concernees": "Communes concernées",
    "priorite_ptsm": "Priorité PTSM",
    "axe_anap": "Axe ANAP",
    "theme_action": "Thème d'action suggéré",
    "points_r3224_3": "Points R3224-3",
    "donnees_a_recueillir": "Données à recueillir",
    "code_territoire": "Code territoire",
}

# Colours of the white-zone map (ColorBrewer Reds), by number of types out of reach.
WHITE_ZONE_COLOURS = ["#fcae91", "#fb6a4a", "#cb181d"]
WITHIN_REACH_COLOUR = "#f4f4f4"


# --------------------------------------------------------------------------- analysis


def gap_inputs(
    diag: Diagnostic,
    densities: pd.DataFrame | None = None,
    accessibility: pd.DataFrame | None = None,
    *,
    at: str | dt.date | pd.Timestamp | None = None,
) -> GapInputs:
    """The inputs of the gap analysis from a diagnostic and the optional tables.

    The cooperation indicators come from the ``partenariats`` table when the data folder
    has one (links active at ``at``: today by default, as in the « Coopérations »
    section); None otherwise.
    """
    territory = diag.territory
    by_age: dict[str, float] = {}
    if territory.population_by_age is not None:
        by_age = dict(zip(territory.population_by_age["tranche_age"].astype(str),
                          territory.population_by_age["population"].astype(float), strict=True))
    if territory.population_total is not None:
        by_age.setdefault("ensemble", float(territory.population_total))
    resources = None
    if diag.data.ressources is not None:
        resources = pd.DataFrame(diag.resources.drop(columns="geometry", errors="ignore"))
    cooperation = None
    if has_partnerships(diag):
        cooperation = cooperation_indicators(*diagnostic_cooperation_tables(diag), at,
                                             links=diagnostic_links(diag))
    return GapInputs(
        territory=territory.code,
        population_total=territory.population_total,
        population_by_age=by_age,
        rosace=diag.rosace if not diag.rosace.empty else None,
        indicator_values=diag.indicator_values if not diag.indicator_values.empty else None,
        resources=resources,
        densities=densities,
        accessibility=accessibility,
        actions=diag.data.actions,
        cooperation=cooperation,
        catalog=diag.catalog,
        reference=diag.reference,
    )


def gap_analysis(
    diag: Diagnostic,
    densities: pd.DataFrame | None = None,
    accessibility: pd.DataFrame | None = None,
    config: GapConfig | Mapping[str, Any] | str | Path | None = None,
) -> GapAnalysis:
    """Run the gap analysis of a diagnostic (see :func:`ptsm_diag.compute.gaps.compute_gaps`).

    Parameters
    ----------
    diag : Diagnostic
        From :func:`ptsm_diag.diagnostic.prepare_diagnostic`.
    densities, accessibility : DataFrame, optional
        Densities against a reference, access times by commune; analyses needing them
        are listed as not run when they are absent.
    config : GapConfig, dict of overrides, path or None
        Thresholds and weights (packaged ``gaps.yaml`` by default).
    """
    return compute_gaps(gap_inputs(diag, densities, accessibility), config)


def gap_table(
    diag: Diagnostic,
    densities: pd.DataFrame | None = None,
    accessibility: pd.DataFrame | None = None,
    config: GapConfig | Mapping[str, Any] | str | Path | None = None,
) -> pd.DataFrame:
    """Ranked gaps of a diagnostic, one row per gap (columns of :data:`gaps.GAP_COLUMNS`)."""
    return gap_analysis(diag, densities, accessibility, config).gaps


# --------------------------------------------------------------------------- tables


def _priority_label(value: Any) -> str:
    if value is None or pd.isna(value):
        return ""
    labels = load_vocabularies().priorities
    return f"{int(value)}. {labels.get(int(value), '')}"


def _axis_label(value: Any) -> str:
    if value is None or pd.isna(value):
        return NO_AXIS
    labels = load_vocabularies().rosace_axes
    return f"{int(value)}. {labels.get(int(value), '')}"


def _theme_label(value: Any) -> str:
    if value is None or pd.isna(value):
        return ""
    return load_vocabularies().action_themes.get(int(value), str(value))


def ranked_table(gaps: pd.DataFrame, limit: int | None = None) -> pd.DataFrame:
    """The ranked gaps as the report shows them (French columns, one sentence each)."""
    rows = gaps if limit is None else gaps.head(limit)
    return pd.DataFrame({
        "Rang": rows["rang"].astype("Int64").astype(str).to_numpy()
        if "rang" in rows else range(1, len(rows) + 1),
        "Sévérité": rows["niveau_severite"].to_numpy(),
        SEVERITY_INDEX: rows["severite"].round(1).to_numpy(),
        "Constat": rows["constat"].to_numpy(),
        "Nature": rows["nature"].map(NATURES).to_numpy(),
        "Priorité PTSM": rows["priorite_ptsm"].map(
            lambda v: "" if pd.isna(v) else f"P{int(v)}").to_numpy(),
        "Axe ANAP": rows["axe_anap"].map(lambda v: "—" if pd.isna(v) else f"Axe {int(v)}")
        .to_numpy(),
        "Thème d'action suggéré": rows["theme_action"].map(_theme_label).to_numpy(),
    })


def _level_counts(gaps: pd.DataFrame, key: pd.Series) -> pd.DataFrame:
    """Per value of ``key`` (missing values left out): the gaps of each severity level
    but « information », and their summed severity index (``score``)."""
    levels = [lvl for lvl in LEVELS if lvl != "information"]
    counts: dict[Any, dict[str, float]] = {}
    # a few dozen gaps: counted in one pass (pd.crosstab's result, at a tenth of its cost)
    for group, level, score in zip(key.loc[gaps.index].tolist(),
                                   gaps["niveau_severite"].tolist(),
                                   gaps["severite"].tolist(), strict=True):
        if level == "information" or group is None or pd.isna(group):
            continue
        row = counts.setdefault(group, dict.fromkeys([*levels, "score"], 0))
        row[level] += 1
        row["score"] += score
    return pd.DataFrame.from_dict(counts, orient="index", columns=[*levels, "score"])


def summary_by_priority(gaps: pd.DataFrame,
                        informed: Mapping[int, bool] | None = None) -> pd.DataFrame:
    """Number of gaps by PTSM priority and severity level, with the total severity index.

    ``informed`` (:attr:`GapAnalysis.informed_priorities`) adds a « Données » column: a
    priority no datum informs reads « aucune donnée : à documenter », not « no gap ».
    """
    priorities = list(load_vocabularies().priorities)
    key = gaps["priorite_ptsm"].astype("Int64")
    counts = _level_counts(gaps, key).reindex(priorities).fillna(0)
    info = gaps.loc[gaps["niveau_severite"] == "information"].groupby(
        key)["nature"].size().reindex(priorities).fillna(0)
    table = pd.DataFrame({
        "Priorité du PTSM": [_priority_label(p) for p in priorities],
        **_level_columns(counts),
        "Informations": info.astype(int).to_numpy(),
    })
    if informed:
        table.insert(1, "Données", ["documentée" if informed.get(p, False) else NO_DATA
                                    for p in priorities])
    return table


def summary_by_axis(gaps: pd.DataFrame) -> pd.DataFrame:
    """Number of gaps by ANAP axis (and outside the axes), with the total score."""
    axes: list[Any] = [*load_vocabularies().rosace_axes, -1]
    key = gaps["axe_anap"].astype("Int64").fillna(-1)
    counts = _level_counts(gaps, key).reindex(axes).fillna(0)
    return pd.DataFrame({
        "Axe ANAP": [_axis_label(None if a == -1 else a) for a in axes],
        **_level_columns(counts),
    })


def _level_columns(counts: pd.DataFrame) -> dict[str, Any]:
    """Total, count by severity level and cumulated score columns of a summary."""
    levels = ["élevée", "moyenne", "faible"]
    return {
        "Insuffisances": counts[levels].sum(axis=1).astype(int).to_numpy(),
        **{f"dont {level}": counts[level].astype(int).to_numpy() for level in levels},
        f"{SEVERITY_INDEX} cumulé": counts["score"].astype(float).round(1).to_numpy(),
    }


def _pct(value: float) -> str:
    return f"{format_number(float(value), 0 if float(value).is_integer() else 1)} %"


def thresholds_table(config: GapConfig | None = None) -> pd.DataFrame:
    """Every threshold and weight used, as a two-column French table (values as text)."""
    config = as_config(config)
    data = config.data
    seuils, poids = data["seuils"], data["poids"]
    access = seuils["accessibilite"]
    types = load_resource_types()
    speed = access["vitesse_km_h"]
    rows: list[tuple[str, str]] = [
        ("Formule de l'indice de sévérité", "poids de la nature × poids de significativité "
         "× ampleur × log10(1 + population concernée) ; densité et zone blanche d'un même "
         "type : le plus grand des deux indices"),
        ("Indicateurs : écart relatif minimal (si significatif)",
         _pct(100 * seuils["indicateur"]["ecart_relatif_min"])),
        ("Densités : écart minimal sous la référence", _pct(seuils["densite"]["ecart_min_pct"])),
        ("Densités : mesure comparée", "capacité (places, lits) si connue, sinon nombre"
         if seuils["densite"]["mesure"] == "capacite" else "nombre de structures"),
        ("Temps d'accès maximal (par défaut)", f"{format_number(access['temps_max_min'])} min"),
        *((f"Temps d'accès maximal : {types[c].label if c in types else c}",
           f"{format_number(v)} min") for c, v in access["temps_max_par_type"].items()),
        ("Vitesse pour estimer un temps depuis la distance",
         "aucune (communes sans temps ignorées)" if speed is None
         else f"{format_number(speed)} km/h"),
        ("Population minimale d'une zone blanche", format_number(access["population_min"])),
        ("Ampleur minimale d'une zone blanche", format_number(access["ampleur_min"], 2)),
        ("Ampleur d'une prestation absente",
         format_number(seuils["prestation"]["ampleur"], 2)),
        ("Ampleur d'une lacune de connaissance",
         format_number(seuils["connaissance"]["ampleur"], 2)),
        ("Ampleur d'une priorité sans action",
         format_number(seuils["feuille_de_route"]["ampleur"], 2)),
        ("Statuts d'action qui ne couvrent pas une priorité",
         ", ".join(seuils["feuille_de_route"]["statuts_exclus"]) or "aucun"),
        *((f"Coopération : part minimale — {COOPERATION_INDICATORS.get(code, code)} (repère "
           "local : un choix du territoire, sans norme nationale, à fixer dans gaps.yaml)",
           _pct(v)) for code, v in seuils["cooperation"]["part_min_pct"].items()),
        *((f"Poids : {NATURES[n]}", format_number(w, 2)) for n, w in poids["nature"].items()),
        ("Poids : écart établi par un intervalle de confiance",
         format_number(poids["significativite"]["intervalle"], 2)),
        ("Poids : écart établi par une tolérance relative",
         format_number(poids["significativite"]["tolerance"], 2)),
        ("Poids : constat direct", format_number(poids["significativite"]["constat"], 2)),
        ("Sévérité « élevée » : indice à partir de",
         format_number(data["niveaux"]["elevee"], 1)),
        ("Sévérité « moyenne » : indice à partir de",
         format_number(data["niveaux"]["moyenne"], 1)),
        ("Fichier de paramètres", config.source),
    ]
    return pd.DataFrame(rows, columns=["Paramètre", "Valeur"])


# --------------------------------------------------------------------------- HTML


def _counts_sentence(gaps: pd.DataFrame) -> str:
    counted = gaps[gaps["niveau_severite"] != "information"]
    if counted.empty:
        return "Les données analysées ne font apparaître aucune insuffisance."
    by_level = counted["niveau_severite"].value_counts()
    parts = [f"{format_number(int(by_level[lvl]))} de sévérité {lvl}"
             for lvl in ("élevée", "moyenne", "faible") if lvl in by_level]
    n = len(counted)
    noun = "insuffisance relevée" if n == 1 else "insuffisances relevées"
    return f"{format_number(n)} {noun} : {', '.join(parts)}."


def gap_section_html(
    diag: Diagnostic,
    densities: pd.DataFrame | None = None,
    accessibility: pd.DataFrame | None = None,
    config: GapConfig | Mapping[str, Any] | str | Path | None = None,
    *,
    analysis: GapAnalysis | None = None,
    limit: int | None = None,
) -> str:
    """The report section of the gap analysis, as escaped HTML.

    An introduction, the count by severity, what the severity index means, the analyses
    that could not be run and why, the ranked table (every gap: the first ``limit`` shown,
    the others folded), the summaries by PTSM priority (with « aucune donnée : à
    documenter » for a priority no datum informs) and by ANAP axis, and the thresholds
    and weights used (folded).
    """
    if analysis is None:
        analysis = gap_analysis(diag, densities, accessibility, config)
    gaps = analysis.gaps
    levels = analysis.config.data["niveaux"]
    parts = [
        '<section class="ptsm-insuffisances">',
        "<p>Le diagnostic doit « identifier les insuffisances dans l'offre de prévention et "
        "de services sanitaires, sociaux et médico-sociaux et dans l'accessibilité, la "
        "coordination et la continuité de ces services » (CSP, art. R3224-3). Les constats "
        "ci-dessous sont tirés des données ; ce sont des repères à discuter, pas des normes. "
        "La colonne « action proposée » de l'export est à remplir en atelier.</p>",
        f"<p><strong>{html.escape(_counts_sentence(gaps))}</strong></p>",
        "<p>" + html.escape(SEVERITY_EXPLAINED.format(
            high=format_number(levels["elevee"], 1),
            medium=format_number(levels["moyenne"], 1))) + "</p>",
    ]
    if analysis.skipped:
        items = "".join(
            f"<li>{html.escape(SOURCE_LABELS.get(name, name))} : {html.escape(reason)}.</li>"
            for name, reason in analysis.skipped.items())
        parts.append(f'<div class="ptsm-note"><p>Analyses non réalisées :</p><ul>{items}</ul>'
                     "</div>")
    if not gaps.empty:
        table = ranked_table(gaps)
        shown = table if limit is None else table.head(limit)
        parts += ["<h3>Insuffisances classées par sévérité</h3>", table_html(shown)]
        if len(table) > len(shown):
            rest = len(table) - len(shown)
            parts.append(collapsible(
                f"Les {format_number(rest)} autres constats (rangs {len(shown) + 1} à "
                f"{len(table)}, cliquer pour déplier)", table_html(table.iloc[len(shown):])))
        parts.append("<p>" + html.escape(
            f"Tous les constats, avec leurs valeurs et une colonne « {ACTION_COLUMN} » à "
            f"remplir en atelier, sont dans le classeur {gaps_export_name(diag.territory.code)} "
            "écrit à côté du rapport par « ptsm-diag lot » (ou par export_gaps_xlsx).")
            + "</p>")
    unknown = [p for p, ok in analysis.informed_priorities.items() if not ok]
    if unknown:
        listed = ", ".join(str(p) for p in unknown)
        parts.append('<p class="ptsm-note">' + html.escape(
            f"Priorité(s) {listed} : {NO_DATA}. Aucune donnée du territoire ne les éclaire ; "
            "ce manque de connaissance est en soi un constat (CSP, art. R3224-3).") + "</p>")
    parts += [
        "<h3>Synthèse par priorité du PTSM</h3>",
        table_html(summary_by_priority(gaps, analysis.informed_priorities)),
        "<h3>Synthèse par axe ANAP</h3>", table_html(summary_by_axis(gaps)),
        collapsible("Seuils et poids utilisés", table_html(thresholds_table(analysis.config))),
        "</section>",
    ]
    return "".join(parts)


# --------------------------------------------------------------------------- map


def gaps_export_name(territory: str) -> str:
    """File name of a territory's gaps workbook: ``insuffisances_<code>.xlsx``."""
    from ptsm_diag.report.execute import safe_file_stem  # papermill: only when needed

    return f"{GAPS_EXPORT_PREFIX}_{safe_file_stem(str(territory))}.xlsx"


# --------------------------------------------------------------------------- panier

BASKET_NOTE = (
    "« Déclarée » : au moins une ressource du territoire déclare la prestation (colonne "
    "prestations de la table ressources). « Déduite du type » : aucune ressource ne la "
    "déclare, mais des ressources qui ne déclarent aucune prestation sont d'un type qui "
    "l'offre habituellement ; c'est une présomption, à vérifier auprès d'elles. "
    "« Absente » : aucune ressource ne la déclare ni ne peut l'offrir d'après son type.")


def basket_table(diag: Diagnostic,
                 config: GapConfig | Mapping[str, Any] | str | Path | None = None
                 ) -> pd.DataFrame:
    """The panier de prestations of the territory as the report shows it (French)."""
    resources = None
    if diag.data.ressources is not None:
        resources = pd.DataFrame(diag.resources.drop(columns="geometry", errors="ignore"))
    basket = prestation_basket(resources, config=as_config(config))
    return pd.DataFrame({
        "Prestation": basket["libelle"],
        "Priorité PTSM": basket["priorite_ptsm"].map(
            lambda v: "" if v is None or pd.isna(v) else f"P{int(v)}"),
        "Statut": basket["statut"],
        "Ressources qui la déclarent": basket["ressources_declarant"],
        "Types qui la déclarent": basket["types_declarant"],
        "Ressources sans déclaration dont le type l'offre": basket["ressources_deduites"],
        "Types usuels": basket["types_qui_l_offrent"],
    })


def basket_section_html(diag: Diagnostic,
                        config: GapConfig | Mapping[str, Any] | str | Path | None = None
                        ) -> str:
    """The panier de prestations section (escaped HTML): one row per prestation, with
    whether it is declared by resources, only inferred from their type, or absent."""
    table = basket_table(diag, config)
    counts = table["Statut"].value_counts()
    n = len(table)
    summary = (f"Sur {n} prestations du panier : {counts.get(DECLARED, 0)} "
               f"déclarées par des ressources du territoire, {counts.get(INFERRED, 0)} seulement "
               f"déduites du type de ressources qui ne déclarent rien, {counts.get(ABSENT, 0)} "
               "absentes.")
    return (f'<section class="ptsm-panier"><p><strong>{html.escape(summary)}</strong></p>'
            f'<p class="ptsm-note">{html.escape(BASKET_NOTE)}</p>{table_html(table)}</section>')


def white_zone_by_commune(
    accessibility: pd.DataFrame,
    config: GapConfig | Mapping[str, Any] | str | Path | None = None,
) -> pd.DataFrame:
    """One row per commune beyond at least one threshold: ``code_commune, population,
    nombre_types, detail`` (French text listing the types, times and thresholds)."""
    config = as_config(config)
    far = white_zone_communes(accessibility, config)
    types = load_resource_types()
    far = far.assign(_label=[
        f"{types[t].label if t in types else t} : {format_number(tm)} min "
        f"(seuil {format_number(s)} min)"
        for t, tm, s in zip(far["type_ressource"], far["temps"], far["seuil"], strict=True)])
    grouped = far.groupby(far["code_commune"].astype(str))
    return pd.DataFrame({
        "population": grouped["population"].max(),
        "nombre_types": grouped["type_ressource"].nunique(),
        "detail": grouped["_label"].agg(" ; ".join),
    }).reset_index()


def zones_blanches_map(
    diag: Diagnostic,
    accessibility: pd.DataFrame,
    config: GapConfig | Mapping[str, Any] | str | Path | None = None,
    *,
    type_ressource: str | None = None,
    fond: str | None = None,
) -> folium.Map:
    """Communes beyond the maximal access time of one or more resource types (offline).

    Parameters
    ----------
    diag : Diagnostic
        Gives the territory's communes (background and geometry).
    accessibility : DataFrame
        Access times by commune and resource type.
    type_ressource : str, optional
        Only this resource type; every type by default.
    fond : {None, "osm"}
        Background tiles; None works offline.
    """
    access = accessibility
    if type_ressource is not None:
        access = access[access["type_ressource"].astype(str) == type_ressource]
    white = white_zone_by_commune(access, config)
    communes = gpd.GeoDataFrame(diag.territory.communes[["code_commune", "nom", "geometry"]])
    data = communes.merge(white, on="code_commune", how="left")
    data["nombre_types"] = data["nombre_types"].fillna(0).astype(int)
    data["couleur"] = [WITHIN_REACH_COLOUR if n == 0 else
                       WHITE_ZONE_COLOURS[min(n, len(WHITE_ZONE_COLOURS)) - 1]
                       for n in data["nombre_types"]]
    data["nom"] = data["nom"].map(safe_html)
    data["detail"] = data["detail"].map(lambda v: safe_html(v) if isinstance(v, str)
                                        else "dans les seuils")
    m = base_map(tuple(data.total_bounds), fond)
    SharedGeoJson(
        data[["code_commune", "nom", "detail", "couleur", "geometry"]],
        name="Zones blanches",
        style_function=lambda f: {"fillColor": f["properties"]["couleur"],
                                  "color": "#777777", "weight": 0.5, "fillOpacity": 0.8},
        highlight_function=lambda f: {"weight": 2, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(fields=["nom", "code_commune", "detail"],
                                      aliases=["Commune", "Code INSEE", "Trop éloignée de"]),
    ).add_to(m)
    m.get_root().html.add_child(_white_zone_legend(type_ressource))
    return m


def _white_zone_legend(type_ressource: str | None) -> RawHtml:
    types = load_resource_types()
    title = ("Communes au-delà du temps d'accès maximal" if type_ressource is None else
             f"Au-delà du temps maximal : {types[type_ressource].label}"
             if type_ressource in types else f"Au-delà du temps maximal : {type_ressource}")
    entries = [(WITHIN_REACH_COLOUR, "dans les seuils")]
    if type_ressource is None:
        entries += [(WHITE_ZONE_COLOURS[0], "1 type de ressource"),
                    (WHITE_ZONE_COLOURS[1], "2 types"), (WHITE_ZONE_COLOURS[2], "3 types ou plus")]
    else:
        entries.append((WHITE_ZONE_COLOURS[0], "au-delà du seuil"))
    rows = "".join(
        f'<div><span style="background:{colour};width:18px;height:12px;display:inline-block;'
        f'border:1px solid #777;margin-right:6px"></span>{safe_html(label)}</div>'
        for colour, label in entries)
    return RawHtml(
        '<div style="position:absolute;bottom:28px;right:10px;z-index:1000;background:white;'
        'padding:8px 10px;border:1px solid #999;border-radius:4px;font:13px sans-serif">'
        f"<b>{safe_html(title)}</b>{rows}</div>")


# --------------------------------------------------------------------------- export


def export_table(gaps: pd.DataFrame) -> pd.DataFrame:
    """Gaps with French headers, readable labels and an empty « Action proposée » column."""
    table = gaps.reindex(columns=list(EXPORT_HEADERS)).copy()
    table["nature"] = table["nature"].map(NATURES).fillna(table["nature"])
    table["priorite_ptsm"] = table["priorite_ptsm"].map(_priority_label)
    table["axe_anap"] = table["axe_anap"].map(_axis_label)
    table["theme_action"] = table["theme_action"].map(_theme_label)
    table["severite"] = table["severite"].round(3)
    table["ampleur"] = table["ampleur"].round(3)
    table = table.rename(columns=EXPORT_HEADERS)
    table[ACTION_COLUMN] = ""
    return table


def export_gaps_csv(gaps: pd.DataFrame, path: str | Path) -> Path:
    """Write the gaps as CSV for a French spreadsheet (``;``, decimal comma, UTF-8 BOM).

    Written atomically; text that would be read as a formula is neutralised
    (:func:`ptsm_diag.io.exports.write_csv`).
    """
    return write_csv(export_table(gaps), path)


_STYLE_TITLE, _STYLE_HEADER = "PTSM titre", "PTSM en-tête"
_STYLE_TEXT, _STYLE_LONG_TEXT = "PTSM texte", "PTSM texte long"


def _add_styles(workbook: Workbook) -> None:
    """Register the workbook's four cell styles once, as named styles.

    A cell then takes a style by name (one copy of its style ids) instead of building and
    hashing a font, a fill and an alignment per cell: the same workbook, written faster.
    """
    top = {"vertical": "top"}
    for name, font, fill, alignment in (
            (_STYLE_TITLE, Font(bold=True, size=12), None, None),
            (_STYLE_HEADER, Font(bold=True), PatternFill("solid", fgColor="DDE7F0"),
             Alignment(wrap_text=True, **top)),
            (_STYLE_TEXT, None, None, Alignment(wrap_text=False, **top)),
            (_STYLE_LONG_TEXT, None, None, Alignment(wrap_text=True, **top))):
        style = NamedStyle(name=name)
        if font is not None:
            style.font = font
        if fill is not None:
            style.fill = fill
        if alignment is not None:
            style.alignment = alignment
        workbook.add_named_style(style)


def _write_sheet(sheet: Any, frame: pd.DataFrame, start_row: int = 1,
                 title: str | None = None) -> int:
    """Write ``frame`` (header + rows) from ``start_row``; returns the next free row.

    The workbook has the styles of :func:`_add_styles`.
    """
    row = start_row
    if title:
        set_cell(sheet, row, 1, title).style = _STYLE_TITLE
        row += 1
    for col, name in enumerate(frame.columns, start=1):
        set_cell(sheet, row, col, str(name)).style = _STYLE_HEADER
    for values in frame.itertuples(index=False):
        row += 1
        for col, value in enumerate(values, start=1):
            cell = set_cell(sheet, row, col, value)  # text is never a formula
            if isinstance(cell.value, str):
                cell.style = _STYLE_LONG_TEXT if len(cell.value) > 40 else _STYLE_TEXT
    return row + 2


def _fit_columns(sheet: Any, frame: pd.DataFrame, wide: Mapping[str, int]) -> None:
    for col, name in enumerate(frame.columns, start=1):
        width = wide.get(str(name), max(12, min(30, len(str(name)) + 2)))
        sheet.column_dimensions[get_column_letter(col)].width = width


_WIDE = {"Constat": 70, "Sujet": 40, "Données à recueillir": 50, "Communes concernées": 30,
         "Priorité PTSM": 35, "Axe ANAP": 30, "Thème d'action suggéré": 30, ACTION_COLUMN: 50,
         "Priorité du PTSM": 60, "Paramètre": 60, "Valeur": 40}


def export_gaps_xlsx(
    gaps: pd.DataFrame, path: str | Path, config: GapConfig | None = None
) -> Path:
    """Write an XLSX workbook: a summary sheet, one sheet per PTSM priority, parameters.

    Sheets: « Synthèse » (by priority and by ANAP axis), « Priorité 1 » to « Priorité 6 »
    (every gap of the priority, ranked, with an empty « Action proposée » column),
    « Sans priorité » when some gaps have none, and « Paramètres » (thresholds and
    weights). Written to a temporary file then renamed: never a half-written file; text
    that a spreadsheet would run as a formula is neutralised.
    """
    path = Path(path)
    workbook = Workbook()
    _add_styles(workbook)
    summary = workbook.active
    summary.title = SHEET_SUMMARY
    by_priority = summary_by_priority(gaps)
    next_row = _write_sheet(summary, by_priority, 1, "Insuffisances par priorité du PTSM")
    _write_sheet(summary, summary_by_axis(gaps), next_row, "Insuffisances par axe ANAP")
    _fit_columns(summary, by_priority, _WIDE)
    table = export_table(gaps)
    priority = gaps["priorite_ptsm"].astype("Int64")
    sheets = [(f"Priorité {p}", (priority == p).fillna(False).to_numpy())
              for p in load_vocabularies().priorities]
    if priority.isna().any():
        sheets.append((SHEET_NO_PRIORITY, priority.isna().to_numpy()))
    for name, mask in sheets:
        sheet = workbook.create_sheet(name)
        _write_sheet(sheet, table[mask])
        _fit_columns(sheet, table, _WIDE)
        sheet.freeze_panes = "A2"
    parameters = workbook.create_sheet(SHEET_PARAMETERS)
    params = thresholds_table(config)
    _write_sheet(parameters, params)
    _fit_columns(parameters, params, _WIDE)

    return save_workbook(workbook, path)
