"""The pieces of the diagnostic report, built from a :class:`Diagnostic`.

Each function returns a table, a figure, a map or escaped HTML; the notebook only
calls them and shows the result. Input text is escaped here, before it reaches HTML.
"""

from __future__ import annotations

import html
import re
from importlib import resources
from pathlib import Path

import folium
import pandas as pd
import plotly.graph_objects as go

from ptsm_diag import __version__
from ptsm_diag.catalog import load_resource_types
from ptsm_diag.catalog.geography import load_regions
from ptsm_diag.catalog.vocabularies import parse_yaml
from ptsm_diag.compute.gaps import MERGED_NATURE, GapAnalysis
from ptsm_diag.compute.indicators import rosace_table as rosace_table_of
from ptsm_diag.compute.opendata_indicators import ORIGIN_OPEN, ORIGIN_USER, value_origin
from ptsm_diag.compute.resources import summarise_by_type
from ptsm_diag.diagnostic import (
    POPULATION_WORDS,
    Diagnostic,
    accessibility_summary,
    context_table,
    data_sources,
    densities_table,
    national_sources,
)
from ptsm_diag.report.display import collapsible, format_number, table_html, to_html
from ptsm_diag.report.gaps import (
    basket_section_html,
    export_gaps_xlsx,
    gap_section_html,
    zones_blanches_map,
)
from ptsm_diag.report.gaps import gap_analysis as run_gap_analysis
from ptsm_diag.viz.maps import commune_choropleth, resources_map
from ptsm_diag.viz.rosace import index_evolution_figure, rosace_accessible_table, rosace_figure

DEMO_BANNER = (
    '<div class="ptsm-demo" role="note">Données fictives de démonstration — '
    "les ressources, indicateurs et actions de ce rapport sont inventés ; seules la "
    "géographie et les populations communales sont réelles.</div>"
)


def _region_names(codes: tuple[str, ...]) -> str:
    regions = load_regions().set_index("code_region")["nom"]
    return ", ".join(str(regions.get(code, code)) for code in codes)


def title_page(diag: Diagnostic) -> str:
    """Title block: territory, région, date, parameters, data vintage (escaped HTML)."""
    t = diag.territory
    params = {
        "Territoire": f"{t.name} ({t.code})",
        "Région": _region_names(t.region_codes),
        "Référence de la rosace": diag.reference_label,
        "Année des indicateurs": diag.year if diag.year is not None else "n.d.",
        "Données": "démonstration (fictives)" if diag.is_demo else diag.data_folder.name,
        # the one date of the report: cooperation and roadmap are shown at this date
        "Date du diagnostic": diag.generated_at.strftime("%d/%m/%Y"),
        "Outil": f"ptsm-diag {__version__}",
    }
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in params.items()
    )
    banner = DEMO_BANNER if diag.is_demo else ""
    return (
        '<header class="ptsm-page-titre">'
        f"<h1>Diagnostic territorial partagé en santé mentale — {html.escape(t.name)}</h1>"
        '<p class="sous-titre">Projet territorial de santé mentale (PTSM) : état des '
        "ressources, indicateurs de parcours, premiers constats.</p></header>"
        f"{banner}"
        f'<table class="ptsm-table"><caption>Paramètres du rapport</caption>{rows}</table>'
    )


def identity_card(diag: Diagnostic) -> pd.DataFrame:
    """Key figures of the territory (French labels)."""
    t = diag.territory
    rows = [
        ("Départements", ", ".join(t.departement_codes)),
        ("Région(s)", _region_names(t.region_codes)),
        ("Nombre de communes", format_number(len(t.communes))),
        (t.population_label, format_number(t.population_total)),
        ("Superficie (km²)", format_number(t.area_km2)),
        ("Densité (hab./km²)", format_number(t.density, 1)),
        ("Ressources recensées", format_number(len(diag.resources))),
    ]
    return pd.DataFrame(rows, columns=["Caractéristique", "Valeur"])


