"""French display of numbers, dates and lists: one version for the whole package.

Thousands are separated by a narrow no-break space (U+202F), decimals by a comma; a
missing value is shown ``n.d.`` (non disponible). Nothing here imports pandas: a value is
missing when it is None, pandas' NA or a float NaN.
"""

from __future__ import annotations

import datetime as dt
import math
from numbers import Real
from typing import Any

MISSING = "n.d."
THOUSANDS = "\u202f"
LIST_SEPARATOR = "|"  # several codes in one cell of an input table


def is_missing(value: Any) -> bool:
    """True for None, pandas' NA/NaT and float NaN."""
    if value is None:
        return True
    if type(value).__name__ in {"NAType", "NaTType"}:
        return True
    return isinstance(value, Real) and not isinstance(value, bool) and math.isnan(value)


def auto_decimals(value: float, unit: str = "") -> int:
    """Decimals that suit a value: 1 for a percentage, fewer as the magnitude grows."""
    if unit == "%":
        return 1
    size = abs(value)
    return 0 if size >= 100 else 1 if size >= 10 else 2


def format_number(value: Any, decimals: int | None = 0, *, unit: str = "",
                  trim: bool = False, missing: str = MISSING) -> str:
    """A number in French: ``1234567.8`` → ``"1 234 568"``, ``6.98`` (2) → ``"6,98"``.

    Parameters
    ----------
    value : number or any
        The value; text is returned as it is, a missing value as ``missing``.
    decimals : int or None
        Decimals shown; None chooses them from the magnitude (:func:`auto_decimals`).
    unit : str
        ``"%"`` appends a no-break space and ``%``; other units are left to the caller.
    trim : bool
        Drop trailing zeros of the decimals (``0,50`` → ``0,5``).
    missing : str
        Text of a missing value.
    """
    if is_missing(value):
        return missing
    if not isinstance(value, Real) or isinstance(value, bool):
        return str(value)
    number = float(value)
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    places = auto_decimals(number, unit) if decimals is None else decimals
    text = f"{number:,.{places}f}"
    if trim and "." in text:
        text = text.rstrip("0").rstrip(".")
    text = text.replace(",", THOUSANDS).replace(".", ",")
    if text in {"-0", "-0,0", "-0,00"}:
        text = text[1:]
    return f"{text}\u00a0%" if unit == "%" else text


def format_date(value: Any, missing: str = MISSING) -> str:
    """A date as ``JJ/MM/AAAA`` (the way French readers write it)."""
    if is_missing(value):
        return missing
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    return value.strftime("%d/%m/%Y")
