"""Regenerate data_templates/: the CSV templates, README.md (data dictionary) and
modele_ptsm.xlsx, from the table specs and the catalogue. Deterministic: running it twice
gives the same bytes.

Usage: python scripts/build_xlsx_template.py [OUT_DIR]   (default: data_templates/)
"""

from __future__ import annotations

import sys
from pathlib import Path

from ptsm_diag.io.sources.templates import write_templates

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "data_templates"


def main(argv: list[str]) -> int:
    """Write the templates and print their paths."""
    out = Path(argv[0]) if argv else DEFAULT_OUT
    for path in write_templates(out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
