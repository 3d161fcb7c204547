"""Benchmark: demo data generation, diagnostic preparation and one HTML report.

Usage: ``python benchmarks/bench_report.py [TERRITOIRE]`` — prints wall times, peak memory
of this process and the report size. Figures depend on the machine (2 cores here).
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from ptsm_diag.demo import generate_demo_data
from ptsm_diag.diagnostic import prepare_diagnostic
from ptsm_diag.report.execute import render_report


def _timed(label: str, func, *args, **kwargs):
    started = time.perf_counter()
    value = func(*args, **kwargs)
    print(f"{label:<45} {time.perf_counter() - started:7.2f} s")
    return value


def main() -> None:
    """Run the benchmark and print its figures."""
    territory = sys.argv[1] if len(sys.argv) > 1 else "35"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "demo"
        _timed("génération des données fictives (France)", generate_demo_data, folder)
        size = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        print(f"{'taille du dossier de démonstration':<45} {size:7.1f} Mo")
        _timed(f"prepare_diagnostic({territory}) (lecture + calculs)", prepare_diagnostic,
               territory, folder)
        report = _timed(f"rapport HTML {territory} (papermill + nbconvert)", render_report,
                        territory, folder, Path(tmp) / "out")
        print(f"{'taille du rapport':<45} {report.stat().st_size / 1e6:7.1f} Mo")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'mémoire maximale (processus parent)':<45} {peak:7.0f} Mo")


if __name__ == "__main__":
    main()