CONTEXT_MISSING = "non disponible"
CONTEXT_SECRET = "secret statistique"
_CONTEXT_LEVEL_WORDS = {"territoire": "Territoire", "departement": "Département",
                        "region": "Région", "france": "France"}


def context_card(diag: Diagnostic, secrecy_threshold: int | None = 10) -> pd.DataFrame:
    """The identity card with context: age structure, poverty, unemployment, AAH
    recipients, population in QPV and one-person households of the territory against its
    département, région and France, with the year and source of each line.

    Values are shares in % recomputed from numerators and denominators (never averaged);
    a level without data reads « non disponible », a small count « secret statistique »,
    and the « Remarque » column says why. The table is plain text: the report's table
    renderer escapes it.
    """
    long = context_table(diag, secrecy_threshold=secrecy_threshold)
    departements = load_departements_names()
    dep = long.loc[long["niveau"] == "departement", "code"].iloc[0]
    region = long.loc[long["niveau"] == "region", "code"].iloc[0]
    headers = {
        "territoire": f"Territoire ({diag.territory.name})",
        "departement": f"Département ({departements.get(dep, dep)})",
        "region": f"Région ({_region_names((region,))})",
        "france": "France",
    }
    rows = []
    for _indicator, group in long.groupby("indicateur", sort=False):
        first = group.iloc[0]
        row = {"Thème": first["groupe"], "Indicateur": first["libelle"]}
        notes = []
        for item in group.itertuples(index=False):
            if item.disponible:
                row[headers[item.niveau]] = format_number(item.valeur, 1) + " %"
            else:
                row[headers[item.niveau]] = CONTEXT_SECRET if item.masque else CONTEXT_MISSING
                if item.raison and item.raison != "absent de la table contexte":
                    notes.append(f"{_CONTEXT_LEVEL_WORDS[item.niveau]} : {item.raison}")
        row["Année"] = "" if pd.isna(first["annee"]) else str(int(first["annee"]))
        sources = [s for s in dict.fromkeys(group["source"]) if s]
        row["Source"] = " ; ".join(sources) if sources else ("" if pd.isna(first["annee"])
                                                             else "non précisée")
        if not notes and not group["disponible"].any():
            notes.append("aucune ligne pour cet indicateur dans contexte.csv")
        row["Remarque"] = " ; ".join(notes)
        rows.append(row)
    card = pd.DataFrame(rows, columns=["Thème", "Indicateur", *headers.values(), "Année",
                                       "Source", "Remarque"])
    return card if card["Remarque"].astype(bool).any() else card.drop(columns="Remarque")


def load_departements_names() -> dict[str, str]:
    """Département code → name (bundled geography)."""
    from ptsm_diag.catalog.geography import cached_layer

    frame = cached_layer("departements")
    return dict(zip(frame["code_departement"].astype(str), frame["nom"].astype(str),
                    strict=True))


def context_card_note(diag: Diagnostic) -> str:
    """A French note under the card: where the figures come from, or how to add them."""
    table = getattr(diag.data, "contexte", None)
    if table is None or table.empty:
        return note("Aucune table contexte dans le dossier de données : les indicateurs de "
                    "contexte sont « non disponible ». Ajoutez un fichier contexte.csv "
                    "(voir data_templates/README.md).")
    text = ("Parts en % recalculées à chaque niveau en additionnant numérateurs et "
            "dénominateurs des communes et départements (jamais en moyennant des taux) ; "
            "« non disponible » quand la table ne couvre pas tout le niveau.")
    if diag.is_demo:
        text = "Valeurs fictives de démonstration. " + text
    return note(text)


