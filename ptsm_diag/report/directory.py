"""The directory of actors (annuaire): structures by champ, type and commune.

Only public information of structures is shown — name, type, champ, commune, FINESS
number and, when the ``ressources`` table has them, the structure's address, postal code,
phone and website — never personal data (no person's name, no e-mail address).

- :func:`directory_table` — the directory as a table (pure);
- :func:`directory_html` — a standalone searchable HTML page that works offline (inline
  vanilla JavaScript filter, no CDN; ``?q=``, ``?champ=``, ``?type=``, ``?commune=`` in
  the URL pre-fill the filters);
- :func:`write_directory_xlsx` — a printable XLSX export (openpyxl);
- :func:`write_directory` — both files for the territory of a :class:`Diagnostic`.

Files are written atomically (:func:`ptsm_diag.io.files.write_atomic_with`).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ptsm_diag.catalog import load_resource_types, load_vocabularies
from ptsm_diag.io.exports import save_workbook, set_cell
from ptsm_diag.io.files import write_atomic_with
from ptsm_diag.report.pages import render_page

if TYPE_CHECKING:
    from ptsm_diag.diagnostic import Diagnostic

# Public contact columns of a structure that ``ressources`` may carry (extra columns are
# kept by the readers): column → French heading. Nothing else is ever shown.
CONTACT_COLUMNS: dict[str, str] = {
    "adresse": "Adresse",
    "code_postal": "Code postal",
    "telephone": "Téléphone",
    "site_web": "Site internet",
    "site_internet": "Site internet",
}
BASE_COLUMNS = ["Champ", "Type", "Structure", "Commune", "FINESS"]
HIDDEN_COLUMNS = ["champ", "type_ressource", "code_commune"]
URL_PREFIXES = ("https://", "http://")


def _plain(text: str) -> str:
    """Lower case without accents (what the page's search compares)."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def directory_table(ressources: pd.DataFrame, communes: pd.DataFrame | None = None
                    ) -> pd.DataFrame:
    """The directory of the given resources, sorted by champ, type, commune and name.

    Parameters
    ----------
    ressources : DataFrame
        Validated resources (e.g. those of a territory).
    communes : DataFrame, optional
        ``code_commune`` and ``nom``, to name the communes.

    Returns
    -------
    DataFrame
        Codes ``champ``, ``type_ressource``, ``code_commune`` (for the filters), then the
        French columns ``Champ``, ``Type``, ``Structure``, ``Commune``, ``FINESS`` and the
        public contact columns of :data:`CONTACT_COLUMNS` that hold at least one value.
    """
    types = load_resource_types()
    champs = load_vocabularies().champs
    names = {} if communes is None else dict(zip(communes["code_commune"], communes["nom"],
                                                 strict=True))
    table = pd.DataFrame(ressources).reset_index(drop=True)
    out = pd.DataFrame({
        "champ": table["champ"].astype(object),
        "type_ressource": table["type_ressource"].astype(object),
        "code_commune": table["code_commune"].astype(object),
    })
    out["Champ"] = out["champ"].map(champs).fillna(out["champ"])
    out["Type"] = out["type_ressource"].map({c: t.label for c, t in types.items()}) \
        .fillna(out["type_ressource"])
    out["Structure"] = table["nom"].astype(object)
    commune_names = out["code_commune"].map(names)
    out["Commune"] = [f"{name} ({code})" if isinstance(name, str) else code
                      for name, code in zip(commune_names, out["code_commune"], strict=True)]
    out["FINESS"] = table["finess"].astype(object) if "finess" in table else None
    for column, heading in CONTACT_COLUMNS.items():
        if column in table and table[column].notna().any() and heading not in out:
            out[heading] = table[column].astype(object)
    champ_order = {c: i for i, c in enumerate(champs)}
    out["_ordre"] = out["champ"].map(champ_order).fillna(len(champ_order))
    out["_commune"] = [_plain(name if isinstance(name, str) else str(code))
                       for name, code in zip(commune_names, out["code_commune"], strict=True)]
    out["_nom"] = out["Structure"].map(lambda v: _plain(str(v)))
    out = out.sort_values(["_ordre", "Type", "_commune", "_nom"], kind="stable")
    return out.drop(columns=["_ordre", "_commune", "_nom"]).reset_index(drop=True)


def _text(value: object) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) \
        else str(value)


DIRECTORY_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;
  margin:0 auto;max-width:1400px;padding:1rem 1.5rem}
