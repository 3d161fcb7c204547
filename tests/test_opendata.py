"""Official open data: download (resume, truncation), cache, conversion, CLI — no internet.

Every file is served by a local HTTP server on 127.0.0.1 started by the tests.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from ptsm_diag.cli import main as donnees_main
from ptsm_diag.errors import PtsmError
from ptsm_diag.io.opendata import (
    DownloadError,
    FormatChangedError,
    OpenDataCache,
    Options,
    download,
    telecharger,
)
from ptsm_diag.io.opendata.converters import Context, convert_finess_csv, convert_population
from ptsm_diag.io.opendata.download import part_path
from ptsm_diag.io.opendata.finess_plus import convert_finess_plus
from ptsm_diag.io.opendata.registry import SOURCES
from ptsm_diag.io.sources import validate_folder
from ptsm_diag.testing import write_finess_extract

FIXTURES = Path(__file__).parent / "fixtures" / "opendata"
_RANGE = re.compile(r"bytes=(\d+)-$")


# --------------------------------------------------------------------------- server


class Files:
    """What the local server serves, and what it saw."""

    def __init__(self) -> None:
        self.content: dict[str, bytes] = {}
        self.truncate: dict[str, int] = {}  # path → bytes sent before closing (once)
        self.hits: dict[str, int] = {}
        self.ranges: list[str] = []

    def total_hits(self) -> int:
        return sum(self.hits.values())


def _handler(files: Files) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # silence
            pass

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            files.hits[path] = files.hits.get(path, 0) + 1
            body = files.content.get(path)
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start = 0
            match = _RANGE.fullmatch(self.headers.get("Range", ""))
            if match:
                files.ranges.append(self.headers["Range"])
                start = int(match.group(1))
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            chunk = body[start:]
            self.send_header("Content-Length", str(len(chunk)))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Last-Modified", "Tue, 12 May 2026 03:39:00 GMT")
            self.end_headers()
            cut = files.truncate.pop(path, None)
            if cut is not None:
                self.wfile.write(chunk[:cut])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(chunk)

    return Handler


@pytest.fixture()
def server():
    files = Files()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(files))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    files.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield files
    httpd.shutdown()
    httpd.server_close()


# --------------------------------------------------------------------------- fixtures


def lambert93(lon: float, lat: float) -> tuple[float, float]:
    from pyproj import Transformer

    return Transformer.from_crs(4326, 2154, always_xy=True).transform(lon, lat)


def finess_extract(path: Path) -> bytes:
    """A small etalab-cs1100507 extract (Finistère, one Ille-et-Vilaine CMP)."""
    rows = []
    for finess, name, dep, commune, category, lon, lat in [
        ("290000017", "EPSM EXEMPLE BREST", "29", "019", "292", -4.486, 48.390),
        ("290000025", "CMP EXEMPLE QUIMPER", "29", "232", "156", -4.102, 47.996),
        ("290000033", "ESAT EXEMPLE MORLAIX", "29", "151", "246", -3.828, 48.577),
        ("290000066", "SAMSAH EXEMPLE LANDERNEAU", "29", "103", "445", None, None),
        ("290000058", "CH GENERAL EXEMPLE", "29", "019", "355", -4.49, 48.40),
        ("350000014", "CMP EXEMPLE RENNES", "35", "238", "156", -1.6778, 48.1173),
    ]:
        row = {"nofinesset": finess, "rs": name, "departement": dep, "commune": commune,
               "categetab": category}
        if lon is not None:
            x, y = lambert93(lon, lat)
            row |= {"coordxet": f"{x:.1f}", "coordyet": f"{y:.1f}"}
        rows.append(row)
    write_finess_extract(path, rows)
    return path.read_bytes()


# One commune-level row (TYP_IRIS Z) added to the census fixture for every département it
# lacks, so that the file covers France as INSEE's does: 0-17 = 70, 18-64 = 300, 65+ = 130,
# 20-64 = 290, total 500 inhabitants.
FILLER_COUNTS = ("500;10;10;20;30;40;100;100;60;80;50;60;90;80;290;130")


def filler_departements() -> list[tuple[str, str]]:
    """(département, its first commune) of every département with a bundled population
    that the census fixture lacks."""
    from ptsm_diag.catalog.geography import load_communes

    communes = load_communes()
    communes = communes[communes["population"] > 0]
    firsts = communes.sort_values("code_commune").groupby("code_departement")["code_commune"]
    return [(dep, str(code)) for dep, code in firsts.first().items()
            if dep not in {"29", "35", "75"}]


def population_zip() -> bytes:
    text = (FIXTURES / "base-ic-evol-struct-pop-2020.csv").read_text(encoding="utf-8")
    text = text.rstrip("\n") + "\n" + "".join(
        f"{code}0000;{code};Z;1;{FILLER_COUNTS}\n" for _, code in filler_departements())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("base-ic-evol-struct-pop-2020.CSV", text)
        archive.writestr("meta_base-ic-evol-struct-pop-2020.CSV", "COD_VAR;LIB_VAR\n")
    return buffer.getvalue()


@pytest.fixture()
def mirror(server, tmp_path):
    """The server holding every source in the official formats."""
    content = {
        "finess": finess_extract(tmp_path / "etalab.csv"),
        "finess_plus": (FIXTURES / "finess-structures.json").read_bytes(),
        "equipements": (FIXTURES / "finess-equipements-sociaux.csv").read_bytes(),
        "population": population_zip(),
        "geographie": (FIXTURES / "v_commune.csv").read_bytes(),
    }
    for name, body in content.items():
        server.content[f"/miroir/{SOURCES[name].mirror_name}"] = body
    server.url_base = f"{server.base}/miroir"
    return server


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PTSM_DIAG_CACHE", str(tmp_path / "cache-global"))
    return OpenDataCache(tmp_path / "cache")


# --------------------------------------------------------------------------- download


def test_truncated_download_is_detected_then_resumed(server, tmp_path):
    body = bytes(range(256)) * 4000  # 1 MB
    server.content["/gros.bin"] = body
    server.truncate["/gros.bin"] = 300_000
    target = tmp_path / "dl" / "gros.bin"
    seen = []
    with pytest.raises(DownloadError) as error:
        download(f"{server.base}/gros.bin", target, timeout=10,
                 progress=lambda done, total: seen.append((done, total)))
    message = str(error.value)
    assert "tronqué" in message and "300000 octets reçus sur 1024000" in message
    assert not target.exists(), "un fichier tronqué ne doit jamais être utilisé"
    assert part_path(target).stat().st_size == 300_000
    assert seen[-1] == (300_000, len(body))

    result = download(f"{server.base}/gros.bin", target, timeout=10)
    assert server.ranges == ["bytes=300000-"]
    assert result.resumed_from == 300_000
    assert target.read_bytes() == body
    assert result.sha256 == hashlib.sha256(body).hexdigest()
    assert result.last_modified == "2026-05-12"
    assert not part_path(target).exists()


def test_part_larger_than_file_restarts(server, tmp_path):
    server.content["/petit.txt"] = b"abc"
    target = tmp_path / "petit.txt"
    part_path(target).write_bytes(b"0123456789")
    assert download(f"{server.base}/petit.txt", target).resumed_from == 0
    assert target.read_bytes() == b"abc"


def test_network_unavailable_names_url_and_offline_mode(tmp_path):
    import socket

    with socket.socket() as sock:  # a free port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x.csv"
    with pytest.raises(DownloadError) as error:
        download(url, tmp_path / "x.csv", timeout=5)
    assert url in str(error.value) and "--hors-ligne" in str(error.value)
    assert "réseau indisponible" in str(error.value)


def test_http_error_is_french(server, tmp_path):
    with pytest.raises(DownloadError, match="répond 404"):
        download(f"{server.base}/absent.csv", tmp_path / "absent.csv")


# --------------------------------------------------------------------------- pipeline


def test_download_convert_validate_then_cache(mirror, cache, tmp_path):
    out = tmp_path / "donnees"
    options = Options(url_base=mirror.url_base, timeout=10)
    report = telecharger(sortie=out, departements="29", options=options, cache=cache)
    assert {p.name for p in report.files} == {"territoires.csv", "ressources.csv",
                                             "population.csv", "provenance.json",
                                             "references_nationales.csv",
                                             "population_nationale.csv"}
    assert {o.origin for o in report.outcomes.values()} == {"téléchargement"}
    validation = validate_folder(out)
    assert not validation.has_errors, validation.to_french_text()

    res = validation.results["ressources"].data.set_index("finess")
    assert sorted(res.index) == ["290000017", "290000025", "290000033", "290000066"]
    assert res.loc["290000033", "capacite_places"] == 80  # 60 + 20, suppressed 15 left out
    assert res.loc["290000066", "capacite_places"] == 30
    assert res.loc["290000017", "longitude"] == pytest.approx(-4.486, abs=1e-4)
    pop = validation.results["population"].data
    brest = pop[pop["code_commune"] == "29019"].set_index("tranche_age")["population"]
    assert brest.to_dict() == {"0-17": 23600, "18-64": 90000, "65+": 26400}
    assert set(pop["code_commune"].str[:2]) == {"29"}
    terr = validation.results["territoires"].data
    assert terr[["code_territoire", "code_region", "niveau", "code"]].values.tolist() == [
        ["29", "53", "departement", "29"]]
    # The national reference table counts the whole file, not only the département asked:
    # the Rennes CMP (35) is in it, with zeros for the départements without any.
    national = validation.results["references_nationales"].data.set_index(
        ["code_departement", "type_ressource"])
    assert national.loc[("35", "cmp_adultes"), "nombre"] == 1
    assert national.loc[("29", "cmp_adultes"), "nombre"] == 1
    assert national.loc[("29", "chs"), "nombre"] == 1
    assert national.loc[("29", "esat"), "capacite_places"] == 80
    assert national.loc[("29", "esat"), "nombre_sans_capacite"] == 0
    assert national.loc[("01", "chs"), "nombre"] == 0
    # The national population: every département of the census file, read back valid.
    people = validation.results["population_nationale"].data.set_index(
        ["code_departement", "tranche_age"])["population"]
    assert people[("29", "20-64")] == 148500 and people[("35", "20-64")] == 150000
    assert people[("01", "20-64")] == 290  # a filler row of population_zip()
    assert national.index.get_level_values(0).nunique() == 101
    assert (national["date_finess"] == pd.Timestamp("2026-05-12")).all()

    manifest = json.loads((cache.folder("finess") / "manifest.json").read_text("utf-8"))
    assert manifest["url"].endswith("/etalab-cs1100507-stock.csv")
    assert manifest["date_producteur"] == "2026-05-12"  # extraction date of the file
    assert manifest["sha256"] == hashlib.sha256(mirror.content[
        "/miroir/etalab-cs1100507-stock.csv"]).hexdigest()
    provenance = json.loads((out / "provenance.json").read_text("utf-8"))
    assert provenance["sources"]["geographie"]["details"]["differences"]

    # Second run: everything from the cache, the server is not asked anything.
    hits = mirror.total_hits()
    again = telecharger(sortie=out, departements="29", options=options, cache=cache)
    assert mirror.total_hits() == hits
    assert {o.origin for o in again.outcomes.values()} == {"cache"}
    # Offline mode too, with no network at all.
    offline = telecharger(sortie=out, departements="29", cache=cache,
                          options=Options(hors_ligne=True, url_base="http://127.0.0.1:9"))
    assert {o.origin for o in offline.outcomes.values()} == {"cache"}
    # --force downloads again.
    telecharger("population", sortie=out, departements="29", cache=cache,
                options=Options(url_base=mirror.url_base, force=True))
    assert mirror.total_hits() == hits + 1


def test_altered_cached_file_is_detected_and_downloaded_again(mirror, cache, tmp_path):
    options = Options(url_base=mirror.url_base, timeout=10)
    telecharger("population", sortie=tmp_path / "a", departements="29", options=options,
                cache=cache)
    entry = cache.entry("population")
    cached = cache.folder("population") / entry.fichier
    data = bytearray(cached.read_bytes())
    data[100] ^= 0xFF  # same size, altered content
    cached.write_bytes(bytes(data))
    check = cache.check("population")
    assert not check.ok and "sha256" in check.reason

    with pytest.raises(PtsmError) as error:
        telecharger("population", sortie=tmp_path / "b", departements="29", cache=cache,
                    options=Options(hors_ligne=True))
    assert "inutilisable" in str(error.value) and "sha256" in str(error.value)
    assert not (tmp_path / "b").exists()

    messages = []
    hits = mirror.total_hits()
    telecharger("population", sortie=tmp_path / "b", departements="29", options=options,
                cache=cache, notify=lambda message, level: messages.append((level, message)))
    assert mirror.total_hits() == hits + 1
    assert cache.check("population").ok
    assert any(level == "avertissement" and "va être téléchargé à nouveau" in message
               for level, message in messages)

    cached.write_bytes(cached.read_bytes()[:-10])  # truncated in the cache
    assert "taille différente" in cache.check("population", checksum=False).reason


def test_offline_with_empty_cache_is_a_clear_french_error(cache, tmp_path):
    with pytest.raises(PtsmError) as error:
        telecharger(sortie=tmp_path / "out", options=Options(hors_ligne=True), cache=cache)
    message = str(error.value)
    assert "Mode hors ligne" in message and "n'est pas dans le cache" in message
    assert "ptsm-diag donnees telecharger" in message
    assert not (tmp_path / "out").exists()


def test_truncated_transfer_in_pipeline_is_not_used(mirror, cache, tmp_path):
    path = "/miroir/" + SOURCES["geographie"].mirror_name
    mirror.truncate[path] = 50
    options = Options(url_base=mirror.url_base, timeout=10)
    with pytest.raises(PtsmError, match="tronqué"):
        telecharger("geographie", sortie=tmp_path / "out", options=options, cache=cache)
    assert cache.entry("geographie") is None
    assert not (tmp_path / "out").exists()
    telecharger("geographie", sortie=tmp_path / "out", options=options, cache=cache)
    assert cache.check("geographie").ok
    assert mirror.ranges == ["bytes=50-"]


def test_catalogue_entry_gives_url_date_and_checksum(server, cache, tmp_path):
    body = (FIXTURES / "v_commune.csv").read_bytes()
    server.content["/files/v_commune_2026.csv"] = body
    catalogue = {"resources": [
        {"title": "v_commune_2025.csv", "url": f"{server.base}/files/old.csv",
         "last_modified": "2025-02-01T00:00:00"},
        {"title": "v_commune_2026.csv", "url": f"{server.base}/files/v_commune_2026.csv",
         "last_modified": "2026-02-20T10:00:00",
         "checksum": {"type": "sha1", "value": hashlib.sha1(body).hexdigest()}},
    ]}
    server.content["/api/code-officiel-geographique-cog/"] = json.dumps(catalogue).encode()
    options = Options(api=f"{server.base}/api/{{dataset}}/")
    telecharger("geographie", sortie=tmp_path / "out", departements="29", options=options,
                cache=cache)
    entry = cache.entry("geographie")
    assert entry.fichier == "v_commune_2026.csv"
    assert entry.date_producteur == "2026-02-20"
    catalogue["resources"][1]["checksum"]["value"] = "0" * 40
    server.content["/api/code-officiel-geographique-cog/"] = json.dumps(catalogue).encode()
    forced = Options(api=options.api, force=True)
    with pytest.raises(PtsmError, match="empreinte sha1"):
        telecharger("geographie", sortie=tmp_path / "out", options=forced, cache=cache,
                    departements="29")
    assert not cache.check("geographie").ok  # the altered download is not kept


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize(("source", "body", "named"), [
    ("population", "IRIS;COM;P20_POP;P20_POP0002;P20_POP0305\n291;29019;1;1;1\n",
     "P20_POP0610"),
    ("population", "IRIS;CODE;P20_POP\n", "colonne du code commune absente"),
    ("finess", "structure;etablissement;v2\nstructureet;1\n", "première ligne différente"),
    ("equipements", "nofinesset;capacite\n290000033;10\n", "capinstot"),
    ("finess_plus", '{"schemaVersion": "v2", "structures": []}', "clé « pmej »"),
    ("geographie", "CODE,NOM\n29019,Brest\n", "TYPECOM"),
])
def test_changed_format_is_named(mirror, cache, tmp_path, source, body, named):
    mirror.content[f"/miroir/{SOURCES[source].mirror_name}"] = body.encode()
    with pytest.raises(FormatChangedError) as error:
        path = tmp_path / SOURCES[source].mirror_name
        path.write_text(body, encoding="utf-8")
        SOURCES[source].converter(path, Context(source, frozenset({"29"})))
    assert named in str(error.value) and "a changé" in str(error.value)
    with pytest.raises(PtsmError, match=re.escape(named)):
        telecharger(source, sortie=tmp_path / "out", departements="29", cache=cache,
                    options=Options(url_base=mirror.url_base))
    assert not (tmp_path / "out").exists()


def test_finess_unknown_line_types_are_a_format_change(tmp_path):
    lines = ["finess;etalab;3;2026-05-12"] + [f"nouveautype;29000{i:04d};x;y" for i in range(20)]
    lines.append(";".join(["structureet", "290000017", "290000017", "EPSM", "", "", "", "",
                           "", "", "", "", "019", "29", "", "", "", "", "292"] + [""] * 13))
    path = tmp_path / "etalab.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(FormatChangedError, match="type de ligne inconnu"):
        convert_finess_csv(path, Context("finess"))


def test_population_sums_iris_and_maps_arrondissements():
    converted = convert_population(FIXTURES / "base-ic-evol-struct-pop-2020.csv",
                                   Context("population"))
    table = converted.table.set_index(["code_commune", "tranche_age"])["population"]
    assert table[("75056", "0-17")] == 1820  # 75101 → Paris
    assert table[("29019", "65+")] == 26400  # two IRIS, decimals rounded once
    assert converted.producer_date == "2020"
    # The whole country by département, with the census' 20-64 band and its total.
    national = converted.national.set_index(["code_departement", "tranche_age"])["population"]
    assert national[("29", "20-64")] == 90000 + 40000 + 9000 + 9500
    assert national[("29", "65+")] == 26400 + 13185 + 3359 + 3761
    assert national[("35", "ensemble")] == 220000 and national[("75", "20-64")] == 12000
    assert "20-59" not in set(converted.national["tranche_age"])


def test_finess_plus_repairs_swapped_coordinates():
    converted = convert_finess_plus(FIXTURES / "finess-structures.json",
                                    Context("finess_plus", frozenset({"29"})))
    table = converted.table.set_index("finess")
    assert sorted(table.index) == ["290000017", "290000025", "290000033", "290000066"]
    assert table.loc["290000017", "longitude"] == pytest.approx(-4.486)  # lat/lon swapped
    assert table.loc["290000017", "latitude"] == pytest.approx(48.390)
    assert table.loc["290000033", "longitude"] == pytest.approx(-3.828, abs=1e-3)  # Lambert
    assert table.loc["290000025", "type_ressource"] == "cmp_adultes"  # {"code": ...} form
    assert bool(table.loc["290000066", "hors_departement"])  # Paris point for Landerneau
    messages = " ".join(p.message for p in converted.problems)
    assert "coordonnées inversées" in messages and "290000017" in messages
    assert converted.producer_date == "2026-05-20"


def test_finess_plus_swapped_projected_pair(tmp_path):
    feed = json.loads((FIXTURES / "finess-structures.json").read_text("utf-8"))
    ege = feed["pmej"][0]["ege"][0]
    coords = ege["adresse"][0]["coordonneesGeographique"]
    del coords["directionLatitude"], coords["directionLongitude"]  # X/Y swapped only
    path = tmp_path / "f.json"
    path.write_text(json.dumps(feed), encoding="utf-8")
    table = convert_finess_plus(path, Context("finess_plus", frozenset({"29"}))).table
    row = table.set_index("finess").loc["290000017"]
    assert row["longitude"] == pytest.approx(-4.486, abs=1e-3)
    assert row["latitude"] == pytest.approx(48.390, abs=1e-3)


def test_finess_plus_pipeline_and_region(mirror, cache, tmp_path):
    out = tmp_path / "bretagne"
    telecharger("finess_plus,equipements", sortie=out, region="53", cache=cache,
                options=Options(url_base=mirror.url_base))
    validation = validate_folder(out)
    assert not validation.has_errors, validation.to_french_text()
    terr = validation.results["territoires"].data
    assert sorted(terr["code"]) == ["22", "29", "35", "56"]
    res = validation.results["ressources"].data.set_index("finess")
    assert "350000014" in res.index  # Rennes is in the région
    assert pd.isna(res.loc["290000066", "longitude"])  # outside its département: no coords
    assert res.loc["290000033", "capacite_places"] == 80


def test_geography_differences(mirror, cache, tmp_path):
    report = telecharger("geographie", sortie=tmp_path / "out", departements="29",
                         cache=cache, options=Options(url_base=mirror.url_base))
    diff = report.outcomes["geographie"].converted.table.set_index("code_commune")
    assert diff.loc["29310", "changement"] == "ajoutée"
    assert diff.loc["29151", "changement"] == "renommée"
    assert diff.loc["29151", "nom_cog"] == "Morlaix-Nouveau"
    assert diff.loc["29001", "changement"] == "supprimée"
    assert "35238" not in diff.index


def test_unknown_source_and_alternatives(cache, tmp_path):
    with pytest.raises(PtsmError, match="inconnue"):
        telecharger("finess,meteo", sortie=tmp_path, cache=cache)
    with pytest.raises(PtsmError, match="l'une ou l'autre"):
        telecharger("finess,finess_plus", sortie=tmp_path, cache=cache)


# --------------------------------------------------------------------------- CLI


def test_cli_telecharger_and_etat(mirror, tmp_path, capsys):
    out, cache_dir = tmp_path / "donnees", tmp_path / "cli-cache"
    code = donnees_main(["donnees", "telecharger", "--departements", "29", "--sortie", str(out),
                         "--url-base", mirror.url_base, "--cache", str(cache_dir)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "ressources.csv" in printed and "ptsm-diag valider" in printed
    assert donnees_main(["donnees", "etat", "--cache", str(cache_dir)]) == 0
    printed = capsys.readouterr().out
    assert "finess" in printed and "OK" in printed

    code = donnees_main(["donnees", "telecharger", "--sortie", str(tmp_path / "x"),
                         "--hors-ligne", "--cache", str(tmp_path / "vide")])
    assert code == 1
    assert "Mode hors ligne" in capsys.readouterr().err


@pytest.mark.slow
def test_report_from_downloaded_files_and_user_indicators(mirror, cache, tmp_path):
    from ptsm_diag.cli import main

    out = tmp_path / "donnees"
    telecharger(sortie=out, departements="29", cache=cache,
                options=Options(url_base=mirror.url_base))
    (out / "indicateurs.csv").write_text(
        "code_territoire;indicateur;annee;numerateur;denominateur;valeur;source\n"
        "29;densite_cmp;2023;20;909000;;test\nFRANCE;densite_cmp;2023;2000;68000000;;test\n",
        encoding="utf-8")
    code = main(["rapport", "--territoire", "29", "--donnees", str(out), "--sortie",
                 str(tmp_path / "rapports")])
    assert code == 0
    page = (tmp_path / "rapports" / "diagnostic_29.html").read_text(encoding="utf-8")
    assert "EPSM EXEMPLE BREST" in page


@pytest.mark.slow
def test_report_from_downloaded_files_only(mirror, cache, tmp_path):
    from ptsm_diag.cli import main

    out = tmp_path / "donnees"
    telecharger(sortie=out, departements="29", cache=cache,
                options=Options(url_base=mirror.url_base))
    assert not (out / "indicateurs.csv").exists()
    code = main(["rapport", "--territoire", "29", "--donnees", str(out), "--sortie",
                 str(tmp_path / "rapports")])
    assert code == 0
    page = (tmp_path / "rapports" / "diagnostic_29.html").read_text(encoding="utf-8")
    assert "EPSM EXEMPLE BREST" in page


# --------------------------------------------------------------------------- published layouts

PUBLISHED_EQUIPEMENTS = FIXTURES / "etalab-cs1100505-stock-20260512-publie.csv"


def test_equipements_in_the_published_layout_give_the_installed_places():
    from ptsm_diag.io.opendata.converters import convert_equipements

    data = PUBLISHED_EQUIPEMENTS.read_bytes()
    assert b"\r\n" in data and "É".encode("latin-1") in data  # Latin-1, CRLF, no header
    converted = convert_equipements(PUBLISHED_EQUIPEMENTS, Context("equipements"))
    places = converted.table.set_index("finess")["capacite_places"].to_dict()
    # hand computation: sum of capinstot (10th field) over lines whose indsupinst (16th
    # field) is not "O"
    assert places == {
        "290009991": 20,  # SAVS: 20, the removed 5 left out
        "290009983": 12 + 3,  # SAMSAH
        "290009975": 40 + 4,  # MAS: the removed 6 (accueil temporaire) left out
        "290009967": 30 + 2,  # EAM
        "290009959": 60 + 20,  # ESAT: the removed 15 left out
    }
    assert converted.producer_date == "2026-05-12"
    assert converted.details["installations_supprimees"] == 3
    assert "format publié" in converted.notes[0]


def test_equipements_published_layout_with_short_lines_is_a_changed_format(tmp_path):
    from ptsm_diag.io.opendata.converters import convert_equipements

    path = tmp_path / "etalab-cs1100505-stock.csv"
    path.write_bytes(b"finess;etalab;1;2026-05-12\r\n"
                     b"equipementsocial;290009991;509;AVS;16;Milieu ordinaire;206;Psy;S;20\r\n")
    with pytest.raises(FormatChangedError, match="16e"):
        convert_equipements(path, Context("equipements"))


def test_population_2022_is_the_default_and_2020_stays_readable(tmp_path):
    adapter = SOURCES["population"]
    assert adapter.url.endswith("/8647014/base-ic-evol-struct-pop-2022_csv.zip")
    for year in (2022, 2020):
        archive = tmp_path / f"pop{year}.zip"
        with zipfile.ZipFile(archive, "w") as handle:
            handle.writestr(f"meta_base-ic-evol-struct-pop-{year}.CSV", "COD_VAR;LIB_VAR\n")
            handle.write(FIXTURES / f"base-ic-evol-struct-pop-{year}.csv",
                         f"base-ic-evol-struct-pop-{year}.CSV")
        converted = convert_population(archive, Context("population", frozenset({"29"})))
        assert converted.producer_date == str(year)
        brest = converted.table[converted.table["code_commune"] == "29019"]
        assert set(brest["annee"]) == {year}
        assert brest.set_index("tranche_age")["population"].to_dict() == {
            "0-17": 23600, "18-64": 90000, "65+": 26400}


def test_registry_names_the_published_datasets():
    # checked against public reusers (see the registry's docstring)
    assert SOURCES["finess"].dataset == "finess-extraction-du-fichier-des-etablissements"
    assert SOURCES["finess_plus"].dataset == "finess-structures-1"
    assert SOURCES["equipements"].dataset == (
        "finess-extraction-des-equipements-sociaux-et-medico-sociaux")
    assert SOURCES["geographie"].dataset == "code-officiel-geographique-cog"
    assert all("à vérifier" not in adapter.page for adapter in SOURCES.values())
    from ptsm_diag.io.opendata.registry import pick_resource

    catalogue = {"resources": [
        {"title": "finess-structures-journalier-20260904.json.gz",
         "url": "https://static.data.gouv.fr/resources/finess-structures-1/x.json.gz",
         "last_modified": "2026-09-04T03:00:00"},
        {"title": "finess-structures-journalier-20260905.json.gz",
         "url": "https://static.data.gouv.fr/resources/finess-structures-1/y.json.gz",
         "last_modified": "2026-09-05T03:00:00"},
        {"title": "Documentation", "url": "https://example.org/doc.pdf",
         "last_modified": "2026-09-06T03:00:00"},
    ]}
    chosen = pick_resource(SOURCES["finess_plus"], catalogue)
    assert chosen["title"] == "finess-structures-journalier-20260905.json.gz"
    equipements = pick_resource(SOURCES["equipements"], {"resources": [
        {"title": "etalab-cs1100505-stock-20260311-0344.csv", "url": "a",
         "last_modified": "2026-03-12"},
        {"title": "etalab-cs1100507-stock-20260311-0343.csv", "url": "b",
         "last_modified": "2026-03-13"}]})
    assert equipements["title"].startswith("etalab-cs1100505")


def test_saint_barthelemy_and_saint_martin_count_with_guadeloupe():
    from ptsm_diag.catalog.geography import departements_of_communes as departement_of
    from ptsm_diag.io.opendata.converters import in_departements

    codes = pd.Series(["97701", "97801", "97105", "2A004", "29019"])
    assert list(departement_of(codes)) == ["971", "971", "971", "2A", "29"]
    assert list(in_departements(codes, frozenset({"971"}))) == [True, True, True, False,
                                                                 False]


def test_finess_plus_reads_the_geographic_address_and_either_coordinate_pair(tmp_path):
    feed = {"schemaVersion": "v1.0.0", "generatedAt": "2026-09-05T02:00:00Z", "pmej": [{
        "ege": [{
            "informationsGeneralesEGE": {"numFinessEge": "290009991",
                                         "nomEgeLong": "CMP DE QUIMPER"},
            "categorieentiteGeographiqueExercice": "156", "etatObjet": "A",
            "adresse": [
                # an accueil address first (usageAdresse 06), elsewhere
                {"usageAdresse": "06", "cogCommune": "29019", "coordonneesGeographique": {
                    "directionLongitude": "-4.486", "directionLatitude": "48.390"}},
                # the geographic address (03), WGS84 values in coordonneeX / coordonneeY
                {"usageAdresse": {"code": "03"}, "cogCommune": "29232",
                 "coordonneesGeographique": {"coordonneeX": "-4.1026",
                                             "coordonneeY": "47.9960"}},
            ]}]}]}
    path = tmp_path / "finess-structures-journalier-20260905.json"
    path.write_text(json.dumps(feed), encoding="utf-8")
    converted = convert_finess_plus(path, Context("finess_plus"))
    row = converted.table.set_index("finess").loc["290009991"]
    assert row["code_commune"] == "29232"
    assert row["longitude"] == pytest.approx(-4.1026) and row["latitude"] == pytest.approx(47.996)
    assert row["position"] == "finess" and not row["hors_departement"]
    assert converted.details["inversions"] == 0


def test_downloaded_folder_has_national_references_and_open_data_petals(mirror, cache,
                                                                        tmp_path):
    """A real-layout folder (one département) takes its references from the national table
    written by the download, and its CMP petal from the open data."""
    from ptsm_diag.catalog.geography import load_communes
    from ptsm_diag.compute.opendata_indicators import opendata_indicators
    from ptsm_diag.diagnostic import prepare_diagnostic
    from ptsm_diag.report import sections

    out = tmp_path / "donnees"
    telecharger(sortie=out, departements="29", cache=cache,
                options=Options(url_base=mirror.url_base))
    diag = prepare_diagnostic("29", out)
    assert diag.national is not None
    communes = load_communes()
    france = communes["population"].sum()  # Mayotte has none: out of the reference
    finistere = communes.loc[communes["code_departement"] == "29", "population"].sum()

    densities = diag.densities.set_index(["reference", "type_ressource"])
    cmp = densities.loc[("france", "cmp_adultes")]
    assert cmp["nombre"] == 1
    # Quimper's CMP (29) and Rennes' (35, outside the folder) are both in the reference.
    assert cmp["nombre_reference"] == 2
    assert cmp["population_ref_age_reference"] == pytest.approx(france)
    assert cmp["densite_nombre_reference"] == pytest.approx(2 / france * 1e5)

    rosace = diag.rosace.set_index("indicateur")
    petal = rosace.loc["densite_cmp"]
    assert petal["value"] == pytest.approx(1 / finistere * 1e5)
    assert petal["reference"] == pytest.approx(2 / france * 1e5)
    assert "calculé par ptsm-diag" in petal["source"] and "FINESS 2026-05-12" in petal["source"]
    notes = diag.opendata.set_index("indicateur")
    assert notes.loc["densite_cmp", "utilise"]
    # The places per 1,000 adults: the census has no 20-59 band, its 20-64 band comes
    # from population_nationale.csv (whole country, by département) for the territory
    # (population.csv has 0-17 / 18-64 / 65+ only) and its references. Finistère's
    # communes of the census file: Brest 45000.1 + 44999.9, Quimper 40000, 29151 9000,
    # 29103 9500; Ille-et-Vilaine (Rennes) 150000, Paris 12000; 290 per filler département.
    assert (out / "population_nationale.csv").is_file()
    fillers = {dep for dep, _ in filler_departements()}
    pop_29 = 90000 + 40000 + 9000 + 9500
    pop_53 = pop_29 + 150000 + 290 * len(fillers & {"22", "56"})
    pop_fr = pop_29 + 150000 + 12000 + 290 * len(fillers)
    # finess-equipements-sociaux.csv: 30 installed places of the SAMSAH 290000066 and
    # 60 + 20 of the ESAT 290000033 (a removed installation left out), all in Finistère;
    # no MAS nor EAM places anywhere.
    expected = {"places_savs_samsah": 30, "places_mas_eam": 0, "places_esat": 80}
    for ind, places in expected.items():
        petal = rosace.loc[ind]
        assert petal["statut"] == "ok"
        assert petal["value"] == pytest.approx(places / pop_29 * 1000)
        assert petal["reference"] == pytest.approx(places / pop_fr * 1000)
        assert "INSEE 2020" in petal["source"]
        assert "population de 20-64 ans (tranche 20-59 absente des données)" in petal["source"]
        assert notes.loc[ind, "calcule"] and notes.loc[ind, "utilise"]
    rows = opendata_indicators(
        diag.data.ressources, list(diag.territory.communes["code_commune"]),
        diag.data.population, diag.national, code="29", region="53",
        national_population=diag.data.population_nationale).rows
    esat = rows[rows["indicateur"] == "places_esat"].set_index("code_territoire")
    assert esat["denominateur"].to_dict() == {"29": pop_29, "R53": pop_53, "FRANCE": pop_fr}
    assert esat["numerateur"].to_dict() == {"29": 80, "R53": 80, "FRANCE": 80}
    table = sections.rosace_table(diag)  # « label — population used » per indicator
    row = table[table["Indicateur"].str.startswith(petal["label"])]
    assert len(row) == 1
    assert row["Origine de la valeur"].iloc[0].startswith("données ouvertes")

    # A value the user gives wins, and the report says which one was used.
    (out / "indicateurs.csv").write_text(
        "code_territoire;indicateur;annee;numerateur;denominateur;valeur;source\n"
        "29;densite_cmp;2023;20;909000;;enquête ARS\n"
        "FRANCE;densite_cmp;2023;2000;68000000;;enquête ARS\n", encoding="utf-8")
    diag = prepare_diagnostic("29", out)
    petal = diag.rosace.set_index("indicateur").loc["densite_cmp"]
    assert petal["value"] == pytest.approx(20 / 909000 * 1e5)
    assert petal["source"] == "enquête ARS"
    notes = diag.opendata.set_index("indicateur")
    assert not notes.loc["densite_cmp", "utilise"]
    assert "indicateurs.csv" in notes.loc["densite_cmp", "raison"]
    assert "valeur de indicateurs.csv utilisée" in sections.rosace_not_shown(diag)


def test_report_without_national_table_says_reference_not_available(mirror, cache, tmp_path):
    from ptsm_diag.diagnostic import prepare_diagnostic
    from ptsm_diag.report import sections

    out = tmp_path / "donnees"
    telecharger(sortie=out, departements="29", cache=cache,
                options=Options(url_base=mirror.url_base))
    elsewhere = tmp_path / "ailleurs" / "references_nationales.csv"
    elsewhere.parent.mkdir()
    (out / "references_nationales.csv").rename(elsewhere)
    diag = prepare_diagnostic("29", out)
    france = diag.densities.set_index(["reference", "type_ressource"]).loc[("france", "chs")]
    assert france["nombre"] == 1 and pd.isna(france["densite_nombre_reference"])
    html = sections.densities(diag)
    assert "référence non disponible" in html and "references_nationales.csv" in html
    assert diag.rosace.empty or "densite_cmp" not in set(
        diag.rosace.loc[diag.rosace["statut"] == "ok", "indicateur"])
    # The user points to a national table kept elsewhere.
    diag = prepare_diagnostic("29", out, references_nationales=elsewhere)
    france = diag.densities.set_index(["reference", "type_ressource"]).loc[("france", "chs")]
    assert france["nombre_reference"] == 1 and france["densite_nombre_reference"] > 0
    assert "table fournie" in sections.densities(diag)
