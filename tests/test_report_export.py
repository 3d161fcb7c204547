"""HTML export of executed notebooks: no code, a contents, no network asset, atomic writes."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat
import pytest

from ptsm_diag.errors import PtsmError
from ptsm_diag.report.execute import (
    ReportOptions,
    execute_notebook,
    export_html,
    notebook_parameters,
    notebook_path,
    notebooks_dir,
    write_atomic,
)


def _executed_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("secret_code_line = 1")
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": "<h1>Diagnostic — Rance</h1>"}),
        nbformat.v4.new_output("stream", name="stderr", text="UserWarning: bruit\n"),
    ]
    nb.cells = [
        code,
        nbformat.v4.new_markdown_cell("## Carte d'identité\n\nTexte."),
        nbformat.v4.new_markdown_cell("## Rosace des indicateurs\n\nTexte."),
    ]
    return nb


def test_export_has_contents_title_no_code_no_stderr():
    page = export_html(_executed_notebook())
    assert "secret_code_line" not in page
    assert "UserWarning" not in page
    assert '<nav class="ptsm-sommaire">' in page
    nav = page.split('<nav class="ptsm-sommaire">')[1].split("</nav>")[0]
    assert "Carte d&#x27;identité" in nav or "Carte d'identité" in nav
    assert "Rosace des indicateurs" in nav
    # the contents sits between cells, before the first section
    assert page.index("<nav") < page.index('id="Carte-d')
    after = page.split("<nav")[1].split("</nav>")[1][:120]
    assert after.startswith("<div ") and 'class="jp-Cell jp-MarkdownCell' in after
    assert "<title>Diagnostic — Rance</title>" in page


def test_prose_rendered_once_reads_the_same_in_every_report_and_follows_its_source():
    """The exporter remembers rendered Markdown: a second report gets the same page, a
    changed cell is rendered anew, a cell with an attachment is never taken from memory."""
    notebook = _executed_notebook()
    first, second = export_html(copy.deepcopy(notebook)), export_html(copy.deepcopy(notebook))
    assert first == second
    changed = _executed_notebook()
    changed.cells[2].source = "## Rosace des indicateurs\n\nAutre texte *important*."
    page = export_html(changed)
    assert "Autre texte <em>important</em>" in page and "Autre texte" not in first
    pictured = _executed_notebook()
    pictured.cells[1].source = "## Carte d'identité\n\n![logo](attachment:logo.png)"
    pictured.cells[1].attachments = {"logo.png": {"image/png": "iVBORw0KGgo="}}
    assert "data:image/png;base64,iVBORw0KGgo=" in export_html(pictured)
    pictured.cells[1].attachments = {"logo.png": {"image/png": "AAAA"}}
    assert "data:image/png;base64,AAAA" in export_html(pictured)


def test_export_loads_nothing_from_network():
    page = export_html(_executed_notebook())
    assert "require.min.js" not in page
    assert "mathjax" not in page.lower()
    assert "https://cdn" not in page


def test_write_atomic_replaces_and_leaves_no_temp(tmp_path: Path):
    target = tmp_path / "sub" / "rapport.html"
    write_atomic(target, "un")
    write_atomic(target, "deux")
    assert target.read_text() == "deux"
    assert [p.name for p in target.parent.iterdir()] == ["rapport.html"]


def test_shipped_notebooks_have_one_parameters_cell_and_string_codes():
    notebooks = sorted(notebooks_dir().glob("*.ipynb"))
    assert notebooks, "aucun notebook livré"
    for path in notebooks:
        nb = json.loads(path.read_text(encoding="utf-8"))
        tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, path.name
    params = notebook_parameters(notebook_path("diagnostic_territorial.ipynb"))
    assert {"territoire", "donnees", "reference", "fond"} <= set(params)
    assert params["territoire"]["default"].startswith('"')  # a string, never 35 or 035


def test_unknown_parameter_fails_before_running():
    with pytest.raises(PtsmError, match="Paramètre\\(s\\) inconnu"):
        execute_notebook(notebook_path("diagnostic_territorial.ipynb"), {"territoir": "35"},
                         ReportOptions(), label="35")


def test_missing_notebook_lists_available():
    with pytest.raises(PtsmError, match="diagnostic_territorial.ipynb"):
        notebook_path("absent.ipynb")
