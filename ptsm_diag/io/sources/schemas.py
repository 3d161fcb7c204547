"""The input tables, declared as data: columns, types, vocabularies, keys.

Other modules rely on these exact column names. The checks that need more than one
column (numerator ≤ denominator, dates, coordinates...) are in :mod:`.rules`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ptsm_diag import fmt
from ptsm_diag.fmt import LIST_SEPARATOR  # noqa: F401 - public here too

Kind = Literal["code", "text", "int", "float", "date", "list"]

# Formats of the official codes (regular expressions, full match).
COMMUNE_PATTERN = r"\d{5}|2[AB]\d{3}"
DEPARTEMENT_PATTERN = r"\d{2}|2[AB]|97\d"
FINESS_PATTERN = r"\d[\dAB]\d{7}"
REGION_PATTERN = r"\d{2}"
REFERENCE_FRANCE = "FRANCE"
REFERENCE_REGION_PATTERN = r"R\d{2}"
YEAR_RANGE = (1900, 2100)


def format_number(value: float) -> str:
    """French display of a bound: ``1300000`` → ``"1 300 000"``, ``0.5`` → ``"0,5"``."""
    return fmt.format_number(value, 0 if float(value).is_integer() else 6, trim=True)


@dataclass(frozen=True)
class ColumnSpec:
    """One column of an input table.

    Attributes
    ----------
    name : str
        Column name (lower case, as in the templates).
    kind : {"code", "text", "int", "float", "date", "list"}
        ``code`` and ``text`` stay text; ``list`` is text of ``|``-separated codes.
    required : bool
        A value is needed on every row.
    description : str
        French description for the data dictionary.
    vocabulary : str, optional
        Name of a controlled vocabulary (see :mod:`.vocab`).
    referential : str, optional
        Name of a referential given at validation time (communes, indicateurs,
        territoires, territoires_ou_reference, regions).
    minimum, maximum : float, optional
        Bounds (inclusive unless ``strict_minimum``).
    pattern, pattern_text : str, optional
        Format (regular expression, full match) and its French wording; the wording
        alone documents a format checked by a rule of :mod:`.rules`.
    repair : str, optional
        Documented repair applied before checks: ``commune``, ``finess``, ``departement``.
    """

    name: str
    kind: Kind
    required: bool
    description: str
    vocabulary: str | None = None
    referential: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    strict_minimum: bool = False
    pattern: str | None = None
    pattern_text: str = ""
    repair: str | None = None


@dataclass(frozen=True)
class TableSpec:
    """One input table: its columns, key and French description."""

    name: str
    title: str
    description: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]
    unique: tuple[str, ...] = ()  # other columns whose non-empty values must be unique
    rules_text: tuple[str, ...] = ()  # French wording of the multi-column rules

    @property
    def column_names(self) -> list[str]:
        """Column names in template order."""
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        """Columns that must be present (and filled) in the file."""
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> ColumnSpec:
        """The spec of one column."""
        return next(c for c in self.columns if c.name == name)


def _year(name: str, required: bool, description: str) -> ColumnSpec:
    return ColumnSpec(name, "int", required, description,
                      minimum=YEAR_RANGE[0], maximum=YEAR_RANGE[1])


def _commune(required: bool = True) -> ColumnSpec:
    return ColumnSpec(
        "code_commune", "code", required,
        "Code INSEE de la commune (Code officiel géographique), 5 caractères.",
        referential="communes", pattern=COMMUNE_PATTERN,
        pattern_text="code commune INSEE à 5 caractères (ex. 01001, 2A004, 97105)",
        repair="commune",
    )


def _departement() -> ColumnSpec:
    return ColumnSpec(
        "code_departement", "code", True, "Code du département (ex. 01, 2A, 971).",
        pattern=DEPARTEMENT_PATTERN,
        pattern_text="code département (01 à 95, 2A, 2B, 971 à 976)",
        repair="departement",
    )


TERRITOIRES = TableSpec(
    name="territoires",
    title="Territoires PTSM",
    description=(
        "Une ligne par composante d'un territoire PTSM : un département entier ou une "
        "commune. Un territoire d'un seul département a une seule ligne ; un territoire "
        "fait de plusieurs départements ou d'une partie de département a plusieurs lignes."
    ),
    columns=(
        ColumnSpec("code_territoire", "code", True,
                   "Code du territoire, choisi librement (souvent le code du département). "
                   "« FRANCE » et « R » suivi de deux chiffres sont réservés aux références."),
        ColumnSpec("nom_territoire", "text", True, "Nom du territoire PTSM."),
        ColumnSpec("code_region", "code", False,
                   "Code INSEE de la région (2 chiffres, ex. 53 pour la Bretagne).",
                   referential="regions", pattern=REGION_PATTERN,
                   pattern_text="code région INSEE à 2 chiffres (ex. 53)"),
        ColumnSpec("niveau", "code", True,
                   "Ce que désigne la colonne « code » : un département entier ou une commune.",
                   vocabulary="niveaux"),
        ColumnSpec("code", "code", True,
                   "Code du département (ex. 01, 2A, 971) si niveau = departement, code INSEE "
                   "de la commune si niveau = commune.",
                   pattern_text="département existant (01, 2A, 971) ou commune existante "
                                "(01001), selon le niveau"),
    ),
    key=("code_territoire", "niveau", "code"),
    rules_text=(
        "Le code doit être un département connu (niveau departement) ou une commune connue "
        "(niveau commune).",
        "Les codes « FRANCE » et « R53 » (R + code région) sont réservés aux valeurs de "
        "référence : ils ne peuvent pas désigner un territoire.",
        "Avertissement si un même territoire porte plusieurs noms, ou si une même commune ou "
        "un même département appartient à plusieurs territoires.",
    ),
)

POPULATION = TableSpec(
    name="population",
    title="Population",
    description="Population par commune, année et tranche d'âge.",
    columns=(
        _commune(),
        _year("annee", True, "Année de la population (ex. 2021)."),
        ColumnSpec("tranche_age", "code", True,
                   "Tranche d'âge. Le total du territoire utilise la partition 0-17, 18-64, 65+.",
                   vocabulary="tranches_age"),
        ColumnSpec("population", "int", True,
                   "Nombre d'habitants (entier ≥ 0 ; espaces de milliers acceptés).",
                   minimum=0),
    ),
    key=("code_commune", "annee", "tranche_age"),
)

RESSOURCES = TableSpec(
    name="ressources",
    title="Ressources",
    description=(
        "Une ligne par structure ou service (établissement, CMP, GEM, CLSM...), "
        "avec sa localisation et ses capacités."
    ),
    columns=(
        ColumnSpec("id_ressource", "code", True,
                   "Identifiant unique de la ressource dans le fichier (numéro FINESS ou "
                   "identifiant local)."),
        ColumnSpec("finess", "code", False,
                   "Numéro FINESS de l'établissement (9 caractères).",
                   pattern=FINESS_PATTERN,
                   pattern_text="numéro FINESS à 9 caractères (ex. 350000000, 2A0000000)",
                   repair="finess"),
        ColumnSpec("nom", "text", True, "Nom de la structure ou du service."),
        ColumnSpec("type_ressource", "code", True,
                   "Type de ressource (typologie du catalogue).",
                   vocabulary="types_ressource"),
        ColumnSpec("champ", "code", False,
                   "Champ de la ressource ; vide = champ par défaut du type.",
                   vocabulary="champs"),
        ColumnSpec("public", "code", False,
                   "Public accueilli ; vide = public par défaut du type.",
                   vocabulary="publics"),
        _commune(),
        ColumnSpec("longitude", "float", False,
                   "Longitude WGS84 en degrés décimaux (ex. -1,6778).",
                   pattern_text="en France (métropole ou outre-mer), avec la latitude"),
        ColumnSpec("latitude", "float", False,
                   "Latitude WGS84 en degrés décimaux (ex. 48,1173).",
                   pattern_text="en France (métropole ou outre-mer), avec la longitude"),
        ColumnSpec("x_lambert93", "float", False,
                   "Coordonnée X Lambert-93 (EPSG:2154) en mètres, France métropolitaine "
                   "(comme dans le fichier FINESS).",
                   minimum=50_000, maximum=1_300_000),
        ColumnSpec("y_lambert93", "float", False,
                   "Coordonnée Y Lambert-93 (EPSG:2154) en mètres.",
                   minimum=6_000_000, maximum=7_150_000),
        ColumnSpec("capacite_lits", "int", False, "Nombre de lits (entier ≥ 0).", minimum=0),
        ColumnSpec("capacite_places", "int", False, "Nombre de places (entier ≥ 0).", minimum=0),
        ColumnSpec("etp", "float", False,
                   "Équivalents temps plein de personnel (nombre ≥ 0).", minimum=0),
        ColumnSpec("prestations", "list", False,
                   "Prestations du panier offertes, séparées par « | ».",
                   vocabulary="prestations"),
        ColumnSpec("telephone", "text", False,
                   "Téléphone public de la structure (pas de numéro personnel)."),
        ColumnSpec("source", "text", False, "Origine de l'information (ex. FINESS 2024)."),
    ),
    key=("id_ressource",),
    unique=("finess",),
    rules_text=(
        "Un même numéro FINESS ne peut figurer que sur une ligne.",
        "Longitude et latitude vont ensemble, de même que x_lambert93 et y_lambert93.",
        "Les coordonnées WGS84 doivent tomber en France (métropole, Corse, Antilles, Guyane, "
        "La Réunion, Mayotte, Saint-Pierre-et-Miquelon).",
        "Champ et public vides prennent la valeur par défaut du type de ressource.",
    ),
)

INDICATEURS = TableSpec(
    name="indicateurs",
    title="Indicateurs",
    description=(
        "Valeurs des indicateurs, au format long : une ligne par territoire, indicateur et "
        "année. Les références (France, région) peuvent être fournies sous les codes "
        "« FRANCE » et « R » + code région (ex. R53) ; sinon elles sont calculées."
    ),
    columns=(
        ColumnSpec("code_territoire", "code", True,
                   "Code d'un territoire de territoires.csv, ou « FRANCE », ou « R » + code "
                   "région (ex. R53).",
                   referential="territoires_ou_reference"),
        ColumnSpec("indicateur", "code", True,
                   "Identifiant de l'indicateur dans le catalogue des indicateurs.",
                   referential="indicateurs"),
        _year("annee", True, "Année de la mesure."),
        ColumnSpec("numerateur", "float", False, "Numérateur (effectif ≥ 0).", minimum=0),
        ColumnSpec("denominateur", "float", False, "Dénominateur (> 0).",
                   minimum=0, strict_minimum=True),
        ColumnSpec("valeur", "float", False,
                   "Valeur, quand seule une valeur existe (délai moyen, taux publié...)."),
        ColumnSpec("source", "text", False, "Source et millésime (ex. RIM-P 2022)."),
    ),
    key=("code_territoire", "indicateur", "annee"),
    rules_text=(
        "Chaque ligne a soit un numérateur et un dénominateur, soit une valeur.",
        "Pour un indicateur de type proportion (catalogue), le numérateur ne peut pas "
        "dépasser le dénominateur ; un ratio (ex. surmortalité, décès observés / attendus) "
        "le peut.",
    ),
)

ACTIONS = TableSpec(
    name="actions",
    title="Feuille de route (actions)",
    description=(
        "Les fiches actions de la feuille de route, une ligne par action et par date de "
        "suivi : l'historique des statuts est conservé."
    ),
    columns=(
        ColumnSpec("id_action", "code", True, "Identifiant de l'action (ex. 35-A01)."),
        ColumnSpec("code_territoire", "code", True, "Code du territoire (territoires.csv).",
                   referential="territoires"),
        ColumnSpec("priorite", "int", True,
                   "Priorité du PTSM (1 à 6, articles R3224-5 à R3224-10 du CSP).",
                   vocabulary="priorites"),
        ColumnSpec("theme", "int", True, "Thème d'action (1 à 5).", vocabulary="themes_action"),
        ColumnSpec("intitule", "text", True, "Intitulé de l'action."),
        ColumnSpec("pilote", "text", True,
                   "Structure pilote de l'action. Indiquez une structure (établissement, "
                   "association, collectivité), jamais le nom d'une personne."),
        ColumnSpec("partenaires", "list", False, "Structures partenaires, séparées par « | »."),
        ColumnSpec("statut", "code", True, "Statut à la date de suivi.",
                   vocabulary="statuts_action"),
        ColumnSpec("date_debut", "date", False, "Date de début (AAAA-MM-JJ ou JJ/MM/AAAA)."),
        ColumnSpec("date_echeance", "date", False,
                   "Date d'échéance prévue (AAAA-MM-JJ ou JJ/MM/AAAA)."),
        ColumnSpec("date_suivi", "date", True,
                   "Date du point de suivi (AAAA-MM-JJ ou JJ/MM/AAAA)."),
        ColumnSpec("avancement", "float", False, "Avancement en % (0 à 100).",
                   minimum=0, maximum=100),
        ColumnSpec("motif", "text", False,
                   "Motif de la suspension ou de l'abandon (attendu si le statut est "
                   "Suspendue ou Abandonnée)."),
        ColumnSpec("indicateurs", "list", False,
                   "Identifiants des indicateurs de suivi, séparés par « | ».",
                   referential="indicateurs"),
    ),
    key=("id_action", "date_suivi"),
    rules_text=(
        "La date d'échéance ne peut pas précéder la date de début.",
        "Avertissement si une action Suspendue ou Abandonnée n'a pas de motif.",
        "Avertissement si le pilote ressemble au nom d'une personne (M., Mme, Dr...).",
    ),
)

CIBLES = TableSpec(
    name="cibles",
    title="Cibles des indicateurs d'impact",
    description=(
        "Indicateurs d'impact du PTSM : valeur initiale, cible à 5 ans et valeur actuelle, "
        "une ligne par territoire et indicateur."
    ),
    columns=(
        ColumnSpec("code_territoire", "code", True,
                   "Code d'un territoire de territoires.csv, ou une référence (« FRANCE », "
                   "« R » + code région) pour une cible nationale ou régionale.",
                   referential="territoires_ou_reference"),
        ColumnSpec("indicateur", "code", True, "Identifiant de l'indicateur (catalogue).",
                   referential="indicateurs"),
        _year("annee_initiale", True, "Année de la valeur initiale."),
        ColumnSpec("valeur_initiale", "float", True, "Valeur initiale."),
        _year("annee_cible", True, "Année de la cible (en général initiale + 5)."),
        ColumnSpec("valeur_cible", "float", True, "Valeur cible."),
        _year("annee_actuelle", False, "Année de la dernière valeur connue."),
        ColumnSpec("valeur_actuelle", "float", False, "Dernière valeur connue."),
    ),
    key=("code_territoire", "indicateur"),
    rules_text=(
        "L'année cible doit suivre l'année initiale ; l'année actuelle ne peut pas la "
        "précéder.",
        "annee_actuelle et valeur_actuelle vont ensemble.",
    ),
)



def _actor(number: int) -> tuple[ColumnSpec, ...]:
    """The three columns naming one actor of a link (a resource, or a free name)."""
    return (
        ColumnSpec(f"id_ressource_{number}", "code", False,
                   f"Identifiant (id_ressource) de l'acteur {number} dans ressources.csv ; "
                   f"vide si la structure n'y figure pas (remplir alors nom_acteur_{number}).",
                   referential="ressources"),
        ColumnSpec(f"nom_acteur_{number}", "text", False,
                   f"Nom de la structure {number} quand elle ne figure pas dans "
                   "ressources.csv (jamais le nom d'une personne)."),
        ColumnSpec(f"type_acteur_{number}", "code", False,
                   f"Type de la structure {number} nommée librement (typologie des "
                   "ressources) : il donne son champ ; ignoré quand id_ressource_"
                   f"{number} est rempli.",
                   vocabulary="types_ressource"),
    )


PARTENARIATS = TableSpec(
    name="partenariats",
    title="Partenariats (coopérations entre acteurs)",
    description=(
        "Facultative. Une ligne par lien de coopération entre deux structures (convention, "
        "échanges de pratiques, stage d'immersion, équipe mobile...) : chaque acteur est une "
        "ressource de ressources.csv ou une structure nommée librement."
    ),
    columns=(
        ColumnSpec("id_lien", "code", True,
                   "Identifiant du lien, unique dans le fichier (ex. L001)."),
        *_actor(1),
        *_actor(2),
        ColumnSpec("type_lien", "code", True, "Nature de la coopération.",
                   vocabulary="types_lien"),
        ColumnSpec("date_debut", "date", False,
                   "Date de début du lien (AAAA-MM-JJ ou JJ/MM/AAAA) ; vide = actif depuis "
                   "toujours."),
        ColumnSpec("date_fin", "date", False,
                   "Date de fin du lien (AAAA-MM-JJ ou JJ/MM/AAAA) ; vide = toujours actif."),
        ColumnSpec("frequence", "code", False,
                   "Fréquence des rencontres ou interventions (quand le lien n'a pas de date "
                   "de fin).",
                   vocabulary="frequences_lien"),
        ColumnSpec("note", "text", False,
                   "Remarque libre sur le lien (aucune donnée personnelle)."),
        ColumnSpec("source", "text", False,
                   "Origine de l'information (ex. enquête PTSM 2024)."),
    ),
    key=("id_lien",),
    rules_text=(
        "Chaque acteur est désigné par id_ressource_N (un identifiant de ressources.csv) "
        "ou par nom_acteur_N (nom libre de la structure) ; un identifiant absent de "
        "ressources.csv est une erreur.",
        "Les deux acteurs d'un lien sont différents.",
        "La date de fin ne peut pas précéder la date de début.",
        "Un lien est actif à une date entre sa date de début et sa date de fin (bornes "
        "comprises) ; un lien « ponctuelle » sans date de fin n'est actif qu'à sa date de "
        "début.",
        "Avertissement si un lien n'a ni date de fin ni fréquence, ou si un nom d'acteur "
        "ressemble au nom d'une personne (M., Mme, Dr...).",
    ),
)

REFERENCES_NATIONALES = TableSpec(
    name="references_nationales",
    title="Références nationales (ressources par département)",
    description=(
        "Facultative, écrite par « ptsm-diag donnees telecharger » à partir des fichiers "
        "FINESS nationaux : une ligne par département et type de ressource, avec le nombre de "
        "structures et leurs capacités. Elle sert aux références région et France des "
        "densités et des indicateurs calculés, quel que soit le contenu du dossier. Un "
        "département ou un type absent de cette table n'est pas couvert ; sans table, la "
        "référence est « non disponible »."
    ),
    columns=(
        _departement(),
        ColumnSpec("type_ressource", "code", True,
                   "Type de ressource (typologie du catalogue).",
                   vocabulary="types_ressource"),
        ColumnSpec("nombre", "int", True,
                   "Nombre de structures de ce type dans le département (0 = aucune).",
                   minimum=0),
        ColumnSpec("capacite_lits", "int", False,
                   "Somme des lits connus (entier ≥ 0).", minimum=0),
        ColumnSpec("capacite_places", "int", False,
                   "Somme des places installées connues (entier ≥ 0).", minimum=0),
        ColumnSpec("nombre_sans_capacite", "int", False,
                   "Structures sans capacité connue (0 = capacité connue pour toutes) ; vide = "
                   "0 si une capacité est donnée, sinon toutes.", minimum=0),
        ColumnSpec("date_finess", "date", False,
                   "Date de l'extraction FINESS (AAAA-MM-JJ ou JJ/MM/AAAA)."),
        ColumnSpec("source", "text", False,
                   "Origine des chiffres (ex. FINESS 2025-01-15)."),
    ),
    key=("code_departement", "type_ressource"),
    rules_text=(
        "Une seule ligne par département et type de ressource.",
        "Un département absent de la table, ou un type sans ligne pour un département, n'est "
        "pas couvert : la référence est calculée sans lui (le rapport le dit) ou déclarée "
        "« non disponible » quand la couverture est insuffisante.",
    ),
)

POPULATION_NATIONALE = TableSpec(
    name="population_nationale",
    title="Population nationale (par département et tranche d'âge)",
    description=(
        "Facultative, écrite par « ptsm-diag donnees telecharger » à partir du fichier "
        "national du recensement INSEE : une ligne par département, année et tranche d'âge. "
        "Elle donne les dénominateurs par âge des références région et France des indicateurs "
        "calculés (places pour 1 000 adultes), quel que soit le contenu du dossier. Un "
        "département absent de la table n'est pas couvert : l'indicateur n'est alors pas "
        "calculé."
    ),
    columns=(
        _departement(),
        _year("annee", True, "Année du recensement (ex. 2022)."),
        ColumnSpec("tranche_age", "code", True,
                   "Tranche d'âge (0-17, 18-64, 65+, 20-64, ensemble...).",
                   vocabulary="tranches_age"),
        ColumnSpec("population", "int", True,
                   "Nombre d'habitants du département (entier ≥ 0).", minimum=0),
        ColumnSpec("source", "text", False,
                   "Origine des chiffres (ex. INSEE, recensement 2022)."),
    ),
    key=("code_departement", "annee", "tranche_age"),
    rules_text=(
        "Une seule ligne par département, année et tranche d'âge.",
        "Un département absent de la table n'est pas couvert : un indicateur dont une "
        "référence a besoin de lui n'est pas calculé (le rapport le dit).",
    ),
)

CONTEXTE = TableSpec(
    name="contexte",
    title="Contexte social et démographique (carte d'identité)",
    description=(
        "Facultative. Une ligne par unité géographique (commune, département, ou valeur "
        "publiée pour une région ou la France), indicateur de contexte et année : structure "
        "par âge, pauvreté, chômage, allocataires de l'AAH, population en quartier "
        "prioritaire, ménages d'une personne. Donnez le numérateur et le dénominateur : le "
        "territoire, son département, sa région et la France sont recalculés en les "
        "additionnant (jamais en faisant la moyenne des taux). Sans cette table, la carte "
        "d'identité affiche « non disponible »."
    ),
    columns=(
        ColumnSpec("niveau", "code", True,
                   "Ce que désigne la colonne « code » : commune, departement, region (valeur "
                   "publiée pour la région) ou france (valeur publiée pour la France).",
                   vocabulary="niveaux_contexte"),
        ColumnSpec("code", "code", True,
                   "Code INSEE de la commune (01001), du département (01, 2A, 971) ou de la "
                   "région (53), ou « FRANCE », selon le niveau.",
                   pattern_text="commune (01001), département (01, 2A, 971), région (53) ou "
                                "FRANCE, selon le niveau"),
        ColumnSpec("indicateur", "code", True,
                   "Identifiant de l'indicateur de contexte (voir la liste des indicateurs "
                   "de contexte).",
                   vocabulary="indicateurs_contexte"),
        _year("annee", True, "Année (millésime) de la donnée (ex. 2021)."),
        ColumnSpec("numerateur", "float", False,
                   "Numérateur : effectif concerné (ex. chômeurs de 15 à 64 ans), ≥ 0.",
                   minimum=0),
        ColumnSpec("denominateur", "float", False,
                   "Dénominateur : population de référence (ex. actifs de 15 à 64 ans), > 0.",
                   minimum=0, strict_minimum=True),
        ColumnSpec("valeur", "float", False,
                   "Taux publié en % (0 à 100), quand le numérateur n'est pas publié (ex. "
                   "TP60 de Filosofi) ; avec le dénominateur, le numérateur en est déduit.",
                   minimum=0, maximum=100),
        ColumnSpec("source", "text", False,
                   "Source et millésime (ex. INSEE, recensement 2021)."),
    ),
    key=("niveau", "code", "indicateur", "annee"),
    rules_text=(
        "Le code doit être une commune ou un département connu, une région connue, ou "
        "« FRANCE », selon le niveau.",
        "Chaque ligne a un numérateur et un dénominateur, ou une valeur (avec ou sans "
        "dénominateur) ; le numérateur ne peut pas dépasser le dénominateur.",
        "Une valeur donnée seule (sans dénominateur) ne sert qu'à son unité : elle ne peut "
        "pas être additionnée avec d'autres.",
    ),
)

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (TERRITOIRES, POPULATION, RESSOURCES, INDICATEURS, ACTIONS, CIBLES,
                 PARTENARIATS, REFERENCES_NATIONALES, POPULATION_NATIONALE, CONTEXTE)
}
