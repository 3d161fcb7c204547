"""Readers of the input tables (``data_templates/`` format), with validation.

- :func:`read_table` — one file → accepted rows, problems, counts;
- :func:`validate_folder` — every file of a folder → a :class:`ValidationReport`;
- :func:`read_folder` — every file of a folder → a :class:`DataFolder` of typed tables,
  raising :class:`~ptsm_diag.errors.InputError` when a file has errors;
- :data:`TABLES` — the table specs (columns, types, vocabularies, keys).
"""

from ptsm_diag.io.sources.folder import DataFolder, ValidationReport, read_folder, validate_folder
from ptsm_diag.io.sources.referentials import Referentials, bundled_referentials
from ptsm_diag.io.sources.schemas import TABLES, ColumnSpec, TableSpec
from ptsm_diag.io.sources.validate import TableResult, empty_table, read_table, validate_table

__all__ = [
    "TABLES",
    "ColumnSpec",
    "DataFolder",
    "Referentials",
    "TableResult",
    "TableSpec",
    "ValidationReport",
    "bundled_referentials",
    "empty_table",
    "read_folder",
    "read_table",
    "validate_folder",
    "validate_table",
]