def commune_density_map(diag: Diagnostic, fond: str | None = None) -> folium.Map:
    """Choropleth of the population density of the territory's communes."""
    communes = diag.territory.communes.copy()
    area = communes.to_crs("EPSG:6933").area / 1e6
    communes["densite"] = pd.to_numeric(communes["population"], errors="coerce") / area
    return commune_choropleth(communes, "densite", "Densité (hab./km²)", fond=fond,
                              decimals=0)


def population_by_age(diag: Diagnostic) -> pd.DataFrame | str:
    """Population by age band with shares, or a French note when no age data was given."""
    table = diag.territory.population_by_age
    if table is None or len(table) == 0:
        return note("La table population ne donne pas de répartition par âge pour ce territoire.")
    frame = table.reset_index() if "tranche_age" not in table else table.copy()
    frame.columns = ["Tranche d'âge", "Population"]
    total = frame["Population"].sum()
    frame["Part (%)"] = (frame["Population"] / total * 100).round(1)
    return frame


def resources_by_type(diag: Diagnostic) -> pd.DataFrame:
    """Resources of the territory by type: count, capacity, rate per 100,000 inhabitants
    (of the whole population, which the column says: :func:`densities` uses each public's
    age band)."""
    summary = summarise_by_type(diag.resources, diag.territory.population_total)
    summary = summary[["libelle", "champ", "nombre", "lits", "places", "pour_100000_hab"]]
    per = "Pour 100 000 hab. (population totale)"
    summary.columns = ["Type de ressource", "Champ", "Nombre", "Lits", "Places", per]
    summary[per] = summary[per].round(2)
    return summary


def resources_list(diag: Diagnostic) -> str:
    """The resources of the territory, one row each, folded (public data of structures)."""
    communes = diag.territory.communes.set_index("code_commune")["nom"]
    labels = {code: t.label for code, t in load_resource_types().items()}
    resources = diag.resources
    frame = pd.DataFrame({
        "Nom": resources["nom"],
        "Type": resources["type_ressource"].map(labels).fillna(resources["type_ressource"]),
        "Commune": resources["code_commune"].map(communes),
        "FINESS": resources.get("finess", ""),
    })
    frame = frame.sort_values(["Type", "Commune", "Nom"]).reset_index(drop=True)
    return collapsible(f"Liste des {len(frame)} ressources (cliquer pour déplier)", frame)


def resource_map(diag: Diagnostic, fond: str | None = None) -> folium.Map:
    """Map of the resources by champ over the communes of the territory."""
    return resources_map(diag.resources, diag.territory.communes, fond=fond)


NO_INDICATORS = ("Aucun indicateur n'est renseigné pour ce territoire (table indicateurs "
                 "absente ou vide) : la rosace ne peut pas être tracée. Le dictionnaire des "
                 "données (data_templates/README.md) dit quelles valeurs fournir.")


def rosace(diag: Diagnostic, projection: bool = False) -> go.Figure | str:
    """The rosace figure of the territory against the chosen reference."""
    if diag.rosace.empty:
        return note(NO_INDICATORS)
    title = f"{diag.territory.name} — référence : {diag.reference_label}"
    return rosace_figure(diag.rosace, title=title, projection=projection)


