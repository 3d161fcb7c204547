"""Every CSV and XLSX file the tool writes goes through here: no cell is ever a formula.

Text that comes from input files (a structure name, a value read in a data file) may start
with ``=``, ``+``, ``-`` or ``@``, possibly after spaces, tabs or line breaks; a spreadsheet
would run it as a formula (``=HYPERLINK(…)`` sends the reader to any address). Such a text
cell gets a leading apostrophe, the usual way of showing "this is text" in a spreadsheet::

    neutralise_cell("=1+1")      # "'=1+1"
    neutralise_cell("\\t=1+1")    # "'\\t=1+1"
    neutralise_cell("-4,48")     # "-4,48": a plain number is left alone
    neutralise_cell(-4.48)       # -4.48: numbers are never touched

:func:`write_csv` and :func:`save_workbook` write atomically through
:func:`ptsm_diag.io.files.write_atomic_with`: a failed write leaves no partial file and ends in
a French :class:`~ptsm_diag.io.files.OutputWriteError`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ptsm_diag.io.files import write_atomic, write_atomic_with

FORMULA_TRIGGERS = ("=", "+", "-", "@")
"""Characters a spreadsheet reads as the start of a formula."""

# spaces and control characters a spreadsheet may skip before the formula sign
_LEADING = re.compile(r"^[\s\x00-\x1f\x7f\u00a0\u2000-\u200b\u3000\ufeff]*")
# numbers as written in our CSV files (optional minus, decimal point or comma): harmless
_PLAIN_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?(?:[eE][-+]?\d+)?")
# end of a row while writing CSV: "\x1e" (record separator) is removed from the text first
_ROW_END = "\r\n\x1e"
# characters XML (hence XLSX) cannot hold; openpyxl refuses them
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def is_formula_like(text: str) -> bool:
    """True when a spreadsheet could read ``text`` as a formula.

    That is: after any leading whitespace or control characters, it starts with one of
    ``= + - @``, and it is not a plain number such as ``-12`` or ``-4,48``.
    """
    stripped = text[_LEADING.match(text).end():]
    if not stripped.startswith(FORMULA_TRIGGERS):
        return False
    return not _PLAIN_NUMBER.fullmatch(stripped)


def neutralise_cell(value: Any) -> Any:
    """``value`` with a leading apostrophe when it is text a spreadsheet would run.

    Numbers, dates, booleans and missing values are returned unchanged.
    """
    if isinstance(value, str) and is_formula_like(value):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells are neutralised (numeric columns untouched)."""
    out = frame.copy()
    for column in range(out.shape[1]):
        values = out.iloc[:, column]
        if _is_text(values):
            out.isetitem(column, values.map(neutralise_cell))
    return out


def _is_text(values: pd.Series) -> bool:
    return values.dtype == object or pd.api.types.is_string_dtype(values)


def csv_text(
    frame: pd.DataFrame,
    *,
    sep: str = ";",
    decimal: str = ",",
    lineterminator: str = "\r\n",
    bom: bool = True,
) -> str:
    """``frame`` as CSV text for a French spreadsheet, text cells neutralised.

    Parameters
    ----------
    frame : DataFrame
        The table; its columns become the header, the index is not written.
    sep, decimal, lineterminator : str
        As in :meth:`pandas.DataFrame.to_csv` (defaults: ``;``, decimal comma, CRLF).
    bom : bool
        Start with a UTF-8 byte order mark, so that Excel reads the accents.
    """
    safe = neutralise_frame(frame)
    for column in range(safe.shape[1]):
        if _is_text(safe.iloc[:, column]):
            safe.isetitem(column, safe.iloc[:, column].map(
                lambda v: v.replace(_ROW_END[-1], "") if isinstance(v, str) else v))
    # Rows end with _ROW_END so that the csv module quotes every field holding "\r" or
    # "\n" (it quotes the characters of its line terminator only): a bare "\r" in a field
    # would otherwise start a new row in a spreadsheet, and a cell there could be a formula.
    text = safe.to_csv(sep=sep, decimal=decimal, index=False, lineterminator=_ROW_END)
    return ("\ufeff" if bom else "") + text.replace(_ROW_END, lineterminator)


