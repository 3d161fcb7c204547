"""The official open-data sources ``ptsm-diag donnees telecharger`` knows, as data.

Each :class:`SourceAdapter` says where the file is published (a data.gouv.fr catalogue
entry resolved through the data.gouv.fr API, or a fixed URL), what it looks like, which
template table it feeds and which converter turns it into that table. A mirror given
with ``--url-base`` serves every source at ``<url-base>/<mirror_name>``.

Dataset names and URLs were checked against what public reusers call (no network from
the development environment): ``finess-extraction-du-fichier-des-etablissements``
(GuillaumePressiat/finess_etalab, ``pgm/telechargement.R``, and other reusers),
``finess-structures-1`` with its ``finess-structures-journalier-AAAAMMJJ.json.gz``
resources and the sibling ``finess-activites-1`` (reusers' FINESS+ clients),
``finess-extraction-des-equipements-sociaux-et-medico-sociaux`` (reusers' capacity
parsers, resource ``etalab-cs1100505-stock-*.csv``), ``code-officiel-geographique-cog``,
and INSEE's ``statistiques/8647014`` page for the 2022 census. When one moves, the error
names the URL, and ``--url-base`` or :data:`URL_OVERRIDE_ENV` point it elsewhere.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ptsm_diag.errors import ArgumentError, PtsmError

if TYPE_CHECKING:
    from ptsm_diag.io.opendata.converters import Context, Converted


def _lazy(module: str, name: str) -> Callable[[Path, Context], Converted]:
    """A converter imported on first call (``ptsm-diag --help`` loads no pandas)."""

    def convert(path: Path, context: Context) -> Converted:
        target = getattr(importlib.import_module(f"ptsm_diag.io.opendata.{module}"), name)
        return target(path, context)

    convert.__name__ = convert.__qualname__ = name
    return convert


convert_cog = _lazy("converters", "convert_cog")
convert_equipements = _lazy("converters", "convert_equipements")
convert_finess_csv = _lazy("converters", "convert_finess_csv")
convert_population = _lazy("converters", "convert_population")
convert_finess_plus = _lazy("finess_plus", "convert_finess_plus")
convert_age_structure = _lazy("context", "convert_age_structure")
convert_poverty = _lazy("context", "convert_poverty")

DATAGOUV_API = "https://www.data.gouv.fr/api/1/datasets/{dataset}/"
DATAGOUV_PAGE = "https://www.data.gouv.fr/fr/datasets/{dataset}/"
# PTSM_DIAG_URL_<SOURCE> (upper case) replaces the URL of one source.
URL_OVERRIDE_ENV = "PTSM_DIAG_URL_{}"

Converter = Callable[[Path, "Context"], "Converted"]


@dataclass(frozen=True)
class SourceAdapter:
    """One open-data source.

    Attributes
    ----------
    name : str
        Registry key, used by ``--sources``.
    title : str
        French title.
    producer : str
        Producer and licence.
    page : str
        Catalogue page (data.gouv.fr or insee.fr) a user can open.
    format : str
        French description of the expected format.
    mirror_name : str
        File name under ``--url-base``, and local name when the URL has none.
    converter : callable
        ``converter(path, context) -> Converted``.
    table : str or None
        Template table it feeds (``ressources``, ``population``), or ``capacites`` /
        ``None`` (report only).
    dataset : str, optional
        data.gouv.fr dataset slug; the resource is chosen with ``resource_pattern``.
    resource_pattern : str, optional
        Regular expression matched against the resources' title and URL (the most
        recent match wins).
    url : str, optional
        Fixed URL, used when there is no dataset (or as a fallback).
    default : bool
        Part of ``--sources`` by default.
    """

    name: str
    title: str
    producer: str
    page: str
    format: str
    mirror_name: str
    converter: Converter
    table: str | None
    dataset: str | None = None
    resource_pattern: str | None = None
    url: str | None = None
    default: bool = True


SOURCES: dict[str, SourceAdapter] = {
    adapter.name: adapter for adapter in (
        SourceAdapter(
            name="finess",
            title="FINESS — établissements avec géolocalisation (etalab-cs1100507)",
            producer="DREES / ANS, Licence Ouverte",
            page=DATAGOUV_PAGE.format(
                dataset="finess-extraction-du-fichier-des-etablissements"),
            format="CSV « ; » sans en-tête : ligne finess;etalab;<n>;<date>, lignes "
                   "structureet (31/32 champs) puis geolocalisation (6 champs, ou 12 dans "
                   "les fichiers anciens) ; la DREES a cessé de produire ce CSV en 2026 : "
                   "voir la source finess_plus",
            mirror_name="etalab-cs1100507-stock.csv",
            converter=convert_finess_csv,
            table="ressources",
            dataset="finess-extraction-du-fichier-des-etablissements",
            resource_pattern=r"etalab-cs1100507-stock",
        ),
        SourceAdapter(
            name="finess_plus",
            title="FINESS+ — flux JSON des structures (successeur de l'extraction CSV)",
            producer="ANS, Licence Ouverte",
            page=DATAGOUV_PAGE.format(dataset="finess-structures-1"),
            format="JSON (gzip) schéma structures v1, fichier quotidien "
                   "finess-structures-journalier-AAAAMMJJ.json.gz ou mensuel figé : pmej[] → "
                   "ege[] (numFinessEge, categorieentiteGeographiqueExercice, "
                   "adresse[].cogCommune, coordonneesGeographique) ; les activités sont dans "
                   "le jeu voisin finess-activites-1",
            mirror_name="finess-structures.json",
            converter=convert_finess_plus,
            table="ressources",
            dataset="finess-structures-1",
            resource_pattern=r"finess-structures.*\.json",
            default=False,
        ),
        SourceAdapter(
            name="equipements",
            title="FINESS — équipements sociaux et médico-sociaux (places installées)",
            producer="DREES / ANS, Licence Ouverte",
            page=DATAGOUV_PAGE.format(
                dataset="finess-extraction-des-equipements-sociaux-et-medico-sociaux"),
            format="etalab-cs1100505-stock-*.csv, Latin-1, « ; » sans en-tête : ligne "
                   "finess;etalab;<n>;<date>, lignes structureet puis equipementsocial;"
                   "nofinesset;de;libde;ta;libta;client;libclient;sourceinfo;capinstot;… "
                   "(indsupinst en 16e champ) ; ou CSV avec en-tête nommant nofinesset et "
                   "capinstot",
            mirror_name="finess-equipements-sociaux.csv",
            converter=convert_equipements,
            table="capacites",
            dataset="finess-extraction-des-equipements-sociaux-et-medico-sociaux",
            resource_pattern=r"cs1100505|equipement",
        ),
        SourceAdapter(
            name="population",
            title="INSEE — population par IRIS et âge (recensement, base-ic-evol-struct-pop)",
            producer="INSEE, recensement de la population 2022, Licence Ouverte",
            page="https://www.insee.fr/fr/statistiques/8647014",
            format="archive ZIP d'un CSV « ; » : IRIS;COM;TYP_IRIS;LAB_IRIS;P22_POP;"
                   "P22_POP0002;P22_POP0305;…;P22_POP80P;… (les millésimes antérieurs, "
                   "P20_… ou P21_…, restent lisibles)",
            mirror_name="base-ic-evol-struct-pop_csv.zip",
            converter=convert_population,
            table="population",
            url="https://www.insee.fr/fr/statistiques/fichier/8647014/"
                "base-ic-evol-struct-pop-2022_csv.zip",
        ),
        SourceAdapter(
            name="structure_age",
            title="INSEE — estimation de population par département, sexe et âge "
                  "quinquennal (structure par âge de la carte d'identité)",
            producer="INSEE, estimations de population, Licence Ouverte",
            page="https://www.insee.fr/fr/statistiques/1893198",
            format="classeur XLSX estim-pop-dep-sexe-aq : lignes de titre, « Année AAAA », "
                   "en-têtes Ensemble / Hommes / Femmes puis « 0 à 4 ans » … « 95 ans et "
                   "plus », « Total » ; une ligne par département, puis « France "
                   "métropolitaine et DOM » (une feuille par année : la plus récente est lue)",
            mirror_name="estim-pop-dep-sexe-aq.xlsx",
            converter=convert_age_structure,
            table="contexte",
            url="https://www.insee.fr/fr/statistiques/fichier/1893198/"
                "estim-pop-dep-sexe-aq-1975-2025.xlsx",
            default=False,
        ),
        SourceAdapter(
            name="pauvrete",
            title="INSEE — Filosofi, taux de pauvreté par département ou commune (export à "
                  "colonnes libellées)",
            producer="INSEE, Filosofi, Licence Ouverte",
            page="https://www.insee.fr/fr/statistiques/3560121",
            format="CSV « , » (ou « ; ») : Code géographique, Libellé géographique, Nombre de "
                   "ménages fiscaux, Nombre de personnes dans les ménages fiscaux, …, Taux de "
                   "pauvreté-Ensemble (% pop totale), … ; virgule décimale ; le millésime est "
                   "dans le nom du fichier (fr-dpt-pauvrete-2013.csv). Pas d'adresse fixe : "
                   "PTSM_DIAG_URL_PAUVRETE=file:///chemin/fr-dpt-pauvrete-2013.csv",
            mirror_name="filosofi-pauvrete.csv",
            converter=convert_poverty,
            table="contexte",
            default=False,
        ),
        SourceAdapter(
            name="geographie",
            title="INSEE — Code officiel géographique, liste des communes (v_commune)",
            producer="INSEE, Licence Ouverte",
            page=DATAGOUV_PAGE.format(dataset="code-officiel-geographique-cog"),
            format="CSV « , » avec en-tête TYPECOM,COM,REG,DEP,CTCD,ARR,TNCC,NCC,NCCENR,"
                   "LIBELLE,CAN,COMPARENT",
            mirror_name="v_commune.csv",
            converter=convert_cog,
            table=None,
            dataset="code-officiel-geographique-cog",
            resource_pattern=r"v_commune_\d{4}\.csv",
        ),
    )
}


def default_sources() -> list[str]:
    """The sources downloaded when ``--sources`` is not given."""
    return [name for name, adapter in SOURCES.items() if adapter.default]


def select_sources(names: str | list[str] | None) -> list[SourceAdapter]:
    """Adapters for ``--sources`` (comma-separated names, ``tout`` or None: default).

    Raises
    ------
    PtsmError
        For an unknown name, or ``finess`` together with ``finess_plus`` (alternatives).
    """
    if names is None or names in ("", "tout", "tous", "all"):
        wanted = default_sources()
    else:
        items = names.split(",") if isinstance(names, str) else list(names)
        wanted = [n.strip() for n in items if n.strip()]
    unknown = [n for n in wanted if n not in SOURCES]
    if unknown:
        raise ArgumentError(f"Source(s) inconnue(s) : {', '.join(unknown)}. Sources connues : "
                        f"{', '.join(SOURCES)}.")
    if "finess" in wanted and "finess_plus" in wanted:
        raise PtsmError("Les sources « finess » et « finess_plus » donnent la même table "
                        "ressources : choisissez l'une ou l'autre.")
    return [SOURCES[n] for n in dict.fromkeys(wanted)]


def mirror_url(adapter: SourceAdapter, url_base: str) -> str:
    """The URL of a source on a mirror."""
    return f"{url_base.rstrip('/')}/{adapter.mirror_name}"


def override_url(adapter: SourceAdapter) -> str | None:
    """The URL given by ``PTSM_DIAG_URL_<SOURCE>``, if any."""
    return os.environ.get(URL_OVERRIDE_ENV.format(adapter.name.upper())) or None


def pick_resource(adapter: SourceAdapter, catalogue: dict) -> dict | None:
    """The catalogue resource of a source: the most recent whose title/URL matches."""
    pattern = re.compile(adapter.resource_pattern or ".", re.IGNORECASE)
    resources = [r for r in catalogue.get("resources") or []
                 if pattern.search(f"{r.get('title', '')} {r.get('url', '')}")]
    if not resources:
        return None
    return max(resources, key=lambda r: str(r.get("last_modified") or r.get("created_at")
                                            or ""))
