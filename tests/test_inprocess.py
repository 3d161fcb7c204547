"""Notebooks run in the batch worker's process (IPython shell) instead of a kernel.

What a user would notice: a report that differs from the one a kernel makes (an output
lost, reordered, a result shown as something else), a variable of one territory leaking
into the next, an error not reported with its cell, a stuck cell never stopped, Ctrl-C not
stopping the batch, or the worker's own state (``__main__``, ``sys.path``, environment)
changed by a notebook run.
"""

from __future__ import annotations

import builtins
import getpass
import io
import os
import re
import sys
import threading
from pathlib import Path

import nbformat
import pytest

from ptsm_diag.errors import ReportError
from ptsm_diag.report.display import OUTPUTS_VARIABLE
from ptsm_diag.report.execute import ReportOptions, execute_notebook, render_report
from ptsm_diag.report.inprocess import InProcessShell, can_run_in_process


def _notebook(path: Path, *cells: str, tags: dict[int, list[str]] | None = None) -> Path:
    """A notebook with a ``valeur`` parameter, then ``cells``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                 "display_name": "Python 3"}
    parameters = nbformat.v4.new_code_cell("valeur = 0")
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [parameters, nbformat.v4.new_markdown_cell("# Titre")]
    for i, source in enumerate(cells):
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = (tags or {}).get(i, [])
        nb.cells.append(cell)
    nbformat.write(nb, path)
    return path


# The smallest valid PNG picture (1 × 1 pixel).
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201ac4a7a4f"
                    "0000000049454e44ae426082")

# Every kind of output a notebook makes, in an order a recorder could get wrong.
OUTPUT_CELLS = (
    "import sys\nfrom IPython.display import HTML, Markdown, display\n"
    "print('un'); print('deux')\nprint('alerte', file=sys.stderr)\nprint('trois')",
    "display(HTML('<b>gras</b>'))\nprint('entre')\ndisplay(Markdown('*texte*'))\n"
    "{'valeur': valeur}",
    "from IPython.display import clear_output\nprint('effacé')\nclear_output(wait=True)\n"
    "print('gardé')",
    "handle = display(HTML('avant'), display_id=True)\nx = 1",
    "handle.update(HTML('après'))\nvaleur * 2;",  # ; : no result shown
    "1 + 1\n2 + 2",
    # a picture made as bytes (base64 in the notebook), JSON data with a tuple and a date
    "import datetime\nfrom IPython.display import Image, JSON\n"
    "display(Image(data=bytes.fromhex(" + repr(PNG.hex()) + "), format='png'))\n"
    "JSON({'paire': (1, 2), 'jour': datetime.date(2026, 12, 2)})",
)


def _outputs(nb: nbformat.NotebookNode, by_stream: bool = False) -> list[list[dict]]:
    """The outputs of each code cell after the injected parameters, as comparable data;
    with ``by_stream``, each stream's text joined in one output at the end of its cell (a
    kernel sends ``stdout`` and ``stderr`` apart, each when its buffer is flushed)."""
    kept = []
    for cell in nb.cells:
        if cell.cell_type != "code" or {"parameters", "injected-parameters"} & set(
                cell.metadata.get("tags", [])):
            continue
        outputs = [{k: v for k, v in output.items() if k != "execution_count"}
                   | {"compté": "execution_count" in output} for output in cell.outputs]
        if by_stream:
            streams = {name: "".join(o["text"] for o in outputs if o.get("name") == name)
                       for name in ("stdout", "stderr")}
            outputs = [o for o in outputs if o["output_type"] != "stream"] + [
                {"output_type": "stream", "name": name, "text": text, "compté": False}
                for name, text in streams.items() if text]
        kept.append(outputs)
    return kept


@pytest.mark.slow
def test_outputs_are_the_ones_a_kernel_makes(tmp_path):
    """Streams joined and ordered, displays, results, cleared and updated outputs: the
    same notebook outputs as on a Jupyter kernel."""
    notebook = _notebook(tmp_path / "sorties.ipynb", *OUTPUT_CELLS)
    options = ReportOptions(keep_notebook=True)
    shell = InProcessShell()
    in_process = execute_notebook(notebook, {"valeur": 21}, options, "T", runner=shell)
    on_kernel = execute_notebook(notebook, {"valeur": 21}, options, "T")
    assert _outputs(in_process, by_stream=True) == _outputs(on_kernel, by_stream=True)
    outputs = _outputs(in_process)  # in the order the cell wrote them
    assert [o.get("text") for o in outputs[0]] == ["un\ndeux\n", "alerte\n", "trois\n"]
    assert [o["output_type"] for o in outputs[1]] == [
        "display_data", "stream", "display_data", "execute_result"]
    assert outputs[1][-1]["data"]["text/plain"] == "{'valeur': 21}"
    assert outputs[2] == [{"output_type": "stream", "name": "stdout", "text": "gardé\n",
                           "compté": False}]
    assert outputs[3][0]["data"]["text/html"] == "après"
    assert outputs[4] == []
    assert [o["data"]["text/plain"] for o in outputs[5]] == ["4"]
    assert outputs[6][0]["data"]["image/png"].startswith("iVBOR")  # base64 of the PNG
    assert outputs[6][1]["data"]["application/json"] == {"paire": [1, 2], "jour": "2026-12-02"}
    code_cells = [c for c in in_process.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code_cells] == list(range(1, len(code_cells) + 1))
    assert all("duration" in c.metadata.papermill for c in in_process.cells)


def test_each_notebook_starts_from_an_empty_namespace_and_leaves_the_process_as_it_was(
        tmp_path):
    """A territory's variables never reach the next one; the process keeps its own
    ``__main__``, ``sys.path`` and environment; the notebook imports modules beside it
    and finds ``get_ipython()``."""
    (tmp_path / "voisin.py").write_text("VALEUR = 'module voisin'\n", encoding="utf-8")
    notebook = _notebook(
        tmp_path / "etat.ipynb",
        "import os, voisin\nprint('reste' in dir(), voisin.VALEUR, os.getcwd() == "
        f"{str(tmp_path)!r}, get_ipython() is not None, os.environ.get('{OUTPUTS_VARIABLE}'))"
        "\nreste = valeur")
    main, path, environ = sys.modules["__main__"], list(sys.path), dict(os.environ)
    shell = InProcessShell()
    try:
        printed = [execute_notebook(notebook, {"valeur": v}, ReportOptions(keep_notebook=keep),
                                    "T", runner=shell).cells[-1].outputs[0]["text"]
                   for v, keep in ((1, False), (2, True))]
    finally:
        sys.modules.pop("voisin", None)
    assert printed == ["False module voisin True True rapport\n",
                       "False module voisin True True None\n"]
    assert sys.modules["__main__"] is main
    assert sys.path == path
    assert dict(os.environ) == environ


def test_a_failing_cell_is_reported_with_its_number_and_the_next_notebook_runs(tmp_path):
    notebook = _notebook(tmp_path / "echec.ipynb", "x = 1",
                         "if valeur == 1:\n    raise ValueError('taux négatif')")
    shell = InProcessShell()
    with pytest.raises(ReportError) as caught:
        execute_notebook(notebook, {"valeur": 1}, ReportOptions(), "29", runner=shell)
    assert caught.value.error_name == "ValueError"
    assert "taux négatif" in str(caught.value)
    assert caught.value.cell_index == 4  # parameters, markdown, x = 1, then this one
    executed = execute_notebook(notebook, {"valeur": 2}, ReportOptions(), "35", runner=shell)
    assert executed.cells[-1].metadata.papermill["status"] == "completed"


def test_sys_exit_zero_ends_a_notebook_without_error(tmp_path):
    """As on a kernel with papermill: ``sys.exit(0)`` stops the notebook, and the report
    is made from what ran before."""
    notebook = _notebook(tmp_path / "fin.ipynb", "print('avant')", "raise SystemExit(0)",
                         "print('après')")
    executed = execute_notebook(notebook, {}, ReportOptions(), "T", runner=InProcessShell())
    texts = [o.get("text") for c in executed.cells if c.cell_type == "code"
             for o in c.get("outputs", [])]
    assert "avant\n" in texts and "après\n" not in texts


def test_what_another_thread_prints_during_a_cell_stays_out_of_the_cell(tmp_path, capsys):
    """A progress bar refreshed by its own thread while a cell runs writes where it wrote,
    not into the report; the cell's own prints are recorded."""
    stop = threading.Event()

    def bar() -> None:
        while not stop.wait(0.005):
            print("barre du lot")

    notebook = _notebook(tmp_path / "fil.ipynb", "print('cellule')", "import time",
                         "time.sleep(0.3)")
    thread = threading.Thread(target=bar)
    thread.start()
    try:
        executed = execute_notebook(notebook, {}, ReportOptions(), "T",
                                    runner=InProcessShell())
    finally:
        stop.set()
        thread.join()
    texts = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code"
                    for o in c.get("outputs", []))
    assert "cellule" in texts and "barre du lot" not in texts
    assert "barre du lot" in capsys.readouterr().out


