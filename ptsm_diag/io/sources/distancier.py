"""The distancier: a commune-to-commune travel-time table supplied by the user.

Read and checked here like the other input files (file, line, column and what was
expected in every error); :mod:`ptsm_diag.compute.accessibility` uses it instead of estimated
times.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ptsm_diag.catalog.geography import cached_layer, repair_commune_codes
from ptsm_diag.errors import InputError, Problem
from ptsm_diag.io.sources.tabular import read_csv_file

DISTANCIER_COLUMNS = ("code_commune_origine", "code_commune_destination", "minutes")


def check_distancier(table: pd.DataFrame, label: str = "distancier") -> pd.DataFrame:
    """Validate a commune-to-commune travel-time table.

    Parameters
    ----------
    table : DataFrame
        ``code_commune_origine, code_commune_destination, minutes`` as text or numbers;
        its index is taken as the line number when it is named ``ligne`` (as
        :func:`read_distancier` reads it), else the row position + 2 (header = line 1).
    label : str
        File name quoted in the messages.

    Returns
    -------
    DataFrame
        The three columns, codes repaired (lost leading zero), ``minutes`` as float.

    Raises
    ------
    InputError
        Listing every missing column, unreadable or negative time, unknown commune code
        and contradictory duplicate pair, with file, line and column.
    """
    expected = ", ".join(DISTANCIER_COLUMNS)
    missing = [c for c in DISTANCIER_COLUMNS if c not in table.columns]
    if missing:
        raise InputError([
            Problem(label, 1, c, None, f"les colonnes {expected}",
                    "colonne obligatoire absente du distancier") for c in missing])
    lines = (table.index.to_numpy() if table.index.name == "ligne"
             else np.arange(len(table)) + 2)
    problems: list[Problem] = []
    known = set(cached_layer("communes")["code_commune"])
    out = pd.DataFrame(index=table.index)
    for column in DISTANCIER_COLUMNS[:2]:
        raw = table[column].astype("string").str.strip()
        codes, _ = repair_commune_codes(raw.fillna(""))
        bad = ~codes.isin(known)
        problems += [
            Problem(label, int(line), column, str(value),
                    "code commune INSEE à 5 caractères (ex. 35238, 2A004, 97105)",
                    "code commune vide ou inconnu")
            for line, value in zip(lines[bad.to_numpy()], raw[bad].fillna(""), strict=True)]
        out[column] = codes
    text = table["minutes"].astype("string").str.strip()
    text = text.str.replace("\u00a0", "", regex=False).str.replace(" ", "", regex=False)
    minutes = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
    bad = minutes.isna() | (minutes < 0) | ~np.isfinite(minutes.astype(float).fillna(-1))
    problems += [
        Problem(label, int(line), "minutes", "" if pd.isna(value) else str(value),
                "nombre de minutes positif ou nul (ex. 12,5)", "temps de trajet illisible")
        for line, value in zip(lines[bad.to_numpy()], table["minutes"][bad], strict=True)]
    out["minutes"] = minutes.astype(float)
    keys = out[list(DISTANCIER_COLUMNS[:2])]
    dup = keys.duplicated(keep=False) & ~bad
    if dup.any():
        spread = out[dup].groupby(list(DISTANCIER_COLUMNS[:2]))["minutes"].transform("nunique")
        conflicting = spread[spread > 1].index
        problems += [
            Problem(label, int(lines[table.index.get_loc(i)]), "minutes",
                    str(table.at[i, "minutes"]), "un seul temps par couple de communes",
                    "couple origine-destination en double avec des temps différents")
            for i in conflicting]
    if problems:
        raise InputError(problems)
    return out.drop_duplicates(list(DISTANCIER_COLUMNS[:2])).reset_index(drop=True)


def read_distancier(path: str | Path) -> pd.DataFrame:
    """Read and validate a distancier CSV (any separator and usual encoding).

    See :func:`check_distancier` for the columns and the errors raised.
    """
    path = Path(path)
    raw = read_csv_file(path)
    if raw.empty:
        unreadable = [p for p in raw.problems if p.message.startswith("table illisible")]
        raise InputError(unreadable or [Problem(path.name, None, None, None,
                                  "les colonnes " + ", ".join(DISTANCIER_COLUMNS),
                                  "fichier vide")])
    frame = raw.frame.copy()
    frame.index.name = "ligne"
    return check_distancier(frame, path.name)
