"""Benchmark: a regional batch of reports, three ways, on the demo data (all départements).

(a) the naive way: ``papermill`` CLI then ``jupyter nbconvert`` CLI per territory, on a
    sample, extrapolated to every territory;
(b) ``ptsm-diag batch`` (library :func:`ptsm_diag.report.batch.run_batch`) with the default jobs;
(c) the floor: the notebook's library calls in one Python process, without notebooks.

Usage::

    python benchmarks/batch.py                 # samples, extrapolated (a few minutes)
    python benchmarks/batch.py --tous          # (b) on every territory (~101 reports)
    python benchmarks/batch.py --echantillon 6 --jobs 2

Prints the times per report and for all territories, the ratios a/b and b/c, the peak
memory of the largest worker or kernel, and report sizes (self-contained and with shared
assets). Figures depend on the machine (2 cores here) and on its load.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import nbformat

from ptsm_diag.demo import demo_data_dir
from ptsm_diag.io.sources import read_folder
from ptsm_diag.report import display
from ptsm_diag.report.batch import BatchOptions, _cache_data, fingerprint_folder, run_batch
from ptsm_diag.report.execute import ReportOptions, notebook_path, render_report

NOTEBOOK = "diagnostic_territorial.ipynb"
# Spread over the country: mainland, Corsica, overseas, large and small départements.
SAMPLE = ["35", "2A", "59", "48", "971", "75", "13", "23", "974", "69", "29", "05"]


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def naive(codes: list[str], folder: Path, out: Path) -> float:
    """(a) papermill CLI + nbconvert CLI per territory; seconds per report."""
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for code in codes:
        executed = out / f"diagnostic_{code}.ipynb"
        subprocess.run([_bin("papermill"), str(notebook_path(NOTEBOOK)), str(executed),
                        "-r", "territoire", code, "-r", "donnees", str(folder),
                        "--no-progress-bar", "--cwd", str(notebook_path(NOTEBOOK).parent)],
                       check=True, capture_output=True)
        subprocess.run([_bin("jupyter"), "nbconvert", "--to", "html", "--no-input",
                        str(executed)], check=True, capture_output=True)
    return (time.perf_counter() - started) / len(codes)


def floor(codes: list[str], data_cache: Path) -> float:
    """(c) the notebook's code cells run in this process, figures rendered to HTML."""
    cells = [c.source for c in nbformat.read(notebook_path(NOTEBOOK), as_version=4).cells
             if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]
    pages: list[str] = []
    started = time.perf_counter()
    with mock.patch.object(display, "show", lambda obj: pages.append(display.to_html(obj))), \
            mock.patch.object(display, "init_display", lambda: None):
        for code in codes:
            namespace = {"territoire": code, "donnees": str(data_cache),
                         "reference": "france", "fond": "aucun"}
            for source in cells:
                exec(compile(source, f"<{NOTEBOOK}>", "exec"), namespace)
    return (time.perf_counter() - started) / len(codes)


def main() -> None:
    """Run the three ways and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--echantillon", type=int, default=12,
                        help="territoires pour (b) et (c) (défaut 12)")
    parser.add_argument("--echantillon-naif", type=int, default=3,
                        help="territoires pour (a) (défaut 3)")
    parser.add_argument("--tous", action="store_true", help="(b) sur tous les territoires")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    folder = demo_data_dir()
    data = read_folder(folder)
    all_codes = sorted(data.territoires["code_territoire"].astype(str).unique())
    total = len(all_codes)
    sample = SAMPLE[: args.echantillon] if not args.tous else all_codes
    print(f"Données de démonstration : {total} territoires ; {args.jobs} processus ; "
          f"{os.cpu_count()} cœurs")

    with tempfile.TemporaryDirectory(prefix="ptsm-bench-") as tmp:
        work = Path(tmp)
        per_a = naive(SAMPLE[: args.echantillon_naif], folder, work / "naif")
        print(f"(a) papermill CLI + nbconvert CLI   {per_a:6.2f} s/rapport → "
              f"{per_a * total / 60:6.1f} min pour {total} (extrapolé, "
              f"{args.echantillon_naif} territoires)")

        result = run_batch(folder, work / "lot", codes=sample,
                           options=BatchOptions(jobs=args.jobs))
        failed = len(result.failed)
        per_b = result.seconds / len(sample)
        peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        label = "mesuré" if args.tous else f"extrapolé, {len(sample)} territoires"
        print(f"(b) ptsm-diag batch (jobs={args.jobs})       {per_b:6.2f} s/rapport → "
              f"{per_b * total / 60:6.1f} min pour {total} ({label}, {failed} échec(s))")

        cache = _cache_data(data, work, fingerprint_folder(folder))
        per_c = floor(sample[: args.echantillon], cache)
        print(f"(c) plancher : mêmes appels, 1 processus {per_c:6.2f} s/rapport → "
              f"{per_c * total / 60:6.1f} min pour {total} (extrapolé)")
        print(f"a/b = {per_a / per_b:.1f}×   b/c = {per_b / per_c:.2f}")
        print(f"mémoire : pic du plus gros worker ou noyau {peak_children:.0f} Mo ; "
              f"ce processus {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} Mo")

        full = work / "lot" / f"diagnostic_{sample[0]}.html"
        shared = render_report(sample[0], cache, work / "partage",
                               options=ReportOptions(shared_assets=True))
        assets = sum(p.stat().st_size for p in (work / "partage" / "assets").iterdir())
        print(f"taille d'un rapport ({sample[0]}) : autonome {full.stat().st_size / 1e6:.1f} Mo ;"
              f" assets partagés {shared.stat().st_size / 1e6:.2f} Mo "
              f"+ assets/ {assets / 1e6:.1f} Mo une fois pour tout le lot")
        naive_html = work / "naif" / f"diagnostic_{SAMPLE[0]}.html"
        if naive_html.is_file():
            print(f"rapport naïf (nbconvert par défaut) : {naive_html.stat().st_size / 1e6:.1f} Mo")
        shutil.rmtree(work / "lot", ignore_errors=True)


if __name__ == "__main__":
    main()
