"""Reader of the FINESS open-data extract ``etalab-cs1100507-stock-*.csv``, as published.

Layout (``reference/domain.md`` §4.2): a metadata line ``finess;etalab;<n>;<AAAA-MM-JJ>``,
then ``structureet`` lines (31 fields with the tag, 32 with ``numuai`` in recent files),
then ``geolocalisation`` lines (``geolocalisation;nofinesset;x;y;sourcecoordet;datemaj``, or
in older files 12 fields, the parts of ``sourcecoordet`` separated by ``;``:
``…;1;ATLASANTE;100;IGN;BD_ADRESSE;V2.1;LAMBERT_93;2016-02-29``); ``;`` separator, a field
holding quotes quoted CSV-style, its quotes doubled (Mayotte's ``LIEU DE VIE "MAVOUNA
MEMA 1"``), no column-header row, usually a trailing ``;``, UTF-8 in recent years and
Latin-1 / Windows-1252 before. Every field is read as text.

What the reader does:

- streams the file line by line (bounded memory: only the establishments of the typology
  are kept, in compact column chunks), detecting the encoding (UTF-8, else the Western
  encoding charset-normalizer finds; a line that is not valid UTF-8 is decoded as
  Windows-1252);
- rebuilds the INSEE commune code: département + 3-digit commune (``01`` + ``451`` →
  ``01451``, ``2A`` + ``004`` → ``2A004``); overseas départements are written
  ``9A``…``9F`` (971…976) and their commune field already holds the département's last
  digit (``9A`` + ``101`` → ``97101``); Saint-Barthélemy and Saint-Martin, still written
  ``9A`` + ``123`` / ``127``, get their current codes ``97701`` / ``97801``;
- joins the geolocalisation lines on ``nofinesset`` and converts the coordinates to WGS84
  per row, from the CRS named in ``sourcecoordet`` (``EPSG:2154 …``, or the older labels
  ``LAMBERT_93``, ``UTM_N20``…), vectorised per CRS with pyproj;
- places an establishment without usable coordinates at its commune's representative
  point (``position`` = ``centre_commune``; ``absente`` when the commune is unknown too)
  and flags coordinates that fall outside the establishment's département
  (``hors_departement``, bundled geography, tolerance :data:`TOLERANCE_DEGRES`);
- keeps the establishments whose category belongs to the typology
  (``catalog/resource_types.yaml``) and returns them in the template ``ressources``
  format.

Documented repairs (kept rows, reported as ``réparation``): no trailing ``;`` or extra empty
fields at the end of a line; a missing CRS in ``sourcecoordet`` → the CRS of the
département (:data:`EPSG_BY_DEPARTEMENT`); a decimal comma in a coordinate; an
arrondissement code of Paris, Lyon or Marseille → the commune's code; a CMP (category
156) whose name says it serves children (``ENFANT``, ``INFANTO``, ``JUVENIL``,
``ADOLESCENT``, ``PEDOPSY``) → type ``cmp_enfants``.

Rejected lines (``erreur``, counted by reason in :attr:`FinessSummary.rejets`): a line
with the wrong number of fields, an unknown line type, an unreadable FINESS number,
département or commune, a FINESS number seen twice. Unreadable coordinates or an unknown
CRS reject the coordinates only: the establishment is kept, at its commune. Establishments
of Wallis-et-Futuna (``9J``) are set aside with a warning saying they are outside the ARS
territories (:attr:`FinessSummary.hors_territoire_ars`). Every rejected or reported line
is in :attr:`FinessExtract.lignes_signalees` (:func:`write_finess_report`).
"""

from __future__ import annotations

import codecs
import csv
import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ptsm_diag.catalog.geography import departement_of_commune
from ptsm_diag.errors import InputError, Problem, Severity, UnknownCodeError
from ptsm_diag.io.sources.parsing import ARRONDISSEMENTS
from ptsm_diag.io.sources.schemas import RESSOURCES

STRUCTURE_FIELDS = (
    "structureet", "nofinesset", "nofinessej", "rs", "rslongue", "complrs", "compldistrib",
    "numvoie", "typvoie", "voie", "compvoie", "lieuditbp", "commune", "departement",
    "libdepartement", "ligneacheminement", "telephone", "telecopie", "categetab",
    "libcategetab", "categagretab", "libcategagretab", "siret", "codeape", "codemft",
    "libmft", "codesph", "libsph", "dateouv", "dateautor", "datemaj", "numuai",
)
GEO_FIELDS = ("geolocalisation", "nofinesset", "coordxet", "coordyet", "sourcecoordet",
              "datemaj")
# Accepted widths (fields, tag included, trailing ";" excluded): without/with numuai.
STRUCTURE_WIDTHS = (31, 32)
GEO_WIDTHS = (5, 6)
# Older files write the parts of sourcecoordet with ";" instead of ",", which gives 12
# fields: geolocalisation;nofinesset;x;y;1;ATLASANTE;100;IGN;BD_ADRESSE;V2.1;LAMBERT_93;
# 2016-02-29. A line of GEO_SPLIT_WIDTHS fields ending with a date is read that way.
GEO_SPLIT_WIDTHS = range(7, 13)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}/\d{2}/\d{4}")
# Fields of a structureet line the reader keeps (positions in STRUCTURE_FIELDS).
_KEPT = {name: STRUCTURE_FIELDS.index(name) for name in (
    "nofinesset", "nofinessej", "rs", "rslongue", "commune", "departement", "telephone",
    "categetab", "libcategetab")}
_GEO_KEPT = {"nofinesset": 1, "coordxet": 2, "coordyet": 3, "sourcecoordet": 4}

OVERSEAS_DEPARTEMENTS = {"9A": "971", "9B": "972", "9C": "973", "9D": "974", "9E": "975",
                         "9F": "976"}
# Saint-Barthélemy and Saint-Martin are still written as communes 123 and 127 of the
# Guadeloupe (9A) in FINESS; their current COG codes are 97701 and 97801 (collectivités
# d'outre-mer, under ARS Guadeloupe: the bundled geography attaches them to 971).
COLLECTIVITES_9A = {"123": "97701", "127": "97801"}
# FINESS département codes outside the territories of the ARS (no PTSM there).
OUTSIDE_ARS = {"9J": "Wallis-et-Futuna"}
_OUTSIDE_ARS = re.compile(r"9[G-Z]|98\d")
METROPOLE_EPSG = 2154
EPSG_BY_DEPARTEMENT = {"971": 5490, "972": 5490, "973": 2972, "974": 2975, "975": 32621,
                       "976": 4471}
# UTM zone and hemisphere named in a sourcecoordet label → EPSG code (domain.md §4.2).
EPSG_BY_UTM_ZONE = {("20", "N"): 5490, ("21", "N"): 32621, ("22", "N"): 2972,
                    ("40", "S"): 2975, ("38", "S"): 4471}
POSITIONS = ("finess", "centre_commune", "absente")
# Tolerance of the "inside its département" check, in degrees (about 2 km): the bundled
# outlines are simplified and establishments on the coast or a border must not be flagged.
TOLERANCE_DEGRES = 0.02
CMP_CATEGORY = "156"
CHILD_CMP = re.compile(r"ENFAN|INFANT|JUVENIL|ADOLESC|PEDOPSY|PÉDOPSY|\bCMPEA\b|\bCMPIJ\b",
                       re.IGNORECASE)
