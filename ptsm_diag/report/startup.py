"""What a ptsm-diag process (the command line, a batch worker) does before its imports.

jsonschema checks the ``iri`` and ``iri-reference`` formats with ``rfc3987-syntax`` when
that package is installed (JupyterLab brings it in), and importing it compiles a grammar:
0.9 s in every process that imports nbformat, that is the command line and each batch
worker, before any report starts. Notebook schemas use no such format, so ptsm-diag's
own processes mark the package as absent; jsonschema then skips those two formats, as it
does when the package is not installed. Nothing is changed in a user's own Python (a
notebook importing ``ptsm_diag`` keeps it).
"""

from __future__ import annotations

import sys

from ptsm_diag.report.lifeline import guard_worker

UNNEEDED_MODULES = ("rfc3987_syntax",)


def skip_unneeded_imports() -> None:
    """Mark :data:`UNNEEDED_MODULES` as absent in this process (unless already loaded)."""
    for name in UNNEEDED_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def init_worker(parent_pid: int) -> None:
    """Initialise a batch worker process: light imports, and dies with ``parent_pid``
    (:func:`ptsm_diag.report.lifeline.guard_worker`)."""
    skip_unneeded_imports()
    guard_worker(parent_pid)
