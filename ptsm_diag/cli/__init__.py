"""The French command line ``ptsm-diag``.

:func:`main` is the entry point declared in ``pyproject.toml``; the parser lives in
:mod:`ptsm_diag.cli.commands`, which imports the heavy libraries only in the sub-command that
needs them (``ptsm-diag --help`` loads no pandas).
"""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """Run ``ptsm-diag`` with ``argv`` (the process arguments by default)."""
    from ptsm_diag.report.startup import skip_unneeded_imports

    skip_unneeded_imports()
    from ptsm_diag.cli.commands import main as run

    return run(argv)
