"""Everything that touches disk or network.

The bundled reference geography (:mod:`~ptsm_diag.catalog.geography`), atomic file writes
(:mod:`~ptsm_diag.io.files`), spreadsheet and CSV exports, the readers of the input
templates and of the official layouts (:mod:`~ptsm_diag.io.sources`) and the open-data
downloads (:mod:`~ptsm_diag.io.opendata`). Used by the facades, the report layer and the
command line; never by :mod:`ptsm_diag.compute`.
"""
