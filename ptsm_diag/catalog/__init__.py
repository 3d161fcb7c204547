"""Domain vocabularies and catalogues, declared as YAML data."""

from ptsm_diag.catalog.indicator_catalog import Indicator, load_indicator_catalog
from ptsm_diag.catalog.vocabularies import (
    ResourceType,
    Vocabularies,
    load_resource_types,
    load_vocabularies,
    psychiatric_types,
    travel_types,
)

__all__ = [
    "Indicator",
    "ResourceType",
    "Vocabularies",
    "load_indicator_catalog",
    "load_resource_types",
    "load_vocabularies",
    "psychiatric_types",
    "travel_types",
]
