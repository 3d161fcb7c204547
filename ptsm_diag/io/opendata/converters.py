"""Converters: an official open-data file → a template table (or a report).

Each converter takes the downloaded file and a :class:`Context` (the départements
wanted) and returns a :class:`Converted`: a table in the template format, the French
notes to show, and the problems found. A file whose layout is not the documented one
raises :class:`~ptsm_diag.io.opendata.download.FormatChangedError` naming what changed.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ptsm_diag.catalog.geography import departements_of_communes
from ptsm_diag.errors import InputError, Problem, Severity
from ptsm_diag.io.opendata.download import FormatChangedError
from ptsm_diag.io.sources.parsing import ARRONDISSEMENTS

# Share of rejected lines above which a FINESS file is taken as a changed format.
FORMAT_CHANGE_SHARE = 0.10


@dataclass(frozen=True)
class Context:
    """What the conversion is for.

    Attributes
    ----------
    source : str
        Registry name of the source being converted.
    departements : frozenset of str or None
        Départements to keep (None: the whole country).
    hint : str
        French pointer to the catalogue page, for error messages.
    """

    source: str
    departements: frozenset[str] | None = None
    hint: str = ""


@dataclass
class Converted:
    """The output of a converter.

    Attributes
    ----------
    table : DataFrame or None
        A template table (``ressources``, ``population``) or a capacity table
        (``finess``, ``capacite_places``) for the équipements; None for a report only.
    notes : list of str
        French lines for the user (counts, producer's date...).
    problems : list of Problem
        Warnings and repairs (errors raise).
    producer_date : str
        Date found in the file itself (FINESS extraction date, census year...).
    details : dict
        JSON-serialisable facts for the provenance file.
    national : DataFrame or None
        For a ``ressources`` source: the same table for the whole country, before the
        départements were kept (it gives ``references_nationales.csv``); for the
        ``population`` source: the population of every département of France by age band
        (it gives ``population_nationale.csv``).
    """

    table: pd.DataFrame | None
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    producer_date: str = ""
    details: dict = field(default_factory=dict)
    national: pd.DataFrame | None = None


# ----------------------------------------------------------------------------- helpers


def known_communes() -> pd.Index:
    """Codes of the communes of the bundled geography."""
    from ptsm_diag.catalog.geography import cached_layer

    return pd.Index(cached_layer("communes")["code_commune"].astype(str))


def keep_known_communes(table: pd.DataFrame, label: str, what: str
                        ) -> tuple[pd.DataFrame, list[Problem]]:
    """Drop the rows whose commune the bundled geography does not know, with a warning."""
    unknown = ~table["code_commune"].isin(known_communes())
    if not unknown.any():
        return table, []
    codes = sorted(table.loc[unknown, "code_commune"].astype(str).unique())
    shown = ", ".join(codes[:15]) + ("…" if len(codes) > 15 else "")
    problem = Problem(label, None, "code_commune", None,
                      "une commune de la géographie embarquée (Code officiel géographique)",
                      f"{int(unknown.sum())} {what} dans {len(codes)} commune(s) inconnue(s) de "
                      f"la géographie embarquée, non repris : {shown}", Severity.AVERTISSEMENT)
    return table[~unknown], [problem]


def in_departements(codes: pd.Series, departements: frozenset[str] | None) -> pd.Series:
    """Mask of the commune codes inside the wanted départements."""
    if departements is None:
        return pd.Series(True, index=codes.index)
    return departements_of_communes(codes).isin(departements)


def open_text_member(path: Path, pattern: str) -> tuple[str, bytes]:
    """(name, bytes) of a file, or of the member of a zip whose name matches ``pattern``."""
    if not zipfile.is_zipfile(path):
        return path.name, path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if re.search(pattern, n, re.IGNORECASE)]
        if not names:
            raise FormatChangedError(
                "?", path.name,
                [f"aucun fichier « {pattern} » dans l'archive (contenu : "
                 f"{', '.join(archive.namelist()[:10])})"])
        return names[0], archive.read(names[0])


def decode(data: bytes) -> str:
    """UTF-8 (BOM removed) or, failing that, Windows-1252."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def sniff_separator(header: str) -> str:
    """The separator of a header line (``;``, ``,`` or tab)."""
    counts = {sep: header.count(sep) for sep in (";", ",", "\t")}
    return max(counts, key=counts.get)


# ----------------------------------------------------------------------------- FINESS


def convert_finess_csv(path: Path, context: Context) -> Converted:
    """FINESS ``etalab-cs1100507`` → ``ressources``, with
    :func:`~ptsm_diag.io.sources.finess.read_finess`."""
    from ptsm_diag.io.sources.finess import REJECTION_REASONS, read_finess

    try:
        extract = read_finess(path)
    except InputError as exc:
        first = exc.problems[0] if exc.problems else None
        changes = ([f"première ligne différente : lu « {first.value} », attendu "
                    f"{first.expected}"] if first is not None and first.row == 1 else
                   [p.message for p in exc.problems[:5]])
        raise FormatChangedError(context.source, path.name, changes, context.hint) from exc
    summary = extract.summary
    lines = max(summary.etablissements_lus + summary.geolocalisations_lues, 1)
    structural = {k: n for k, n in summary.rejets.items()
                  if k in ("ligne_mal_formee", "type_ligne_inconnu", "categorie_illisible")}
    if sum(structural.values()) > FORMAT_CHANGE_SHARE * lines:
        changes = []
        for reason, count in structural.items():
            examples = [p for p in extract.problems
                        if p.severity == Severity.ERREUR and p.column in (None, "categetab")
                        and reason_of(p) == reason][:2]
            detail = "; ".join(f"ligne {p.row} : {p.message} (attendu : {p.expected})"
                               for p in examples)
            changes.append(f"{count} ligne(s) rejetée(s) pour « {REJECTION_REASONS[reason]} »"
                           + (f" — {detail}" if detail else ""))
        raise FormatChangedError(context.source, path.name, changes, context.hint)
    table = extract.table.reset_index(drop=True)
    national = table
    table = table[in_departements(table["code_commune"], context.departements)]
    table, problems = keep_known_communes(table, path.name, "établissement(s)")
    notes = [summary.to_french()]
    serious = [p for p in extract.problems if p.severity == Severity.ERREUR]
    if serious:
        notes.append(f"{len(serious)} ligne(s) ou coordonnée(s) rejetée(s) dans l'extraction "
                     "FINESS (détail dans provenance.json).")
    return Converted(table.reset_index(drop=True), notes,
                     problems + [p for p in extract.problems if p.severity != Severity.ERREUR],
                     summary.date_extraction,
                     {"resume": summary.as_dict(),
                      "lignes_rejetees": [p.as_dict() for p in serious[:200]]},
                     national=national)


def reason_of(problem: Problem) -> str:
    """The rejection reason of a FINESS problem, from its message."""
    if "type de ligne inconnu" in problem.message:
        return "type_ligne_inconnu"
    if "champs" in problem.message:
        return "ligne_mal_formee"
    if "catégorie" in problem.message:
        return "categorie_illisible"
    return ""


# ----------------------------------------------------------------------------- équipements

EQUIPEMENT_REQUIRED = ("nofinesset", "capinstot")
# Published layout (etalab-cs1100505-stock-*.csv): no header row; "structureet" lines, then
# one "equipementsocial" line per establishment × discipline × activity × clientèle.
# Positions (0-based) of the fields read; capinstot is the 10th field and indsupinst
# ("O": installation supprimée) the 16th.
EQUIPEMENT_FIELDS = (
    "equipementsocial", "nofinesset", "de", "libde", "ta", "libta", "client", "libclient",
    "sourceinfo", "capinstot", "capinstm", "capinstf", "capinsthab", "ageminiinst",
    "agemaxiinst", "indsupinst",
)
EQUIPEMENT_TAG = "equipementsocial"
_EQUIPEMENT_POSITIONS = {"nofinesset": 1, "capinstot": 9, "indsupinst": 15}


def _published_equipements(lines: list[str], name: str, context: Context) -> pd.DataFrame:
    """The ``equipementsocial`` lines of the published layout, as text columns."""
    rows: list[list[str]] = []
    numbers: list[int] = []
    short: list[int] = []
    other = 0
    for number, line in enumerate(lines, start=2):
        if not line.startswith(EQUIPEMENT_TAG + ";"):
            other += bool(line.strip()) and not line.startswith("structureet;")
            continue
        fields = line.split(";") if '"' not in line else next(
            csv.reader((line,), delimiter=";", quotechar='"'))
        if len(fields) < len(EQUIPEMENT_FIELDS):
            short.append(number)
            continue
        rows.append([fields[i].strip() for i in _EQUIPEMENT_POSITIONS.values()])
        numbers.append(number)
    total = len(rows) + len(short)
    if not rows or len(short) > FORMAT_CHANGE_SHARE * total:
        detail = (f"{len(short)} ligne(s) equipementsocial sur {total} ont moins de "
                  f"{len(EQUIPEMENT_FIELDS)} champs (lignes {', '.join(map(str, short[:5]))}"
                  f"{'…' if len(short) > 5 else ''}) : capinstot attendu en 10e champ, "
                  "indsupinst en 16e") if short else "aucune ligne equipementsocial"
        raise FormatChangedError(context.source, name, [detail], context.hint)
    frame = pd.DataFrame(rows, columns=list(_EQUIPEMENT_POSITIONS), dtype=str)
    frame.index = pd.Index(numbers, name="ligne")
    frame.attrs["lignes_courtes"] = short
    frame.attrs["lignes_autres"] = other
    return frame


def _headed_equipements(lines: list[str], name: str, context: Context) -> pd.DataFrame:
    """A CSV with a header row naming at least ``nofinesset`` and ``capinstot``."""
    header = lines[0]
    sep = sniff_separator(header)
    columns = [c.strip().strip('"').lower() for c in header.split(sep)]
    missing = [c for c in EQUIPEMENT_REQUIRED if c not in columns]
    if missing:
        raise FormatChangedError(
            context.source, name,
            [f"ligne d'en-tête différente : colonne(s) {', '.join(missing)} absente(s) "
             f"(lu : « {header[:100]} ») ; ni en-tête ni lignes « equipementsocial » du "
             "fichier publié etalab-cs1100505"], context.hint)
    frame = pd.read_csv(io.StringIO("\n".join(lines)), sep=sep, dtype=str,
                        keep_default_na=False, quoting=csv.QUOTE_MINIMAL)
    frame.columns = columns
    return frame


def convert_equipements(path: Path, context: Context) -> Converted:
    """FINESS équipements sociaux et médico-sociaux → places installées per establishment.

    Reads the published file ``etalab-cs1100505-stock-*.csv`` (Latin-1, ``;``, a
    ``finess;etalab;<n>;<date>`` first line, no header row, ``structureet`` lines then
    ``equipementsocial;nofinesset;de;libde;ta;libta;client;libclient;sourceinfo;capinstot;…``
    lines: :data:`EQUIPEMENT_FIELDS`), or a CSV with a header row naming at least
    ``nofinesset`` and ``capinstot``. Lines whose ``indsupinst`` is ``O`` (installation
    supprimée) are left out. Returns the table ``finess, capacite_places``: the sum of
    ``capinstot`` over the establishment's lines that are not removed.
    """
    name, data = open_text_member(path, r"\.(csv|txt)$")
    text = decode(data)
    lines = text.splitlines()
    date = ""
    if lines and lines[0].lstrip("\ufeff").lower().startswith("finess;etalab"):
        parts = lines[0].split(";")
        date = parts[3].strip() if len(parts) > 3 else ""
        lines = lines[1:]
    if not any(line.strip() for line in lines):
        raise FormatChangedError(context.source, name, ["fichier vide après l'en-tête"],
                                 context.hint)
    published = any(line.startswith((EQUIPEMENT_TAG + ";", "structureet;"))
                    for line in lines[:1000])
    if published:
        frame = _published_equipements(lines, name, context)
        layout = "publié (sans en-tête)"
    else:
        frame = _headed_equipements(lines, name, context)
        layout = "avec en-tête"
    finess = frame["nofinesset"].str.strip().str.upper().str.zfill(9)
    capacity = pd.to_numeric(frame["capinstot"].str.strip().str.replace(",", ".",
                                                                         regex=False),
                             errors="coerce")
    problems: list[Problem] = []
    unreadable = capacity.isna() & (frame["capinstot"].str.strip() != "")
    if unreadable.any():
        problems.append(Problem(name, None, "capinstot", None, "un nombre de places",
                                f"{int(unreadable.sum())} capacité(s) illisible(s), ignorée(s)",
                                Severity.AVERTISSEMENT))
    short = frame.attrs.get("lignes_courtes", [])
    if short:
        problems.append(Problem(name, None, None, None,
                                f"{len(EQUIPEMENT_FIELDS)} champs au moins",
                                f"{len(short)} ligne(s) equipementsocial trop courte(s), "
                                f"ignorée(s) (lignes {summarise(map(str, short), 5)})",
                                Severity.AVERTISSEMENT))
    active = (frame["indsupinst"].str.strip().str.upper() != "O") if "indsupinst" in frame \
        else pd.Series(True, index=frame.index)
    kept = active & capacity.notna()
    places = capacity[kept].groupby(finess[kept]).sum()
    table = pd.DataFrame({"finess": places.index.astype(str),
                          "capacite_places": places.round().astype("int64").to_numpy()})
    notes = [f"Équipements sociaux et médico-sociaux{f' du {date}' if date else ''} "
             f"(format {layout}) : {len(frame)} ligne(s) d'équipement, "
             f"{int((~active).sum())} installation(s) supprimée(s) écartée(s), places "
             f"installées de {len(table)} établissement(s)."]
    return Converted(table, notes, problems, date,
                     {"lignes": len(frame), "format": layout,
                      "installations_supprimees": int((~active).sum())})


def join_capacities(ressources: pd.DataFrame, capacities: pd.DataFrame
                    ) -> tuple[pd.DataFrame, int]:
    """Fill ``capacite_places`` of the establishments from the équipements (empty cells only).

    Returns the table and the number of establishments filled.
    """
    places = capacities.set_index("finess")["capacite_places"]
    found = ressources["finess"].map(places)
    fill = found.notna() & ressources["capacite_places"].isna()
    out = ressources.copy()
    out["capacite_places"] = out["capacite_places"].astype("Int64")
    out.loc[fill, "capacite_places"] = found[fill].astype("int64").to_numpy()
    return out, int(fill.sum())


# ----------------------------------------------------------------------------- population

# INSEE census, "Évolution et structure de la population", IRIS level
# (base-ic-evol-struct-pop-AAAA) or commune level: detailed age columns P<yy>_POP<band>.
AGE_COLUMNS: dict[str, tuple[str, ...]] = {
    "0-17": ("0002", "0305", "0610", "1117"),
    "18-64": ("1824", "2539", "4054", "5564"),
    "65+": ("6579", "80P"),
}
# Extra bands of the national table (per département) when the file has their column:
# the census has no 20-59 band (its detailed columns are 18-24, 25-39, 40-54, 55-64), its
# closest is 20-64 (P<yy>_POP2064), and the total.
NATIONAL_EXTRA_COLUMNS: dict[str, str] = {"20-64": "2064", "ensemble": ""}
COMMUNE_COLUMNS = ("COM", "CODGEO")
_YEAR_PREFIX = re.compile(r"^P(\d{2})_POP$", re.IGNORECASE)


def convert_population(path: Path, context: Context) -> Converted:
    """INSEE census population by IRIS or commune and detailed age → ``population``.

    The bands of the partition are sums of the census' detailed columns: 0-17 =
    ``POP0002 + POP0305 + POP0610 + POP1117``, 18-64 = ``POP1824 + POP2539 + POP4054 +
    POP5564``, 65+ = ``POP6579 + POP80P``. IRIS rows are added up per commune (``COM``);
    arrondissements of Paris, Lyon and Marseille go to their commune. Counts are
    estimates with decimals at IRIS level: the commune sums are rounded.

    The file is national: ``national`` holds, before the départements are kept, the
    population of every département by band (the partition, plus 20-64 =
    ``POP2064`` and ``ensemble`` = ``P<aa>_POP`` when present), sums of the rounded
    commune counts (:func:`national_population`).
    """
    name, data = open_text_member(path, r"^(?!.*meta_)(?:.*/)?[^/]*\.csv$")
    text = decode(data)
    header = text.split("\n", 1)[0].strip("\r")
    sep = sniff_separator(header)
    columns = [c.strip().strip('"') for c in header.split(sep)]
    upper = [c.upper() for c in columns]
    key = next((c for c in COMMUNE_COLUMNS if c in upper), None)
    year_match = next((m for m in map(_YEAR_PREFIX.match, upper) if m), None)
    changes = []
    if key is None:
        changes.append("colonne du code commune absente (attendu : COM ou CODGEO)")
    if year_match is None:
        changes.append("colonne de population totale P<aa>_POP absente (millésime illisible)")
    prefix = f"P{year_match.group(1)}_POP" if year_match else "P??_POP"
    wanted = {band: [prefix + suffix for suffix in suffixes]
              for band, suffixes in AGE_COLUMNS.items()}
    missing = [c for cols in wanted.values() for c in cols if c not in upper]
    if missing:
        changes.append(f"colonne(s) d'âge absente(s) : {', '.join(missing)}")
    if changes:
        changes.append(f"ligne d'en-tête lue : « {header[:120]}… »")
        raise FormatChangedError(context.source, name, changes, context.hint)
    year = 2000 + int(year_match.group(1))
    frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    frame.columns = upper
    codes = frame[key].str.strip().str.upper()
    codes = codes.where(codes.str.len() != 4, "0" + codes)
    codes = codes.map(ARRONDISSEMENTS).fillna(codes)
    rows = []
    national_rows: list[pd.DataFrame] = []
    bad = 0
    for band, cols in wanted.items():
        values = pd.DataFrame({c: pd.to_numeric(frame[c].str.replace(",", ".", regex=False),
                                                errors="coerce") for c in cols})
        bad += int(values.isna().any(axis=1).sum())
        total = values.sum(axis=1, min_count=len(cols)).groupby(codes).sum(min_count=1)
        rows.append(pd.DataFrame({"code_commune": total.index.astype(str), "annee": year,
                                  "tranche_age": band, "population": total.to_numpy()}))
    table = pd.concat(rows, ignore_index=True).dropna(subset=["population"])
    table["population"] = np.rint(table["population"].astype(float)).astype("int64")
    problems: list[Problem] = []
    if bad:
        problems.append(Problem(name, None, None, None, "des effectifs numériques",
                                f"{bad} ligne(s) avec un effectif d'âge vide ou illisible "
                                "(secret statistique ?) : comptées sans cette valeur",
                                Severity.AVERTISSEMENT))
    for band, suffix in NATIONAL_EXTRA_COLUMNS.items():
        column = prefix + suffix
        if column in upper:
            values = pd.to_numeric(frame[column].str.replace(",", ".", regex=False),
                                   errors="coerce")
            total = values.groupby(codes).sum(min_count=1)
            extra = pd.DataFrame({"code_commune": total.index.astype(str), "annee": year,
                                  "tranche_age": band, "population": total.to_numpy()})
            extra = extra.dropna(subset=["population"])
            extra["population"] = np.rint(extra["population"].astype(float)).astype("int64")
            national_rows.append(extra)
    table, dropped = keep_known_communes(table, name, "effectif(s)")
    national = national_population(pd.concat(
        [table, *(t[t["code_commune"].isin(known_communes())] for t in national_rows)],
        ignore_index=True), source=f"INSEE, recensement {year} ({name})")
    table = table[in_departements(table["code_commune"], context.departements)]
    table = table.sort_values(["code_commune", "tranche_age"], ignore_index=True)
    communes = table["code_commune"].nunique()
    notes = [f"Population {year} (recensement INSEE, {name}) : {communes} commune(s), "
             f"{int(table['population'].sum())} habitants en 0-17 / 18-64 / 65+."]
    return Converted(table, notes, problems + dropped, str(year),
                     {"fichier": name, "annee": year, "communes": communes},
                     national=national)


def national_population(table: pd.DataFrame, *, source: str = "") -> pd.DataFrame:
    """``code_commune, annee, tranche_age, population`` → the same per département
    (``code_departement, annee, tranche_age, population, source``), sorted."""
    frame = table.assign(code_departement=departements_of_communes(table["code_commune"]))
    frame = frame.dropna(subset=["code_departement"])
    out = (frame.groupby(["code_departement", "annee", "tranche_age"])["population"].sum()
           .astype("int64").reset_index())
    out["source"] = source
    return out.sort_values(["code_departement", "annee", "tranche_age"], ignore_index=True)


# ----------------------------------------------------------------------------- COG

COG_REQUIRED = ("TYPECOM", "COM", "LIBELLE")


def convert_cog(path: Path, context: Context) -> Converted:
    """COG commune list (``v_commune_AAAA.csv``) → differences with the bundled geography.

    Reports the communes added, removed or renamed (``TYPECOM`` = ``COM`` rows) without
    touching the package data; ``table`` holds one row per difference
    (``code_commune, changement, nom_embarque, nom_cog``).
    """
    from ptsm_diag.catalog.geography import cached_layer, geography_metadata

    name, data = open_text_member(path, r"commune.*\.csv$")
    text = decode(data)
    header = text.split("\n", 1)[0].strip("\r")
    sep = sniff_separator(header)
    frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    frame.columns = [c.strip().upper() for c in frame.columns]
    missing = [c for c in COG_REQUIRED if c not in frame.columns]
    if missing:
        raise FormatChangedError(context.source, name,
                                 [f"colonne(s) absente(s) : {', '.join(missing)} (ligne "
                                  f"d'en-tête lue : « {header[:100]} »)"], context.hint)
    cog = frame[frame["TYPECOM"].str.strip() == "COM"]
    cog = pd.Series(cog["LIBELLE"].str.strip().to_numpy(), index=cog["COM"].str.strip())
    bundled = cached_layer("communes")
    ref = pd.Series(bundled["nom"].astype(str).to_numpy(),
                    index=bundled["code_commune"].astype(str).to_numpy())
    added = cog.index.difference(ref.index)
    removed = ref.index.difference(cog.index)
    common = cog.index.intersection(ref.index)
    renamed = common[cog[common].to_numpy() != ref[common].to_numpy()]
    diff = pd.concat([
        pd.DataFrame({"code_commune": added, "changement": "ajoutée", "nom_embarque": "",
                      "nom_cog": cog[added].to_numpy()}),
        pd.DataFrame({"code_commune": removed, "changement": "supprimée",
                      "nom_embarque": ref[removed].to_numpy(), "nom_cog": ""}),
        pd.DataFrame({"code_commune": renamed, "changement": "renommée",
                      "nom_embarque": ref[renamed].to_numpy(),
                      "nom_cog": cog[renamed].to_numpy()}),
    ], ignore_index=True).sort_values("code_commune", ignore_index=True)
    local = diff[in_departements(diff["code_commune"], context.departements)]
    vintage = geography_metadata().get("millesime_cog", "")
    counts = local["changement"].value_counts()
    scope = "" if context.departements is None else " dans les départements demandés"
    notes = [f"Géographie : {len(cog)} communes dans {name} contre {len(ref)} dans la "
             f"géographie embarquée (COG {vintage}){scope} : "
             f"{int(counts.get('ajoutée', 0))} ajoutée(s), "
             f"{int(counts.get('supprimée', 0))} supprimée(s), "
             f"{int(counts.get('renommée', 0))} renommée(s). La géographie embarquée n'est "
             "pas modifiée (voir scripts/build_reference_geography.py)."]
    return Converted(local.reset_index(drop=True), notes, [], "",
                     {"fichier": name, "communes_cog": len(cog), "communes_embarquees": len(ref),
                      "differences": local.head(500).to_dict(orient="records")})


def summarise(items: Iterable[str], limit: int = 8) -> str:
    """``a, b, c…`` for a French message."""
    items = list(items)
    return ", ".join(items[:limit]) + ("…" if len(items) > limit else "")
