"""Adapter of the FINESS+ JSON feed (data.gouv.fr ``finess-structures-1``) → ``ressources``.

Layout (``ansforge/finess``: ``flux/out/data.gouv/structure/schema-structures-v1.json``
and the published samples; ``reference/domain.md`` §4.2)::

    {"schemaVersion": "v1.0.0", "generatedAt": "2026-03-09T15:49:37Z",
     "gcc": [...], "gco": [...],
     "pmej": [{"informationsGeneralesPMEJ": {...}, "ege": [
         {"informationsGeneralesEGE": {"numFinessEge": "010780195", "nomEgeLong": "...",
                                       "nomEgeCourt": "...", "dateFermeture": "..."},
          "categorieentiteGeographiqueExercice": "365"   (or {"code": "365", ...}),
          "adresse": [{"cogCommune": "01053", "coordonneesGeographique": {
              "coordonneeX": "...", "coordonneeY": "...",
              "directionLatitude": "46.211257", "directionLongitude": "5.254203"}}],
          "contact": [{"telecom": {"telephone": "..."}}],
          "etatObjet": "A"}]}]}

Only the open (``etatObjet`` ≠ ``I``, no ``dateFermeture``) entités géographiques whose
category is in the typology are kept. Coordinates: the WGS84 pair
(``directionLongitude``, ``directionLatitude``) first, else the projected pair
(``coordonneeX``, ``coordonneeY``, CRS of the département). The feed is reported to swap
X/Y and latitude/longitude (ansforge/finess issue 24): a pair that falls outside the
commune's département while the swapped pair falls inside is swapped back, with a
warning; a pair outside either way is kept but flagged ``hors_departement`` (written
without coordinates, as for the CSV extract).
"""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ptsm_diag.catalog.geography import departements_of_communes
from ptsm_diag.errors import Problem, Severity
from ptsm_diag.io.opendata.converters import (
    Context,
    Converted,
    in_departements,
    keep_known_communes,
)
from ptsm_diag.io.opendata.download import FormatChangedError
from ptsm_diag.io.sources.parsing import ARRONDISSEMENTS

SUPPORTED_SCHEMA = "v1"
# Fields of an entité géographique the adapter needs (dotted paths, for error messages).
REQUIRED_EGE = ("informationsGeneralesEGE.numFinessEge",
                "categorieentiteGeographiqueExercice", "adresse[].cogCommune")


