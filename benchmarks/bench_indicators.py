"""Benchmark: every indicator for every territory and year of the demo data.

Usage: ``python benchmarks/bench_indicators.py [--repetitions 5]`` — prints the time of
:func:`ptsm_diag.compute.indicators.compute_indicator_values` (values, pooled references,
intervals, significance, ranks, secrecy with secondary masking) on the whole demo data set
(all départements), and of one territory's rosace table. Target: well under one second.
"""

from __future__ import annotations

import argparse
import statistics
import time

from ptsm_diag.catalog import load_indicator_catalog
from ptsm_diag.compute.indicators import compute_indicator_values, rosace_table
from ptsm_diag.compute.territory import main_regions
from ptsm_diag.demo import demo_data_dir
from ptsm_diag.io.sources import read_folder


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args()
    data = read_folder(demo_data_dir())
    catalog = load_indicator_catalog()
    regions = main_regions(data.territoires)
    rows = len(data.indicateurs)
    times, values = [], None
    for _ in range(args.repetitions):
        started = time.perf_counter()
        values = compute_indicator_values(data.indicateurs, catalog, regions)
        times.append(time.perf_counter() - started)
    assert values is not None
    territories = values["code_territoire"].nunique()
    years = values["annee"].nunique()
    print(f"entrée : {rows} lignes d'indicateurs ; {len(catalog)} indicateurs, "
          f"{territories} territoires, {years} années → {len(values)} valeurs calculées")
    print(f"compute_indicator_values : médiane {statistics.median(times):.3f} s, "
          f"min {min(times):.3f} s sur {args.repetitions} répétitions")
    started = time.perf_counter()
    for code in list(data.territoires["code_territoire"])[:20]:
        rosace_table(values, code, catalog=catalog)
    print(f"rosace_table : {(time.perf_counter() - started) / 20 * 1000:.1f} ms par territoire")


if __name__ == "__main__":
    main()
