"""Converters of official open data into the ``contexte`` table (identity card with
context).

Only the layouts of which a real published file was seen are read here:

- :func:`convert_age_structure` — INSEE « Estimation de population au 1er janvier, par
  département, sexe et âge quinquennal » (workbook ``estim-pop-dep-sexe-aq``): title
  rows, « Année AAAA », two header rows (sex blocks, then the 20 five-year bands « 0 à 4
  ans » … « 95 ans et plus » and « Total »), one row per département (the code is an
  integer for 971-976), then the rows « France métropolitaine », « DOM » and « France
  métropolitaine et DOM », and a source note.
- :func:`convert_poverty` — INSEE Filosofi as exported with labelled columns (« Code
  géographique », « Libellé géographique », « Nombre de personnes dans les ménages
  fiscaux », « Taux de pauvreté-Ensemble (% pop totale) »…), ``,``-separated, decimal
  commas in quotes, one row per département or commune; the year is in the file name
  (``fr-dpt-pauvrete-2013.csv``).

The coded Filosofi base (``CODGEO;NBPERSMENFISC21;TP6021…``), unemployment and
one-person households (census base-cc), AAH recipients (CAF) and QPV population have no
converter: no real published sample of those files could be checked, so their lines stay
« non disponible » unless the user fills ``contexte.csv`` (see
``data_templates/README.md``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ptsm_diag.catalog.geography import normalize_departement_code
from ptsm_diag.errors import Problem, PtsmError, Severity
from ptsm_diag.io.opendata.converters import Context, Converted, decode, sniff_separator
from ptsm_diag.io.opendata.download import FormatChangedError
from ptsm_diag.io.sources.schemas import COMMUNE_PATTERN, DEPARTEMENT_PATTERN, REFERENCE_FRANCE

CONTEXT_COLUMNS = ["niveau", "code", "indicateur", "annee", "numerateur", "denominateur",
                   "valeur", "source"]
# Age indicators: (lowest age, highest age or None) of the numerator's five-year bands.
AGE_INDICATORS: dict[str, tuple[int, int | None]] = {
    "part_0_19": (0, 19), "part_20_64": (20, 64), "part_65_plus": (65, None),
    "part_75_plus": (75, None),
}
FRANCE_ROW = "france métropolitaine et dom"
_BAND = re.compile(r"^\s*(\d+)\s*à\s*(\d+)\s*ans\s*$|^\s*(\d+)\s*ans\s+et\s+plus\s*$",
                   re.IGNORECASE)
_YEAR = re.compile(r"\b((?:19|20)\d{2})\b")


def _sheet_rows(path: Path) -> tuple[str, list[tuple]]:
    """(sheet name, rows) of the workbook's sheet: the most recent year-named sheet, or
    the first one."""
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        names = workbook.sheetnames
        years = [n for n in names if re.fullmatch(r"\s*\d{4}\s*", n)]
        name = max(years) if years else names[0]
        rows = list(workbook[name].iter_rows(values_only=True))
    finally:
        workbook.close()
    return name, rows


def convert_age_structure(path: Path, context: Context) -> Converted:
    """INSEE population estimate by département and five-year age band → ``contexte``.

    Each département (and « France métropolitaine et DOM », as ``france`` / ``FRANCE``)
    gives four rows: the 0-19, 20-64, 65+ and 75+ populations (both sexes, sums of the
    « Ensemble » bands) over the « Total » column. Every département is kept whatever
    ``context.departements``: they give the région and France references.

    Raises
    ------
    FormatChangedError
        When the title year, the band header row or the département rows are not found,
        or when the bands of a row do not add up to its total.
    """
    sheet, rows = _sheet_rows(path)
    name = f"{path.name} (feuille « {sheet} »)"
    year = next((int(m.group(1)) for row in rows[:4] for cell in row if isinstance(cell, str)
                 for m in [_YEAR.search(cell)] if m and "ann" in cell.lower()), None)
    header_index = next((i for i, row in enumerate(rows[:15])
                         if any(isinstance(c, str) and c.strip() == "0 à 4 ans" for c in row)),
                        None)
    changes = []
    if year is None:
        changes.append("ligne « Année AAAA » absente des premières lignes")
    if header_index is None:
        changes.append("ligne d'en-tête des tranches d'âge (« 0 à 4 ans »…) absente")
    if changes:
        raise FormatChangedError(context.source, name, changes, context.hint)
    header = rows[header_index]
    first = next(i for i, c in enumerate(header) if isinstance(c, str) and c.strip() == "0 à 4 ans")
    bands: list[tuple[int, int, int | None]] = []  # (column, low, high)
    total_column = None
    for column in range(first, len(header)):
        cell = header[column]
        text = cell.strip() if isinstance(cell, str) else ""
        if text.lower() == "total":
            total_column = column
            break
        match = _BAND.match(text)
        if match is None:
            changes.append(f"colonne {column + 1} : « {text} » n'est pas une tranche d'âge")
            break
        low = int(match.group(1) or match.group(3))
        high = int(match.group(2)) if match.group(2) else None
        bands.append((column, low, high))
    if total_column is None or not bands or bands[-1][2] is not None:
        changes.append("colonnes du bloc « Ensemble » : tranches jusqu'à « 95 ans et plus » "
                       "puis « Total » attendues")
    if changes:
        raise FormatChangedError(context.source, name, changes, context.hint)

    source = f"INSEE, estimation de population au 1er janvier {year} ({path.name})"
    out, unmatched = [], []
    for number, row in enumerate(rows[header_index + 1:], start=header_index + 2):
        label = row[0]
        if label is None or (isinstance(label, str) and label.lower().startswith("source")):
            continue
        text = str(label).strip()
        if text.lower() == FRANCE_ROW:
            level, code = "france", REFERENCE_FRANCE
        else:
            code = normalize_departement_code(label)
            if not re.fullmatch(DEPARTEMENT_PATTERN, code):
                continue  # « France métropolitaine », « DOM »: not used
            level = "departement"
        values = [row[c] for c, _, _ in bands] + [row[total_column]]
        if not all(isinstance(v, int | float) for v in values):
            unmatched.append(f"ligne {number} ({text}) : effectif non numérique")
            continue
        total = float(row[total_column])
        if abs(sum(float(row[c]) for c, _, _ in bands) - total) > 0.5:
            unmatched.append(f"ligne {number} ({text}) : la somme des tranches ne fait pas le "
                             "total")
            continue
        for indicator, (low, high) in AGE_INDICATORS.items():
            numerator = sum(float(row[c]) for c, b_low, b_high in bands
                            if b_low >= low and (high is None or (b_high is not None
                                                                  and b_high <= high)))
            out.append({"niveau": level, "code": code, "indicateur": indicator,
                        "annee": year, "numerateur": int(numerator),
                        "denominateur": int(total), "valeur": None, "source": source})
    if unmatched or not out:
        raise FormatChangedError(context.source, name,
                                 unmatched or ["aucune ligne de département lue"], context.hint)
    table = pd.DataFrame(out, columns=CONTEXT_COLUMNS)
    departements = table.loc[table["niveau"] == "departement", "code"].nunique()
    notes = [f"Structure par âge {year} (INSEE, {path.name}) : {departements} départements"
             + (" et la France entière." if (table["niveau"] == "france").any() else ".")]
    return Converted(table, notes, [], str(year),
                     {"fichier": path.name, "feuille": sheet, "annee": year,
                      "departements": departements})


# Labelled Filosofi export: (start of the column label, what it is).
POVERTY_COLUMNS = {
    "code": "Code géographique",
    "persons": "Nombre de personnes dans les ménages fiscaux",
    "rate": "Taux de pauvreté-Ensemble",
}


def _number(text: str) -> float | None:
    """``"601507,0"`` → 601507.0; empty, ``s``, ``nd`` or unreadable → None."""
    cleaned = text.strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        return float(cleaned)
    except ValueError:
        return None


def convert_poverty(path: Path, context: Context) -> Converted:
    """INSEE Filosofi poverty rate (labelled export) → ``contexte`` rows ``taux_pauvrete``.

    Each row gives the published rate (``valeur``, %) and the persons of the fiscal
    households (``denominateur``); the report derives the poor persons from them, so that
    départements and communes add up (the rate being rounded to 0.1 point, so is the
    derived count). Rows without a rate or a count (secret statistique: empty cell,
    ``s``, ``nd``) are left out and counted in a warning. Every row is kept whatever
    ``context.departements``: they give the région and France references.

    Raises
    ------
    FormatChangedError
        When a column is missing.
    PtsmError
        When the file name gives no year.
    """
    import csv
    import io

    text = decode(path.read_bytes())
    header_line = text.split("\n", 1)[0].strip("\r")
    sep = sniff_separator(header_line)
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    header = [h.strip() for h in next(reader, [])]
    positions = {}
    for key, label in POVERTY_COLUMNS.items():
        found = [i for i, h in enumerate(header) if h.startswith(label)]
        if found:
            positions[key] = found[0]
    missing = [label for key, label in POVERTY_COLUMNS.items() if key not in positions]
    if missing:
        raise FormatChangedError(
            context.source, path.name,
            [f"colonne « {label}… » absente" for label in missing]
            + [f"ligne d'en-tête lue : « {header_line[:120]}… »"], context.hint)
    match = _YEAR.search(path.stem)
    if match is None:
        raise PtsmError(f"Fichier {path.name} : l'année de Filosofi n'est pas dans le fichier ; "
                        "nommez-le avec son millésime (ex. fr-dpt-pauvrete-2013.csv).")
    year = int(match.group(1))
    source = f"INSEE, Filosofi {year} ({path.name})"
    rows, secret = [], []
    for number, fields in enumerate(reader, start=2):
        if not any(f.strip() for f in fields):
            continue
        raw = fields[positions["code"]].strip().upper() if len(fields) > positions["code"] else ""
        code = normalize_departement_code(raw) if len(raw) <= 3 else raw.zfill(5)
        if re.fullmatch(DEPARTEMENT_PATTERN, code):
            level = "departement"
        elif re.fullmatch(COMMUNE_PATTERN, code):
            level = "commune"
        else:
            continue  # France, régions or EPCI rows of a wider export: not used
        persons = _number(fields[positions["persons"]]) if len(fields) > positions["persons"] \
            else None
        rate = _number(fields[positions["rate"]]) if len(fields) > positions["rate"] else None
        if persons is None or rate is None or persons <= 0 or not 0 <= rate <= 100:
            secret.append(f"{number} ({code})")
            continue
        rows.append({"niveau": level, "code": code, "indicateur": "taux_pauvrete",
                     "annee": year, "numerateur": None, "denominateur": persons,
                     "valeur": rate, "source": source})
    if not rows:
        raise FormatChangedError(context.source, path.name,
                                 ["aucune ligne de département ou de commune lue"], context.hint)
    problems = []
    if secret:
        shown = ", ".join(secret[:10]) + ("…" if len(secret) > 10 else "")
        problems.append(Problem(
            path.name, None, POVERTY_COLUMNS["rate"], None, "un taux et un nombre de personnes",
            f"{len(secret)} ligne(s) sans taux ou sans nombre de personnes (secret "
            f"statistique ?), non reprises : lignes {shown}", Severity.AVERTISSEMENT))
    table = pd.DataFrame(rows, columns=CONTEXT_COLUMNS)
    notes = [f"Taux de pauvreté Filosofi {year} ({path.name}) : "
             f"{len(table)} unité(s) géographique(s)."]
    return Converted(table, notes, problems, str(year),
                     {"fichier": path.name, "annee": year, "lignes": len(table)})
