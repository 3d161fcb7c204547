"""ptsm-diag : diagnostic territorial des Projets Territoriaux de Santé Mentale.

The public API, imported on first use (``import ptsm_diag`` stays light)::

    from ptsm_diag import prepare_diagnostic, render_report
    diag = prepare_diagnostic("35")            # demo data
    path = render_report("35", None, "reports")

=========================  ====================================================
``prepare_diagnostic``     every table a territorial report shows (facade)
``prepare_synthesis``      the same for several territories side by side
``read_folder``            read and validate a data folder (every problem listed)
``validate_folder``        the same, as a report of problems
``render_report``          run a notebook and write its HTML report
``run_batch``              one report per territory, in parallel, with an index
``generate_demo_data``     write the fictional demonstration data
=========================  ====================================================
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "prepare_diagnostic": "ptsm_diag.diagnostic",
    "prepare_synthesis": "ptsm_diag.diagnostic",
    "Diagnostic": "ptsm_diag.diagnostic",
    "Synthesis": "ptsm_diag.compute.regional",
    "read_folder": "ptsm_diag.io.sources",
    "validate_folder": "ptsm_diag.io.sources",
    "render_report": "ptsm_diag.report.execute",
    "ReportOptions": "ptsm_diag.report.execute",
    "run_batch": "ptsm_diag.report.batch",
    "BatchOptions": "ptsm_diag.report.batch",
    "generate_demo_data": "ptsm_diag.demo",
    "PtsmError": "ptsm_diag.errors",
    "InputError": "ptsm_diag.errors",
    "ArgumentError": "ptsm_diag.errors",
}

__all__ = ["__version__", *sorted(_API)]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (PEP 562)."""
    if name not in _API:
        raise AttributeError(f"module 'ptsm_diag' has no attribute {name!r}")
    return getattr(importlib.import_module(_API[name]), name)