def write_csv(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    sep: str = ";",
    decimal: str = ",",
    lineterminator: str = "\r\n",
    bom: bool = True,
) -> Path:
    """Write :func:`csv_text` of ``frame`` to ``path`` atomically; returns the path.

    Raises
    ------
    OutputWriteError
        The file cannot be written (read-only folder, full disk...), in French.
    """
    path = Path(path)
    write_atomic(path, csv_text(frame, sep=sep, decimal=decimal,
                                lineterminator=lineterminator, bom=bom))
    return path


def xlsx_value(value: Any) -> Any:
    """``value`` as an XLSX cell can hold it, never a formula.

    Missing values (None, NaN, NaT) become empty cells, NumPy and pandas scalars become
    Python ones, text is neutralised (:func:`neutralise_cell`) and loses the control
    characters XML cannot hold.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        return neutralise_cell(_XML_ILLEGAL.sub("", value))
    return value


def set_cell(sheet: Any, row: int, column: int, value: Any) -> Any:
    """Write ``value`` into ``sheet`` at (``row``, ``column``) as :func:`xlsx_value`.

    Text is stored as text (never as a formula). Returns the openpyxl cell for styling.
    """
    cell = sheet.cell(row=row, column=column, value=xlsx_value(value))
    if isinstance(cell.value, str):
        cell.data_type = "s"
    return cell


def neutralise_workbook(workbook: Any) -> None:
    """Turn every formula or formula-like text cell of ``workbook`` into neutralised text.

    A safety net run by :func:`save_workbook`: cells written without :func:`set_cell`
    (titles, headers) are checked too.
    """
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and (cell.data_type == "f"
                                                    or is_formula_like(cell.value)):
                    cell.value = neutralise_cell(_XML_ILLEGAL.sub("", cell.value))
                    cell.data_type = "s"
                elif cell.data_type == "f":  # an ArrayFormula or DataTableFormula object
                    cell.value = None


def save_workbook(workbook: Any, path: str | Path) -> Path:
    """Save an openpyxl ``workbook`` to ``path`` atomically, with no formula in any cell.

    Raises
    ------
    OutputWriteError
        The file cannot be written (read-only folder, full disk...), in French.
    """
    neutralise_workbook(workbook)
    return write_atomic_with(Path(path), lambda tmp: workbook.save(tmp))


def write_sheets_xlsx(sheets: Mapping[str, tuple[str, pd.DataFrame]], path: str | Path) -> Path:
    """One sheet per table, a bold title above a styled header, atomically, no formula.

    Parameters
    ----------
    sheets : mapping
        Sheet name → (title, table). Columns are sized to their content (8 to 60
        characters), the header stays visible when scrolling, dates read JJ/MM/AAAA and
        booleans « oui » / « non ».
    path : path
        The ``.xlsx`` file to write.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    header_font = Font(bold=True, color="FFFFFF")
    header_fill = PatternFill("solid", fgColor="1F3A68")
    for name, (title, frame) in sheets.items():
        sheet = book.create_sheet(name)
        set_cell(sheet, 1, 1, title).font = Font(bold=True, size=12)
        for j, column in enumerate(frame.columns, start=1):
            cell = set_cell(sheet, 3, j, str(column))
            cell.font, cell.fill = header_font, header_fill
            shown = [_cell_text(_sheet_value(v)) for v in frame[column]]
            width = max([len(str(column))] + [len(t) for t in shown])
            sheet.column_dimensions[get_column_letter(j)].width = min(max(width + 2, 8), 60)
        for i, values in enumerate(frame.itertuples(index=False), start=4):
            for j, value in enumerate(values, start=1):
                cell = set_cell(sheet, i, j, _sheet_value(value))
                if isinstance(cell.value, dt.datetime):
                    cell.number_format = "DD/MM/YYYY"
        sheet.freeze_panes = "A4"
    return save_workbook(book, path)


def _sheet_value(value: Any) -> Any:
    if isinstance(value, np.bool_ | bool):
        return "oui" if value else "non"
    return xlsx_value(value)


def _cell_text(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return "00/00/0000"
    return "" if value is None else str(value)


__all__ = [
    "FORMULA_TRIGGERS", "csv_text", "is_formula_like", "neutralise_cell", "neutralise_frame",
    "neutralise_workbook", "save_workbook", "set_cell", "write_csv", "write_sheets_xlsx",
    "xlsx_value",
]
