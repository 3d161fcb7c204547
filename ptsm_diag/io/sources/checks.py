"""pandera schema of a table, built from its spec and the referentials, and the mapping of
pandera's failure cases to French :class:`~ptsm_diag.errors.Problem` s.

Typing is done before (:mod:`.parsing`), so that a value that cannot be read is quoted
as the user wrote it; pandera then checks the typed frame lazily (every failure at once):
missing values, vocabularies, referentials, formats, bounds and the multi-column rules.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ptsm_diag.errors import Problem
from ptsm_diag.io.sources.referentials import Referentials, is_known
from ptsm_diag.io.sources.rules import error_rules, is_reference_code, matches
from ptsm_diag.io.sources.schemas import (
    LIST_SEPARATOR,
    REFERENCE_FRANCE,
    ColumnSpec,
    TableSpec,
    format_number,
)
from ptsm_diag.io.sources.vocab import allowed_values, describe_allowed, suggest

if TYPE_CHECKING:  # pandera is imported when a table is validated, not by every reader
    import pandera.pandas as pa

NOT_NULLABLE = "not_nullable"


@dataclass(frozen=True)
class CheckInfo:
    """French wording of one check: message (may depend on the value) and expectation."""

    column: str | None
    message: str | Callable[[str], str]
    expected: str
    columns: tuple[str, ...] = ()


def build_schema(
    spec: TableSpec, refs: Referentials
) -> tuple[pa.DataFrameSchema, dict[str, CheckInfo]]:
    """The pandera schema of a table and the wording of each of its checks (by key)."""
    import pandera.pandas as pa

    infos: dict[str, CheckInfo] = {}
    columns: dict[str, pa.Column] = {}
    for col in spec.columns:
        checks = []
        for key, function, info in _column_checks(col, refs):
            checks.append(pa.Check(function, error=key))
            infos[key] = info
        columns[col.name] = pa.Column(None, checks, nullable=not col.required, required=False)
    frame_checks = []
    for rule in error_rules(spec.name, refs):
        frame_checks.append(pa.Check(rule.ok, error=rule.key))
        infos[rule.key] = CheckInfo(rule.column, rule.message, rule.expected, rule.columns)
    schema = pa.DataFrameSchema(columns, checks=frame_checks, strict=False, name=spec.name)
    return schema, infos


def _items_ok(allowed: Collection[str]) -> Callable[[pd.Series], pd.Series]:
    allowed = frozenset(allowed)

    def check(cells: pd.Series) -> pd.Series:
        good = [cell for cell in cells.unique()
                if all(i in allowed for i in cell.split(LIST_SEPARATOR))]
        return cells.isin(good)

    return check


def _unknown_items(allowed: Collection[str]) -> Callable[[str], list[str]]:
    allowed = frozenset(allowed)
    return lambda cell: [i for i in cell.split(LIST_SEPARATOR) if i not in allowed]


def _column_checks(
    col: ColumnSpec, refs: Referentials
) -> list[tuple[str, Callable[[pd.Series], pd.Series], CheckInfo]]:
    """(key, vectorised check, wording) for one column; NA values are not checked."""
    name = col.name
    out: list[tuple[str, Callable[[pd.Series], pd.Series], CheckInfo]] = []
    if col.pattern:
        pattern = col.pattern
        out.append((f"{name}:format", lambda s: matches(s, pattern),
                    CheckInfo(name, "format invalide", col.pattern_text)))
    if col.vocabulary:
        vocabulary = col.vocabulary
        allowed = allowed_values(vocabulary, as_int=col.kind == "int")
        expected = describe_allowed(vocabulary)
        if col.kind == "list":
            unknown = _unknown_items(allowed)
            out.append((f"{name}:vocabulaire", _items_ok(allowed), CheckInfo(
                name, lambda v: "code(s) inconnu(s) : " + ", ".join(
                    f"« {i} »{suggest(i, vocabulary)}" for i in unknown(v)),
                expected)))
        else:
            allowed_set = frozenset(allowed)
            out.append((f"{name}:vocabulaire", lambda s: s.isin(allowed_set), CheckInfo(
                name, lambda v: f"valeur inconnue « {v} »{suggest(v, vocabulary)}", expected)))
    if col.referential:
        out += _referential_checks(col, refs)
    if col.minimum is not None:
        low = col.minimum
        if col.strict_minimum:
            out.append((f"{name}:minimum", lambda s: s > low, CheckInfo(
                name, "valeur nulle ou négative",
                f"nombre strictement supérieur à {format_number(low)}")))
        else:
            message = "valeur négative" if low == 0 else "valeur trop petite"
            out.append((f"{name}:minimum", lambda s: s >= low, CheckInfo(
                name, message, f"nombre supérieur ou égal à {format_number(low)}")))
    if col.maximum is not None:
        high = col.maximum
        out.append((f"{name}:maximum", lambda s: s <= high, CheckInfo(
            name, "valeur trop grande", f"nombre inférieur ou égal à {format_number(high)}")))
    return out


def _referential_checks(
    col: ColumnSpec, refs: Referentials
) -> list[tuple[str, Callable[[pd.Series], pd.Series], CheckInfo]]:
    name, kind = col.name, col.referential
    key = f"{name}:referentiel"
    if kind == "communes" and refs.communes is not None:
        known = refs.communes
        return [(key, lambda s: is_known(s, known), CheckInfo(
            name, lambda v: f"code commune inconnu « {v} »",
            "code commune INSEE existant du Code officiel géographique (géographie "
            "embarquée dans ptsm-diag)"))]
    if kind == "regions" and refs.regions is not None:
        known = refs.regions
        return [(key, lambda s: s.isin(known), CheckInfo(
            name, lambda v: f"code région inconnu « {v} »",
            describe_codes("code région INSEE", known)))]
    if kind == "indicateurs" and refs.indicators is not None:
        known = refs.indicators
        expected = describe_codes("identifiant du catalogue des indicateurs", known)
        if col.kind == "list":
            unknown = _unknown_items(known)
            return [(key, _items_ok(known), CheckInfo(
                name, lambda v: "indicateur(s) inconnu(s) : " + ", ".join(
                    f"« {i} »{_close(i, known)}" for i in unknown(v)), expected))]
        return [(key, lambda s: s.isin(known), CheckInfo(
            name, lambda v: f"indicateur inconnu « {v} »{_close(v, known)}", expected))]
    if kind in ("territoires", "territoires_ou_reference") and refs.territories is not None:
        known = refs.territories
        expected = describe_codes("code d'un territoire de territoires.csv", known)
        if kind == "territoires":
            return [(key, lambda s: s.isin(known), CheckInfo(
                name, lambda v: f"territoire inconnu « {v} »{_close(v, known)}", expected))]
        regions = refs.regions
        expected += f", ou une référence : « {REFERENCE_FRANCE} » ou « R » + code région"
        return [(key, lambda s: s.isin(known) | is_reference_code(s, regions), CheckInfo(
            name, lambda v: f"territoire ou référence inconnu « {v} »{_close(v, known)}",
            expected))]
    return []


def describe_codes(title: str, codes: Collection[str], limit: int = 12) -> str:
    """``"title : a, b, c, … (N codes)"``."""
    ordered = sorted(codes)
    if len(ordered) <= limit:
        return f"{title} : " + ", ".join(ordered)
    return f"{title} : " + ", ".join(ordered[:limit]) + f", … ({len(ordered)} codes)"


def _close(value: str, known: Collection[str]) -> str:
    if len(known) > 5000:
        return ""
    close = difflib.get_close_matches(value, list(known), n=1, cutoff=0.75)
    return f" (vouliez-vous dire « {close[0]} » ?)" if close else ""


def run_checks(
    spec: TableSpec,
    typed: pd.DataFrame,
    text: pd.DataFrame,
    label: str,
    refs: Referentials,
    already: set[tuple[int, str]],
) -> Iterator[Problem]:
    """Validate ``typed`` lazily with pandera; failures as Problems (an iterator).

    Parameters
    ----------
    typed : DataFrame
        Typed columns, indexed by line number.
    text : DataFrame
        The cells as read, same index (values are quoted from it).
    already : set of (line, column)
        Cells already reported (unreadable values): not reported twice.
    """
    from pandera.errors import SchemaErrors

    schema, infos = build_schema(spec, refs)
    try:
        schema.validate(typed, lazy=True)
    except SchemaErrors as exc:
        return failures_to_problems(exc.failure_cases, infos, text, label, already)
    return iter(())


def failures_to_problems(
    failures: pd.DataFrame,
    infos: dict[str, CheckInfo],
    text: pd.DataFrame,
    label: str,
    already: set[tuple[int, str]],
) -> Iterator[Problem]:
    """Map pandera ``failure_cases`` (index, column, check, failure_case) to Problems,
    one at a time (a caller that counts them never holds them all).

    Cell values are gathered column by column and each message is worded once per
    distinct value, so that a million failing cells stay affordable.
    """
    cases = failures.dropna(subset=["index"]).drop_duplicates(subset=["index", "check"])
    # Column checks first: a row rule is not reported on a cell already in error.
    cases = cases.assign(_rule=cases["check"].isin(
        [k for k, i in infos.items() if i.columns])).sort_values("_rule", kind="stable")
    lines = cases["index"].astype("int64").to_numpy()
    targets = [
        (infos[check].column if check in infos and infos[check].column else column)
        for column, check in zip(cases["column"], cases["check"], strict=True)
    ]
    values = _gather_cells(text, lines, targets)
    wordings: dict[tuple[str, str], str] = {}
    flagged = set(already)
    for line, column, check, case, target, value in zip(
            lines.tolist(), cases["column"], cases["check"], cases["failure_case"], targets,
            values, strict=True):
        if check == NOT_NULLABLE:
            if (line, column) in already:
                continue
            yield Problem(label, line, column, None, "une valeur (colonne obligatoire)",
                          "valeur obligatoire manquante")
            flagged.add((line, column))
            continue
        info = infos.get(check)
        if info is None:  # a pandera-internal check (should not happen): report it raw
            yield Problem(label, line, column, None, "", str(check))
            continue
        if any((line, c) in flagged for c in info.columns):
            continue  # a multi-column rule on a cell already reported
        if info.columns:
            value = " ; ".join(f"{c}={_cell(text, line, c)}" for c in info.columns)
            checked = value
        else:
            checked = "" if pd.isna(case) else str(case)  # after repair, e.g. "01001"
        if callable(info.message):
            message = wordings.get((check, checked))
            if message is None:
                message = wordings[(check, checked)] = info.message(checked)
        else:
            message = info.message
        yield Problem(label, line, target, value, info.expected, message)
        flagged.add((line, target))


def _gather_cells(text: pd.DataFrame, lines: np.ndarray, columns: list[str]) -> list[str]:
    """``text.at[line, column]`` for each pair ("" when absent), one column at a time."""
    out = np.full(len(lines), "", dtype=object)
    names = np.asarray(columns, dtype=object)
    for column in dict.fromkeys(columns):
        if column not in text:
            continue
        where = names == column
        cells = text[column].reindex(lines[where])
        out[where] = cells.where(cells.notna(), "").astype(str).to_numpy(dtype=object)
    return out.tolist()


def _cell(text: pd.DataFrame, line: int, column: str) -> str:
    if column not in text:
        return ""
    value = text.at[line, column]
    return "" if pd.isna(value) else str(value)
