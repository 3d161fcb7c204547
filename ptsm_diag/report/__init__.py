"""What notebooks call and what produces HTML: report sections, pages from autoescaped
templates, notebook execution (:mod:`~ptsm_diag.report.execute`), the batch, its index
and the PDF."""