def rosace_table(diag: Diagnostic) -> pd.DataFrame | str:
    """The same data as the rosace, as a compact accessible table (one line per petal).

    The full table (every column, including sources and rank counts) is
    :func:`ptsm_diag.viz.rosace.rosace_accessible_table`.
    """
    if diag.rosace.empty:
        return ""
    full = rosace_accessible_table(diag.rosace)
    reference = next(c for c in full.columns if c.startswith("Référence"))

    def number(value: float) -> str:
        decimals = 0 if pd.isna(value) or abs(value) >= 100 else 1 if abs(value) >= 10 else 2
        return format_number(value, decimals)

    interval = [f"[{number(lo)} ; {number(hi)}]" if pd.notna(lo) and pd.notna(hi) else ""
                for lo, hi in zip(full["IC 95 % (borne basse)"], full["IC 95 % (borne haute)"],
                                  strict=True)]
    value = [f"{number(v)} {u}" if pd.notna(v) else st
             for v, u, st in zip(full["Valeur"], full["Unité"], full["Statut"], strict=True)]
    return pd.DataFrame({
        "Axe": full["Axe"].str.split(" – ").str[0],
        "Indicateur": [f"{label} — {population}" if population else label
                       for label, population in zip(
                           full["Indicateur"], _populations(diag), strict=True)],
        "Année": full["Année"],
        "Valeur": value,
        "IC 95 %": interval,
        reference: [number(v) for v in full[reference]],
        "Indice": full["Indice (100 = référence)"],
        "Appréciation": full["Appréciation"],
        "Rang": [f"{int(r)} / {int(n)}" if pd.notna(r) and pd.notna(n) else ""
                 for r, n in zip(full["Rang (1 = plus favorable)"], full["Territoires classés"],
                                 strict=True)],
        "Origine de la valeur": [
            "" if status != "disponible" else
            f"{value_origin(source)} — {source}" if value_origin(source) == ORIGIN_OPEN
            else f"{ORIGIN_USER} ({source})" if isinstance(source, str) and source
            else ORIGIN_USER
            for status, source in zip(full["Statut"], full["Source"], strict=True)],
    })


def _populations(diag: Diagnostic) -> list[str]:
    """The population each rosace indicator is counted against, in words (« population
    totale », « adultes (18 ans et plus) »...), empty when the catalogue gives none."""
    words = []
    for code in diag.rosace["indicateur"]:
        indicator = diag.catalog.get(code)
        band = getattr(indicator, "population", None)
        words.append("" if not band else POPULATION_WORDS.get(band, f"population {band} ans"))
    return words


MISSING_REASONS = {  # (statut, masking) → why the petal is grey
    ("masqué", "primaire"): "effectif compris entre 1 et le seuil du secret statistique",
    ("masqué", "secondaire"): "masqué pour qu'un autre effectif masqué ne puisse pas être "
                              "retrouvé par différence (secret secondaire)",
    ("manquant", None): "aucune valeur pour ce territoire dans indicateurs.csv",
}


def rosace_not_shown(diag: Diagnostic) -> pd.DataFrame | str:
    """The rosace indicators masked or missing for the territory, and why; then what the
    open data gave (:func:`rosace_open_data`)."""
    opendata = rosace_open_data(diag)
    if diag.rosace.empty:
        return opendata
    grey = diag.rosace[diag.rosace["statut"] != "ok"]
    if grey.empty:
        return note("Tous les indicateurs de la rosace sont renseignés pour ce territoire.") \
            + opendata
    reasons = [MISSING_REASONS.get((row.statut, row.masking if isinstance(row.masking, str)
                                    else None), str(row.statut))
               for row in grey.itertuples()]
    notes = getattr(diag, "opendata", None)
    if notes is not None and not notes.empty and "indicateur" in grey:
        why = notes[~notes["calcule"].astype(bool)].set_index("indicateur")["raison"]
        reasons = [f"{reason} ; non calculé à partir des données ouvertes : {why[ind]}"
                   if ind in why.index and status == "manquant" else reason
                   for reason, ind, status in zip(reasons, grey["indicateur"], grey["statut"],
                                                  strict=True)]
    table = pd.DataFrame({"Indicateur": grey["label"].to_numpy(),
                          "Statut": grey["statut"].to_numpy(),
                          "Pourquoi": reasons})
    return table_html(table) + opendata if opendata else table