FLAG_COLUMNS = ["position", "hors_departement", "categorie_finess"]
BLOCK_BYTES = 1 << 20  # the file is read, decoded and kept in blocks of this size
_GROUP_LIMIT = 20  # above this, problems of one kind are listed in a single file-level one

_FINESS = re.compile(r"\d[\dAB]\d{7}")
_DEPARTEMENT = re.compile(r"\d{2}|2[AB]|97[1-6]")
_EPSG_IN_LABEL = re.compile(r"EPSG\s*:\s*(\d{4,5})", re.IGNORECASE)
_UTM_IN_LABEL = re.compile(r"UTM(?:ZONE)?(?:([NS])(\d{2})|(\d{2})([NS]))")

REJECTION_REASONS = {
    "ligne_mal_formee": "ligne au mauvais nombre de champs",
    "type_ligne_inconnu": "type de ligne inconnu",
    "finess_illisible": "numéro FINESS illisible",
    "finess_en_double": "numéro FINESS déjà lu",
    "categorie_illisible": "catégorie illisible",
    "departement_illisible": "département illisible",
    "commune_illisible": "code commune illisible",
}
# Establishments left out without being an error of the file.
SET_ASIDE_REASONS = {
    "hors_territoire_ars": "hors des territoires des ARS (Wallis-et-Futuna…)",
}


@dataclass
class FinessSummary:
    """What a FINESS extract held and what the reader did with it.

    Attributes
    ----------
    fichier : str
        File name.
    date_extraction : str
        Date of the metadata line (``AAAA-MM-JJ`` as written), ``""`` when absent.
    encodage : str
        Encoding used (``utf_8``, ``cp1252``...).
    lignes : int
        Lines of the file, metadata line included.
    etablissements_lus, geolocalisations_lues : int
        ``structureet`` and ``geolocalisation`` lines read (well-formed or not).
    etablissements_retenus : int
        Rows of the output table.
    hors_typologie : int
        Establishments whose category is outside the typology (or the requested types).
    categories_hors_typologie : dict of str to int
        Those establishments by FINESS category code.
    par_type : dict of str to int
        Rows kept by resource type.
    rejets : dict of str to int
        Lines rejected, by reason (keys of :data:`REJECTION_REASONS`).
    positions : dict of str to int
        Rows kept by ``position`` (``finess``, ``centre_commune``, ``absente``).
    hors_departement : int
        Rows whose FINESS coordinates fall outside their département.
    non_verifiables : int
        Rows with coordinates whose département has no outline (Saint-Pierre-et-Miquelon).
    coordonnees_rejetees : int
        Geolocalisations whose coordinates could not be used (unreadable, unknown CRS).
    sans_geolocalisation : int
        Kept establishments without a geolocalisation line or with empty coordinates.
    crs_deduits : int
        Geolocalisations without a CRS label, converted with the département's CRS.
    crs : dict of str to int
        Kept geolocalisations by source CRS (``EPSG:2154``...).
    geolocalisations_orphelines : int
        Geolocalisation lines whose establishment is not in the file.
    lignes_vides : int
        Blank lines (ignored).
    hors_territoire_ars : int
        Establishments of the typology left out because their collectivité has no ARS
        (Wallis-et-Futuna...): not an error of the file.
    geolocalisations_format_ancien : int
        Geolocalisation lines in the older layout (``sourcecoordet`` split over 7 fields).
    rapport : str
        Path of the CSV listing every rejected or reported line, when one was written.
    duree_s : float
        Reading time in seconds.
    """

    fichier: str
    date_extraction: str = ""
    encodage: str = ""
    lignes: int = 0
    etablissements_lus: int = 0
    geolocalisations_lues: int = 0
    etablissements_retenus: int = 0
    hors_typologie: int = 0
    categories_hors_typologie: dict[str, int] = field(default_factory=dict)
    par_type: dict[str, int] = field(default_factory=dict)
    rejets: dict[str, int] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)
    hors_departement: int = 0
    non_verifiables: int = 0
    coordonnees_rejetees: int = 0
    sans_geolocalisation: int = 0
    crs_deduits: int = 0
    crs: dict[str, int] = field(default_factory=dict)
    geolocalisations_orphelines: int = 0
    lignes_vides: int = 0
    hors_territoire_ars: int = 0
    geolocalisations_format_ancien: int = 0
    rapport: str = ""
    duree_s: float = 0.0

    @property
    def lignes_rejetees(self) -> int:
        """Lines rejected, every reason together."""
        return sum(self.rejets.values())

    def to_french(self) -> str:
        """A few lines of French for the CLI or a notebook."""
        date = f" du {self.date_extraction}" if self.date_extraction else ""
        lines = [
            f"Extraction FINESS{date} ({self.fichier}, encodage {self.encodage}) :",
            f"- {self.etablissements_lus} établissements lus, "
            f"{self.geolocalisations_lues} géolocalisations ;",
            f"- {self.etablissements_retenus} établissements retenus dans la typologie, "
            f"{self.hors_typologie} hors typologie ;",
        ]
        lines += [f"  · {code} : {n}" for code, n in self.par_type.items()]
        if self.rejets:
            detail = ", ".join(f"{REJECTION_REASONS.get(k, k)} : {n}"
                               for k, n in self.rejets.items())
            lines.append(f"- {self.lignes_rejetees} ligne(s) rejetée(s) ({detail}) ;")
        if self.hors_territoire_ars:
            lines.append(f"- {self.hors_territoire_ars} établissement(s) écarté(s) car hors des "
                         "territoires des ARS (Wallis-et-Futuna…, sans PTSM) ;")
        if self.geolocalisations_format_ancien:
            lines.append(f"- {self.geolocalisations_format_ancien} géolocalisation(s) à "
                         "l'ancien format (source des coordonnées en 7 champs) lue(s) ;")
        lines.append(
            f"- positions : {self.positions.get('finess', 0)} coordonnées FINESS, "
            f"{self.positions.get('centre_commune', 0)} au centre de la commune, "
            f"{self.positions.get('absente', 0)} sans position ;"
        )
        lines.append(f"- {self.hors_departement} établissement(s) dont les coordonnées "
                     "tombent hors de leur département.")
        if self.rapport:
            lines.append(f"Détail des lignes rejetées ou signalées : {self.rapport}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        """Plain dict (JSON-serialisable)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__} | {
            "lignes_rejetees": self.lignes_rejetees}


@dataclass
class FinessExtract:
    """The establishments of a FINESS extract, in the template ``ressources`` format.

    Attributes
    ----------
    table : DataFrame
        One row per establishment kept, indexed by its ``structureet`` line number
        (``ligne``): the columns of the ``ressources`` template (same dtypes as a validated
        table), then ``position`` (``finess``, ``centre_commune``, ``absente``),
        ``hors_departement`` (bool) and ``categorie_finess`` (text).
    summary : FinessSummary
        Counts.
    problems : list of Problem
        Rejected lines (``erreur``), repairs and warnings, in line order; a kind met on
        many lines is summarised in one problem.
    lignes_signalees : list of Problem
        The same, one problem per line (never summarised): the content of the
        ``--rapport`` CSV.
    """

    table: pd.DataFrame
    summary: FinessSummary
    problems: list[Problem] = field(default_factory=list)
    lignes_signalees: list[Problem] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        """Whether some line was rejected or some coordinates could not be used."""
        return any(p.severity == Severity.ERREUR for p in self.problems)


# ----------------------------------------------------------------------------- typology


