"""The input templates: example rows, CSV files, the French data dictionary and the XLSX
workbook with drop-down lists, all generated from :data:`~ptsm_diag.io.sources.schemas.TABLES`
and the catalogue vocabularies (see ``scripts/build_xlsx_template.py``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from pathlib import Path

from ptsm_diag.catalog import load_resource_types
from ptsm_diag.io.sources.schemas import (
    LIST_SEPARATOR,
    REFERENCE_FRANCE,
    TABLES,
    ColumnSpec,
    TableSpec,
    format_number,
)
from ptsm_diag.io.sources.vocab import VOCABULARY_TITLES, vocabulary_labels

WORKBOOK_NAME = "modele_ptsm.xlsx"
README_SHEET = "Lisez-moi"
LISTS_SHEET = "listes"
_FIXED_TIME = dt.datetime(2024, 1, 1)
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)
_EXAMPLE_SOURCE = "exemple fictif"

# Fictional but plausible rows (Ille-et-Vilaine), written as a user would type them.
EXAMPLES: dict[str, list[dict[str, str]]] = {
    "territoires": [
        {"code_territoire": "35", "nom_territoire": "PTSM d'Ille-et-Vilaine",
         "code_region": "53", "niveau": "departement", "code": "35"},
        {"code_territoire": "SM-EX", "nom_territoire": "PTSM du Pays de Saint-Malo (exemple)",
         "code_region": "53", "niveau": "commune", "code": "35288"},
        {"code_territoire": "SM-EX", "nom_territoire": "PTSM du Pays de Saint-Malo (exemple)",
         "code_region": "53", "niveau": "commune", "code": "35093"},
    ],
    "population": [
        {"code_commune": "35238", "annee": "2021", "tranche_age": "0-17", "population": "41250"},
        {"code_commune": "35238", "annee": "2021", "tranche_age": "18-64",
         "population": "150432"},
        {"code_commune": "35238", "annee": "2021", "tranche_age": "65+", "population": "30125"},
    ],
    "ressources": [
        {"id_ressource": "R001", "finess": "350999901", "nom": "EPSM Exemple de Rennes",
         "type_ressource": "chs", "champ": "", "public": "", "code_commune": "35238",
         "longitude": "-1,6536", "latitude": "48,1116", "capacite_lits": "220",
         "etp": "640,5",
         "prestations": "soins_specialises|hospitalisation|crise_ambulatoire",
         "telephone": "02 99 00 00 01", "source": _EXAMPLE_SOURCE},
        {"id_ressource": "R002", "finess": "350999902",
         "nom": "CMP adultes Exemple de Saint-Malo", "type_ressource": "cmp_adultes",
         "champ": "sanitaire", "public": "adultes", "code_commune": "35288",
         "longitude": "-2,0075", "latitude": "48,6493", "etp": "4,5",
         "prestations": "soins_specialises|aller_vers", "telephone": "02 99 00 00 02",
         "source": _EXAMPLE_SOURCE},
        {"id_ressource": "R003", "nom": "GEM Exemple de Fougères", "type_ressource": "gem",
         "champ": "usagers", "public": "adultes", "code_commune": "35115",
         "x_lambert93": "388798", "y_lambert93": "6813982", "prestations": "pair_aidance",
         "source": _EXAMPLE_SOURCE},
    ],
    "indicateurs": [
        {"code_territoire": "35", "indicateur": "densite_cmp", "annee": "2023",
         "numerateur": "24", "denominateur": "1094000", "source": _EXAMPLE_SOURCE},
        {"code_territoire": "35", "indicateur": "rehospit_15j", "annee": "2023",
         "numerateur": "312", "denominateur": "2450", "source": _EXAMPLE_SOURCE},
        {"code_territoire": REFERENCE_FRANCE, "indicateur": "delai_premier_rdv_cmp",
         "annee": "2023", "valeur": "21", "source": _EXAMPLE_SOURCE},
    ],
    "actions": [
        {"id_action": "35-A01", "code_territoire": "35", "priorite": "1", "theme": "3",
         "intitule": "Organiser l'accès au premier rendez-vous en CMP en moins de 15 jours",
         "pilote": "EPSM Exemple de Rennes", "partenaires": "CPTS Exemple|MDPH d'Ille-et-Vilaine",
         "statut": "En cours", "date_debut": "2024-01-15", "date_echeance": "2026-12-31",
         "date_suivi": "2024-06-30", "avancement": "20", "indicateurs": "delai_premier_rdv_cmp"},
        {"id_action": "35-A01", "code_territoire": "35", "priorite": "1", "theme": "3",
         "intitule": "Organiser l'accès au premier rendez-vous en CMP en moins de 15 jours",
         "pilote": "EPSM Exemple de Rennes", "partenaires": "CPTS Exemple|MDPH d'Ille-et-Vilaine",
         "statut": "En cours", "date_debut": "2024-01-15", "date_echeance": "2026-12-31",
         "date_suivi": "2025-06-30", "avancement": "55", "indicateurs": "delai_premier_rdv_cmp"},
        {"id_action": "35-A02", "code_territoire": "35", "priorite": "5", "theme": "5",
         "intitule": "Soutenir la création d'un GEM dans le pays de Vitré",
         "pilote": "Association d'usagers Exemple", "partenaires": "Mairie de Vitré",
         "statut": "Suspendue", "date_debut": "15/03/2024", "date_echeance": "31/12/2025",
         "date_suivi": "30/06/2025", "avancement": "30",
         "motif": "Recherche de locaux en cours"},
    ],
    "cibles": [
        {"code_territoire": "35", "indicateur": "rehospit_15j", "annee_initiale": "2023",
         "valeur_initiale": "12,7", "annee_cible": "2028", "valeur_cible": "6,4",
         "annee_actuelle": "2024", "valeur_actuelle": "11,9"},
        {"code_territoire": "35", "indicateur": "delai_premier_entretien_psychiatre",
         "annee_initiale": "2023", "valeur_initiale": "38", "annee_cible": "2028",
         "valeur_cible": "15"},
    ],
    "partenariats": [
        {"id_lien": "L001", "id_ressource_1": "R002", "id_ressource_2": "",
         "nom_acteur_2": "SAVS-SAMSAH Exemple de Saint-Malo", "type_acteur_2": "samsah",
         "type_lien": "echange_pratiques", "date_debut": "2023-09-01",
         "frequence": "semestrielle",
         "note": "Deux rencontres par an, alternativement au SAVS et au CMP",
         "source": _EXAMPLE_SOURCE},
        {"id_lien": "L002", "id_ressource_1": "R001", "id_ressource_2": "R003",
         "type_lien": "convention", "date_debut": "15/01/2024", "date_fin": "2026-12-31",
         "source": _EXAMPLE_SOURCE},
        {"id_lien": "L003", "id_ressource_1": "R001",
         "nom_acteur_2": "CHRS Exemple de Rennes", "type_acteur_2": "chrs",
         "type_lien": "stage_immersion", "date_debut": "2024-03-11", "frequence": "ponctuelle",
         "source": _EXAMPLE_SOURCE},
    ],
    "references_nationales": [
        {"code_departement": "35", "type_ressource": "cmp_adultes", "nombre": "31",
         "nombre_sans_capacite": "31", "date_finess": "2025-01-15",
         "source": _EXAMPLE_SOURCE},
        {"code_departement": "35", "type_ressource": "esat", "nombre": "27",
         "capacite_places": "2104", "nombre_sans_capacite": "0", "date_finess": "2025-01-15",
         "source": _EXAMPLE_SOURCE},
        {"code_departement": "22", "type_ressource": "esat", "nombre": "19",
         "capacite_places": "1390", "nombre_sans_capacite": "1", "date_finess": "2025-01-15",
         "source": _EXAMPLE_SOURCE},
    ],
    "population_nationale": [
        {"code_departement": "35", "annee": "2022", "tranche_age": "20-64",
         "population": "620000", "source": _EXAMPLE_SOURCE},
        {"code_departement": "35", "annee": "2022", "tranche_age": "ensemble",
         "population": "1110000", "source": _EXAMPLE_SOURCE},
        {"code_departement": "22", "annee": "2022", "tranche_age": "20-64",
         "population": "305000", "source": _EXAMPLE_SOURCE},
    ],
    "contexte": [
        {"niveau": "commune", "code": "35238", "indicateur": "taux_chomage", "annee": "2021",
         "numerateur": "12480", "denominateur": "110250", "source": _EXAMPLE_SOURCE},
        {"niveau": "departement", "code": "35", "indicateur": "taux_pauvrete", "annee": "2021",
         "denominateur": "1085000", "valeur": "10,9", "source": _EXAMPLE_SOURCE},
        {"niveau": "france", "code": REFERENCE_FRANCE, "indicateur": "part_65_plus",
         "annee": "2023", "numerateur": "14400000", "denominateur": "68040000",
         "source": _EXAMPLE_SOURCE},
    ],
}

KIND_LABELS = {
    "code": "code (texte)", "text": "texte", "int": "entier", "float": "nombre",
    "date": "date", "list": "liste « | »",
}
REFERENTIAL_LABELS = {
    "communes": "code commune existant du COG",
    "regions": "code région existant",
    "indicateurs": "identifiant du catalogue des indicateurs (voir [Identifiants des "
                   "indicateurs](#identifiants-des-indicateurs))",
    "territoires": "code de territoires.csv",
    "ressources": "id_ressource de ressources.csv",
    "territoires_ou_reference": f"code de territoires.csv, « {REFERENCE_FRANCE} » ou R + "
                                "code région",
}


# --- CSV ---------------------------------------------------------------------------------


def template_csv_text(name: str) -> str:
    """The CSV template of a table: header and example rows, ``;``-separated."""
    spec = TABLES[name]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\n")
    writer.writerow(spec.column_names)
    for row in EXAMPLES[name]:
        writer.writerow([row.get(c, "") for c in spec.column_names])
    return buffer.getvalue()


def write_csv_templates(out_dir: Path) -> list[Path]:
    """Write one ``<table>.csv`` per table (UTF-8 with BOM, so that Excel shows accents)."""
    paths = []
    for name in TABLES:
        path = out_dir / f"{name}.csv"
        path.write_bytes(template_csv_text(name).encode("utf-8-sig"))
        paths.append(path)
    return paths


# --- data dictionary ----------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _anchor(title: str) -> str:
    return "#" + title.lower().replace(" ", "-").replace("'", "").replace("’", "")


def allowed_text(col: ColumnSpec) -> str:
    """French 'allowed values' of a column, for the dictionary."""
    parts = []
    if col.vocabulary:
        codes = list(vocabulary_labels(col.vocabulary))
        title = VOCABULARY_TITLES[col.vocabulary]
        if len(codes) <= 6:
            parts.append(", ".join(codes))
        else:
            parts.append(f"voir [{title}]({_anchor(title)})")
    if col.referential:
        parts.append(REFERENTIAL_LABELS[col.referential])
    if col.pattern_text:
        parts.append(col.pattern_text)
    if col.minimum is not None and col.maximum is not None:
        parts.append(f"de {format_number(col.minimum)} à {format_number(col.maximum)}")
    elif col.minimum is not None:
        low = format_number(col.minimum)
        parts.append(f"> {low}" if col.strict_minimum else f"≥ {low}")
    if col.kind == "date":
        parts.append("AAAA-MM-JJ ou JJ/MM/AAAA")
    return " ; ".join(parts)


def _example(name: str, column: str) -> str:
    return next((row[column] for row in EXAMPLES[name] if row.get(column)), "")


def _table_section(spec: TableSpec) -> list[str]:
    lines = [f"### {spec.name}.csv — {spec.title}", "", spec.description, "",
             "Clé (une seule ligne par combinaison) : " + " + ".join(
                 f"`{k}`" for k in spec.key) + ".", ""]
    if spec.rules_text:
        lines += ["Règles :", ""] + [f"- {rule}" for rule in spec.rules_text] + [""]
    lines += ["| Colonne | Type | Obligatoire | Valeurs admises | Exemple | Description |",
              "|---|---|---|---|---|---|"]
    for col in spec.columns:
        example = _example(spec.name, col.name)
        lines.append(
            f"| `{col.name}` | {KIND_LABELS[col.kind]} | {'oui' if col.required else 'non'} | "
            f"{_cell(allowed_text(col))} | {_cell(f'`{example}`' if example else '')} | "
            f"{_cell(col.description)} |"
        )
    return lines + [""]


def _vocabulary_sections() -> list[str]:
    lines = ["## Listes de valeurs", "",
             "Ces listes viennent du catalogue de ptsm-diag (`ptsm_diag/catalog/`) ; c'est le "
             "code (colonne de gauche) qu'il faut écrire dans les fichiers.", ""]
    types = load_resource_types()
    title = VOCABULARY_TITLES["types_ressource"]
    lines += [f"### {title}", "",
              "| Code | Libellé | Champ par défaut | Public par défaut | Catégories FINESS |",
              "|---|---|---|---|---|"]
    for code, t in types.items():
        categories = ", ".join(str(c) for c in t.finess_categories)
        lines.append(f"| `{code}` | {_cell(t.label)} | {t.champ} | {t.public} | {categories} |")
    lines.append("")
    for name in ("champs", "publics", "prestations", "tranches_age", "statuts_action",
                 "priorites", "themes_action", "niveaux", "types_lien", "frequences_lien",
                 "niveaux_contexte", "indicateurs_contexte"):
        lines += [f"### {VOCABULARY_TITLES[name]}", "", "| Code | Libellé |", "|---|---|"]
        for code, label in vocabulary_labels(name).items():
            lines.append(f"| `{code}` | {_cell(label)} |")
        lines.append("")
    return lines


DICTIONARY_HEAD = f"""# Modèles de données ptsm-diag — dictionnaire des données

