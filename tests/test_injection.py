"""Hostile text in every free-text field never runs as code nor as a template.

folium renders each element's output a second time as a Jinja template and builds tooltips
and popups inside JavaScript backtick strings: a name such as ``CMP {{ 7*191 }}`` used to
come out as ``CMP 1337`` (and a longer expression reached ``os``), ``${...}`` or a
backtick ran or broke the map's script. Every HTML output is built here from a data folder
whose names, labels, sources, notes and communes are hostile, then opened in headless
Chromium: the page title must not change, no ``window.__pwned`` may be set in any frame,
no script error, and every hostile text must be shown exactly as written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import os
import types
from pathlib import Path

import jinja2
import pandas as pd
import pytest

from ptsm_diag import diagnostic
from ptsm_diag.catalog import load_indicator_catalog
from ptsm_diag.diagnostic import load_data, prepare_diagnostic, prepare_synthesis
from ptsm_diag.report import cooperation as cooperation_views
from ptsm_diag.report import directory as directory_module
from ptsm_diag.report import regional as rs
from ptsm_diag.report import sections, summary, workshop
from ptsm_diag.report.display import to_html
from ptsm_diag.report.gaps import zones_blanches_map
from ptsm_diag.testing import chromium_path, probe_page, write_csv
from ptsm_diag.viz.maps import js_string, safe_html
from ptsm_diag.viz.offline import map_to_html, plotly_js

ENV_MARKER = "PTSM_INJECTION_TEST"
HOSTILE = [
    "CMP {{ 7*191 }}",
    "{% for x in range(3) %}X{% endfor %}",
    "${top.document.title='PWNED'}",
    "GEM back`tick",
    "CATTP ${window.__pwned=1}",
    "</script><script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
    "{{ cycler.__init__.__globals__.os.environ.update(dict("
    + ENV_MARKER + "=dict(oui=1)|first)) }}",
    "C:\\u Dossier {# commentaire",
]
EVALUATED = ["CMP 1337", "XXX"]  # what the first two would read if evaluated
PAGE_TITLE = "Page de test"
HX_COMMUNES = ["35238", "35288", "35115", "35047", "35024"]
HY_COMMUNES = ["35360", "35236", "35093"]
TYPES = ["cmp_adultes", "chs", "gem", "savs", "chrs", "msp", "cmp_enfants", "esat"]
AT = "2025-01-01"


def _write_data(folder: Path) -> Path:
    """A data folder with a hostile text in every free-text field."""
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(pd.DataFrame(
        [("HX", "PTSM " + " ".join(HOSTILE[0::2]), "53", "commune", c) for c in HX_COMMUNES]
        + [("HY", "PTSM " + " ".join(HOSTILE[1::2]), "53", "commune", c) for c in HY_COMMUNES],
        columns=["code_territoire", "nom_territoire", "code_region", "niveau", "code"]),
        folder / "territoires.csv")
    rows = []
    for i, text in enumerate(HOSTILE):
        for j, commune in enumerate(HX_COMMUNES + HY_COMMUNES):
            rows.append((f"R{i}{j}", text if j < 2 else f"{text} #{j}",
                         TYPES[(i + j) % len(TYPES)], commune, f"02 {text}", f"source {text}",
                         f"1 rue {text}", "javascript:window.__pwned=1" if j == 0
                         else f"https://exemple.fr/{text}"))
    for k in range(8):  # enough CMP to cluster them in the workshop map
        rows.append((f"C{k}", HOSTILE[k], "cmp_adultes", HX_COMMUNES[k % 5], "", "", "", ""))
    write_csv(pd.DataFrame(rows, columns=["id_ressource", "nom", "type_ressource",
                                          "code_commune", "telephone", "source", "adresse",
                                          "site_web"]), folder / "ressources.csv")
    values = []
    for code, shift in (("HX", 0), ("HY", 1)):
        for year, k in ((2022, 0), (2023, 1)):
            def source(n: int, k: int = k, shift: int = shift) -> str:
                return f"source {HOSTILE[(shift + k + n) % len(HOSTILE)]}"
            values += [(code, "densite_cmp", year, 24 + k, 1094000, "", source(0)),
                       (code, "rehospit_15j", year, 312 + 9 * k, 2450, "", source(2)),
                       (code, "delai_premier_rdv_cmp", year, "", "", 21 + k, source(4))]
    write_csv(pd.DataFrame(values, columns=["code_territoire", "indicateur", "annee",
                                            "numerateur", "denominateur", "valeur", "source"]),
              folder / "indicateurs.csv")
    context = [("commune", c, "taux_chomage", 2021, 100 + i, 1000, "",
                f"source {HOSTILE[i % len(HOSTILE)]}")
               for i, c in enumerate(HX_COMMUNES + HY_COMMUNES)]
    write_csv(pd.DataFrame(context, columns=["niveau", "code", "indicateur", "annee",
                                             "numerateur", "denominateur", "valeur", "source"]),
              folder / "contexte.csv")
    actions = [(f"HX-A{i}", "HX", 1 + i % 6, 1 + i % 5, f"Action {text}", f"Pilote {text}",
                f"{text}|Partenaire {text}", "Suspendue" if i % 2 else "En cours",
                "2024-01-15", "2026-12-31", "2025-06-30", 20, f"motif {text}",
                "delai_premier_rdv_cmp") for i, text in enumerate(HOSTILE)]
    write_csv(pd.DataFrame(actions, columns=[
        "id_action", "code_territoire", "priorite", "theme", "intitule", "pilote",
        "partenaires", "statut", "date_debut", "date_echeance", "date_suivi", "avancement",
        "motif", "indicateurs"]), folder / "actions.csv")
    links = []
    for i, text in enumerate(HOSTILE):
        links.append((f"L{i}", f"R{i}0", "", "", f"R{(i + 1) % len(HOSTILE)}1", "", "",
                      "convention", "2020-01-01", "", "annuelle", f"note {text}",
                      f"source {text}"))
        links.append((f"M{i}", f"R{i}2", "", "", "", f"Libre {text}", "autre",
                      "echange_pratiques", "2021-01-01", "", "", "", ""))
    write_csv(pd.DataFrame(links, columns=[
        "id_lien", "id_ressource_1", "nom_acteur_1", "type_acteur_1", "id_ressource_2",
        "nom_acteur_2", "type_acteur_2", "type_lien", "date_debut", "date_fin", "frequence",
        "note", "source"]), folder / "partenariats.csv")
    return folder


def _hostile_catalog(*args, **kwargs):
    """The packaged catalogue with hostile labels (a user's catalogue may say anything)."""
    catalog = load_indicator_catalog(*args, **kwargs)
    for k, code in enumerate(("densite_cmp", "rehospit_15j", "delai_premier_rdv_cmp")):
        text = HOSTILE[(3 * k) % len(HOSTILE)]
        catalog[code] = dataclasses.replace(catalog[code], label=f"Indicateur {text}",
                                            short_label=f"Court {text}")
    return catalog


def _page(path: Path, parts: list) -> Path:
    body = "".join(to_html(part) for part in parts)
    path.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{PAGE_TITLE}"
                    f"</title><script>{plotly_js()}</script></head><body>{body}</body></html>",
                    encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The diagnostic and the synthesis of hostile data, with hostile commune names."""
    folder = _write_data(tmp_path_factory.mktemp("hostile") / "donnees")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(diagnostic, "load_indicator_catalog", _hostile_catalog)
        diag = prepare_diagnostic("HX", folder)
        synthesis = prepare_synthesis(folder, territoires="HX,HY")
    return types.SimpleNamespace(folder=folder, diag=diag, synthesis=synthesis)


@pytest.fixture(scope="module")
def hostile_communes(hostile):
    """The same diagnostic, its communes renamed with hostile texts (two per name)."""
    diag = dataclasses.replace(hostile.diag, territory=dataclasses.replace(
        hostile.diag.territory, communes=hostile.diag.territory.communes.copy()))
    n = len(diag.territory.communes)
    diag.territory.communes["nom"] = [
        " / ".join(HOSTILE[j] for j in range(i, len(HOSTILE), n)) for i in range(n)]
    return diag


@pytest.fixture(scope="module")
def pages(hostile, hostile_communes, tmp_path_factory) -> dict[str, Path]:
    """Every HTML output of the package, built from the hostile data."""
    out = tmp_path_factory.mktemp("pages")
    diag, synthesis = hostile.diag, hostile.synthesis
    analysis = sections.gap_analysis(diag)
    written = {
        "rapport (sections)": _page(out / "rapport.html", [
            sections.title_page(diag), sections.identity_card(diag),
            sections.resources_list(diag), sections.resources_by_type(diag),
            sections.rosace(diag), sections.rosace_table(diag), sections.rosace_not_shown(diag),
            sections.rosace_evolution(diag), sections.sources(diag),
            sections.gaps(diag, analysis), cooperation_views.cooperation_intro(diag, AT),
            cooperation_views.cooperation_summary(diag, AT),
            cooperation_views.isolated_actors_table(diag, AT)]),
        "carte des ressources": _page(out / "ressources.html", [sections.resource_map(diag)]),
        "carte du réseau (rapport)": _page(out / "reseau_rapport.html", [
            cooperation_views.cooperation_map(diag, at=AT),
            cooperation_views.sector_matrix_figure(diag, AT)]),
        "carte du réseau (fichier)": cooperation_views.write_network_map(
            diag, out / "reseau.html", at=AT),
        "cartes des communes": _page(out / "communes.html", [
            sections.commune_density_map(hostile_communes),
            zones_blanches_map(hostile_communes, hostile_communes.nearest, analysis.config),
            workshop.density_slide(hostile_communes)]),
        "carte d'atelier": workshop.write_workshop_map("HX", hostile.folder,
                                                       out / "atelier.html"),
        "diapositives de l'atelier": _page(out / "diapositives.html", [
            workshop.title_slide(diag), workshop.rosace_slide(diag),
            workshop.resources_slide(diag), workshop.density_slide(diag),
            cooperation_views.network_slide(diag, at=AT)]),
        "annuaire": directory_module.write_directory(diag, out)["html"],
        "synthèse régionale": _page(out / "synthese.html", [
            rs.title_page(synthesis), rs.territories_table(synthesis),
            rs.indicator_map(synthesis), rs.rosaces(synthesis), rs.heatmap(synthesis),
            rs.ranking(synthesis), rs.ranking_chart(synthesis)]),
    }
    outcomes = [types.SimpleNamespace(code=code, name=t.name, status="réussi",
                                      report=f"diagnostic_{code}.html", error=None,
                                      seconds=1.0)
                for code, t in synthesis.territories.items()]
    index = out / "index.html"
    index.write_text(summary.batch_index_html(
        outcomes, summary.territory_key_figures(load_data(hostile.folder), ["HX", "HY"]),
        hostile.folder, "0" * 64, dt.datetime(2026, 1, 1), synthesis=outcomes[0]),
        encoding="utf-8")
    written["index du lot"] = index
    return written


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize("text", HOSTILE)
def test_safe_html_survives_jinja_and_javascript_templates(text: str) -> None:
    made_safe = safe_html(text)
    assert jinja2.Template(made_safe).render() == made_safe  # twice, as folium does
    assert jinja2.Template(jinja2.Template(made_safe).render()).render() == made_safe
    assert not set("{}$`\\<>\"'") & set(made_safe)
    assert html.unescape(made_safe) == text
    literal = js_string(text)
    assert jinja2.Template(literal).render() == literal
    assert "</" not in literal and "{" not in literal


def test_maps_never_run_input_text_as_a_template(hostile, hostile_communes) -> None:
    os.environ.pop(ENV_MARKER, None)
    diag = hostile.diag
    maps = [sections.resource_map(diag), cooperation_views.cooperation_map(diag, at=AT),
            workshop.workshop_resources_map(diag), sections.commune_density_map(
                hostile_communes), rs.indicator_map(hostile.synthesis)]
    for m in maps:
        page = html.unescape(map_to_html(m))
        for evaluated in EVALUATED:
            assert evaluated not in page
    assert ENV_MARKER not in os.environ, "une expression Jinja d'un nom a exécuté du Python"


# --------------------------------------------------------------------------- browser


@pytest.mark.skipif(chromium_path() is None, reason="Chromium absent")
def test_every_page_shows_hostile_text_as_written_and_runs_none(pages) -> None:
    problems = []
    for label, path in pages.items():
        seen = probe_page(path)
        if seen.title == "PWNED":
            problems.append(f"{label} : titre de la page modifié par un nom")
        if seen.pwned:
            problems.append(f"{label} : script d'un nom exécuté (window.__pwned)")
        if seen.script_errors:
            problems.append(f"{label} : erreurs de script {seen.script_errors[:2]}")
        if seen.probe_errors:
            problems.append(f"{label} : sonde en erreur {seen.probe_errors[:2]}")
        problems += [f"{label} : « {text} » évalué" for text in EVALUATED if text in seen.text]
        problems += [f"{label} : « {text} » absent ou modifié" for text in HOSTILE
                     if text not in seen.text]
    assert ENV_MARKER not in os.environ
    assert not problems, "\n".join(problems)


def test_report_title_keeps_a_name_with_backslashes_and_markup() -> None:
    from ptsm_diag.report.execute import add_table_of_contents

    name = "PTSM C:\\u Dossier \\1 {{ 7*191 }} &lt;b&gt;"
    page = add_table_of_contents(f"<html><head><title>x</title></head><body><h1>{name}</h1>")
    assert "<title>PTSM C:\\u Dossier \\1 {{ 7*191 }} &lt;b&gt;</title>" in page


@pytest.mark.slow
@pytest.mark.skipif(chromium_path() is None, reason="Chromium absent")
def test_full_report_of_hostile_data_runs_nothing(hostile, tmp_path) -> None:
    from ptsm_diag.report.execute import render_report

    path = render_report("HX", hostile.folder, tmp_path)
    seen = probe_page(path)
    name = hostile.diag.territory.name
    assert seen.title == f"Diagnostic territorial partagé en santé mentale — {name}"
    assert seen.pwned == [] and seen.script_errors == [] and seen.probe_errors == []
    assert not [text for text in EVALUATED if text in seen.text]
    assert [text for text in HOSTILE if text not in seen.text] == []