@functools.cache
def _typology() -> dict:
    from ptsm_diag.catalog import load_resource_types

    return load_resource_types()


def finess_categories(types: Iterable[str] | None = None) -> dict[str, str]:
    """FINESS category code (3 characters) → resource type code, from the typology.

    Parameters
    ----------
    types : iterable of str, optional
        Resource type codes to keep; all types by default.

    Raises
    ------
    UnknownCodeError
        When a requested type is not in the typology.
    """
    typology = _typology()
    wanted = list(typology) if types is None else list(types)
    unknown = [code for code in wanted if code not in typology]
    if unknown:
        raise UnknownCodeError("de type de ressource", unknown,
                               "Types connus : " + ", ".join(typology) + ".")
    mapping: dict[str, str] = {}
    for code in wanted:
        for category in typology[code].finess_categories:
            mapping.setdefault(f"{category:03d}", code)
    return mapping


# ----------------------------------------------------------------------------- decoding


def detect_encoding(path: Path, sample_size: int = 1 << 20) -> str:
    """The encoding of a FINESS file, from its first ``sample_size`` bytes.

    UTF-8 (with or without BOM) when the sample is valid UTF-8, else the Western encoding
    charset-normalizer prefers (``cp1252`` by default). The reader uses it for the lines
    that are not valid UTF-8.
    """
    with path.open("rb") as handle:
        sample = handle.read(sample_size)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf_8_sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf_8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    from ptsm_diag.io.sources.tabular import WESTERN_ENCODINGS

    best = from_bytes(sample, cp_isolation=WESTERN_ENCODINGS).best()
    return best.encoding if best is not None else "cp1252"


class _Decoder:
    """Each line is decoded as UTF-8 first, else with the file's Western encoding.

    Official files are entirely UTF-8 (recent) or entirely Latin-1 (older); decoding line
    by line also reads a file edited by hand, whose lines mix both.
    """

    def __init__(self, fallback: str) -> None:
        self.fallback = fallback
        self.utf8_lines = 0  # lines with non-ASCII characters, valid UTF-8
        self.fallback_lines: list[int] = []

    def __call__(self, raw: bytes, number: int) -> str:
        if raw.isascii():
            return raw.decode("ascii")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            self.fallback_lines.append(number)
            return raw.decode(self.fallback, errors="replace")
        self.utf8_lines += 1
        return text

    @property
    def encoding(self) -> str:
        """``utf_8``, the fallback encoding, or ``mixte (…)``."""
        if not self.fallback_lines:
            return "utf_8"
        if not self.utf8_lines:
            return self.fallback
        return f"mixte (utf_8 et {self.fallback})"


# ----------------------------------------------------------------------------- problems


class _Problems:
    """Collects problems; a kind met too often is summarised in one file-level problem."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.items: list[Problem] = []
        self.detail: list[Problem] = []  # one per line, never summarised

    def add(self, row: int | None, column: str | None, value: str | None, expected: str,
            message: str, severity: Severity = Severity.ERREUR) -> None:
        problem = Problem(self.label, row, column, value, expected, message, severity)
        self.items.append(problem)
        self.detail.append(problem)

    def group(self, rows: Sequence[int], column: str | None, values: Sequence[str | None],
              expected: str, message: str, severity: Severity) -> None:
        """One problem per line, or one for all when there are many (the detail keeps all)."""
        if len(rows) <= _GROUP_LIMIT:
            for row, value in zip(rows, values, strict=True):
                self.add(int(row), column, value, expected, message, severity)
            return
        shown = ", ".join(str(int(r)) for r in list(rows)[:10])
        self.items.append(Problem(self.label, None, column, None, expected,
                                  f"{message} : {len(rows)} lignes (lignes {shown}…)",
                                  severity))
        self.detail.extend(
            Problem(self.label, int(row), column, None if value is None else str(value),
                    expected, message, severity)
            for row, value in zip(rows, values, strict=True))

    def sorted(self) -> list[Problem]:
        return sorted(self.items, key=lambda p: (p.row or 0, p.column or ""))

    def sorted_detail(self) -> list[Problem]:
        return sorted(self.detail, key=lambda p: (p.row or 0, p.column or ""))


# ----------------------------------------------------------------------------- streaming


@dataclass
class _Stream:
    """What the line-by-line pass keeps."""

    date: str = ""
    lines: int = 0
    blank: int = 0
    structures: int = 0
    geolocations: int = 0
    out_of_scope: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)
    frames: list[pd.DataFrame] = field(default_factory=list)
    geo_frames: list[pd.DataFrame] = field(default_factory=list)
    repaired_width: list[int] = field(default_factory=list)
    duplicated_geo: list[int] = field(default_factory=list)
    split_geo: int = 0


def _columns_frame(columns: dict[str, list], lines: list[int]) -> pd.DataFrame:
    frame = pd.DataFrame({k: pd.Series(v, dtype=str) for k, v in columns.items()})
    frame["ligne"] = np.asarray(lines, dtype="int64")
    return frame


def _stream(path: Path, label: str, decode: _Decoder, wanted: dict[str, str],
            problems: _Problems, progress: Callable[[int, int], None] | None) -> _Stream:
    """Read every line once; keep the rows of the typology in column chunks."""
    state = _Stream()
    total = path.stat().st_size
    seen: set[str] = set()  # every FINESS number of a well-formed structureet line
    kept: set[str] = set()  # those of the typology
    geo_seen: set[str] = set()
    columns: dict[str, list] = {name: [] for name in _KEPT}
    lines: list[int] = []
    geo_columns: dict[str, list] = {name: [] for name in _GEO_KEPT}
    geo_lines: list[int] = []
    done = 0

    def flush() -> None:
        if lines:
            state.frames.append(_columns_frame(columns, lines))
            for values in columns.values():
                values.clear()
            lines.clear()
        if geo_lines:
            state.geo_frames.append(_columns_frame(geo_columns, geo_lines))
            for values in geo_columns.values():
                values.clear()
            geo_lines.clear()

    with path.open("rb") as handle:
        first = handle.readline()
        done += len(first)
        state.lines = 1
        header = decode(first, 1).lstrip("\ufeff").rstrip("\r\n")
        pending: list[tuple[int, str]] = []
        if header.lower().startswith("finess;etalab"):
            parts = header.split(";")
            state.date = parts[3].strip() if len(parts) > 3 else ""
        elif header.startswith(("structureet;", "geolocalisation;")):
            problems.add(1, None, _shorten(header), "finess;etalab;<n>;<AAAA-MM-JJ>",
                         "ligne d'en-tête « finess;etalab » absente : la première ligne est "
                         "lue comme une donnée", Severity.AVERTISSEMENT)
            pending.append((1, header))
        else:
            raise InputError([Problem(
                label, 1, None, _shorten(header),
                "première ligne « finess;etalab;<n>;<AAAA-MM-JJ> » (fichier "
                "etalab-cs1100507-stock-*.csv de data.gouv.fr)",
                "ce fichier n'est pas une extraction FINESS au format officiel")])

        def lines_of() -> Iterable[tuple[int, str]]:
            """(line number, text) in blocks: one decode and one progress call per block."""
            nonlocal done
            yield from pending
            number = 1
            while True:
                block = handle.readlines(BLOCK_BYTES)
                if not block:
                    return
                data = b"".join(block)
                done += len(data)
                try:
                    texts = data.decode("utf-8").split("\n")
                    if texts and texts[-1] == "":
                        texts.pop()
                    if len(texts) != len(block):  # a lone "\r"... : decode line by line
                        raise UnicodeDecodeError("utf-8", b"", 0, 1, "line count")
                    if not data.isascii():
                        decode.utf8_lines += 1
                except UnicodeDecodeError:
                    texts = [decode(raw, number + k) for k, raw in enumerate(block, start=1)]
                for text in texts:
                    number += 1
                    yield number, text.rstrip("\r\n")
                state.lines = number
                flush()
                if progress is not None:
                    progress(done, total)

        for number, line in lines_of():
            if not line.strip():
                state.blank += 1
                continue
            # The producer quotes a field holding a quote (or a ";"), CSV-style:
            # "LIEU DE VIE ""MAVOUNA MEMA 1""". The csv module reads those lines; a line
            # without any quote reads the same with str.split, which is faster.
            fields = line.split(";") if '"' not in line else _split_quoted(line)
            tag = fields[0]
            if tag not in ("structureet", "geolocalisation"):
                tag = tag.strip().lower()
            if tag == "structureet":
                state.structures += 1
                widths = STRUCTURE_WIDTHS
            elif tag == "geolocalisation":
                state.geolocations += 1
                widths = GEO_WIDTHS
            else:
                state.rejected["type_ligne_inconnu"] += 1
                problems.add(number, None, _shorten(line),
                             "une ligne « structureet » ou « geolocalisation »",
                             f"type de ligne inconnu « {_shorten(fields[0], 30)} » : "
                             "ligne rejetée")
                continue
            width = len(fields)
            while width > widths[-1] and fields[width - 1].strip() == "":
                width -= 1  # trailing ";" (the norm) or extra empty fields
            split_source = (tag == "geolocalisation" and width in GEO_SPLIT_WIDTHS
                            and _DATE.fullmatch(fields[width - 1].strip()) is not None)
            if width not in widths and not split_source:
                state.rejected["ligne_mal_formee"] += 1
                expected = " ou ".join(str(w) for w in widths)
                problems.add(number, None, _shorten(line),
                             f"{expected} champs séparés par « ; » pour une ligne {tag}",
                             f"ligne {tag} de {width} champs (un « ; » dans un nom, ou une "
                             "ligne coupée ?) : ligne rejetée")
                continue
            padded = len(fields) > widths[-1] + 1
            if tag == "structureet":
                finess = fields[1].strip().upper()
                if not _FINESS.fullmatch(finess):
                    state.rejected["finess_illisible"] += 1
                    problems.add(number, "nofinesset", fields[1],
                                 "numéro FINESS à 9 caractères (ex. 350000000, 2A0000000)",
                                 "numéro FINESS illisible : ligne rejetée")
                    continue
                if finess in seen:
                    state.rejected["finess_en_double"] += 1
                    problems.add(number, "nofinesset", finess,
                                 "un numéro FINESS par établissement",
                                 "numéro FINESS déjà lu plus haut : ligne rejetée")
                    continue
                seen.add(finess)
                category = fields[18].strip()
                if not category.isdigit() or len(category) != 3:
                    state.rejected["categorie_illisible"] += 1
                    problems.add(number, "categetab", fields[18],
                                 "code de catégorie à 3 chiffres (ex. 156), 19e champ",
                                 "catégorie illisible (champ manquant ou en trop plus haut "
                                 "dans la ligne ?) : ligne rejetée")
                    continue
                if category not in wanted:
                    state.out_of_scope[category] += 1
                    continue
                kept.add(finess)
                if padded:
                    state.repaired_width.append(number)
                for name, position in _KEPT.items():
                    columns[name].append(fields[position].strip())
                columns["nofinesset"][-1] = finess
                lines.append(number)
            else:
                finess = fields[1].strip().upper()
                if finess in seen and finess not in kept:
                    continue  # an establishment outside the typology
                if finess in geo_seen:
                    state.duplicated_geo.append(number)
                    continue
                geo_seen.add(finess)
                for name, position in _GEO_KEPT.items():
                    geo_columns[name].append(fields[position].strip())
                geo_columns["nofinesset"][-1] = finess
                if split_source:  # older layout: sourcecoordet parts separated by ";"
                    state.split_geo += 1
                    geo_columns["sourcecoordet"][-1] = ",".join(
                        part.strip() for part in fields[4:width - 1])
                geo_lines.append(number)
    flush()
    if progress is not None:
        progress(total, total)
    return state


