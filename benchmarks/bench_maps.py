"""Benchmark: offline map HTML for a département — build time and file size.

Usage: ``python benchmarks/bench_maps.py [TERRITOIRE]`` — the five maps of the diagnostic
report of the demo territory as the report embeds them (built, then rendered in their frame
with the page blocks and the static preview), then the workshop resources map and the
diagnostic resources map as standalone pages, then the workshop map with 1,000, 3,000 and
5,000 markers (resources drawn at random in the territory's communes).
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace

from ptsm_diag.diagnostic import prepare_diagnostic
from ptsm_diag.report.workshop import workshop_resources_map
from ptsm_diag.testing import many_resources
from ptsm_diag.viz.maps import resources_map
from ptsm_diag.viz.offline import map_to_html


def _measure(label: str, build) -> None:
    started = time.perf_counter()
    page = map_to_html(build())
    print(f"{label:<52} {time.perf_counter() - started:6.2f} s  {len(page) / 1e6:6.2f} Mo")


def _report_maps(diag) -> None:
    """The five maps of the diagnostic report, built and rendered as the notebook does."""
    from ptsm_diag.report import cooperation as cv
    from ptsm_diag.report import sections as s
    from ptsm_diag.report.display import to_html

    analysis = s.gap_analysis(diag)
    builders = {
        "densité": lambda: s.commune_density_map(diag),
        "ressources": lambda: s.resource_map(diag),
        "accès CMP": lambda: s.access_map(diag, "cmp_adultes"),
        "coopérations": lambda: cv.cooperation_map(diag),
        "zones blanches": lambda: s.white_zones_map(diag, analysis),
    }
    total_time, total_size = 0.0, 0
    for label, build in builders.items():
        started = time.perf_counter()
        block = to_html(build())
        elapsed = time.perf_counter() - started
        total_time, total_size = total_time + elapsed, total_size + len(block)
        print(f"  carte du rapport : {label:<37} {elapsed:6.2f} s  {len(block) / 1e6:6.2f} Mo")
    print(f"{'les cinq cartes du rapport (avant partage des blocs)':<52} {total_time:6.2f} s  "
          f"{total_size / 1e6:6.2f} Mo")


def main() -> None:
    """Run the benchmark and print its figures."""
    territory = sys.argv[1] if len(sys.argv) > 1 else "35"
    diag = prepare_diagnostic(territory)
    print(f"territoire {territory} : {len(diag.territory.communes)} communes, "
          f"{len(diag.resources)} ressources de démonstration")
    _report_maps(diag)  # first: warms the caches (geography, vendored files)
    _report_maps(diag)
    _measure("carte des ressources du rapport (par champ)",
             lambda: resources_map(diag.resources, diag.territory.communes))
    _measure("carte d'atelier (par type, grands caractères)",
             lambda: workshop_resources_map(diag))
    for count in (1_000, 3_000, 5_000):
        crowded = replace(diag, resources=many_resources(diag.territory, count))
        _measure(f"carte d'atelier, {count} marqueurs", lambda d=crowded: workshop_resources_map(d))


if __name__ == "__main__":
    main()
