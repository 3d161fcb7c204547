"""Domain vocabularies and catalogues, declared as YAML data."""

from ptsm_diag.catalog.vocabularies import (
    ResourceType,
    Vocabularies,
    load_resource_types,
    load_vocabularies,
)

__all__ = ["ResourceType", "Vocabularies", "load_resource_types", "load_vocabularies"]