def _split_quoted(line: str) -> list[str]:
    """The fields of one line holding quotes, read by the csv module (``;``, ``"``)."""
    return next(csv.reader((line,), delimiter=";", quotechar='"'), [""])


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ----------------------------------------------------------------------------- codes


def insee_commune_code(departement: pd.Series, commune: pd.Series) -> pd.Series:
    """INSEE commune code from the FINESS ``departement`` and ``commune`` fields.

    ``01`` + ``451`` → ``01451``; ``2A`` + ``004`` → ``2A004``; ``9B`` + ``209`` →
    ``97209`` (overseas: the commune field holds the département's last digit); a
    2-digit overseas commune field is appended to the 3-character département
    (``972`` + ``09`` → ``97209``); Saint-Barthélemy and Saint-Martin, still written
    ``9A`` + ``123`` / ``127``, get their current codes ``97701`` / ``97801``
    (:data:`COLLECTIVITES_9A`). Unreadable values give NA.
    """
    dep = departement.str.strip().str.upper()
    com = commune.str.strip()
    collectivite = (dep == "9A") & com.isin(list(COLLECTIVITES_9A))
    dep = dep.map(OVERSEAS_DEPARTEMENTS).fillna(dep)
    overseas = dep.str.startswith("97")
    three = com.str.fullmatch(r"\d{3}")
    two = com.str.fullmatch(r"\d{2}")
    out = pd.Series(pd.NA, index=dep.index, dtype=str)
    metro = ~overseas & dep.str.fullmatch(_DEPARTEMENT.pattern) & three
    out[metro] = dep[metro] + com[metro]
    dom3 = overseas & dep.str.fullmatch(_DEPARTEMENT.pattern) & three
    out[dom3] = "97" + com[dom3]
    dom2 = overseas & dep.str.fullmatch(_DEPARTEMENT.pattern) & two
    out[dom2] = dep[dom2] + com[dom2]
    out[collectivite] = com[collectivite].map(COLLECTIVITES_9A)
    return out


def departement_code(departement: pd.Series) -> pd.Series:
    """``9A`` → ``971`` … ``9F`` → ``976``; other codes unchanged (upper case)."""
    dep = departement.str.strip().str.upper()
    return dep.map(OVERSEAS_DEPARTEMENTS).fillna(dep)


@functools.lru_cache(maxsize=256)
def epsg_of_label(label: str) -> int | None:
    """The EPSG code a ``sourcecoordet`` value names, None when it names none.

    ``"1,ATLASANTE,96,BAN,EPSG:2154 RGF93 / Lambert-93 (Métropole)"`` → 2154;
    ``"…,LAMBERT_93"`` → 2154; ``"…,UTM_N20"`` or ``"…UTM zone 20N…"`` → 5490;
    ``"2,ATLASANTE,90,BAN,WGS84/UTM zone 21N (St-Pierre-et-Miquelon)"`` → 32621.
    Returns -1 when the label names a system this reader does not know.
    """
    text = label.strip()
    if not text:
        return None
    match = _EPSG_IN_LABEL.search(text)
    if match:
        return int(match.group(1))
    compact = re.sub(r"[\s_\-/]+", "", text.upper())
    if "LAMBERT93" in compact:
        return METROPOLE_EPSG
    match = _UTM_IN_LABEL.search(compact)
    if match:
        hemisphere = match.group(1) or match.group(4)
        zone = match.group(2) or match.group(3)
        return EPSG_BY_UTM_ZONE.get((zone, hemisphere), -1)
    if re.search(r"LAMBERT|UTM|EPSG|WGS|RGF|RGR|RGM|RGAF|RGFG", compact):
        return -1
    return None  # precision, producer, score, base only: no CRS named


