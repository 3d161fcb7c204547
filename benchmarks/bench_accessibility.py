"""Benchmark: nearest resource for every commune × type, densities for every territory.

Run with ``python benchmarks/bench_accessibility.py`` (demo data, generated on first use).
Prints the wall time of each step and the process's peak resident memory after it
(``ru_maxrss``; tracemalloc is not used, it slows pandas down tenfold).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from typing import Any

from ptsm_diag.catalog.geography import load_communes
from ptsm_diag.compute import accessibility
from ptsm_diag.compute.densities import resource_densities
from ptsm_diag.compute.resources import locate_resources
from ptsm_diag.compute.territory import main_regions, territory_communes
from ptsm_diag.diagnostic import load_data


def measure(label: str, function: Callable[[], Any]) -> Any:
    """Run ``function`` once, print its time and the peak resident memory so far."""
    start = time.perf_counter()
    result = function()
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    print(f"{label:<62} {elapsed:6.2f} s   pic mémoire (RSS) {peak:6.0f} Mo")
    return result


def main() -> None:
    data = measure("lecture et validation des données de démonstration",
                   lambda: load_data(None))
    communes = load_communes()
    located = measure("localisation des ressources",
                      lambda: locate_resources(data.ressources, communes))
    measure("points des communes (1er appel, projection)", accessibility.commune_points)
    nearest = measure(
        "plus proche ressource, toutes communes × tous types",
        lambda: accessibility.nearest_resources(located, data.population))
    print(f"  {len(nearest):,} lignes ({nearest['code_commune'].nunique():,} communes × "
          f"{nearest['type_ressource'].nunique()} types), "
          f"{nearest.memory_usage(deep=True).sum() / 1e6:.0f} Mo")
    members = territory_communes(data.territoires)
    shares = measure("part de population au-delà de 30 min, tous territoires",
                     lambda: accessibility.beyond_threshold(nearest, members, threshold=30))
    print(f"  {len(shares):,} lignes")
    densities = measure(
        "densités pour 100 000 hab., tous territoires, 2 références",
        lambda: resource_densities(data.ressources, members, data.population,
                                   regions=main_regions(data.territoires)))
    print(f"  {len(densities):,} lignes")
    fca = measure("2SFCA (capacités, 30 min), toutes communes",
                  lambda: accessibility.floating_catchment(located, data.population,
                                                           max_cost=30))
    print(f"  {len(fca):,} lignes, {fca['type_ressource'].nunique()} types avec capacité")


if __name__ == "__main__":
    main()