def rosace_open_data(diag: Diagnostic) -> str:
    """The rosace indicators ptsm-diag computes from open data (FINESS, INSEE): value,
    France reference, source, and whether the rosace uses them or the user's value (HTML,
    escaped)."""
    notes = getattr(diag, "opendata", None)
    if notes is None or notes.empty:
        return ""

    def state(row) -> str:
        if row.utilise:
            return "oui : valeur de la rosace"
        return "non" if not row.calcule else "non : valeur de indicateurs.csv utilisée"

    table = pd.DataFrame({
        "Indicateur": notes["libelle"].to_numpy(),
        "Calculé depuis les données ouvertes": [state(r) for r in notes.itertuples()],
        "Valeur du territoire": [format_number(v, 2) if pd.notna(v) else ""
                                 for v in notes["valeur"]],
        "Référence France": [format_number(v, 2) if pd.notna(v) else ""
                             for v in notes["reference_france"]],
        "Source": notes["source"].fillna("").to_numpy(),
        "Remarque": notes["raison"].fillna("").to_numpy(),
    })
    return (note("Indicateurs de la rosace calculés par ptsm-diag à partir des données "
                 "ouvertes (FINESS, équipements, populations INSEE) ; une valeur donnée dans "
                 "indicateurs.csv l'emporte toujours.") + table_html(table))


def rosace_evolution(diag: Diagnostic) -> go.Figure | str:
    """The index of each rosace indicator in the first and last years of data (dumbbell
    chart: one line per indicator, readable at any width and in print)."""
    values = diag.indicator_values
    if values.empty or values["annee"].dropna().nunique() < 2:
        return note("Une seule année d'indicateurs : pas encore d'évolution à montrer.")
    years = sorted(int(y) for y in values["annee"].dropna().unique())
    first, last = years[0], years[-1]
    code = diag.territory.code
    tables = [rosace_table_of(values, code, year=y, reference=diag.reference,
                              catalog=diag.catalog) for y in (first, last)]
    return index_evolution_figure(
        *tables, [str(first), str(last)],
        title=f"Évolution des indices, {first} → {last} (référence : {diag.reference_label})")


def sources(diag: Diagnostic) -> pd.DataFrame:
    """The sources and vintages of the data shown."""
    return data_sources(diag)