@functools.cache
def _transformer(epsg: int):
    from pyproj import Transformer

    return Transformer.from_crs(epsg, 4326, always_xy=True)


def _known_epsg(epsg: int) -> bool:
    try:
        _transformer(epsg)
    except Exception:
        return False
    return True


def to_wgs84(x: np.ndarray, y: np.ndarray, epsg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude of projected points, each converted from its own CRS.

    Vectorised per CRS; NaN where the input is NaN or the conversion fails.
    """
    lon = np.full(len(x), np.nan)
    lat = np.full(len(x), np.nan)
    for code in pd.unique(epsg[~pd.isna(epsg)]):
        rows = np.flatnonzero(epsg == code)
        lon[rows], lat[rows] = _transformer(int(code)).transform(x[rows], y[rows],
                                                                   errcheck=False)
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    lon[bad], lat[bad] = np.nan, np.nan
    return lon, lat


# ----------------------------------------------------------------------------- geography


@functools.cache
def _departement_shapes() -> dict[str, object]:
    import shapely

    from ptsm_diag.catalog.geography import load_departements

    deps = load_departements()
    shapes = {}
    for code, geom in zip(deps["code_departement"], deps.geometry, strict=True):
        if geom is not None:
            shapely.prepare(geom)
            shapes[str(code)] = geom
    return shapes


@functools.cache
def _commune_codes() -> pd.Index:
    from ptsm_diag.catalog.geography import cached_layer

    return pd.Index(cached_layer("communes")["code_commune"].astype(str).to_numpy(object))


def _is_in(values: pd.Series, known: pd.Index) -> pd.Series:
    """Hash lookup of text values in a unique index (Arrow ``isin`` is slow on big sets)."""
    found = known.get_indexer(values.to_numpy(dtype=object, na_value=None)) >= 0
    return pd.Series(found, index=values.index)


def commune_points(codes: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Longitude and latitude of each commune's representative point (NaN if unknown)."""
    from ptsm_diag.catalog.geography import cached_layer

    communes = cached_layer("communes")
    needed = pd.Index(codes.dropna().unique())
    chosen = communes[communes["code_commune"].isin(needed) & communes.geometry.notna()]
    points = chosen.geometry.representative_point()
    lon = pd.Series(points.x.to_numpy(), index=chosen["code_commune"].to_numpy())
    lat = pd.Series(points.y.to_numpy(), index=chosen["code_commune"].to_numpy())
    return (codes.map(lon).astype("float64"), codes.map(lat).astype("float64"))


def outside_departement(lon: pd.Series, lat: pd.Series, departement: pd.Series
                        ) -> tuple[pd.Series, pd.Series]:
    """Whether WGS84 points fall outside their département (beyond the tolerance).

    Returns
    -------
    outside : Series of bool
        True when the point is farther than :data:`TOLERANCE_DEGRES` from the outline.
    checked : Series of bool
        False when the point or the département's outline is missing.
    """
    import shapely

    shapes = _departement_shapes()
    outside = pd.Series(False, index=lon.index)
    checked = pd.Series(False, index=lon.index)
    located = lon.notna() & lat.notna()
    for code, rows in departement[located].groupby(departement[located]).groups.items():
        shape = shapes.get(str(code))
        if shape is None:
            continue
        x, y = lon[rows].to_numpy(), lat[rows].to_numpy()
        inside = shapely.contains_xy(shape, x, y)
        if not inside.all():
            far = ~inside
            distance = shapely.distance(shape, shapely.points(x[far], y[far]))
            inside[far] = distance <= TOLERANCE_DEGRES
        outside[rows] = ~inside
        checked[rows] = True
    return outside, checked


# ----------------------------------------------------------------------------- reading


def read_finess(
    path: str | Path,
    *,
    types: Iterable[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FinessExtract:
    """Read a FINESS extract ``etalab-cs1100507-stock-*.csv`` into the ``ressources`` format.

    Parameters
    ----------
    path : path
        The file as downloaded from data.gouv.fr (UTF-8 or Latin-1, not re-saved).
    types : iterable of str, optional
        Resource types to keep (codes of ``catalog/resource_types.yaml``); every type
        with FINESS categories by default.
    progress : callable, optional
        Called as ``progress(bytes_read, bytes_total)`` after each block of
        :data:`BLOCK_BYTES` read and at the end.

    Returns
    -------
    FinessExtract
        The table, the counts and the problems. Rejected lines are reported, not raised.

    Raises
    ------
    InputError
        When the file does not exist, is empty, or is not a FINESS extract.
    UnknownCodeError
        When a requested type is not in the typology.
    """
    import time

    start = time.perf_counter()
    path = Path(path)
    label = path.name
    if not path.is_file():
        raise InputError([Problem(label, None, None, str(path), "un fichier existant",
                                  "fichier introuvable")])
    if path.stat().st_size == 0:
        raise InputError([Problem(label, None, None, None,
                                  "une extraction FINESS etalab-cs1100507",
                                  "fichier vide")])
    wanted = finess_categories(types)
    problems = _Problems(label)
    detected = detect_encoding(path)
    decoder = _Decoder("cp1252" if detected.startswith("utf_8") else detected)
    state = _stream(path, label, decoder, wanted, problems, progress)
    if state.structures == 0:
        raise InputError([Problem(label, None, None, None,
                                  "des lignes « structureet » après la ligne d'en-tête",
                                  "aucun établissement dans ce fichier")])
    summary = FinessSummary(
        fichier=label, date_extraction=state.date,
        encodage=decoder.encoding,
        lignes=state.lines, etablissements_lus=state.structures,
        geolocalisations_lues=state.geolocations, lignes_vides=state.blank,
        hors_typologie=sum(state.out_of_scope.values()),
        categories_hors_typologie=dict(state.out_of_scope.most_common()),
        geolocalisations_format_ancien=state.split_geo,
    )
    fallbacks = decoder.fallback_lines
    if fallbacks and decoder.utf8_lines:
        problems.group(fallbacks, None, [None] * len(fallbacks),
                       "un fichier entièrement en UTF-8",
                       f"ligne qui n'est pas en UTF-8, lue en {decoder.fallback} (fichier à "
                       "l'encodage mélangé)", Severity.AVERTISSEMENT)
    if state.repaired_width:
        problems.group(state.repaired_width, None, [None] * len(state.repaired_width),
                       "un seul « ; » en fin de ligne",
                       "champs vides en trop en fin de ligne, ignorés", Severity.REPARATION)
    if state.duplicated_geo:
        problems.group(state.duplicated_geo, "nofinesset", [None] * len(state.duplicated_geo),
                       "une ligne geolocalisation par établissement",
                       "géolocalisation en double : la première est gardée",
                       Severity.AVERTISSEMENT)

    raw = (pd.concat(state.frames, ignore_index=True) if state.frames
           else _columns_frame({name: [] for name in _KEPT}, []))
    geo = (pd.concat(state.geo_frames, ignore_index=True) if state.geo_frames
           else _columns_frame({name: [] for name in _GEO_KEPT}, []))
    raw = _check_codes(raw, problems, state.rejected, summary)
    table = _build_table(raw, wanted, state.date)
    table = _place(table, raw, geo, problems, summary)

    summary.rejets = {k: state.rejected[k] for k in REJECTION_REASONS if state.rejected[k]}
    summary.etablissements_retenus = len(table)
    summary.par_type = {k: int(v) for k, v in
                        table["type_ressource"].value_counts().sort_index().items()}
    summary.positions = {p: int((table["position"] == p).sum()) for p in POSITIONS}
    summary.hors_departement = int(table["hors_departement"].sum())
    summary.duree_s = round(time.perf_counter() - start, 3)
    return FinessExtract(table, summary, problems.sorted(), problems.sorted_detail())


def _check_codes(raw: pd.DataFrame, problems: _Problems, rejected: Counter,
                 summary: FinessSummary) -> pd.DataFrame:
    """Reject the rows whose département or commune cannot give a commune code.

    Rows of a collectivité without ARS (Wallis-et-Futuna) are set aside with a warning
    that says so. Saint-Barthélemy and Saint-Martin keep the département of their FINESS
    code (971), the one the bundled geography attaches them to.
    """
    dep = departement_code(raw["departement"])
    raw = raw.assign(code_departement=dep,
                     code_commune=insee_commune_code(raw["departement"], raw["commune"]))
    upper = raw["departement"].str.strip().str.upper()
    outside_ars = upper.str.fullmatch(_OUTSIDE_ARS.pattern).astype(bool)
    for line, value in zip(raw["ligne"][outside_ars], upper[outside_ars], strict=True):
        where = OUTSIDE_ARS.get(value, "collectivité d'outre-mer du Pacifique")
        problems.add(int(line), "departement", value,
                     "un département ou une collectivité dans le territoire d'une ARS "
                     "(01…95, 2A, 2B, 9A…9F)",
                     f"établissement de {where} (département FINESS {value}) : hors des "
                     "territoires des ARS, donc d'aucun PTSM ; écarté",
                     Severity.AVERTISSEMENT)
    summary.hors_territoire_ars = int(outside_ars.sum())
    raw = raw[~outside_ars].reset_index(drop=True)
    dep = raw["code_departement"]
    bad_dep = ~dep.str.fullmatch(_DEPARTEMENT.pattern).astype(bool)
    for line, value in zip(raw["ligne"][bad_dep], raw["departement"][bad_dep], strict=True):
        problems.add(int(line), "departement", value,
                     "code département FINESS (01…95, 2A, 2B, 9A…9F)",
                     "département illisible : ligne rejetée")
    bad_com = ~bad_dep & raw["code_commune"].isna()
    for line, value in zip(raw["ligne"][bad_com], raw["commune"][bad_com], strict=True):
        problems.add(int(line), "commune", value,
                     "code commune à 3 chiffres dans le département (ex. 238)",
                     "code commune illisible : ligne rejetée")
    rejected["departement_illisible"] += int(bad_dep.sum())
    rejected["commune_illisible"] += int(bad_com.sum())
    raw = raw[~(bad_dep | bad_com)].reset_index(drop=True)

    # Documented repair: arrondissement codes → their commune, when the COG lacks them.
    known = _commune_codes()
    parent = raw["code_commune"].map(ARRONDISSEMENTS)
    moved = parent.notna() & ~_is_in(raw["code_commune"], known)
    problems.group(list(raw["ligne"][moved]), "commune", list(raw["code_commune"][moved]),
                   "code INSEE de la commune",
                   "code d'arrondissement municipal remplacé par le code de sa commune",
                   Severity.REPARATION)
    raw.loc[moved, "code_commune"] = parent[moved]
    unknown = ~_is_in(raw["code_commune"], known)
    problems.group(list(raw["ligne"][unknown]), "commune", list(raw["code_commune"][unknown]),
                   "une commune du Code officiel géographique (géographie embarquée)",
                   "commune inconnue de la géographie embarquée (commune fusionnée ou "
                   "collectivité d'outre-mer ?) : établissement gardé",
                   Severity.AVERTISSEMENT)
    return raw


def _build_table(raw: pd.DataFrame, wanted: dict[str, str], date: str) -> pd.DataFrame:
    """The template columns, from the kept structureet fields."""
    typology = _typology()
    index = pd.Index(raw["ligne"].to_numpy(dtype="int64"), name="ligne")
    kind = raw["categetab"].map(wanted)
    name = raw["rslongue"].where(raw["rslongue"] != "", raw["rs"])
    child = (raw["categetab"] == CMP_CATEGORY) & (
        raw["rs"].str.contains(CHILD_CMP) | raw["rslongue"].str.contains(CHILD_CMP))
    if "cmp_enfants" in typology and wanted.get(CMP_CATEGORY) == "cmp_adultes":
        kind = kind.where(~child, "cmp_enfants")
    champ = kind.map({code: t.champ for code, t in typology.items()})
    public = kind.map({code: t.public for code, t in typology.items()})
    text = {
        "id_ressource": raw["nofinesset"], "finess": raw["nofinesset"], "nom": name,
        "type_ressource": kind, "champ": champ, "public": public,
        "code_commune": raw["code_commune"],
        "prestations": pd.Series(pd.NA, index=raw.index, dtype=str),
        "telephone": raw["telephone"].where(raw["telephone"] != ""),
        "source": pd.Series(f"FINESS {date}".strip(), index=raw.index, dtype=str),
    }
    table = pd.DataFrame(index=index)
    for column in RESSOURCES.columns:
        if column.name in text:
            table[column.name] = pd.Series(text[column.name].to_numpy(), index=index,
                                           dtype=str)
        elif column.kind == "int":
            table[column.name] = pd.Series(pd.NA, index=index, dtype="Int64")
        else:
            table[column.name] = np.nan
    table["categorie_finess"] = pd.Series(raw["categetab"].to_numpy(), index=index, dtype=str)
    return table


def _place(table: pd.DataFrame, raw: pd.DataFrame, geo: pd.DataFrame,
           problems: _Problems, summary: FinessSummary) -> pd.DataFrame:
    """Join the geolocalisations, convert to WGS84, fall back on the commune's point."""
    finess_to_row = pd.Series(np.arange(len(raw)), index=raw["nofinesset"].to_numpy())
    dep = pd.Series(raw["code_departement"].to_numpy(), index=table.index)
    matched = geo["nofinesset"].isin(finess_to_row.index)
    orphans = geo[~matched]
    summary.geolocalisations_orphelines = len(orphans)
    problems.group(list(orphans["ligne"]), "nofinesset", list(orphans["nofinesset"]),
                   "le numéro FINESS d'une ligne structureet du fichier",
                   "géolocalisation d'un établissement absent du fichier : ignorée",
                   Severity.AVERTISSEMENT)
    geo = geo[matched].reset_index(drop=True)
    rows = finess_to_row[geo["nofinesset"]].to_numpy()
    geo_dep = dep.iloc[rows].to_numpy()

    x_text, y_text = geo["coordxet"], geo["coordyet"]
    empty = (x_text == "") & (y_text == "")
    comma = (x_text.str.contains(",", regex=False) | y_text.str.contains(",", regex=False))
    x = pd.to_numeric(x_text.str.replace(",", ".", regex=False), errors="coerce")
    y = pd.to_numeric(y_text.str.replace(",", ".", regex=False), errors="coerce")
    unreadable = ~empty & (x.isna() | y.isna() | ~np.isfinite(x) | ~np.isfinite(y))
    for axis, text, values in (("coordxet", x_text, x), ("coordyet", y_text, y)):
        bad = unreadable & (values.isna() | ~np.isfinite(values))
        for line, value in zip(geo["ligne"][bad], text[bad], strict=True):
            problems.add(int(line), axis, value, "nombre en mètres (ex. 870262.2)",
                         "coordonnée illisible : établissement placé au centre de sa commune")
    fixed = comma & ~unreadable & ~empty
    problems.group(list(geo["ligne"][fixed]), "coordxet", list(x_text[fixed]),
                   "nombre avec un point décimal (ex. 870262.2)",
                   "virgule décimale dans une coordonnée, lue comme un point",
                   Severity.REPARATION)

    labels = geo["sourcecoordet"]
    epsg = labels.map(lambda text: epsg_of_label(text)).astype("float64")
    known = {int(code): _known_epsg(int(code)) for code in epsg.dropna().unique() if code > 0}
    unsupported = epsg.map(lambda c: bool(c > 0) and not known.get(int(c), False))
    unknown_crs = ~empty & ~unreadable & ((epsg == -1) | unsupported.astype(bool))
    for line, value in zip(geo["ligne"][unknown_crs], labels[unknown_crs], strict=True):
        problems.add(int(line), "sourcecoordet", value,
                     "un système de coordonnées nommé (ex. « EPSG:2154 RGF93 / Lambert-93 », "
                     "« LAMBERT_93 », « UTM_N20 »)",
                     "système de coordonnées inconnu : établissement placé au centre de sa "
                     "commune")
    deduced = ~empty & ~unreadable & epsg.isna()
    default = pd.Series(geo_dep).map(EPSG_BY_DEPARTEMENT).fillna(METROPOLE_EPSG)
    epsg = epsg.where(~deduced, default.to_numpy())
    summary.crs_deduits = int(deduced.sum())
    problems.group(list(geo["ligne"][deduced]), "sourcecoordet", list(labels[deduced]),
                   "le système de coordonnées en fin de sourcecoordet",
                   "système de coordonnées absent : celui du département est utilisé",
                   Severity.REPARATION)

    usable = ~empty & ~unreadable & ~unknown_crs
    lon, lat = to_wgs84(x.where(usable).to_numpy(dtype=float),
                        y.where(usable).to_numpy(dtype=float),
                        epsg.where(usable).to_numpy(dtype=float))
    failed = usable & np.isnan(lon)
    for line in geo["ligne"][failed]:
        problems.add(int(line), "coordxet", None,
                     "des coordonnées valides dans le système nommé",
                     "conversion en WGS84 impossible : établissement placé au centre de sa "
                     "commune")
    summary.coordonnees_rejetees = int((unreadable | unknown_crs | failed).sum())
    summary.crs = {f"EPSG:{int(code)}": int(n) for code, n in
                   epsg[usable & ~failed].value_counts().sort_index().items()}

    longitude = np.full(len(table), np.nan)
    latitude = np.full(len(table), np.nan)
    longitude[rows], latitude[rows] = lon, lat
    table["longitude"] = longitude
    table["latitude"] = latitude
    from_finess = table["longitude"].notna()
    has_geo = np.zeros(len(table), dtype=bool)
    has_geo[rows[~empty.to_numpy()]] = True
    summary.sans_geolocalisation = int((~has_geo).sum())

    outside, checked = outside_departement(table["longitude"], table["latitude"], dep)
    summary.non_verifiables = int((from_finess & ~checked).sum())
    far = table.index[outside]
    problems.group(list(far), "coordxet", [None] * len(far),
                   "des coordonnées dans le département de l'établissement",
                   "coordonnées FINESS hors du département (X et Y inversés, ou erreur de "
                   "géocodage ?) : gardées, signalées dans la colonne hors_departement",
                   Severity.AVERTISSEMENT)

    c_lon, c_lat = commune_points(table["code_commune"])
    table["longitude"] = table["longitude"].where(from_finess, c_lon)
    table["latitude"] = table["latitude"].where(from_finess, c_lat)
    position = np.where(from_finess, "finess",
                        np.where(table["longitude"].notna(), "centre_commune", "absente"))
    table.insert(len(RESSOURCES.columns), "position", pd.Series(position, index=table.index,
                                                                 dtype=str))
    table.insert(len(RESSOURCES.columns) + 1, "hors_departement", outside.to_numpy(bool))
    return table


# ----------------------------------------------------------------------------- merging


ORIGINS = ("finess", "locale", "finess+locale")


def merge_resources(finess: pd.DataFrame | FinessExtract, local: pd.DataFrame | None
                    ) -> pd.DataFrame:
    """FINESS establishments and the user's own ``ressources`` table, without duplicates.

    A local row is matched to a FINESS row by its ``finess`` column, or by its
    ``id_ressource`` when that is a FINESS number of the extract. For a matched pair the
    result has one row: the FINESS values, where every non-empty local cell wins
    (the user's file is the one they correct: type, public, capacities, ETP,
    prestations, name...). Coordinates go as a pair: local longitude/latitude (or
    Lambert-93 x/y, converted) replace the FINESS position, with ``position`` =
    ``locale``. Unmatched local rows (GEM, CLSM, équipes mobiles...) are appended; those
    without coordinates are placed at their commune's representative point
    (``centre_commune``), as FINESS rows are.

    Parameters
    ----------
    finess : DataFrame or FinessExtract
        The output of :func:`read_finess`.
    local : DataFrame or None
        A validated ``ressources`` table (``read_table("ressources", ...).data``).

    Returns
    -------
    DataFrame
        Template columns, then ``position``, ``hors_departement``, ``categorie_finess`` and
        ``origine`` (``finess``, ``locale`` or ``finess+locale``); a fresh integer index.

    Raises
    ------
    InputError
        When the local table holds the same FINESS number twice.
    """
    base = finess.table if isinstance(finess, FinessExtract) else finess
    base = base.reset_index(drop=True).copy()
    for column in FLAG_COLUMNS:
        if column not in base:
            base[column] = "finess" if column == "position" else (
                False if column == "hors_departement" else pd.NA)
    base["origine"] = "finess"
    if local is None or len(local) == 0:
        return base
    local = local.reset_index(drop=True).copy()
    for column in RESSOURCES.column_names:
        if column not in local:
            local[column] = np.nan
    key = local["finess"].astype("string").str.strip().str.upper()
    ids = local["id_ressource"].astype("string").str.strip().str.upper()
    known = pd.Index(base["finess"].astype("string"))
    key = key.where(key.notna() & (key != ""), ids.where(ids.isin(known)))
    doubled = key.notna() & key.duplicated(keep=False)
    if doubled.any():
        raise InputError([
            Problem("ressources (fichier local)", None, "finess", str(value),
                    "un numéro FINESS par ligne", "numéro FINESS présent sur plusieurs lignes")
            for value in key[doubled].unique()])

    row_of = pd.Series(np.arange(len(base)), index=known)
    match = key.notna() & key.isin(known)
    local_xy = _local_lonlat(local)
    out = base
    for column in RESSOURCES.column_names:
        if column in ("longitude", "latitude", "x_lambert93", "y_lambert93"):
            continue
        values = local.loc[match, column]
        filled = values.notna() & (values.astype("string").str.strip() != "")
        if filled.any():
            targets = row_of[key[match][filled]].to_numpy()
            if out[column].dtype != values.dtype:
                out[column] = out[column].astype(object)
            out.loc[targets, column] = values[filled].to_numpy()
    located = match & local_xy[0].notna()
    targets = row_of[key[located]].to_numpy()
    out.loc[targets, "longitude"] = local_xy[0][located].to_numpy()
    out.loc[targets, "latitude"] = local_xy[1][located].to_numpy()
    out.loc[targets, "position"] = "locale"
    out.loc[row_of[key[match]].to_numpy(), "origine"] = "finess+locale"

    extra = local[~match].copy()
    extra["longitude"], extra["latitude"] = local_xy[0][~match], local_xy[1][~match]
    extra["position"] = np.where(extra["longitude"].notna(), "locale", "absente")
    missing = extra["longitude"].isna()
    if missing.any():
        c_lon, c_lat = commune_points(extra.loc[missing, "code_commune"].astype(str))
        extra.loc[missing, "longitude"] = c_lon.to_numpy()
        extra.loc[missing, "latitude"] = c_lat.to_numpy()
        extra.loc[missing & extra["longitude"].notna(), "position"] = "centre_commune"
    extra["hors_departement"] = False
    extra["categorie_finess"] = pd.NA
    extra["origine"] = "locale"
    columns = [*RESSOURCES.column_names, *FLAG_COLUMNS, "origine"]
    merged = pd.concat([out[columns], extra[columns]], ignore_index=True)

    relocated = merged["position"] == "locale"
    if relocated.any():
        deps = merged.loc[relocated, "code_commune"].astype(str).map(departement_of_commune)
        outside, _checked = outside_departement(merged.loc[relocated, "longitude"],
                                                merged.loc[relocated, "latitude"], deps)
        merged.loc[relocated, "hors_departement"] = outside.to_numpy()
    merged["hors_departement"] = merged["hors_departement"].astype(bool)
    return merged


def _local_lonlat(local: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Local coordinates in WGS84: longitude/latitude, else Lambert-93 x/y converted."""
    lon = pd.to_numeric(local["longitude"], errors="coerce").astype(float)
    lat = pd.to_numeric(local["latitude"], errors="coerce").astype(float)
    x93 = pd.to_numeric(local["x_lambert93"], errors="coerce").astype(float)
    y93 = pd.to_numeric(local["y_lambert93"], errors="coerce").astype(float)
    use = (lon.isna() | lat.isna()) & x93.notna() & y93.notna()
    if use.any():
        codes = np.full(int(use.sum()), float(METROPOLE_EPSG))
        c_lon, c_lat = to_wgs84(x93[use].to_numpy(), y93[use].to_numpy(), codes)
        lon[use], lat[use] = c_lon, c_lat
    pair = lon.notna() & lat.notna()
    return lon.where(pair), lat.where(pair)


# ----------------------------------------------------------------------------- CSV output


def ressources_csv_text(table: pd.DataFrame) -> str:
    """The template ``ressources`` CSV (``;``, decimal comma) of a FINESS table.

    Coordinates are written only when they are the establishment's own: a row placed at
    its commune's point, or whose FINESS coordinates fall outside its département, is
    written without coordinates, so that the pipeline places it at its commune and flags
    it as approximate; ``source`` says why (with the discarded coordinates).
    """
    out = table[RESSOURCES.column_names].copy()
    position = table["position"] if "position" in table else pd.Series("finess", out.index)
    approximate = position.isin(["centre_commune", "absente"]).to_numpy()
    outside = (table["hors_departement"].to_numpy(bool) if "hors_departement" in table
               else np.zeros(len(out), dtype=bool))
    notes = pd.Series("", index=out.index, dtype=object)
    notes[approximate] = " ; position : centre de la commune (coordonnées absentes)"
    notes[outside] = [
        (f" ; coordonnées FINESS hors du département (longitude {lon:.5f} / latitude "
         f"{lat:.5f}), ignorées : position au centre de la commune").replace(".", ",")
        for lon, lat in zip(out["longitude"][outside], out["latitude"][outside], strict=True)]
    out.loc[approximate | outside, ["longitude", "latitude"]] = np.nan
    source = out["source"].astype(object).fillna("FINESS")
    out["source"] = (source + notes).str.strip(" ;")
    for column in ("longitude", "latitude", "x_lambert93", "y_lambert93", "etp"):
        values = out[column].astype(float)
        out[column] = values.map(lambda v: "" if np.isnan(v) else f"{v:.6f}".rstrip("0")
                                 .rstrip(".").replace(".", ","))
    from ptsm_diag.io.exports import csv_text  # no cell a spreadsheet would run as a formula

    return csv_text(out, decimal=".", lineterminator="\n", bom=False)


REPORT_COLUMNS = ("fichier", "ligne", "colonne", "valeur", "attendu", "message", "gravite")


def write_finess_report(extract: FinessExtract, path: str | Path) -> Path:
    """Write every rejected or reported line of an extract to a CSV, atomically.

    One row per line and problem (never summarised): ``fichier;ligne;colonne;valeur;
    attendu;message;gravite``, as ``ptsm-diag valider --rapport`` writes; ``;``-separated,
    UTF-8 with BOM. A cell that a spreadsheet would read as a formula (``=``, ``+``,
    ``-``, ``@`` first) is written with a leading apostrophe.
    """
    frame = pd.DataFrame([p.as_dict() for p in extract.lignes_signalees],
                         columns=list(REPORT_COLUMNS))
    frame["ligne"] = frame["ligne"].astype("Int64")
    try:
        from ptsm_diag.io.exports import write_csv
    except ImportError:  # older tree without the shared export helper
        from ptsm_diag.io.files import write_atomic

        text = frame.map(_neutral_cell).to_csv(sep=";", index=False, lineterminator="\n")
        write_atomic(Path(path), "\ufeff" + text)
        return Path(path)
    return write_csv(frame, path)


def _neutral_cell(value: object) -> object:
    if not isinstance(value, str):
        return value
    return "'" + value if value.lstrip()[:1] in ("=", "+", "-", "@") else value


def convert_finess(
    path: str | Path,
    sortie_csv: str | Path,
    *,
    types: Iterable[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    rapport: str | Path | None = None,
) -> FinessSummary:
    """Read a FINESS extract and write it as a template ``ressources.csv``, atomically.

    The CSV is UTF-8 with BOM, ``;``-separated with decimal commas, like the templates of
    ``data_templates/``; see :func:`ressources_csv_text` for the coordinates.

    Parameters
    ----------
    rapport : path, optional
        Also write every rejected or reported line to this CSV
        (:func:`write_finess_report`); the summary names it.

    Returns
    -------
    FinessSummary
        The counts of :func:`read_finess`.
    """
    from ptsm_diag.io.files import write_atomic

    extract = read_finess(path, types=types, progress=progress)
    text = "\ufeff" + ressources_csv_text(extract.table)
    write_atomic(Path(sortie_csv), text)
    if rapport is not None:
        extract.summary.rapport = str(write_finess_report(extract, rapport))
    return extract.summary