h1{font-size:1.6rem;color:#1f3b73;margin:.2rem 0}
.sous-titre{color:#555;margin:.2rem 0 1rem}
.demo{background:#fff3cd;border:1px solid #e0b000;padding:.5rem .8rem;border-radius:4px}
form.filtres{display:flex;flex-wrap:wrap;gap:.6rem 1rem;align-items:flex-end;
  background:#f3f6fa;border:1px solid #d0d8e4;border-radius:6px;padding:.7rem .9rem}
form.filtres label{display:flex;flex-direction:column;font-weight:600;font-size:.85rem}
form.filtres input,form.filtres select{font:inherit;font-weight:normal;padding:.3rem .4rem;
  min-width:12rem;max-width:22rem}
form.filtres input{min-width:18rem}
button{font:inherit;padding:.35rem .9rem;cursor:pointer}
#compte{font-weight:600;margin:.8rem 0 .4rem}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{border-bottom:1px solid #dde3ea;padding:.35rem .5rem;text-align:left;vertical-align:top}
thead th{background:#1f3b73;color:#fff;position:sticky;top:0}
tbody tr:nth-child(even){background:#f8f9fb}
td.champ{white-space:nowrap}
.pastille{display:inline-block;width:.75rem;height:.75rem;border-radius:50%;
  margin-right:.35rem;vertical-align:-.05rem;border:1px solid #555}
footer{color:#555;font-size:.85rem;margin-top:1.2rem}
@media print{
  form.filtres,#compte button{display:none}
  body{max-width:none;padding:0;font-size:10pt}
  thead{display:table-header-group}
  thead th{background:#fff;color:#000;border-bottom:2px solid #000;position:static}
  tr{break-inside:avoid}
  a{color:inherit;text-decoration:none}
}
"""

# The page's filter: words of the search box (accents and case ignored) and the three
# lists; pre-filled from ?q=, ?champ=, ?type=, ?commune= in the URL.
DIRECTORY_JS = """
(function () {
  "use strict";
  function plain(text) {
    return text.normalize("NFD").replace(/[\\u0300-\\u036f]/g, "").toLowerCase();
  }
  var q = document.getElementById("q");
  var lists = ["champ", "type", "commune"].map(function (id) {
    return document.getElementById(id);
  });
  var rows = Array.prototype.slice.call(document.querySelectorAll("#annuaire tbody tr"));
  var count = document.getElementById("compte-texte");
  var none = document.getElementById("aucun");
  function apply() {
    var words = plain(q.value).split(/\\s+/).filter(Boolean);
    var shown = 0;
    rows.forEach(function (row) {
      var ok = lists.every(function (list) {
        return !list.value || row.getAttribute("data-" + list.id) === list.value;
      }) && words.every(function (word) {
        return row.getAttribute("data-texte").indexOf(word) >= 0;
      });
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    count.textContent = shown + " structure(s) affichée(s) sur " + rows.length;
    none.hidden = shown > 0;
  }
  var params = new URLSearchParams(window.location.search);
  if (params.get("q")) { q.value = params.get("q"); }
  lists.forEach(function (list) {
    var wanted = params.get(list.id);
    if (wanted && list.querySelector('option[value="' + CSS.escape(wanted) + '"]')) {
      list.value = wanted;
    }
    list.addEventListener("change", apply);
  });
  q.addEventListener("input", apply);
  document.getElementById("effacer").addEventListener("click", function () {
    q.value = "";
    lists.forEach(function (list) { list.value = ""; });
    apply();
    q.focus();
  });
  apply();
})();
"""


def directory_html(
    table: pd.DataFrame,
    title: str,
    subtitle: str = "",
    *,
    demo: bool = False,
    generated_at: dt.datetime | None = None,
) -> str:
    """The directory as a standalone, searchable, offline HTML page (all text escaped).

    Parameters
    ----------
    table : DataFrame
        Output of :func:`directory_table`.
    title, subtitle : str
        French title (e.g. the territory) and subtitle.
    demo : bool
        Add the « données fictives » warning.
    generated_at : datetime, optional
        Production date shown in the footer (now by default).
    """
    from ptsm_diag.viz.maps import CHAMP_COLOURS

    generated_at = generated_at or dt.datetime.now()
    columns = [c for c in table.columns if c not in HIDDEN_COLUMNS]
    rows = []
    for record in table.to_dict("records"):
        cells = []
        for column in columns:
            text = _text(record[column])
            cell = {"text": text, "colour": None, "link": None}
            if column == "Champ":
                cell["colour"] = CHAMP_COLOURS.get(_text(record["champ"]), "#cccccc")
            elif column == "Site internet" and text.lower().startswith(URL_PREFIXES):
                cell["link"] = text
            cells.append(cell)
        rows.append({
            "cells": cells,
            "champ": _text(record["champ"]),
            "type": _text(record["type_ressource"]),
            "commune": _text(record["code_commune"]),
            "searchable": _plain(" ".join(_text(record[c]) for c in columns)),
        })

    def pairs(code: str, label: str, key: Callable[[tuple[str, str]], object]
              ) -> list[tuple[str, str]]:
        unique = table[[code, label]].dropna().drop_duplicates().astype(str)
        return sorted(unique.itertuples(index=False, name=None), key=key)

    champ_order = {c: i for i, c in enumerate(load_vocabularies().champs)}
    lists = [
        {"id": "champ", "label": "Champ", "everything": "Tous les champs",
         "pairs": pairs("champ", "Champ", lambda p: champ_order.get(p[0], 99))},
        {"id": "type", "label": "Type", "everything": "Tous les types",
         "pairs": pairs("type_ressource", "Type", lambda p: _plain(p[1]))},
        {"id": "commune", "label": "Commune", "everything": "Toutes les communes",
         "pairs": pairs("code_commune", "Commune", lambda p: _plain(p[1]))},
    ]
    return render_page("annuaire.html.j2", title=title, subtitle=subtitle, demo=demo,
                       columns=columns, rows=rows, lists=lists, generated_at=generated_at,
                       css=DIRECTORY_CSS, js=DIRECTORY_JS)


# --------------------------------------------------------------------------- files


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write UTF-8 text atomically (temporary file + :func:`os.replace`)."""
    return write_atomic_with(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_directory_xlsx(
    table: pd.DataFrame,
    path: str | Path,
    title: str,
    subtitle: str = "",
) -> Path:
    """Write the directory as an XLSX workbook laid out for printing.

    Title rows, a frozen and repeated header, filters, wrapped text, A4 landscape fitted
    to the page width, page numbers in the footer. Written atomically; text that a
    spreadsheet would run as a formula is neutralised (:mod:`ptsm_diag.io.exports`).
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    columns = [c for c in table.columns if c not in HIDDEN_COLUMNS]
    widths = {"Champ": 16, "Type": 30, "Structure": 42, "Commune": 26, "FINESS": 12,
              "Adresse": 36, "Code postal": 11, "Téléphone": 16, "Site internet": 30}
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Annuaire"
    set_cell(sheet, 1, 1, title).font = Font(bold=True, size=14, color="1F3B73")
    set_cell(sheet, 2, 1, subtitle).font = Font(italic=True, color="555555")
    header_row = 4
    thin = Side(style="thin", color="BBBBBB")
    for position, column in enumerate(columns, start=1):
        cell = set_cell(sheet, header_row, position, column)
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="1F3B73")
        cell.alignment = Alignment(vertical="center")
        sheet.column_dimensions[get_column_letter(position)].width = widths.get(column, 20)
    for offset, record in enumerate(table[columns].itertuples(index=False), start=1):
        for position, value in enumerate(record, start=1):
            cell = set_cell(sheet, header_row + offset, position, _text(value))
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            cell.number_format = "@"
            cell.border = Border(bottom=thin)
    last = get_column_letter(len(columns))
    sheet.freeze_panes = f"A{header_row + 1}"
    sheet.auto_filter.ref = f"A{header_row}:{last}{header_row + len(table)}"
    sheet.print_title_rows = f"{header_row}:{header_row}"
    sheet.print_area = f"A1:{last}{header_row + len(table)}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    sheet.oddFooter.center.text = "Page &P / &N"
    sheet.oddFooter.left.text = title[:80]
    workbook.properties.creator = "ptsm-diag"
    workbook.properties.title = title
    return save_workbook(workbook, path)


def write_directory_html(table: pd.DataFrame, path: str | Path, title: str,
                         subtitle: str = "", *, demo: bool = False) -> Path:
    """Write :func:`directory_html` to ``path`` (atomic write)."""
    return write_text_atomic(path, directory_html(table, title, subtitle, demo=demo))


def territory_directory(diag: Diagnostic) -> pd.DataFrame:
    """The directory of the resources of the diagnostic's territory."""
    resources = pd.DataFrame(diag.resources.drop(columns="geometry", errors="ignore"))
    return directory_table(resources, diag.territory.communes)


def write_directory(diag: Diagnostic, folder: str | Path) -> dict[str, Path]:
    """Write ``annuaire_<territoire>.html`` and ``.xlsx`` into ``folder``.

    Returns
    -------
    dict
        ``{"html": path, "xlsx": path}``.
    """
    from ptsm_diag.report.execute import safe_file_stem

    table = territory_directory(diag)
    t = diag.territory
    title = f"Annuaire des acteurs de la santé mentale — {t.name}"
    subtitle = (f"{len(table)} structure(s) par champ, type et commune — produit le "
                f"{diag.generated_at:%d/%m/%Y}")
    stem = f"annuaire_{safe_file_stem(t.code)}"
    out = Path(folder)
    return {
        "html": write_directory_html(table, out / f"{stem}.html", title, subtitle,
                                     demo=diag.is_demo),
        "xlsx": write_directory_xlsx(
            table, out / f"{stem}.xlsx", title,
            subtitle + (" — données fictives de démonstration" if diag.is_demo else "")),
    }
