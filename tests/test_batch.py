"""Batch of reports: failures isolated, nothing half-written, unchanged work skipped.

Most tests run a tiny notebook (same parameters as the diagnostic, fails on request) so
that they exercise the batch machinery in seconds; one slow test runs the real diagnostic
notebook on two territories in two worker processes.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from ptsm_diag.cli import main
from ptsm_diag.demo import generate_demo_data
from ptsm_diag.errors import UnknownCodeError
from ptsm_diag.report.batch import (
    FAILED,
    OK,
    UNCHANGED,
    BatchOptions,
    run_batch,
    select_territories,
)
from ptsm_diag.report.execute import safe_file_stem, write_atomic
from ptsm_diag.testing import chromium_path, open_in_browser
from ptsm_diag.viz.offline import externalise_assets, plotly_js, shared_asset_files

BRETAGNE = ["22", "29", "35", "56"]


@pytest.fixture(scope="module")
def data_folder(tmp_path_factory) -> Path:
    """The demo data reduced to the four Breton territories (fast to read)."""
    full = tmp_path_factory.mktemp("demo")
    generate_demo_data(full)
    small = tmp_path_factory.mktemp("bretagne")
    kept_ids: set[str] = set()
    for path in sorted(full.iterdir(), key=lambda p: p.name != "ressources.csv"):
        if path.suffix != ".csv":
            (small / path.name).write_bytes(path.read_bytes())
            continue
        table = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False)
        links = [c for c in table.columns if c.startswith("id_ressource_")]
        if links:  # tables pointing at resources: only links between kept resources
            for column in links:
                table = table[table[column].eq("") | table[column].isin(kept_ids)]
        elif "code_territoire" in table:
            keep = table["code_territoire"].isin(BRETAGNE) | ~table["code_territoire"].str.match(
                r"^\d|^2[AB]$")
            table = table[keep]
        elif "code_commune" in table:
            table = table[table["code_commune"].str[:2].isin(BRETAGNE)]
            if path.name == "ressources.csv":
                kept_ids = set(table["id_ressource"])
        table.to_csv(small / path.name, sep=";", index=False)
    return small


def _tiny_notebook(path: Path, fail_on: str) -> Path:
    """A notebook with the diagnostic's parameters that fails for one territory."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    params = nbformat.v4.new_code_cell(
        'territoire = "35"\ndonnees = ""\nreference = "region"\nfond = "aucun"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Essai"),
        params,
        nbformat.v4.new_code_cell(
            f'if territoire == "{fail_on}":\n'
            '    raise ValueError("données <incohérentes> pour " + territoire)\n'
            'print("Territoire", territoire)\n'
            "__import__('time').sleep(0.1)  # a duration the index shows (0,1 s and more)"),
    ]
    nbformat.write(nb, path)
    return path


def test_a_failing_territory_gets_an_error_page_and_the_others_their_report(
        data_folder, tmp_path):
    notebook = _tiny_notebook(tmp_path / "essai_lot.ipynb", fail_on="29")
    out = tmp_path / "lot"
    code = main(["batch", "--donnees", str(data_folder), "--territoires", "22,29,35",
                 "--sortie", str(out), "--jobs", "2", "--notebook", str(notebook),
                 "--sans-synthese"])
    assert code == 1  # non-zero exit when a territory failed
    assert (out / "essai_22.html").is_file() and (out / "essai_35.html").is_file()
    assert not (out / "essai_29.html").exists()
    error_page = (out / "erreurs" / "29.html").read_text(encoding="utf-8")
    assert "données &lt;incohérentes&gt; pour 29" in error_page  # escaped, not raw
    assert "cellule 3 du notebook" in error_page  # the third cell of the user's notebook
    assert "Traceback" in (out / "journaux" / "29.log").read_text(encoding="utf-8")
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.count("<tr>") == 1 + 3  # header and one row per territory
    assert 'href="essai_22.html"' in index and 'href="erreurs/29.html"' in index
    assert "1 en échec" in index
    assert not list(out.rglob("*.tmp"))