def densities(diag: Diagnostic) -> pd.DataFrame | str:
    """Resources per 100,000 inhabitants of the relevant age band, against the reference.

    A compact table for the page (the full one is :func:`ptsm_diag.diagnostic.densities_table`),
    followed by the remarks on the populations used, when any.
    """
    table = densities_table(diag, densities=diag.densities)
    ref = "Réf. région" if diag.reference == "region" else "Réf. France"
    not_applicable = table["Capacité sans objet"].to_numpy(dtype=bool)
    none = (pd.to_numeric(table["Nombre"], errors="coerce") == 0).to_numpy()

    def count(values: pd.Series) -> list[str]:
        """Lits or places: « sans objet » when the type has neither, 0 without resource."""
        other = table["Lits et places"].notna().to_numpy()
        return [_CELL_SANS_OBJET if na or (pd.isna(v) and known) else
                "0" if pd.isna(v) and zero else format_number(v, 0)
                for v, na, known, zero in zip(values, not_applicable, other, none,
                                              strict=True)]

    def density(values: pd.Series, capacity: bool = False) -> list[str]:
        return [_CELL_SANS_OBJET if capacity and na else
                "0" if capacity and zero and pd.isna(v) else format_number(v, None)
                for v, na, zero in zip(values, not_applicable, none, strict=True)]

    def versus(values: pd.Series, gaps: pd.Series, capacity: bool = False) -> list[str]:
        cells = []
        for v, gap, na in zip(values, gaps, not_applicable, strict=True):
            if capacity and na:
                cells.append(_CELL_SANS_OBJET)
            elif pd.isna(v):
                cells.append("n.d.")
            else:
                sign = "+" if pd.notna(gap) and round(gap) > 0 else ""
                cells.append(format_number(v, None) + ("" if pd.isna(gap) else
                             f"\u00a0({sign}{format_number(gap, 0)}\u00a0%)"))
        return cells

    compact = pd.DataFrame({
        "Type de ressource": table["Type de ressource"],
        "Population de référence": table["Population de référence"],
        "Nombre": table["Nombre"],
        "Nombre pour 100 000 hab.": density(table["Nombre pour 100 000 hab."]),
        f"{ref} (écart)": versus(table[_reference_column(table, "Nombre pour 100 000 hab. (")],
                                 table["Écart nombre (%)"]),
        "Lits": count(table["Lits"]),
        "Places": count(table["Places"]),
        "Lits et places pour 100 000 hab.": density(table["Lits et places pour 100 000 hab."],
                                                    capacity=True),
        f"{ref} lits et places (écart)": versus(
            table[_reference_column(table, "Lits et places pour 100 000 hab. (")],
            table["Écart lits et places (%)"], capacity=True),
    })
    legend = note(f"Chaque densité est rapportée à la population de référence de sa ligne : "
                  f"{DENSITY_POPULATIONS} Lits et places sont comptés séparément puis "
                  f"additionnés ; « {SANS_OBJET} » : ce type de ressource n'a ni lits ni "
                  "places (consultation, coordination...) ; « n.d. » : valeur non "
                  "disponible ; écart en % de la référence. Un même type peut donc avoir "
                  "trois densités dans ce rapport : celle de l'état des ressources (population "
                  "totale), celle de ce tableau (population de son public) et celle de la "
                  "rosace (population indiquée dans son tableau ; la densité de CMP de la "
                  "rosace compte les CMP adultes et enfants pour la population totale).")
    remarks = sorted({str(part) for r in table["Remarque"] if isinstance(r, str)
                      for part in r.split(" ; ") if part.strip()})
    # One line for every type the national table does not cover (GEM, CLSM...).
    absent = [m.group(1) for r in remarks if (m := _TYPE_ABSENT.match(r))]
    remarks = [r for r in remarks if not _TYPE_ABSENT.match(r)]
    if absent:
        labels = {code: t.label for code, t in load_resource_types().items()}
        remarks.append("référence non disponible pour les types absents de la table "
                       "nationale (structures hors FINESS, recensées localement) : "
                       + ", ".join(labels.get(code, code) for code in absent))
    return (table_html(compact) + legend + note(national_sources(diag))
            + "".join(note(r) for r in remarks))


SANS_OBJET = "sans objet"
_CELL_SANS_OBJET = "sans\u00a0objet"  # never cut in two in a narrow column
DENSITY_POPULATIONS = ("enfants (0-17 ans) pour les ressources de l'enfance, adultes (18 ans "
                       "et plus) pour celles des adultes, personnes âgées (65 ans et plus), "
                       "population totale pour les ressources tous publics.")

_TYPE_ABSENT = re.compile(r"référence non disponible : type « (.+) » absent de la table "
                          r"nationale")


def _reference_column(table: pd.DataFrame, prefix: str) -> str:
    """The column of ``table`` holding the reference's value (its name ends with the
    reference's label, e.g. « (France) »)."""
    return next(column for column in table.columns if str(column).startswith(prefix))


ACCESS_COLUMNS = {  # summary column → shorter header for the page
    "Type de ressource": "Type de ressource",
    "Tranche d'âge": "Âges",
    "Temps médian (min)": "Temps médian (min)",
    "Habitants à plus de 30 min": "Habitants au-delà",
    "Part des habitants à plus de 30 min (%)": "Part au-delà (%)",
    "Communes à plus de 30 min": "Communes au-delà",
}


def accessibility(diag: Diagnostic) -> pd.DataFrame:
    """Per resource type: inhabitants beyond 30 minutes of the nearest one."""
    summary = accessibility_summary(diag, 30.0, nearest=diag.nearest)
    return summary[list(ACCESS_COLUMNS)].rename(columns=ACCESS_COLUMNS)


