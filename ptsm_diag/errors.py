"""Structured exceptions and input problems, with their French messages.

Every error a user can meet carries the fields its French message needs (file, row,
column, value, what was expected), so that the CLI, the notebooks and the batch can
print it, list it or turn it into an error page without parsing strings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from ptsm_diag.fmt import format_number


class Severity(StrEnum):
    """How serious an input problem is."""

    ERREUR = "erreur"  # the row (or file) is rejected
    AVERTISSEMENT = "avertissement"  # accepted, but the user should look
    REPARATION = "réparation"  # accepted after a documented, safe repair


@dataclass(frozen=True)
class Problem:
    """One problem found in an input file.

    Parameters
    ----------
    file : str
        File name as the user knows it (not a temporary path).
    row : int or None
        Line number in the file as opened in a spreadsheet or text editor
        (header = line 1, first data row = line 2); None for a whole-file problem.
    column : str or None
        Column name, None for a whole-row or whole-file problem.
    value : str or None
        The offending value, as read.
    expected : str
        What was expected, in French.
    message : str
        Short French description of the problem.
    severity : Severity
        ``erreur`` rejects the row, ``avertissement`` and ``réparation`` keep it.
    """

    file: str
    row: int | None
    column: str | None
    value: str | None
    expected: str
    message: str
    severity: Severity = Severity.ERREUR

    def to_french(self) -> str:
        """One line of French, e.g. ``ressources.csv, ligne 12, colonne « code_commune » …``."""
        where = [self.file]
        if self.row is not None:
            where.append(f"ligne {self.row}")
        if self.column is not None:
            where.append(f"colonne « {self.column} »")
        text = f"[{self.severity}] {', '.join(where)} : {self.message}"
        if self.value is not None:
            text += f" (valeur lue : « {self.value} »)"
        if self.expected:
            text += f" ; attendu : {self.expected}"
        return text

    def as_dict(self) -> dict[str, object]:
        """Plain dict, for tables and exports (French column names)."""
        return {
            "fichier": self.file,
            "ligne": self.row,
            "colonne": self.column,
            "valeur": self.value,
            "attendu": self.expected,
            "message": self.message,
            "gravite": str(self.severity),
        }


class PtsmError(Exception):
    """Base class of every error raised by ptsm_diag; ``str()`` is French."""


@dataclass
class InputError(PtsmError):
    """An input file cannot be used; carries every problem found in it."""

    problems: Sequence[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.__str__())

    def __str__(self) -> str:
        errors = [p for p in self.problems if p.severity == Severity.ERREUR]
        head = f"{len(errors)} erreur(s) dans les données d'entrée"
        return "\n".join([head, *(p.to_french() for p in self.problems)])


class ArgumentError(PtsmError, ValueError):
    """A function was called with a value it does not accept (French message).

    Also a :class:`ValueError`, so that a library user can catch the standard type.
    """


@dataclass
class UnknownCodeError(ArgumentError):
    """Codes (communes, départements, territoires, indicateurs...) that are not known.

    Parameters
    ----------
    kind : str
        French name of what the codes are, e.g. ``"département"``.
    codes : list of str
        Every unknown code, not just the first one.
    hint : str
        Optional French hint (where the valid codes are listed).
    """

    kind: str
    codes: Sequence[str]
    hint: str = ""

    def __post_init__(self) -> None:
        super().__init__(self.__str__())

    def __str__(self) -> str:
        listed = ", ".join(f"« {c} »" for c in self.codes)
        text = f"Code(s) {self.kind} inconnu(s) : {listed}."
        return f"{text} {self.hint}".strip()


@dataclass
class CatalogError(PtsmError):
    """A catalogue (YAML) entry is invalid."""

    file: str
    entry: str
    field_name: str
    message: str

    def __post_init__(self) -> None:
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return (
            f"Catalogue {self.file}, entrée « {self.entry} », champ « {self.field_name} » : "
            f"{self.message}"
        )


@dataclass
class ReportError(PtsmError):
    """A report could not be produced (notebook cell failed, export failed...).

    ``cell_index`` is the position of the failing cell in the notebook as the user sees
    it in JupyterLab, counted from 1.
    """

    territory: str
    message: str
    cell_index: int | None = None
    error_name: str | None = None

    def __post_init__(self) -> None:
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = f" (cellule {self.cell_index})" if self.cell_index is not None else ""
        return f"Rapport du territoire « {self.territory} » en échec{where} : {self.message}"


# Characters a terminal would act on instead of showing: C0 controls but tab and line feed,
# DEL, C1 controls (\x9b starts an escape sequence), and the bidirectional overrides.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str, limit: int | None = None) -> str:
    """``text`` safe to print in a terminal: control characters written as escapes.

    ``"\\x1b[2J"`` is shown as ``\\x1b[2J`` (backslash, x, 1, b...) rather than clearing the
    screen; other text is unchanged. With ``limit``, a longer text is cut and ends with
    ``… (N caractères)``.

    Examples
    --------
    >>> printable("R1\\x1b]0;titre\\x07")
    'R1\\\\x1b]0;titre\\\\x07'
    """
    if limit is not None and len(text) > limit:
        size = format_number(len(text))
        text = f"{text[:limit]}… ({size} caractères)"
    return _UNSAFE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