def test_a_cell_over_its_time_limit_is_stopped(tmp_path):
    notebook = _notebook(tmp_path / "long.ipynb", "import time\ntime.sleep(30)")
    with pytest.raises(ReportError) as caught:
        execute_notebook(notebook, {}, ReportOptions(timeout=1), "T", runner=InProcessShell())
    assert caught.value.error_name == "CellTimeout"
    assert "délai dépassé" in str(caught.value)


def test_ctrl_c_stops_the_run_instead_of_failing_one_report(tmp_path):
    notebook = _notebook(tmp_path / "stop.ipynb", "raise KeyboardInterrupt")
    with pytest.raises(KeyboardInterrupt):
        execute_notebook(notebook, {}, ReportOptions(), "T", runner=InProcessShell())


def test_a_cell_asking_the_keyboard_fails_instead_of_waiting(tmp_path, monkeypatch):
    """A kernel has no stdin for papermill; a batch must not wait for its terminal."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("réponse\n"))
    notebook = _notebook(tmp_path / "clavier.ipynb", "valeur = input('Taux ? ')")
    with pytest.raises(ReportError) as caught:
        execute_notebook(notebook, {}, ReportOptions(), "T", runner=InProcessShell())
    assert caught.value.error_name == "StdinNotImplementedError"
    assert "paramètre" in str(caught.value)
    assert builtins.input.__module__ == "builtins"  # given back after the run
    assert getpass.getpass.__module__ == "getpass"


def test_only_the_main_thread_runs_notebooks_in_process():
    """Time limits need the main thread's signals: a Dask worker's thread uses kernels."""
    seen = []
    thread = threading.Thread(target=lambda: seen.append(can_run_in_process()))
    thread.start()
    thread.join()
    assert seen == [False]
    assert can_run_in_process() == (os.name == "posix")


def _comparable(page: str) -> str:
    """A report without its random identifiers (maps, figures, cells)."""
    page = re.sub(r"[0-9a-f]{32}", "X", page)
    page = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "U", page)
    return re.sub(r'cell-id=[0-9a-f]{8}"', 'cell-id=C"', page)


@pytest.mark.slow
def test_a_diagnostic_report_made_in_process_is_the_one_a_kernel_makes(tmp_path):
    """The diagnostic of a territory, twice in the same shell then on a kernel: the same
    page (maps, figures, tables, texts) but for random identifiers."""
    shell = InProcessShell()
    pages = []
    for code, runner, folder in (("23", shell, "a"), ("48", shell, "b"), ("48", None, "c")):
        path = render_report(code, None, tmp_path / folder, runner=runner,
                             parameters={"insuffisances_xlsx": str(tmp_path / f"{folder}.xlsx")})
        pages.append(_comparable(path.read_text(encoding="utf-8")))
    assert "Lozère" in pages[1] and "Creuse" not in pages[1]
    assert pages[1] == pages[2]