def test_rerun_skips_unchanged_territories_and_redoes_failed_and_changed(data_folder, tmp_path):
    notebook = _tiny_notebook(tmp_path / "essai_lot.ipynb", fail_on="29")
    out = tmp_path / "lot"
    options = BatchOptions(jobs=1, notebook=str(notebook), synthesis=False)
    first = run_batch(data_folder, out, codes=["22", "29"], options=options)
    assert {o.code: o.status for o in first.outcomes} == {"22": OK, "29": FAILED}
    written = (out / "essai_22.html").stat().st_mtime_ns

    again = run_batch(data_folder, out, codes=["22", "29"], options=options)
    assert {o.code: o.status for o in again.outcomes} == {"22": UNCHANGED, "29": FAILED}
    assert (out / "essai_22.html").stat().st_mtime_ns == written

    fixed = _tiny_notebook(notebook, fail_on="none")  # the notebook changed: everything reruns
    after_fix = run_batch(data_folder, out, codes=["22", "29"], options=options)
    assert {o.code: o.status for o in after_fix.outcomes} == {"22": OK, "29": OK}
    assert not (out / "erreurs" / "29.html").exists()  # stale error page removed

    forced = run_batch(data_folder, out, codes=["22"],
                       options=BatchOptions(jobs=1, notebook=str(fixed), force=True,
                                            synthesis=False))
    assert forced.outcomes[0].status == OK


def _index_rows(index: str) -> dict[str, str]:
    """Territory code → its row of the batch index (HTML)."""
    rows = re.findall(r"<tr><td>([^<]+)</td>(.*?)</tr>", index, re.S)
    return dict(rows)


def test_regional_index_names_the_region_and_keeps_when_each_report_was_made(
        data_folder, tmp_path):
    notebook = _tiny_notebook(tmp_path / "essai_lot.ipynb", fail_on="29")
    out = tmp_path / "lot"
    options = BatchOptions(jobs=1, notebook=str(notebook), synthesis=False)
    run_batch(data_folder, out, region="53", options=options)
    first = (out / "index.html").read_text(encoding="utf-8")
    assert "lot de rapports — région Bretagne (53)" in first
    rows = _index_rows(first)
    assert sorted(rows) == BRETAGNE
    assert "<th>Région</th>" not in first  # one région: named once, in the title
    for code, row in rows.items():
        # the territory's signal: rosace verdicts against the reference, in words
        assert re.search(r"\d+ moins bon\(s\), \d+ meilleur\(s\) sur \d+", row), row
        log = f"journaux/{safe_file_stem(code)}.log"
        assert f'href="{log}">journal</a>' in row and (out / log).is_file()
    made = {code: re.search(r"\d\d/\d\d/\d{4} \d\d:\d\d", row).group(0)
            for code, row in rows.items()}
    seconds = {code: re.findall(r'<td class="num">([^<]*)</td>', row)[-1]
               for code, row in rows.items()}

    run_batch(data_folder, out, region="53", options=options)  # nothing changed but 29
    again = _index_rows((out / "index.html").read_text(encoding="utf-8"))
    assert "inchangé" in again["22"] and "échec" in again["29"]
    for code in ("22", "35", "56"):  # unchanged: when and how long, as recorded then
        assert made[code] in again[code]
        assert re.findall(r'<td class="num">([^<]*)</td>', again[code])[-1] == seconds[code]
        assert seconds[code] != "0,0"


def test_index_of_a_batch_across_regions_names_each_territory_region(tmp_path):
    from ptsm_diag.report.batch import TerritoryOutcome
    from ptsm_diag.report.summary import batch_index_html

    outcomes = [TerritoryOutcome("29", "Finistère", OK, "diagnostic_29.html", None, 3.2,
                                 "2026-11-30T09:15:00", "journaux/29.log"),
                TerritoryOutcome("75", "Paris", FAILED, None, "erreur", 1.0,
                                 "2026-11-30T09:16:00", "journaux/75.log")]
    figures = pd.DataFrame({"population": [900_000, 2_100_000], "communes": [277, 1],
                            "code_region": ["53", "11"]}, index=["29", "75"])
    signals = pd.DataFrame({"moins_bons": [2], "meilleurs": [5], "evalues": [12]},
                           index=["29"])
    page = batch_index_html(outcomes, figures, tmp_path, "0" * 64,
                            pd.Timestamp("2026-11-30").to_pydatetime(), signals=signals)
    rows = _index_rows(page)
    assert "<th>Région</th>" in page and "— région" not in page
    assert "<td>Bretagne (53)</td>" in rows["29"] and "<td>Île-de-France (11)</td>" in rows["75"]
    assert "2 moins bon(s), 5 meilleur(s) sur 12" in rows["29"] and "n.d." in rows["75"]
    assert "30/11/2026 09:15" in rows["29"]
    assert 'href="journaux/75.log">journal</a>' in rows["75"]
    assert 'href="erreurs/75.html"' in rows["75"]