def access_map(diag: Diagnostic, type_ressource: str = "cmp_adultes",
               fond: str | None = None) -> folium.Map | str:
    """Communes coloured by the estimated time to the nearest resource of one type."""
    nearest = diag.nearest
    times = nearest[nearest["type_ressource"].astype(str) == type_ressource]
    label = load_resource_types()[type_ressource].label
    if times.empty or times["temps_min"].isna().all():
        return note(f"Aucune ressource de type « {label} » dans les données : pas de carte.")
    communes = diag.territory.communes.merge(
        times[["code_commune", "temps_min"]], on="code_commune", how="left")
    return commune_choropleth(communes, "temps_min", f"Temps estimé jusqu'au {label} (min)",
                              fond=fond, decimals=0)


def gap_analysis(diag: Diagnostic) -> GapAnalysis:
    """The insuffisances of the territory, from every evidence source available."""
    return run_gap_analysis(diag, densities=diag.densities, accessibility=diag.nearest)


def export_gaps(analysis: GapAnalysis, path: str | Path | None) -> Path | None:
    """Write every gap of ``analysis`` to the XLSX workbook ``path`` (nothing when empty).

    The batch passes the path of ``insuffisances_<code>.xlsx`` beside each report, so the
    workbook comes from the very analysis the report shows, computed once.
    """
    if not path:
        return None
    return export_gaps_xlsx(analysis.gaps, path, analysis.config)


GAPS_SHOWN = 25  # ranked gaps shown unfolded in the report; the others are folded below


def gaps(diag: Diagnostic, analysis: GapAnalysis | None = None) -> str:
    """The ranked insuffisances with their evidence, summaries and thresholds (HTML)."""
    return gap_section_html(diag, analysis=analysis or gap_analysis(diag), limit=GAPS_SHOWN)


def prestation_basket(diag: Diagnostic) -> str:
    """The panier de prestations: declared by resources, inferred from types, or absent."""
    return basket_section_html(diag)


def white_zones_map(diag: Diagnostic, analysis: GapAnalysis,
                    fond: str | None = None) -> folium.Map | str:
    """Communes beyond the access-time threshold of the most severe white zone's type."""
    white = analysis.gaps[analysis.gaps["nature"].isin(["zone_blanche", MERGED_NATURE])]
    if white.empty:
        return note("Aucune zone blanche : toutes les communes sont dans les temps d'accès "
                    "retenus pour chaque type de ressource présent dans les données.")
    kind = str(white.iloc[0]["code_objet"])
    label = load_resource_types()[kind].label if kind in load_resource_types() else kind
    return (note(f"Type de ressource de la zone blanche la plus sévère : {label}.")
            + to_html(zones_blanches_map(diag, diag.nearest, analysis.config,
                                         type_ressource=kind, fond=fond)))


def glossary() -> pd.DataFrame:
    """The acronyms used in the report, with their meaning."""
    entries = parse_yaml(resources.files("ptsm_diag.catalog").joinpath(
        "glossary.yaml").read_text(encoding="utf-8"))
    return pd.DataFrame(sorted(entries.items()), columns=["Sigle", "Signification"])


def note(text: str) -> str:
    """A short escaped note paragraph."""
    return f'<p class="ptsm-note">{html.escape(text)}</p>'


def key_figure(label: str, value: float | int | None, decimals: int = 0) -> str:
    """One formatted key figure (escaped HTML)."""
    return f"<p><b>{html.escape(label)}</b> : {html.escape(format_number(value, decimals))}</p>"


__all__ = [
    "access_map", "accessibility", "commune_density_map", "densities", "export_gaps",
    "gap_analysis", "gaps",
    "glossary", "identity_card", "key_figure", "note", "population_by_age",
    "prestation_basket", "resource_map",
    "resources_by_type", "resources_list", "rosace", "rosace_evolution", "rosace_not_shown",
    "rosace_open_data", "rosace_table", "sources", "table_html",
    "title_page", "white_zones_map",
]