Ce dossier contient un modèle par table (fichiers CSV avec quelques lignes d'exemple
**fictives**) et le classeur `{WORKBOOK_NAME}` (une feuille par table, listes déroulantes,
feuille « {README_SHEET} »). Remplissez-les avec vos données, placez les fichiers dans un
dossier, puis vérifiez-le :

```
ptsm-diag valider mon_dossier/
ptsm-diag valider mon_dossier/ --rapport problemes.csv
```

La vérification liste chaque problème (fichier, ligne, colonne, valeur lue, valeur attendue)
et **ne modifie jamais vos fichiers**.

Ce fichier est produit par `scripts/build_xlsx_template.py` à partir des définitions du
code (`ptsm_diag/sources/schemas.py`) et du catalogue : ne le modifiez pas à la main.

## Fichiers du dossier

| Table | Fichier | Contenu |
|---|---|---|
{{files}}

Chaque table peut aussi être fournie en XLSX (`ressources.xlsx`), ou toutes ensemble dans
un classeur `*.xlsx` dont les feuilles portent le nom des tables (comme `{WORKBOOK_NAME}`).
Une table absente est simplement ignorée ; une table fournie deux fois est une erreur.

## Format des fichiers

- **Encodage** : UTF-8 (recommandé, avec ou sans BOM), Windows-1252 ou Latin-1 (ISO-8859-1
  / -15), UTF-16 avec BOM (« Texte Unicode » d'Excel). L'encodage est détecté ; un encodage
  inhabituel (Mac Roman, DOS) donne un avertissement : vérifiez les accents.
- **Séparateur** : point-virgule `;` (Excel français, recommandé), virgule `,` ou
  tabulation, détecté d'après la ligne d'en-tête. Une valeur qui contient le séparateur doit
  être entre guillemets `"..."`.
- **En-tête** : la première ligne non vide donne les noms de colonnes. L'ordre des colonnes
  est libre ; majuscules, accents et espaces sont tolérés (`Code commune` est lu
  `code_commune`, avec une réparation signalée). Les colonnes facultatives peuvent être
  omises. Une colonne hors modèle est conservée telle quelle et signalée (avertissement).
- **Nombres** : virgule ou point décimal (`12,5` ou `12.5`) ; espaces de milliers acceptés,
  y compris insécables (`1 250`). Pas de séparateur de milliers `.` ou `,`.
- **Dates** : `AAAA-MM-JJ` (`2024-06-30`) ou `JJ/MM/AAAA` (`30/06/2024`) ; une cellule date
  d'un classeur XLSX est lue directement.
- **Listes** : plusieurs codes dans une cellule sont séparés par `{LIST_SEPARATOR}`
  (`soins_specialises{LIST_SEPARATOR}aller_vers`).
- **Codes** : tout est lu comme du texte, les zéros initiaux sont conservés. Dans Excel,
  mettez les colonnes de codes au format « Texte » avant la saisie (c'est le cas dans
  `{WORKBOOK_NAME}`).
- Les espaces autour des valeurs et les lignes entièrement vides sont ignorés.
- Un fichier vide (sans en-tête) est une erreur ; un fichier avec l'en-tête seul est valide
  (0 ligne).

## Réparations automatiques

Ces corrections sont appliquées à la lecture (jamais dans vos fichiers) et signalées une à
une, avec la valeur d'origine (gravité « réparation ») :

- code commune à 4 chiffres (zéro initial perdu par le tableur) : `1001` → `01001` ;
- numéro FINESS à 8 chiffres : `10000123` → `010000123` ;
- code département à 1 chiffre : `1` → `01` ; codes corses en minuscules : `2a` → `2A` ;
- code d'arrondissement municipal de Paris, Lyon ou Marseille absent de la géographie
  (`75112`) → code de la commune (`75056`) ;
- valeur d'une liste écrite avec d'autres majuscules, sans accents ou avec d'autres
  séparateurs, quand elle ne correspond qu'à un seul code : `en cours` → `En cours`,
  `Médico social` → `medico-social`, `Département` → `departement` ;
- nom de colonne normalisé (`Capacité lits` → `capacite_lits`, `Tranche d'âge` →
  `tranche_age`).

Valeurs par défaut documentées (sans signalement) : dans `ressources`, un `champ` ou un
`public` vide prend la valeur par défaut du type de ressource (voir la liste des types).

## Gravité des problèmes

- **erreur** : la ligne est rejetée (ou tout le fichier, si une colonne obligatoire manque
  ou si un nom de colonne est en double). `ptsm-diag valider` se termine avec le code 1.
- **avertissement** : la ligne est acceptée, mais mérite d'être vérifiée.
- **réparation** : la ligne est acceptée après une correction sûre, listée ci-dessus.

Pour chaque fichier, lignes lues = lignes acceptées + lignes rejetées : rien n'est écarté
sans être signalé. Les lignes sont numérotées comme dans un tableur (en-tête = ligne 1).

## Codes de référence

Dans `indicateurs`, `code_territoire` peut valoir, en plus des codes de `territoires` :

- `{REFERENCE_FRANCE}` — la valeur nationale de référence ;
- `R` suivi du code INSEE de la région — la valeur régionale (ex. `R53` pour la Bretagne,
  `R84` pour Auvergne-Rhône-Alpes).

Sans ces lignes, les références sont calculées à partir de tous les territoires présents
(attention : un dossier d'un seul territoire n'a alors pas de vraie référence). Les
indicateurs que ptsm-diag calcule à partir des données ouvertes (colonne « Calculé par
ptsm-diag » de la liste des indicateurs) ont leurs références région et France calculées
sur la table nationale `references_nationales`, jamais sur le seul dossier.
Ces codes sont réservés : ils ne peuvent pas désigner un territoire.

## Références nationales

Les densités de ressources (nombre et capacité pour 100 000 habitants) sont comparées à la
région et à la France. Ces références viennent de la table `references_nationales.csv`,
écrite par `ptsm-diag donnees telecharger` à partir des fichiers FINESS **nationaux** (même
quand vous ne demandez qu'un département), jamais des ressources de votre dossier. Vous
pouvez aussi fournir une telle table (même format) dans le dossier, ou la désigner avec
`prepare_diagnostic(..., references_nationales="chemin/references_nationales.csv")`. Sans
table, la référence est affichée « référence non disponible », avec la raison.

Les indicateurs « places pour 1 000 adultes » (SAVS et SAMSAH, MAS et EAM, ESAT) prennent
leurs dénominateurs région et France (et celui du territoire quand `population.csv` n'a pas
la tranche d'âge) dans `population_nationale.csv`, écrite par la même commande à partir du
fichier **national** du recensement INSEE : population par département et tranche d'âge.
Le recensement ne donne pas les 20-59 ans : c'est la tranche 20-64 ans qui est utilisée, et
la source de l'indicateur le dit.

## Codes officiels

- Commune : code INSEE du Code officiel géographique (5 caractères, `2A004` pour Ajaccio,
  `97105` pour Basse-Terre). La géographie embarquée dans ptsm-diag sert de référence.
- Département : `01` à `95`, `2A`, `2B`, `971` à `976`.
- Région : code INSEE à 2 chiffres (`53` Bretagne).
- FINESS : 9 caractères (`350000000`, `2A0000000`).
- Indicateur : identifiant du catalogue des indicateurs de ptsm-diag
  (`ptsm_diag/catalog/`), listés avec leur définition à la fin de ce fichier.
- Coordonnées : longitude / latitude WGS84 en degrés décimaux (métropole et outre-mer), ou
  X / Y Lambert-93 en mètres (EPSG:2154, métropole seulement, comme le fichier FINESS ; pour
  l'outre-mer, donnez longitude et latitude). Sans coordonnées, la ressource est placée
  dans sa commune.

## Protection des données

Ces fichiers décrivent des structures, pas des personnes : `pilote` et `partenaires`
désignent des structures (jamais le nom d'une personne), `telephone` est le numéro public
de la structure. N'y mettez aucune donnée de santé individuelle.

## Tables
"""


INDICATORS_TITLE = "Identifiants des indicateurs"


def _indicator_section() -> list[str]:
    """Every indicator id of the catalogue: definition, unit, producer, open-data flag."""
    from ptsm_diag.catalog import load_indicator_catalog
    from ptsm_diag.catalog.indicator_catalog import OPEN_DATA_INDICATORS

    axes = load_vocabularies_axes()
    lines = [f"### {INDICATORS_TITLE}", "",
             "Valeurs admises de la colonne `indicateur` de `indicateurs` et `cibles` (liste "
             "déroulante dans le classeur). Définition : numérateur / dénominateur × échelle. "
             "Producteur : où trouver la valeur (ScanSanté et RIM-P de l'ATIH, Atlas de la "
             "santé mentale en France, DREES, SNDS, enquêtes locales…). « Calculé » : "
             "ptsm-diag calcule l'indicateur à partir des données ouvertes (FINESS, "
             "équipements, populations INSEE) pour le territoire et ses références quand "
             "vous ne le donnez pas ; une valeur de `indicateurs.csv` l'emporte toujours.",
             "",
             "| Identifiant | Indicateur | Axe de la rosace | Numérateur | Dénominateur | "
             "Unité | Producteur (sources) | Calculé par ptsm-diag |",
             "|---|---|---|---|---|---|---|---|"]
    for ind in load_indicator_catalog().values():
        axis = f"{ind.axis} – {axes.get(ind.axis, '')}" if ind.axis else "—"
        computed = ("oui (" + " + ".join(OPEN_DATA_INDICATORS[ind.id][0]) + ")"
                    if ind.id in OPEN_DATA_INDICATORS else "non")
        lines.append(
            f"| `{ind.id}` | {_cell(ind.label)} | {_cell(axis)} | {_cell(ind.numerator)} | "
            f"{_cell(ind.denominator or '—')} | {_cell(ind.unit)} | "
            f"{_cell(', '.join(ind.sources))} | {computed} |")
    return lines + [""]


def load_vocabularies_axes() -> dict:
    """Rosace axis number → French label."""
    from ptsm_diag.catalog import load_vocabularies

    return dict(load_vocabularies().rosace_axes)


def indicator_ids() -> list[str]:
    """Identifiers of the indicator catalogue, in catalogue order."""
    from ptsm_diag.catalog import load_indicator_catalog

    return list(load_indicator_catalog())


def dictionary_markdown() -> str:
    """The French data dictionary (``data_templates/README.md``)."""
    files = "\n".join(f"| {spec.title} | `{name}.csv` | {_cell(spec.description)} |"
                      for name, spec in TABLES.items())
    lines = [DICTIONARY_HEAD.replace("{files}", files)]
    for spec in TABLES.values():
        lines += _table_section(spec)
    lines += _vocabulary_sections()
    lines += _indicator_section()
    return "\n".join(lines).rstrip() + "\n"


# --- XLSX workbook -----------------------------------------------------------------------


def _typed_cell(col: ColumnSpec, text: str) -> object:
    """An example cell as the workbook stores it (numbers and dates typed)."""
    if text == "":
        return None
    number = text.replace(",", ".").replace(" ", "")
    if col.kind == "int":
        return int(number)
    if col.kind == "float":
        return float(number)
    if col.kind == "date":
        if "/" in text:
            return dt.datetime.strptime(text, "%d/%m/%Y")
        return dt.datetime.strptime(text, "%Y-%m-%d")
    return text


def build_workbook_bytes() -> bytes:
    """The ``modele_ptsm.xlsx`` workbook, byte-for-byte reproducible."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = Workbook()
    workbook.properties.creator = "ptsm-diag"
    workbook.properties.created = _FIXED_TIME
    workbook.properties.modified = _FIXED_TIME
    header_font = Font(bold=True, color="FFFFFF")
    header_fill = PatternFill("solid", fgColor="1F4E79")
    required_fill = PatternFill("solid", fgColor="C00000")

    readme = workbook.active
    readme.title = README_SHEET
    _fill_readme(readme, Font(bold=True), header_font, header_fill)

    lists = workbook.create_sheet(LISTS_SHEET)
    list_ranges: dict[str, str] = {}
    vocabularies = sorted({c.vocabulary for s in TABLES.values() for c in s.columns
                           if c.vocabulary and c.kind != "list"})
    for position, vocabulary in enumerate(vocabularies, start=1):
        letter = get_column_letter(position)
        lists.cell(row=1, column=position, value=vocabulary).font = Font(bold=True)
        codes = list(vocabulary_labels(vocabulary))
        as_int = vocabulary in ("priorites", "themes_action")
        for row, code in enumerate(codes, start=2):
            lists.cell(row=row, column=position, value=int(code) if as_int else code)
        list_ranges[vocabulary] = f"{LISTS_SHEET}!${letter}$2:${letter}${len(codes) + 1}"
    ids = indicator_ids()
    letter = get_column_letter(len(vocabularies) + 1)
    lists.cell(row=1, column=len(vocabularies) + 1, value="indicateurs").font = Font(bold=True)
    for row, code in enumerate(ids, start=2):
        lists.cell(row=row, column=len(vocabularies) + 1, value=code)
    indicator_range = f"{LISTS_SHEET}!${letter}$2:${letter}${len(ids) + 1}"
    lists.sheet_state = "hidden"

    for name, spec in TABLES.items():
        sheet = workbook.create_sheet(name, index=len(workbook.sheetnames) - 1)
        for position, col in enumerate(spec.columns, start=1):
            letter = get_column_letter(position)
            cell = sheet.cell(row=1, column=position, value=col.name)
            cell.font = header_font
            cell.fill = required_fill if col.required else header_fill
            cell.alignment = Alignment(horizontal="center")
            cell.comment = Comment(
                f"{'Obligatoire' if col.required else 'Facultatif'} — {col.description}",
                "ptsm-diag", width=300, height=120)
            sheet.column_dimensions[letter].width = max(12, min(40, len(col.name) + 6))
            if col.kind in ("code", "text", "list"):
                sheet.column_dimensions[letter].number_format = "@"
            elif col.kind == "date":
                sheet.column_dimensions[letter].number_format = "yyyy-mm-dd"
            for row, example in enumerate(EXAMPLES[name], start=2):
                value = _typed_cell(col, example.get(col.name, ""))
                target = sheet.cell(row=row, column=position, value=value)
                if col.kind in ("code", "text", "list"):
                    target.number_format = "@"
                elif col.kind == "date":
                    target.number_format = "yyyy-mm-dd"
            if col.vocabulary and col.kind != "list":
                validation = DataValidation(
                    type="list", formula1=f"={list_ranges[col.vocabulary]}", allow_blank=True,
                    showErrorMessage=True, errorTitle="Valeur non prévue",
                    error=f"Choisissez une valeur de la liste ({VOCABULARY_TITLES[col.vocabulary]}"
                          ", voir la feuille Lisez-moi).",
                    promptTitle=col.name, prompt=col.description[:250], showInputMessage=True,
                )
                validation.add(f"{letter}2:{letter}1048576")
                sheet.add_data_validation(validation)
            elif col.referential == "indicateurs" and col.kind != "list":
                validation = DataValidation(
                    type="list", formula1=f"={indicator_range}", allow_blank=True,
                    showErrorMessage=True, errorTitle="Indicateur inconnu",
                    error="Choisissez un identifiant du catalogue des indicateurs (liste, "
                          "et data_templates/README.md pour leur définition).",
                    promptTitle=col.name, prompt=col.description[:250], showInputMessage=True,
                )
                validation.add(f"{letter}2:{letter}1048576")
                sheet.add_data_validation(validation)
        sheet.freeze_panes = "A2"
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(spec.columns))}1"

    buffer = io.BytesIO()
    workbook.save(buffer)
    return _reproducible_zip(buffer.getvalue())


def _fill_readme(sheet, bold, header_font, header_fill) -> None:
    """The « Lisez-moi » sheet: how to fill the workbook, and the dictionary."""
    rows: list[tuple[str, ...]] = [
        ("Modèle de données ptsm-diag — données d'exemple FICTIVES",),
        ("Une feuille par table ; la ligne 1 donne les noms des colonnes (ne pas les modifier).",),
        ("En-têtes rouges : colonnes obligatoires ; bleues : facultatives. Survolez un en-tête "
         "pour sa description.",),
        ("Les listes déroulantes donnent les valeurs admises (vocabulaires du catalogue).",),
        ("Les colonnes de codes sont au format Texte : les zéros initiaux (01001) sont "
         "conservés.",),
        ("Listes dans une cellule : codes séparés par « | ». Dates : AAAA-MM-JJ ou JJ/MM/AAAA.",),
        ("Le pilote d'une action est une structure, jamais le nom d'une personne.",),
        ("Vérifiez le classeur avec : ptsm-diag valider DOSSIER (le classeur dans DOSSIER).",),
        ("Dictionnaire complet : data_templates/README.md.",),
        (),
        ("table", "colonne", "obligatoire", "type", "valeurs admises", "description"),
    ]
    for spec in TABLES.values():
        for col in spec.columns:
            rows.append((spec.name, col.name, "oui" if col.required else "non",
                         KIND_LABELS[col.kind], allowed_text(col).replace("](#", " (#"),
                         col.description))
    for number, row in enumerate(rows, start=1):
        for position, value in enumerate(row, start=1):
            sheet.cell(row=number, column=position, value=value)
    sheet["A1"].font = bold
    header_row = 11
    for position in range(1, 7):
        cell = sheet.cell(row=header_row, column=position)
        cell.font, cell.fill = header_font, header_fill
    for letter, width in zip("ABCDEF", (14, 18, 12, 14, 45, 90), strict=True):
        sheet.column_dimensions[letter].width = width


def _reproducible_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed timestamps, so that the same content gives the same bytes."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the save time
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>"
                                 + _FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode(), content)
            target.writestr(fixed, content)
    return out.getvalue()


def write_templates(out_dir: str | Path) -> list[Path]:
    """Write the CSV templates, ``README.md`` and ``modele_ptsm.xlsx`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = write_csv_templates(out)
    readme = out / "README.md"
    readme.write_text(dictionary_markdown(), encoding="utf-8")
    workbook = out / WORKBOOK_NAME
    workbook.write_bytes(build_workbook_bytes())
    return [*paths, readme, workbook]
