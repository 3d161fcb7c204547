"""The indicators of the identity card with context (social and demographic context).

Each one is a share, in %: ``numerator / denominator × 100``. A territory, département,
région or France value is always recomputed from summed numerators and denominators,
never averaged (:mod:`ptsm_diag.compute.context`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ContextIndicator:
    """One context indicator.

    Attributes
    ----------
    id : str
        Identifier, as written in the ``indicateur`` column of ``contexte.csv``.
    label : str
        French label shown in the report.
    numerator, denominator : str
        French definitions (the data dictionary shows them).
    group : str
        French heading of the card the line belongs to.
    sources : str
        Where the open data come from.
    """

    id: str
    label: str
    numerator: str
    denominator: str
    group: str
    sources: str


def _age_share(ind_id: str, label: str, numerator: str) -> ContextIndicator:
    """A share of the population by age (INSEE estimates by département and age)."""
    return ContextIndicator(ind_id, label, numerator, "habitants", "Structure par âge",
                            "INSEE, estimations de population par département et âge")


CONTEXT_INDICATORS: dict[str, ContextIndicator] = {
    ind.id: ind for ind in (
        _age_share("part_0_19", "Part des moins de 20 ans", "habitants de 0 à 19 ans"),
        _age_share("part_20_64", "Part des 20-64 ans", "habitants de 20 à 64 ans"),
        _age_share("part_65_plus", "Part des 65 ans ou plus", "habitants de 65 ans ou plus"),
        _age_share("part_75_plus", "Part des 75 ans ou plus", "habitants de 75 ans ou plus"),
        ContextIndicator("taux_pauvrete", "Taux de pauvreté (seuil à 60 % du niveau de vie "
                         "médian)", "personnes des ménages fiscaux pauvres",
                         "personnes des ménages fiscaux", "Précarité",
                         "INSEE, Filosofi (TP60)"),
        ContextIndicator("taux_chomage", "Taux de chômage des 15-64 ans (recensement)",
                         "chômeurs de 15 à 64 ans", "actifs de 15 à 64 ans", "Précarité",
                         "INSEE, recensement (P_CHOM1564 / P_ACT1564)"),
        ContextIndicator("part_population_qpv", "Part de la population vivant en quartier "
                         "prioritaire (QPV)", "habitants des quartiers prioritaires",
                         "habitants", "Précarité", "INSEE / ANCT, population des QPV"),
        ContextIndicator("part_allocataires_aah", "Allocataires de l'AAH pour 100 adultes de "
                         "20-64 ans", "allocataires de l'allocation aux adultes handicapés",
                         "habitants de 20 à 64 ans", "Handicap",
                         "CAF (allocataires AAH par commune), INSEE"),
        ContextIndicator("part_menages_une_personne", "Part des ménages d'une personne "
                         "(isolement)", "ménages d'une personne", "ménages", "Isolement",
                         "INSEE, recensement (C_MENPSEUL / C_MEN)"),
    )
}

CONTEXT_LEVELS: dict[str, str] = {
    "commune": "Commune",
    "departement": "Département",
    "region": "Région (valeur publiée)",
    "france": "France (valeur publiée)",
}
