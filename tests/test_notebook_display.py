"""What an executed notebook shows when reopened in JupyterLab, untrusted, without re-running.

JupyterLab renders an untrusted output with the safe renderers only: plotly's own MIME type
(the plotly extension shipped in the plotly wheel is declared safe) and HTML passed through
its sanitizer, which keeps an allow-list of tags (no ``iframe``, ``script``, ``style``,
``svg``) and ``style`` attributes. The tests execute a small notebook calling
:func:`ptsm_diag.report.display.show`, then check its outputs against that model, and that
the HTML export keeps the interactive figures and maps (offline).
"""

from __future__ import annotations

import base64
import importlib.util
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from ptsm_diag.report.display import PLOTLY_MIME, inline_table_styles, table_html
from ptsm_diag.report.execute import export_html, kernel_environment
from ptsm_diag.viz.offline import PLOTLY_PLACEHOLDER, plotly_js, remote_assets

# JupyterLab 4 ``@jupyterlab/apputils`` Sanitizer: allowedTags (read in the 4.x bundle).
_TAG_WORDS = (
    "a abbr acronym address area article aside audio b bdi bdo big blockquote br button "
    "canvas caption center cite code col colgroup colspan command data datalist dd del "
    "details dfn dir div dl dt em fieldset figcaption figure font footer form h1 h2 h3 h4 "
    "h5 h6 header hgroup hr i img input ins kbd label legend li map mark menu meter nav "
    "nobr ol optgroup option output p pre progress q rowspan s samp section select small "
    "source span strike strong sub summary sup table tbody td textarea tfoot th thead time "
    "tr track tt u ul var video wbr")
JUPYTERLAB_ALLOWED_TAGS = set(_TAG_WORDS.split())


class _UntrustedView(HTMLParser):
    """The elements an untrusted JupyterLab keeps of an HTML output (tag, attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.kept: list[tuple[str, dict[str, str | None]]] = []
        self.dropped: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in JUPYTERLAB_ALLOWED_TAGS:
            self.kept.append((tag, dict(attrs)))
        else:
            self.dropped.add(tag)


def untrusted_view(markup: str) -> _UntrustedView:
    view = _UntrustedView()
    view.feed(markup)
    return view


NOTEBOOK_CODE = """
import folium
import pandas as pd
import plotly.graph_objects as go
from ptsm_diag.report.display import init_display, show

init_display()
show(go.Figure(go.Bar(x=["Lits", "Places"], y=[12.5, 30])))
carte = folium.Map(location=[48.1, -1.7], zoom_start=8, tiles=None)
folium.GeoJson(
    {"type": "Feature", "properties": {},
     "geometry": {"type": "Polygon", "coordinates": [[[-2, 48], [-1.5, 48], [-1.5, 48.4],
                                                      [-2, 48]]]}},
    style_function=lambda f: {"fillColor": "#d95f02", "color": "#333333"},
).add_to(carte)
folium.CircleMarker([48.1, -1.68], radius=6, fill_color="#1b9e77").add_to(carte)
show(carte)
show(pd.DataFrame({"Action": ["Ouvrir une équipe mobile de psychiatrie du sujet âgé"],
                   "Places": [1234.5]}))
