"""Benchmark of the bundled geography and of territory building.

Prints: package data size; cold load time of each layer in a fresh process (import
excluded); territory build time for one and for ten départements (first call, which builds
the caches, then warm), for every département as one batch (``territories_from_table``);
peak memory (resident set size of the fresh process, and tracemalloc peak of a build).

Usage: ``python benchmarks/bench_geography.py [--repeat 3]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[1] / "ptsm_diag" / "data"
TEN = ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10"]

COLD = r"""
import json, resource, time
t0 = time.perf_counter()
from ptsm_diag.compute import territory
from ptsm_diag.catalog import geography
t1 = time.perf_counter()
out = {"import_s": t1 - t0}
for name in ("communes", "departements", "regions"):
    t = time.perf_counter()
    getattr(geography, "load_" + name)()
    out[name + "_s"] = time.perf_counter() - t
t = time.perf_counter()
territory.territory_from_departements(["29"])
out["first_territory_s"] = time.perf_counter() - t
out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def cold_run() -> dict[str, float]:
    """One fresh interpreter: import, three loads, first territory, peak RSS."""
    done = subprocess.run([sys.executable, "-c", COLD], check=True, capture_output=True,
                          text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def timed(function, repeat: int) -> float:
    """Best wall time of ``repeat`` calls, seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    files = sorted(p for p in DATA_DIR.iterdir() if p.is_file())
    print("Données embarquées (ptsm_diag/data) :")
    for path in files:
        print(f"  {path.name:<22} {path.stat().st_size / 1e6:7.3f} Mo")
    print(f"  {'total':<22} {sum(p.stat().st_size for p in files) / 1e6:7.3f} Mo")

    runs = [cold_run() for _ in range(args.repeat)]
    print(f"\nProcessus neuf (meilleur de {args.repeat}) :")
    for key in ("import_s", "communes_s", "departements_s", "regions_s", "first_territory_s"):
        print(f"  {key:<22} {min(r[key] for r in runs):7.3f} s")
    print(f"  {'RSS max':<22} {max(r['maxrss_mb'] for r in runs):7.0f} Mo")

    import pandas as pd

    from ptsm_diag.catalog.geography import load_departements
    from ptsm_diag.compute.territory import territories_from_table, territory_from_departements

    deps = load_departements()
    table = pd.DataFrame({"code_territoire": deps["code_departement"],
                          "nom_territoire": deps["nom"], "code_region": deps["code_region"],
                          "niveau": "departement", "code": deps["code_departement"]})
    territory_from_departements(["29"])  # caches
    tracemalloc.start()
    one = timed(lambda: territory_from_departements(["29"]), args.repeat)
    ten = timed(lambda: territory_from_departements(TEN), args.repeat)
    batch = timed(lambda: territories_from_table(table), 1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print("\nConstruction de territoires (caches chauds) :")
    print(f"  {'1 département (29)':<22} {one:7.3f} s")
    print(f"  {'10 départements':<22} {ten:7.3f} s")
    print(f"  {'101 territoires':<22} {batch:7.3f} s")
    print(f"  {'pic tracemalloc':<22} {peak / 1e6:7.1f} Mo")


if __name__ == "__main__":
    main()