def test_roadmap_batch_of_a_region_compares_with_the_region(data_folder, tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    params = nbformat.v4.new_code_cell('territoire = "35"\ndonnees = ""\n'
                                       'reference = "france"\nfond = "aucun"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell('print("Référence :", reference)')]
    notebook = tmp_path / "suivi_feuille_de_route.ipynb"  # an adapted copy of the roadmap
    nbformat.write(nb, notebook)
    out = tmp_path / "lot"
    code = main(["batch", "--donnees", str(data_folder), "--region", "53", "--sortie",
                 str(out), "--jobs", "1", "--notebook", str(notebook), "--sans-synthese"])
    assert code == 0
    assert "Référence : region" in (out / "suivi_22.html").read_text(encoding="utf-8")
    code = main(["batch", "--donnees", str(data_folder), "--territoires", "22", "--sortie",
                 str(tmp_path / "lot2"), "--jobs", "1", "--notebook", str(notebook),
                 "--sans-synthese"])
    assert "Référence : france" in (tmp_path / "lot2" / "suivi_22.html").read_text(
        encoding="utf-8")  # not a regional batch: France, the one default


def test_synthesis_of_the_batch_territories_names_their_region(data_folder):
    from ptsm_diag.diagnostic import prepare_synthesis
    from ptsm_diag.report.regional import synthesis_title, title_page

    synthesis = prepare_synthesis(data_folder, territoires=BRETAGNE)  # as the batch asks
    assert synthesis.region == "53"
    assert "Bretagne" in synthesis_title(synthesis)
    assert "<th>Région</th><td>Bretagne (53)</td>" in title_page(synthesis)


def test_unknown_territory_or_region_stops_before_any_kernel(data_folder, tmp_path):
    with pytest.raises(UnknownCodeError) as error:
        run_batch(data_folder, tmp_path / "lot", codes=["22", "99", "../etc"])
    assert "99" in str(error.value) and "../etc" in str(error.value)
    assert not (tmp_path / "lot" / "index.html").exists()
    assert main(["batch", "--donnees", str(data_folder), "--region", "11",
                 "--sortie", str(tmp_path / "lot")]) == 1


def test_territory_codes_never_escape_the_output_folder():
    table = pd.DataFrame({"code_territoire": ["../../etc", "ok"], "nom_territoire": ["x", "y"]})
    assert select_territories(table, ["../../etc"]) == [("../../etc", "x")]
    for code in ("../../etc/passwd", "a/b", "..", ".", "", "a\\b", "/etc"):
        stem = safe_file_stem(code)
        assert stem and "/" not in stem and "\\" not in stem and not stem.startswith(".")


def test_an_interrupted_write_leaves_the_previous_report_intact(tmp_path, monkeypatch):
    target = tmp_path / "diagnostic_35.html"
    target.write_text("ancien rapport complet", encoding="utf-8")

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, "nouveau rapport" * 1000)
    assert target.read_text(encoding="utf-8") == "ancien rapport complet"
    assert [p.name for p in tmp_path.iterdir()] == ["diagnostic_35.html"]


def test_shared_assets_replace_every_inlined_copy():
    files = shared_asset_files()
    plotly_name = next(name for name in files if name.startswith("plotly"))
    leaflet = files["leaflet.js"]
    inline_map = html.escape("<script>" + leaflet.replace("</script", "<\\/script")
                             + "</script>", quote=True)
    page = (f'<script type="text/javascript">{files[plotly_name]}</script>'
            f'<iframe srcdoc="{inline_map}"></iframe>')
    shared, used = externalise_assets(page)
    assert set(used) == {plotly_name, "leaflet.js"}
    assert f'<script src="assets/{plotly_name}"></script>' in shared
    assert html.escape('<script src="assets/leaflet.js"></script>', quote=True) in shared
    assert len(shared) < 2000


@pytest.mark.slow
def test_real_reports_in_parallel_with_shared_assets(data_folder, tmp_path):
    out = tmp_path / "lot"
    result = run_batch(data_folder, out, codes=["29", "56"],
                       options=BatchOptions(jobs=2, shared_assets=True))
    assert [o.status for o in result.outcomes] == [OK, OK]
    report = (out / "diagnostic_56.html").read_text(encoding="utf-8")
    assert "Morbihan" in report
    assert 'src="assets/plotly' in report  # plotly.js linked once for the batch...
    assert plotly_js()[:500] not in report  # ...not embedded in each report
    assets = {p.name for p in (out / "assets").iterdir()}
    assert "leaflet.js" in assets and any(name.startswith("plotly") for name in assets)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "Finistère" in index and "Morbihan" in index
    assert result.synthesis is not None and result.synthesis.status == OK
    assert 'href="synthese.html"' in index
    synthesis = (out / "synthese.html").read_text(encoding="utf-8")
    assert "Finistère" in synthesis and "Morbihan" in synthesis
    again = run_batch(data_folder, out, codes=["29", "56"],
                      options=BatchOptions(jobs=2, shared_assets=True))
    assert again.synthesis.status == UNCHANGED  # nothing changed: nothing redone
    if chromium_path() is None:
        pytest.skip("Chromium absent : rendu navigateur non vérifié")
    seen = open_in_browser(out / "diagnostic_56.html")
    assert seen.script_errors == []
    assert seen.plotly_figures >= 1


@pytest.mark.slow
def test_dask_cluster_runs_the_same_batch(data_folder, tmp_path):
    distributed = pytest.importorskip("distributed")
    notebook = _tiny_notebook(tmp_path / "essai_lot.ipynb", fail_on="29")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        result = run_batch(data_folder, tmp_path / "lot", codes=["22", "29", "35"],
                           options=BatchOptions(notebook=str(notebook), synthesis=False,
                                                scheduler=cluster.scheduler_address))
    assert {o.code: o.status for o in result.outcomes} == {"22": OK, "29": FAILED, "35": OK}
    assert (tmp_path / "lot" / "essai_35.html").is_file()
    assert (tmp_path / "lot" / "erreurs" / "29.html").is_file()


@pytest.mark.slow
def test_a_killed_batch_leaves_no_partial_report_and_resumes(data_folder, tmp_path):
    """Kill the batch process mid-way (SIGKILL), then run it again."""
    import signal
    import subprocess
    import sys
    import time

    notebook = _tiny_notebook(tmp_path / "essai_lot.ipynb", fail_on="none")
    source = notebook.read_text(encoding="utf-8").replace(
        'print(\\"Territoire\\", territoire)',
        'import time\\ntime.sleep(2)\\nprint(\\"Territoire\\", territoire)')
    notebook.write_text(source, encoding="utf-8")
    out = tmp_path / "lot"
    command = [sys.executable, "-m", "ptsm_diag.cli", "batch", "--donnees", str(data_folder),
               "--tous", "--sortie", str(out), "--jobs", "1", "--notebook", str(notebook),
               "--sans-synthese"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(out.glob("essai_*.html")) and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = sorted(p.name for p in out.glob("essai_*.html"))
    assert 1 <= len(finished) < 4  # killed mid-way
    for report in out.glob("essai_*.html"):  # every report there is complete
        assert report.read_text(encoding="utf-8").rstrip().endswith("</html>")

    resumed = run_batch(data_folder, out, options=BatchOptions(
        jobs=1, notebook=str(notebook), synthesis=False))
    statuses = {o.code: o.status for o in resumed.outcomes}
    assert sorted(statuses) == BRETAGNE
    kept = [statuses[p.removeprefix("essai_").removesuffix(".html")] for p in finished]
    # finished work is kept, not redone (the last one may have been killed between its
    # report and its state file: it is then redone, which is safe)
    assert kept.count(UNCHANGED) >= len(finished) - 1
    assert all(status in (OK, UNCHANGED) for status in statuses.values())
    leftovers = [p.name for p in out.rglob(".*") if p.is_file()]
    assert leftovers == []  # no temporary file left behind


def test_batch_writes_the_gaps_workbook_beside_each_diagnostic_report(data_folder, tmp_path):
    from openpyxl import load_workbook

    # A notebook named like the diagnostic one: its reports get a gaps workbook beside them.
    notebook = _tiny_notebook(tmp_path / "diagnostic_territorial.ipynb", fail_on="none")
    out = tmp_path / "lot"
    options = BatchOptions(jobs=1, notebook=str(notebook), synthesis=False)
    first = run_batch(data_folder, out, codes=["22", "35"], options=options)
    assert [o.status for o in first.outcomes] == [OK, OK]
    for code in ("22", "35"):
        assert (out / f"diagnostic_{code}.html").is_file()
        workbook = load_workbook(out / f"insuffisances_{code}.xlsx")
        assert workbook.sheetnames[0] == "Synthèse"
        assert "Priorité 6" in workbook.sheetnames and "Paramètres" in workbook.sheetnames
        ranked = [row for name in workbook.sheetnames if name.startswith("Priorité")
                  for row in workbook[name].iter_rows(min_row=2, values_only=True) if row[0]]
        assert ranked  # the demo territory has gaps, each on its priority's sheet
    assert not list(out.rglob("*.tmp")) and not list(out.glob(".insuffisances*"))
    (out / "insuffisances_22.xlsx").unlink()  # a missing workbook is redone
    again = run_batch(data_folder, out, codes=["22", "35"], options=options)
    assert {o.code: o.status for o in again.outcomes} == {"22": OK, "35": UNCHANGED}
    assert (out / "insuffisances_22.xlsx").is_file()
    # Another notebook (follow-up, tests) gets no gaps workbook.
    other = run_batch(data_folder, tmp_path / "autre", codes=["22"], options=BatchOptions(
        jobs=1, notebook=str(_tiny_notebook(tmp_path / "essai_lot.ipynb", "none")),
        synthesis=False))
    assert other.outcomes[0].status == OK
    assert not list((tmp_path / "autre").glob("*.xlsx"))


@pytest.mark.slow
def test_diagnostic_notebook_writes_its_own_gaps_workbook(tmp_path, monkeypatch):
    """The batch does not compute the diagnostic a second time for the workbook: the
    notebook writes it from the analysis the report shows."""
    from openpyxl import load_workbook

    from ptsm_diag import report
    from ptsm_diag.demo import demo_data_dir
    from ptsm_diag.diagnostic import prepare_diagnostic
    from ptsm_diag.report.sections import gap_analysis

    def twice(*args, **kwargs):
        raise AssertionError("diagnostic recomputed for the workbook")

    monkeypatch.setattr(report.batch, "write_gaps_export", twice)
    out = tmp_path / "lot"
    result = run_batch(demo_data_dir(), out, codes=["2A"],
                       options=BatchOptions(jobs=1, synthesis=False))
    assert [o.status for o in result.outcomes] == [OK], result.outcomes
    workbook = load_workbook(out / "insuffisances_2A.xlsx", read_only=True)
    rows = [row for name in workbook.sheetnames if name.startswith(("Priorité", "Sans"))
            for row in workbook[name].iter_rows(min_row=2, values_only=True) if row[0]]
    expected = gap_analysis(prepare_diagnostic("2A")).gaps
    assert len(rows) == len(expected) > 0
    assert "insuffisances_2A.xlsx" in (out / "diagnostic_2A.html").read_text(encoding="utf-8")


def _kernel_pid(manager) -> int:
    return manager.provisioner.process.pid


def _run(manager, code: str) -> None:
    client = manager.client()
    client.start_channels()
    try:
        client.execute_interactive(code, timeout=60)
    finally:
        client.stop_channels()


@pytest.mark.slow
def test_warm_kernel_is_reused_with_an_empty_namespace_and_restarted_when_too_big(tmp_path):
    from ptsm_diag.report.execute import WarmKernel

    kernel = WarmKernel()
    try:
        first = kernel.acquire(tmp_path)
        pid = _kernel_pid(first)
        _run(first, f"open({str(tmp_path / 'a')!r}, 'w').write('x')\nleftover = 1")
        second = kernel.acquire(tmp_path)
        assert _kernel_pid(second) == pid  # reused
        _run(second, f"open({str(tmp_path / 'b')!r}, 'w').write(str('leftover' in dir()))")
        assert (tmp_path / "b").read_text() == "False"  # the namespace was cleared
        assert kernel.resident_mb() is None or kernel.resident_mb() > 10
        if kernel.resident_mb() is not None:  # Linux: above the limit, a fresh kernel
            kernel.max_rss_mb = 1.0
            assert _kernel_pid(kernel.acquire(tmp_path)) != pid
    finally:
        kernel.discard()


def _valeur_notebook(path: Path, code: str) -> Path:
    """A notebook with a ``valeur`` parameter, then one cell of ``code``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                 "display_name": "Python 3"}
    parameters = nbformat.v4.new_code_cell("valeur = 0")
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [parameters, nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, path)
    return path


def _memory_notebook(path: Path) -> Path:
    return _valeur_notebook(
        path, "import pyarrow\nprint(valeur, pyarrow.default_memory_pool().backend_name,\n"
              "      get_ipython().history_manager.hist_file)\n"
              "'x' * 2_000_000")


@pytest.mark.slow
@pytest.mark.parametrize("where", ["noyau", "processus"])
def test_a_worker_runs_report_after_report_without_growing(tmp_path, where):
    """A batch worker runs a hundred reports: each must run on the same kernel and its
    one client (or the same in-process shell), leaving no thread or connection behind in
    the worker (a client per report left its heartbeat thread and ZeroMQ context: 7 MB a
    report), with pyarrow allocating from the system heap (memory given back between
    reports) and the cells' history kept in memory (not written to the user's IPython
    history)."""
    import threading

    from ptsm_diag.report.execute import ReportOptions, WarmKernel, execute_notebook
    from ptsm_diag.report.inprocess import InProcessShell

    notebook = _memory_notebook(tmp_path / "petit.ipynb")
    runner = WarmKernel() if where == "noyau" else InProcessShell()
    try:
        threads, pid = [], None
        for value in range(4):
            executed = execute_notebook(notebook, {"valeur": value}, ReportOptions(),
                                        f"T{value}", runner=runner)
            # system heap for pyarrow; the cells' history in memory, not in ~/.ipython
            assert executed.cells[-1].outputs[0]["text"] == f"{value} system :memory:\n"
            if isinstance(runner, WarmKernel):
                assert pid in (None, _kernel_pid(runner._manager))
                pid = _kernel_pid(runner._manager)
            threads.append(threading.active_count())
        assert threads[1:] == [threads[0]] * 3, threads
    finally:
        runner.discard()


def _outputs_notebook(path: Path) -> Path:
    return _valeur_notebook(
        path, "from ptsm_diag.report.display import report_only\nprint(valeur, report_only())")


@pytest.mark.slow
def test_kernels_make_outputs_for_the_report_only_when_the_notebook_is_not_kept(tmp_path):
    """A kept notebook needs its previews and plotly bundles (JupyterLab); a report whose
    notebook is dropped does not: fresh and reused kernels and the in-process shell are
    told which, report by report, even when a reused one goes from one to the other."""
    from ptsm_diag.report.execute import (
        NotebookRunner,
        ReportOptions,
        WarmKernel,
        execute_notebook,
    )
    from ptsm_diag.report.inprocess import InProcessShell

    notebook = _outputs_notebook(tmp_path / "sorties.ipynb")

    def printed(options: ReportOptions, value: int, runner: NotebookRunner | None) -> str:
        executed = execute_notebook(notebook, {"valeur": value}, options, "T", runner=runner)
        return executed.cells[-1].outputs[0]["text"]

    assert printed(ReportOptions(), 1, None) == "1 True\n"
    assert printed(ReportOptions(keep_notebook=True), 2, None) == "2 False\n"
    for runner in (WarmKernel(), InProcessShell()):
        try:
            seen = [printed(ReportOptions(keep_notebook=keep), value, runner)
                    for value, keep in enumerate([False, True, True, False])]
            assert seen == ["0 True\n", "1 False\n", "2 False\n", "3 True\n"], runner
        finally:
            runner.discard()