"""


def _run_notebook_code(**start: object) -> nbformat.NotebookNode:
    """A notebook of :data:`NOTEBOOK_CODE`, executed (``start``: the kernel's start)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(NOTEBOOK_CODE)]
    NotebookClient(nb, timeout=120, kernel_name="python3").execute(**start)
    return nb


@pytest.fixture(scope="module")
def executed() -> nbformat.NotebookNode:
    # as written to disk and reopened: plain JSON, no trust signature
    return nbformat.reads(nbformat.writes(_run_notebook_code()), as_version=4)


@pytest.fixture(scope="module")
def executed_for_report() -> nbformat.NotebookNode:
    """The same notebook run as a batch runs it: outputs made for the report only."""
    return _run_notebook_code(env=kernel_environment(report_only=True))


def _outputs(nb: nbformat.NotebookNode) -> list[dict]:
    return [o for o in nb.cells[0].outputs if o.output_type == "display_data"]


@pytest.mark.slow
def test_figures_carry_plotly_mime_bundle_that_jupyterlab_draws_untrusted(executed):
    figures = [o for o in _outputs(executed) if PLOTLY_MIME in o.data]
    assert len(figures) == 1
    spec = figures[0].data[PLOTLY_MIME]
    assert spec["data"][0]["type"] == "bar" and spec["data"][0]["y"] == [12.5, 30]
    assert spec["layout"]["separators"] == ", "  # French decimals, as in the report
    assert spec["config"]["displaylogo"] is False
    assert "plotly-graph-div" in figures[0].data["text/html"]  # the export's copy


@pytest.mark.slow
def test_maps_show_a_static_picture_an_untrusted_jupyterlab_keeps(executed):
    maps = [o for o in _outputs(executed) if 'class="ptsm-carte"' in o.data.get("text/html", "")]
    assert len(maps) == 1
    view = untrusted_view(maps[0].data["text/html"])
    assert "iframe" in view.dropped  # the interactive map needs a trusted notebook...
    images = [attrs for tag, attrs in view.kept if tag == "img"]
    assert len(images) == 1  # ...but its picture stays
    src = images[0]["src"] or ""
    assert src.startswith("data:image/svg+xml;base64,")
    svg = base64.b64decode(src.split(",", 1)[1]).decode()
    assert 'fill="#d95f02"' in svg and "<path" in svg  # the GeoJSON layer, its colour
    assert '<circle' in svg and 'fill="#1b9e77"' in svg  # the marker
    assert any("Aperçu statique de la carte" in (attrs.get("alt") or "") for attrs in images)


@pytest.mark.slow
def test_tables_keep_their_alignment_in_jupyterlab(executed):
    tables = [o for o in _outputs(executed) if "ptsm-table" in o.data.get("text/html", "")]
    assert len(tables) == 1
    cells = [(tag, attrs.get("style") or "") for tag, attrs in
             untrusted_view(tables[0].data["text/html"]).kept if tag in ("td", "th")]
    text_cell, number_cell = [style for tag, style in cells if tag == "td"]
    assert "text-align:left" in text_cell  # a sentence is not pushed to the right
    assert "text-align:right" in number_cell
    assert all("background:#1f3a68" in style for tag, style in cells if tag == "th")


@pytest.mark.slow
def test_html_export_keeps_interactive_figure_and_map_offline(executed):
    page = export_html(executed)
    assert page.count('class="ptsm-carte"') == 1 and "srcdoc=" in page
    assert "Aperçu statique" not in page  # the picture is left to notebooks
    assert page.count('class="plotly-graph-div') == 1
    assert "not able to be represented" not in page  # nbconvert used the HTML copy
    assert remote_assets(page) == []


@pytest.mark.slow
def test_outputs_for_the_report_only_export_the_same_page(executed, executed_for_report):
    outputs = _outputs(executed_for_report)
    assert all(set(o.data) == {"text/html", "text/plain"} for o in outputs)  # no plotly MIME
    markup = "".join(o.data["text/html"] for o in outputs)
    assert PLOTLY_PLACEHOLDER in markup and "Plotly.newPlot" in markup
    assert len(markup) < len(plotly_js())  # plotly.js is not sent: the export puts it in
    assert "<img" not in markup and "style=\"text-align" not in markup  # nothing to strip
    assert 'class="ptsm-carte"' in markup
    kept, for_report = export_html(executed), export_html(executed_for_report)
    assert plotly_js() in for_report and PLOTLY_PLACEHOLDER not in for_report

    def without_ids(page: str) -> str:  # plotly's random div ids, nbformat's cell ids
        page = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "",
                      page)
        return re.sub(r'cell-id=[0-9a-f]+"', "", page)

    assert without_ids(kept) == without_ids(for_report)


def test_inline_styles_only_touch_the_report_tables():
    other = '<table class="ptsm-heatmap"><tr><td style="background:red">1</td></tr></table>'
    assert inline_table_styles(other) == other
    import pandas as pd

    styled = inline_table_styles(table_html(pd.DataFrame({"Nom": ["a"], "Lits": [3]})))
    assert re.search(r'<td style="text-align:left[^"]*">a</td>', styled)
    assert re.search(r'<td class="num" style="text-align:right[^"]*">3</td>', styled)


@pytest.mark.skipif(importlib.util.find_spec("jupyterlab") is None,
                    reason='JupyterLab absent (pip install -e ".[lab]")')
def test_lab_extra_gives_jupyterlab_with_plotly_renderer():
    version = subprocess.run([sys.executable, "-m", "jupyterlab", "--version"],
                             capture_output=True, text=True, check=True, timeout=120)
    assert re.match(r"4\.", version.stdout.strip())
    extensions = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"],
                                capture_output=True, text=True, timeout=120)
    assert "jupyterlab-plotly" in extensions.stdout + extensions.stderr


def test_notebooks_command_copies_the_shipped_notebooks(tmp_path, capsys):
    from ptsm_diag.cli import main
    from ptsm_diag.report.execute import notebooks_dir

    target = tmp_path / "mes notebooks"
    assert main(["notebooks", str(target)]) == 0
    shipped = sorted(p.name for p in notebooks_dir().glob("*.ipynb"))
    assert sorted(p.name for p in target.iterdir()) == shipped
    assert "jupyter lab" in capsys.readouterr().out
    (target / shipped[0]).write_text("{}", encoding="utf-8")  # the user's edits...
    assert main(["notebooks", str(target)]) == 1  # ...are not overwritten silently
    assert (target / shipped[0]).read_text(encoding="utf-8") == "{}"
    assert "--remplacer" in capsys.readouterr().err
    assert main(["notebooks", str(target), "--remplacer"]) == 0
    assert nbformat.read(target / shipped[0], as_version=4).cells


def test_shipped_notebooks_share_one_reference_default_and_hide_no_warning():
    from ptsm_diag.report.execute import notebook_parameters, notebooks_dir

    defaults = set()
    for path in sorted(notebooks_dir().glob("*.ipynb")):
        defaults.add(notebook_parameters(path)["reference"]["default"])
        source = Path(path).read_text(encoding="utf-8")
        assert 'filterwarnings(\\"ignore\\")' not in source, path.name
    assert defaults == {'"france"'}
