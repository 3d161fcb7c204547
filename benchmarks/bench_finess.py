"""Benchmark of the FINESS reader on a national-size extract (official layout).

Generates ~100,000 establishments (+ their geolocalisation lines) in a temporary folder:
a realistic mix of categories (about a quarter in the mental-health typology), of
départements (metropolitan, Corsica, the 5 DROM and Saint-Pierre-et-Miquelon, each with
its CRS label), 4 % without geolocalisation, 1 % of names quoted as the producer writes
them (``"CMP ""LE PHARE"" ; NORD"``, read with the csv module) and 2 % of metropolitan
geolocalisations in the older 12-field layout. Prints the parse time, rows per second and
peak memory (ru_maxrss of the reading process; tracemalloc on request).

Run: ``python benchmarks/bench_finess.py [N] [--tracemalloc]`` (the reading is measured
in a fresh process; ``--tracemalloc`` adds a slow run that traces Python allocations).
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from ptsm_diag.catalog.geography import load_communes
from ptsm_diag.io.sources.finess import read_finess
from ptsm_diag.testing import write_finess_extract

LABELS = {
    2154: "1,ATLASANTE,96,BAN,EPSG:2154 RGF93 / Lambert-93 (Métropole)",
    5490: "2,ATLASANTE,96,BAN,EPSG:5490 RGAF09/UTM Zone 20N (Antilles)",
    2972: "1,ATLASANTE,100,BAN,EPSG:2972 RGFG95/UTM zone 22N (Guyane)",
    2975: "1,ATLASANTE,100,BAN,EPSG:2975 RGR92/UTM zone 40S (Réunion)",
    4471: "2,ATLASANTE,100,BDADRESSE,EPSG:4471 RGM04/UTM zone 38S (Mayotte)",
}
EPSG = {"971": 5490, "972": 5490, "973": 2972, "974": 2975, "976": 4471}
FIELD = {"971": "9A", "972": "9B", "973": "9C", "974": "9D", "976": "9F"}
# Typology categories (~25 % of rows) and frequent categories outside it.
IN_TYPOLOGY = ["156", "425", "292", "161", "246", "182", "183", "255", "448", "449", "446",
               "445", "214", "258", "197", "124", "603", "189", "190", "186"]
OUTSIDE = ["500", "620", "355", "365", "460", "354", "101", "106", "129", "202"]


def build(path: Path, n: int, seed: int = 0) -> None:
    from pyproj import Transformer

    rng = np.random.default_rng(seed)
    communes = load_communes()
    communes = communes[communes.geometry.notna()]
    picks = rng.integers(0, len(communes), n)
    chosen = communes.iloc[picks]
    points = chosen.geometry.representative_point()
    lon, lat = points.x.to_numpy(), points.y.to_numpy()
    dep = chosen["code_departement"].astype(str).to_numpy()
    code = chosen["code_commune"].astype(str).to_numpy()
    epsg = np.array([EPSG.get(d, 2154) for d in dep])
    x, y = np.empty(n), np.empty(n)
    for e in np.unique(epsg):
        rows = epsg == e
        x[rows], y[rows] = Transformer.from_crs(4326, int(e), always_xy=True).transform(
            lon[rows], lat[rows])
    categories = np.where(rng.random(n) < 0.25, rng.choice(IN_TYPOLOGY, n),
                          rng.choice(OUTSIDE, n))
    geolocated = rng.random(n) >= 0.04
    rows = []
    for i in range(n):
        d = dep[i]
        finess = f"{d[:2] if not d.startswith('97') else '97'}{i:07d}"[:9].ljust(9, "0")
        row = {"nofinesset": finess, "rs": f"ETABLISSEMENT {i}",
               "rslongue": f"ÉTABLISSEMENT NUMÉRO {i} DE {d}", "commune": code[i][-3:],
               "departement": FIELD.get(d, d), "libdepartement": "DEPARTEMENT",
               "ligneacheminement": f"{code[i]} COMMUNE", "telephone": "0299000000",
               "categetab": categories[i], "libcategetab": "Catégorie",
               "categagretab": "1000", "libcategagretab": "Agrégat", "siret": "12345678900012",
               "codeape": "8610Z", "codemft": "03", "libmft": "ARS", "codesph": "1",
               "libsph": "Etablissement public de santé", "dateouv": "2000-01-01",
               "dateautor": "2000-01-01", "datemaj": "2025-01-01"}
        if i % 100 == 7:  # quoted field holding quotes and a ";"
            row["rslongue"] = f'"ÉTABLISSEMENT ""{i}"" ; {d}"'
        if geolocated[i]:
            label = LABELS[int(epsg[i])]
            if epsg[i] == 2154 and i % 50 == 3:  # older layout: 7 fields, then the date
                label = "1;ATLASANTE;100;IGN;BD_ADRESSE;V2.1;LAMBERT_93"
            row |= {"coordxet": f"{x[i]:.1f}", "coordyet": f"{y[i]:.1f}",
                    "sourcecoordet": label}
        rows.append(row)
    write_finess_extract(path, rows)


def measure(path: Path, traced: bool) -> None:
    """Read ``path`` in this (fresh) process and print time and memory."""
    read_finess(path, types=["gem"])  # warm-up: imports, geography, typology, pyproj
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    extract = read_finess(path)
    elapsed = time.perf_counter() - start
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    summary = extract.summary
    print(f"lecture : {elapsed:.2f} s ({summary.lignes / elapsed:,.0f} lignes/s, "
          f"{summary.etablissements_lus / elapsed:,.0f} établissements/s)")
    print(f"retenus : {summary.etablissements_retenus} ; positions : {summary.positions}"
          f" ; hors département : {summary.hors_departement} ; rejets : {summary.rejets} ; "
          f"géolocalisations à l'ancien format : {summary.geolocalisations_format_ancien}")
    print(f"mémoire : RSS max {rss_before / 1e3:.0f} Mo après chargement des référentiels, "
          f"{rss_after / 1e3:.0f} Mo après lecture (+{(rss_after - rss_before) / 1e3:.0f} Mo)")
    if traced:  # slow: tracemalloc multiplies the reading time by ~10
        tracemalloc.start()
        read_finess(path)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"pic des allocations Python pendant la lecture (tracemalloc) : {peak / 1e6:.0f} Mo")


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    traced = "--tracemalloc" in sys.argv
    if "--lire" in sys.argv:
        measure(Path(args[0]), traced)
        return
    n = int(args[0]) if args else 100_000
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "etalab-cs1100507-stock-20260512-0339.csv"
        start = time.perf_counter()
        build(path, n)
        print(f"fichier généré : {n} établissements, {path.stat().st_size / 1e6:.1f} Mo "
              f"({time.perf_counter() - start:.1f} s)")
        # a fresh process, so that the memory of the generation does not count
        subprocess.run([sys.executable, __file__, "--lire", str(path),
                        *(["--tracemalloc"] if traced else [])], check=True)


if __name__ == "__main__":
    main()