def load_feed(path: Path) -> dict:
    """The JSON document of a ``.json``, ``.json.gz`` or ``.zip`` file."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".json")]
            if not names:
                raise FormatChangedError("finess_plus", path.name,
                                         ["aucun fichier .json dans l'archive"])
            raw = archive.read(names[0])
    else:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatChangedError("finess_plus", path.name,
                                 [f"le fichier n'est pas un document JSON lisible ({exc})"]
                                 ) from exc


def _category(value: object) -> str:
    if isinstance(value, dict):
        value = value.get("code", "")
    return str(value or "").strip()


def _first_address(ege: dict) -> dict:
    """The geographic address (``usageAdresse`` 03, TRE_R377), else the first located one.

    Reusers of the feed report that it is not always first in ``adresse[]``.
    """
    addresses = [a for a in ege.get("adresse") or [] if isinstance(a, dict)]
    geographic = [a for a in addresses if str(_category(a.get("usageAdresse"))) == "03"]
    located = [a for a in addresses if a.get("coordonneesGeographique")]
    return (geographic or located or addresses or [{}])[0]


def _phone(ege: dict) -> str:
    for contact in ege.get("contact") or []:
        phone = ((contact or {}).get("telecom") or {}).get("telephone")
        if phone:
            return str(phone).strip()
    return ""


def _number(value: object) -> float:
    try:
        return float(str(value).replace(",", "."))
    except (TypeError, ValueError):
        return np.nan


def feed_rows(feed: dict, context: Context, file_name: str) -> tuple[pd.DataFrame, dict]:
    """One row per open entité géographique: FINESS fields and raw coordinates."""
    if not isinstance(feed, dict) or not isinstance(feed.get("pmej"), list):
        keys = ", ".join(list(feed)[:10]) if isinstance(feed, dict) else type(feed).__name__
        raise FormatChangedError(context.source, file_name,
                                 [f"clé « pmej » (liste des entités juridiques) absente ; clés "
                                  f"lues : {keys}"], context.hint)
    counts = {"entites_juridiques": len(feed["pmej"]), "entites_geographiques": 0,
              "fermees": 0}
    rows = []
    missing: dict[str, int] = {}
    for pmej in feed["pmej"]:
        for ege in (pmej or {}).get("ege") or []:
            counts["entites_geographiques"] += 1
            info = ege.get("informationsGeneralesEGE") or {}
            address = _first_address(ege)
            values = {
                REQUIRED_EGE[0]: str(info.get("numFinessEge") or "").strip().upper(),
                REQUIRED_EGE[1]: _category(ege.get("categorieentiteGeographiqueExercice",
                                                   ege.get("categorieEntiteGeographiqueExercice"))),
                REQUIRED_EGE[2]: str(address.get("cogCommune") or "").strip().upper(),
            }
            for name, value in values.items():
                if not value:
                    missing[name] = missing.get(name, 0) + 1
            if ege.get("etatObjet") == "I" or info.get("dateFermeture"):
                counts["fermees"] += 1
                continue
            coords = address.get("coordonneesGeographique") or {}
            rows.append({
                "nofinesset": values[REQUIRED_EGE[0]],
                "rs": str(info.get("nomEgeCourt") or "").strip(),
                "rslongue": str(info.get("nomEgeLong") or "").strip(),
                "categetab": values[REQUIRED_EGE[1]],
                "code_commune": values[REQUIRED_EGE[2]],
                "telephone": _phone(ege),
                "x": _number(coords.get("coordonneeX")),
                "y": _number(coords.get("coordonneeY")),
                "lat": _number(coords.get("directionLatitude")),
                "lon": _number(coords.get("directionLongitude")),
            })
    total = max(counts["entites_geographiques"], 1)
    absent = [f"champ « {name} » absent pour {n} entité(s) géographique(s) sur {total}"
              for name, n in missing.items() if n > 0.5 * total]
    if absent:
        raise FormatChangedError(context.source, file_name, absent, context.hint)
    frame = pd.DataFrame(rows, columns=["nofinesset", "rs", "rslongue", "categetab",
                                        "code_commune", "telephone", "x", "y", "lat", "lon"])
    return frame, counts


def _inside(lon: pd.Series, lat: pd.Series, dep: pd.Series) -> pd.Series:
    """Whether each point is in its département (unknown outline counts as inside)."""
    from ptsm_diag.io.sources.finess import outside_departement

    outside, checked = outside_departement(lon, lat, dep)
    return lon.notna() & lat.notna() & (~outside | ~checked)


def place(frame: pd.DataFrame, dep: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series,
                                                        pd.Series]:
    """(longitude, latitude, swapped, outside) with the X/Y sanity check.

    Candidates in order: WGS84 pair, WGS84 swapped, projected pair, projected swapped; the
    first that falls inside the département wins.
    """
    from ptsm_diag.io.sources.finess import EPSG_BY_DEPARTEMENT, METROPOLE_EPSG, to_wgs84

    epsg = dep.map(EPSG_BY_DEPARTEMENT).fillna(METROPOLE_EPSG).to_numpy(dtype=float)
    # Either pair may hold the WGS84 values (reusers of the feed report both layouts).
    candidates = [(frame["lon"], frame["lat"], False), (frame["lat"], frame["lon"], True),
                  (frame["x"], frame["y"], False)]
    for x, y, swapped in ((frame["x"], frame["y"], False), (frame["y"], frame["x"], True)):
        lon, lat = to_wgs84(x.to_numpy(dtype=float), y.to_numpy(dtype=float), epsg)
        candidates.append((pd.Series(lon, index=frame.index),
                           pd.Series(lat, index=frame.index), swapped))
    lon = pd.Series(np.nan, index=frame.index)
    lat = pd.Series(np.nan, index=frame.index)
    swapped = pd.Series(False, index=frame.index)
    done = pd.Series(False, index=frame.index)
    for c_lon, c_lat, is_swapped in candidates:
        todo = ~done
        if not todo.any():
            break
        ok = todo & _inside(c_lon.where(todo), c_lat.where(todo), dep)
        lon[ok], lat[ok], swapped[ok] = c_lon[ok], c_lat[ok], is_swapped
        done |= ok
    # Outside whichever way: keep the WGS84 (else projected) pair, flagged.
    first = ~done & frame["lon"].notna() & frame["lat"].notna()
    lon[first], lat[first] = frame["lon"][first], frame["lat"][first]
    projected = ~done & ~first & candidates[3][0].notna()
    lon[projected] = candidates[3][0][projected]
    lat[projected] = candidates[3][1][projected]
    outside = ~done & lon.notna()
    return lon, lat, swapped, outside


def convert_finess_plus(path: Path, context: Context) -> Converted:
    """FINESS+ JSON feed → the ``ressources`` table (same columns as the CSV extract)."""
    from ptsm_diag.io.sources.finess import (
        POSITIONS,
        _build_table,
        commune_points,
        finess_categories,
    )

    feed = load_feed(path)
    problems: list[Problem] = []
    version = str(feed.get("schemaVersion", "")) if isinstance(feed, dict) else ""
    if version and not version.startswith(SUPPORTED_SCHEMA):
        problems.append(Problem(path.name, None, "schemaVersion", version,
                                f"schéma {SUPPORTED_SCHEMA}.x",
                                "version de schéma FINESS+ non testée : vérifiez le résultat",
                                Severity.AVERTISSEMENT))
    frame, counts = feed_rows(feed, context, path.name)
    date = str(feed.get("generatedAt", ""))[:10]
    wanted = finess_categories()
    frame["code_commune"] = frame["code_commune"].map(ARRONDISSEMENTS).fillna(
        frame["code_commune"])
    in_scope = frame["categetab"].isin(list(wanted))
    everywhere = frame[in_scope].drop_duplicates("nofinesset").reset_index(drop=True)
    national = _build_table(everywhere.assign(ligne=np.arange(1, len(everywhere) + 1)),
                            wanted, f"FINESS+ {date}".strip())
    frame = frame[in_scope & in_departements(frame["code_commune"], context.departements)]
    frame = frame.drop_duplicates("nofinesset").reset_index(drop=True)
    frame, dropped = keep_known_communes(frame, path.name, "établissement(s)")
    frame = frame.reset_index(drop=True)
    frame["ligne"] = np.arange(1, len(frame) + 1)
    table = _build_table(frame, wanted, f"FINESS+ {date}".strip()).reset_index(drop=True)
    table["source"] = f"FINESS+ {date}".strip()
    dep = departements_of_communes(frame["code_commune"])
    lon, lat, swapped, outside = place(frame, dep)
    c_lon, c_lat = commune_points(frame["code_commune"])
    located = lon.notna()
    table["longitude"] = lon.where(located, c_lon).to_numpy()
    table["latitude"] = lat.where(located, c_lat).to_numpy()
    position = np.where(located, "finess",
                        np.where(table["longitude"].notna(), "centre_commune", "absente"))
    table.insert(table.columns.get_loc("categorie_finess"), "position", position)
    table.insert(table.columns.get_loc("categorie_finess"), "hors_departement",
                 outside.to_numpy(bool))
    if swapped.any():
        ids = ", ".join(frame.loc[swapped, "nofinesset"].head(10))
        problems.append(Problem(path.name, None, "coordonneesGeographique", None,
                                "X/longitude puis Y/latitude dans le département de la "
                                "commune",
                                f"coordonnées inversées (X/Y ou latitude/longitude) pour "
                                f"{int(swapped.sum())} établissement(s), remises dans l'ordre "
                                f"({ids}{'…' if swapped.sum() > 10 else ''})",
                                Severity.AVERTISSEMENT))
    if outside.any():
        problems.append(Problem(path.name, None, "coordonneesGeographique", None,
                                "des coordonnées dans le département de la commune",
                                f"{int(outside.sum())} établissement(s) hors de leur "
                                "département même après inversion : placés au centre de leur "
                                "commune", Severity.AVERTISSEMENT))
    positions = {p: int((table["position"] == p).sum()) for p in POSITIONS}
    notes = [f"FINESS+ ({path.name}, schéma {version or '?'}, généré le {date or '?'}) : "
             f"{counts['entites_geographiques']} entités géographiques, {counts['fermees']} "
             f"fermées, {len(table)} retenues dans la typologie ; "
             f"{int(swapped.sum())} paire(s) de coordonnées inversée(s) réparée(s), "
             f"{positions['centre_commune']} au centre de la commune."]
    return Converted(table, notes, problems + dropped, date,
                     {**counts, "schema": version, "inversions": int(swapped.sum()),
                      "hors_departement": int(outside.sum())}, national=national)
