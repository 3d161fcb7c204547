"""Text cells → typed columns, with the documented repairs of codes.

French number formats are accepted (``12,5``, ``1 250`` with a plain, non-breaking or
narrow space), dates as ``AAAA-MM-JJ`` or ``JJ/MM/AAAA``. A cell that cannot be read
becomes a Problem quoting the value as read; it is then missing in the typed column.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import pandas as pd

from ptsm_diag.errors import Problem, Severity
from ptsm_diag.io.sources.referentials import is_known
from ptsm_diag.io.sources.schemas import COMMUNE_PATTERN, LIST_SEPARATOR, ColumnSpec

_INT = r"[+-]?\d+(?:[.,]0*)?"
_FLOAT = r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?"
_ISO_DATE = r"\d{4}-\d{1,2}-\d{1,2}"
_FR_DATE = r"\d{1,2}/\d{1,2}/\d{4}"

EXPECTED = {
    "int": "nombre entier (ex. 1250 ; espaces de milliers acceptés)",
    "float": "nombre (ex. 12,5 ou 12.5 ; espaces de milliers acceptés)",
    "date": "date AAAA-MM-JJ ou JJ/MM/AAAA (ex. 2024-06-30 ou 30/06/2024)",
}
MESSAGES = {
    "int": "nombre entier attendu",
    "float": "nombre attendu",
    "date": "date illisible ou inexistante",
}

# Municipal arrondissements → their commune (Paris, Marseille, Lyon).
ARRONDISSEMENTS = {
    **{f"751{n:02d}": "75056" for n in range(1, 21)},
    **{f"132{n:02d}": "13055" for n in range(1, 17)},
    **{f"6938{n}": "69123" for n in range(1, 10)},
}


def strip_cells(raw: pd.Series) -> pd.Series:
    """Cells without surrounding spaces (plain, non-breaking, narrow non-breaking)."""
    return raw.str.strip().str.strip("\u00a0\u202f\ufeff").str.strip()


def parse_column(
    raw: pd.Series, spec: ColumnSpec, label: str
) -> tuple[pd.Series, Iterable[Problem]]:
    """Convert one column of stripped text cells to its type.

    Returns
    -------
    typed : Series
        Int64, float64, datetime64 or text (missing = NA), same index.
    problems : iterable of Problem
        One ERREUR per cell that could not be read, made as it is iterated (a million
        unreadable cells are never all held at once).
    """
    filled = raw != ""
    if spec.kind in ("code", "text"):
        return raw.where(filled), []
    if spec.kind == "list":
        return _normalize_list(raw).where(filled), []
    parser = {"int": _parse_int, "float": _parse_float, "date": _parse_date}[spec.kind]
    typed, ok = parser(raw.where(filled, ""))
    bad = filled & ~ok
    problems = iter_cell_problems(
        label, raw[bad], spec.name, EXPECTED[spec.kind], MESSAGES[spec.kind]
    )
    return typed, problems


# Invisible characters that have no place in a cell: C0 controls but tab and line breaks,
# DEL and C1 controls (terminal escape sequences start with \x1b or \x9b).
CONTROL_CHARACTERS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"


def control_character_problems(text: pd.DataFrame, label: str) -> list[Problem]:
    """A warning per cell holding a NUL byte or another control character.

    Such characters are invisible in a spreadsheet but make two codes that look the same
    differ (``"R1\x00"`` is not ``"R1"``).
    """
    problems: list[Problem] = []
    for column in text.columns:
        cells = text[column]
        found = cells.str.contains(CONTROL_CHARACTERS, regex=True).fillna(False).astype(bool)
        if not found.any():
            continue
        problems += [
            Problem(label, int(line), str(column), value,
                    "du texte sans caractère de contrôle",
                    "caractère nul (octet 0) dans la valeur : fichier endommagé ou mal exporté ?"
                    if "\x00" in value else
                    "caractère de contrôle invisible dans la valeur (code d'échappement ?)",
                    Severity.AVERTISSEMENT)
            for line, value in cells[found].items()
        ]
    return problems


def cell_problems(
    label: str,
    values: pd.Series,
    column: str | None,
    expected: str,
    message: str | Callable[[str], str],
    severity: Severity = Severity.ERREUR,
) -> list[Problem]:
    """One Problem per cell of ``values`` (indexed by line number)."""
    return list(iter_cell_problems(label, values, column, expected, message, severity))


def iter_cell_problems(
    label: str,
    values: pd.Series,
    column: str | None,
    expected: str,
    message: str | Callable[[str], str],
    severity: Severity = Severity.ERREUR,
) -> Iterator[Problem]:
    """:func:`cell_problems`, one at a time."""
    for line, value in values.items():
        yield Problem(label, int(line), column, None if pd.isna(value) else str(value),
                      expected, message(str(value)) if callable(message) else message,
                      severity)


def _clean_number(raw: pd.Series) -> pd.Series:
    """Remove thousands spaces (plain, non-breaking, narrow non-breaking, tab)."""
    for space in (" ", "\u00a0", "\u202f", "\t"):
        raw = raw.str.replace(space, "", regex=False)
    return raw


def _parse_int(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    text = _clean_number(raw)
    ok = text.str.fullmatch(_INT).fillna(False).astype(bool)
    numbers = pd.to_numeric(text.where(ok).str.replace(",", ".", regex=False), errors="coerce")
    return numbers.astype("Int64"), ok


def _parse_float(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    text = _clean_number(raw)
    ok = text.str.fullmatch(_FLOAT).fillna(False).astype(bool)
    numbers = pd.to_numeric(text.where(ok).str.replace(",", ".", regex=False), errors="coerce")
    return numbers.astype("float64"), ok & numbers.notna()


def _parse_date(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    iso = raw.str.fullmatch(_ISO_DATE).fillna(False).astype(bool)
    french = raw.str.fullmatch(_FR_DATE).fillna(False).astype(bool)
    from_iso = pd.to_datetime(raw.where(iso), format="%Y-%m-%d", errors="coerce")
    from_fr = pd.to_datetime(raw.where(french), format="%d/%m/%Y", errors="coerce")
    dates = from_iso.where(iso, from_fr)
    return dates, dates.notna()


def _normalize_list(raw: pd.Series) -> pd.Series:
    """``" a | b ||"`` → ``"a|b"``."""
    def clean(cell: str) -> str:
        return LIST_SEPARATOR.join(p.strip() for p in cell.split(LIST_SEPARATOR) if p.strip())

    messy = raw.str.contains(r"\s|\|\||^\||\|$", regex=True).fillna(False).astype(bool)
    if not messy.any():
        return raw
    out = raw.copy()
    out[messy] = raw[messy].map(clean)
    return out


# --- repairs ---------------------------------------------------------------------------


def repair_column(
    values: pd.Series,
    how: str,
    label: str,
    column: str,
    known_communes: frozenset[str] | None = None,
) -> tuple[pd.Series, list[Problem]]:
    """Apply a documented repair to a stripped code column; report each repaired cell.

    Parameters
    ----------
    values : Series
        Stripped text cells (``""`` when empty).
    how : {"commune", "finess", "departement"}
        Which repair.
    known_communes : frozenset, optional
        When given, arrondissement codes of Paris, Lyon and Marseille that are not in it
        are replaced by their commune's code.
    """
    filled = values[values != ""]
    if filled.empty:
        return values, []
    repairer = {"commune": _repair_commune, "finess": _repair_finess,
                "departement": _repair_departement}[how]
    repaired, message = repairer(filled)
    problems = _repair_problems(label, column, filled, repaired, message)
    if how == "commune" and known_communes is not None:
        parent = repaired.map(ARRONDISSEMENTS)
        moved = parent.notna() & ~is_known(repaired, known_communes)
        if moved.any():
            problems += _repair_problems(
                label, column, repaired[moved], parent[moved],
                "code d'arrondissement municipal remplacé par le code de sa commune",
            )
            repaired = repaired.where(~moved, parent)
    out = values.copy()
    out.loc[repaired.index] = repaired
    return out, sorted(problems, key=lambda p: p.row or 0)


def _vocabulary_key(text: str) -> str:
    """``"Non commencée "`` → ``"noncommencee"``: no case, accents, spaces, - or _."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return re.sub(r"[\s\-_'’]+", "", plain)


def repair_vocabulary(
    values: pd.Series, codes: list[str], label: str, column: str
) -> tuple[pd.Series, list[Problem]]:
    """A vocabulary code written with another case, accents or separators → the code.

    ``"en cours"`` → ``"En cours"``, ``"Medico social"`` → ``"medico-social"``; only when
    exactly one code matches. Unmatched values are left for the vocabulary check.
    """
    keys: dict[str, list[str]] = {}
    for code in codes:
        keys.setdefault(_vocabulary_key(code), []).append(code)
    known = set(codes)
    mapping = {}
    for value in values.unique():
        if value == "" or value in known:
            continue
        match = keys.get(_vocabulary_key(value), [])
        if len(match) == 1:
            mapping[value] = match[0]
    if not mapping:
        return values, []
    changed = values.isin(list(mapping))
    after = values[changed].map(mapping)
    problems = _repair_problems(label, column, values[changed], after,
                                "valeur reconnue malgré la casse, les accents ou les séparateurs")
    out = values.copy()
    out[changed] = after
    return out, problems


def _repair_problems(
    label: str, column: str, before: pd.Series, after: pd.Series, message: str
) -> list[Problem]:
    changed = before != after
    return [
        Problem(label, int(line), column, old, f"« {new} »",
                f"{message} : « {old} » → « {new} »", Severity.REPARATION)
        for line, old, new in zip(before.index[changed], before[changed], after[changed],
                                  strict=True)
    ]


def _repair_commune(codes: pd.Series) -> tuple[pd.Series, str]:
    message = "code commune corrigé (zéro initial perdu par le tableur ou minuscule)"
    try:
        from ptsm_diag.catalog.geography import repair_commune_codes
    except ImportError:
        repair_commune_codes = None
    upper = codes.str.upper()
    suspect = ~upper.str.fullmatch(COMMUNE_PATTERN).fillna(False).astype(bool)
    if repair_commune_codes is not None:
        if not suspect.any():
            return upper, message
        repaired, _mask = repair_commune_codes(upper[suspect])
        out = upper.copy()
        out[suspect] = np.asarray(repaired, dtype=object)
        return out, message
    four_digits = upper.str.fullmatch(r"\d{4}").fillna(False).astype(bool)
    return upper.where(~four_digits, "0" + upper), message


def _repair_finess(codes: pd.Series) -> tuple[pd.Series, str]:
    upper = codes.str.upper()
    eight_digits = upper.str.fullmatch(r"\d{8}").fillna(False).astype(bool)
    return (upper.where(~eight_digits, "0" + upper),
            "numéro FINESS corrigé (zéro initial perdu par le tableur ou minuscule)")


def _repair_departement(codes: pd.Series) -> tuple[pd.Series, str]:
    message = "code département corrigé (zéro initial perdu par le tableur ou minuscule)"
    try:
        from ptsm_diag.catalog.geography import normalize_departement_code
    except ImportError:
        normalize_departement_code = normalize_departement_code_local
    mapping = {code: _safe(normalize_departement_code, code) for code in codes.unique()}
    return codes.map(mapping).astype(codes.dtype), message


def _safe(function: Callable[[str], str], code: str) -> str:
    try:
        return str(function(code))
    except (ValueError, KeyError):  # not a département code: left as is, checked later
        return code


def normalize_departement_code_local(code: str) -> str:
    """``"1"`` → ``"01"``, ``"2a"`` → ``"2A"``; other codes unchanged."""
    text = str(code).strip().upper()
    return text.zfill(2) if text.isdigit() and len(text) == 1 else text
