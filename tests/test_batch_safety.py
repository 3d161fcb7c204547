"""A batch's safety: its data cache cannot run code, territory codes never share a file,
its processes die with it, and one batch at a time writes in an output folder.

The batches here run a tiny notebook that reads the batch's data cache (as the real
notebooks do) on a data folder holding only ``territoires.csv``: seconds, not minutes.
"""

from __future__ import annotations

import os
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from ptsm_diag.cli import main
from ptsm_diag.diagnostic import load_data
from ptsm_diag.errors import PtsmError
from ptsm_diag.io.data_cache import CACHE_SUFFIX, DataCacheError, read_data_cache, write_data_cache
from ptsm_diag.io.sources import read_folder
from ptsm_diag.report import batch as batch_module
from ptsm_diag.report.batch import (
    LOCK_FILE,
    OK,
    STATE_DIR,
    BatchLockedError,
    BatchOptions,
    FileNameCollisionError,
    check_file_names,
    fingerprint_folder,
    output_folder_lock,
    run_batch,
)
from ptsm_diag.report.execute import WarmKernel, safe_file_stem

psutil = pytest.importorskip("psutil")  # comes with ipykernel

TERRITOIRES = """code_territoire;nom_territoire;code_region;niveau;code
22;PTSM Côtes-d'Armor;53;departement;22
29;PTSM Finistère;53;departement;29
35;PTSM Ille-et-Vilaine;53;departement;35
56;PTSM Morbihan;53;departement;56
"""


def _folder(path: Path, text: str = TERRITOIRES) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "territoires.csv").write_text(text, encoding="utf-8")
    return path


def _notebook(path: Path, sleep: float = 0, fail_on: str = "") -> Path:
    """A notebook with the diagnostic's parameters that reads the batch's data like the
    real ones (``load_data(donnees)``) and prints the territory's name."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    params = nbformat.v4.new_code_cell(
        'territoire = "35"\ndonnees = ""\nreference = "region"\nfond = "aucun"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell(
            "import time\n"
            "from ptsm_diag.diagnostic import load_data\n"
            f"time.sleep({sleep})\n"
            f"if territoire == {fail_on!r}:\n"
            '    raise ValueError("échec demandé pour " + territoire)\n'
            "table = load_data(donnees).territoires\n"
            "name = table.loc[table['code_territoire'] == territoire, 'nom_territoire']\n"
            'print("Territoire", repr(territoire), "=", name.iloc[0])'),
    ]
    nbformat.write(nb, path)
    return path


def _cache_path(data: Path, out: Path) -> Path:
    return out / STATE_DIR / f"{fingerprint_folder(data)[:16]}{CACHE_SUFFIX}"


class _Planted:
    """Unpickling this creates ``marker``: what an attacker's file would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


# --- 3. the data cache --------------------------------------------------------------------


def test_a_planted_pickle_cache_is_never_executed_and_the_batch_rebuilds_it(tmp_path):
    control = tmp_path / "controle"
    pickle.loads(pickle.dumps(_Planted(control)))  # the payload does run when unpickled...
    assert control.exists()

    data = _folder(tmp_path / "donnees")
    out = tmp_path / "lot"
    marker = tmp_path / "code_execute"
    payload = pickle.dumps(_Planted(marker))
    cache = _cache_path(data, out)
    cache.parent.mkdir(parents=True)
    old_pickle = cache.with_name(cache.name.replace(CACHE_SUFFIX, ".donnees.pkl"))
    old_pickle.write_bytes(payload)  # where earlier versions kept their cache
    cache.write_bytes(payload)  # and planted under the current cache's own name

    result = run_batch(data, out, codes=["29", "56"], options=BatchOptions(
        jobs=1, notebook=str(_notebook(tmp_path / "essai_lot.ipynb")), synthesis=False))
    assert [o.status for o in result.outcomes] == [OK, OK]
    assert "Finistère" in (out / "essai_29.html").read_text(encoding="utf-8")
    assert not marker.exists()  # ...but never by the batch or its notebooks
    assert not old_pickle.exists()
    assert read_data_cache(cache).territoires["code_territoire"].tolist() == \
        ["22", "29", "35", "56"]

    old_pickle.write_bytes(payload)
    with pytest.raises(PtsmError):  # a pickle is no data folder nor cache: refused
        load_data(old_pickle)
    fake = tmp_path / f"piege{CACHE_SUFFIX}"
    fake.write_bytes(payload)
    with pytest.raises(DataCacheError, match="illisible.*piege.donnees.zip"):
        load_data(fake)
    assert not marker.exists()


def test_a_truncated_cache_is_rebuilt_and_the_batch_succeeds(tmp_path):
    data = _folder(tmp_path / "donnees")
    out = tmp_path / "lot"
    options = BatchOptions(jobs=1, notebook=str(_notebook(tmp_path / "essai_lot.ipynb")),
                           synthesis=False, force=True)
    run_batch(data, out, codes=["22"], options=options)
    cache = _cache_path(data, out)
    content = cache.read_bytes()
    cache.write_bytes(content[: len(content) // 2])  # a full disk, a killed copy...
    with pytest.raises(DataCacheError, match="tronquée"):
        read_data_cache(cache)

    again = run_batch(data, out, codes=["22", "35"], options=options)
    assert [o.status for o in again.outcomes] == [OK, OK]
    assert read_data_cache(cache).territoires is not None
    assert "Ille-et-Vilaine" in (out / "essai_35.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("damage", ["garbage", "altered", "other_version"])
def test_a_cache_that_does_not_read_says_so_in_french_and_is_rewritten(tmp_path, damage):
    data_dir = _folder(tmp_path / "donnees", TERRITOIRES + "99;Doublon;53;departement;29\n")
    data = read_folder(data_dir)
    assert data.problems  # the problems travel with the tables
    state = tmp_path / STATE_DIR
    state.mkdir()
    cache = state / f"{'0' * 16}{CACHE_SUFFIX}"
    write_data_cache(data, cache)
    back = read_data_cache(cache)
    assert back.problems == data.problems and back.path == data.path
    assert back.territoires.equals(data.territoires)

    content = cache.read_bytes()
    if damage == "garbage":
        cache.write_bytes(os.urandom(len(content)))
    elif damage == "altered":  # one byte of a table changed: the CRC no longer matches
        middle = content.index(b"PAR1") + 40
        cache.write_bytes(content[:middle] + bytes([content[middle] ^ 0xFF])
                          + content[middle + 1:])
    else:  # written by another version of ptsm-diag, whose rules may differ
        import json
        import zipfile

        with zipfile.ZipFile(cache) as archive:
            members = {name: archive.read(name) for name in archive.namelist()}
        manifest = json.loads(members["manifeste.json"])
        members["manifeste.json"] = json.dumps({**manifest, "ptsm_diag": "0.0.1"}).encode()
        with zipfile.ZipFile(cache, "w") as archive:
            for name, member in members.items():
                archive.writestr(name, member)
    with pytest.raises(DataCacheError) as error:
        read_data_cache(cache)
    assert str(cache) in str(error.value) and "Relancez ptsm-diag batch" in str(error.value)

    batch_module._cache_data(data, state, "0" * 64)  # what a batch does before any kernel
    assert read_data_cache(cache).territoires.equals(data.territoires)


# --- 6. file names -------------------------------------------------------------------------


def _decode(stem: str) -> str:
    """Read a territory code back from its file stem (proves the mapping injective)."""
    if stem == "_":  # the empty code
        return ""
    out = bytearray()
    i = 0
    while i < len(stem):
        if stem[i] == "_":
            out.append(int(stem[i + 1:i + 3], 16))
            i += 3
        else:
            out += stem[i].encode("ascii")
            i += 1
    return out.decode("utf-8")


def test_file_names_keep_usual_codes_and_never_merge_two_codes():
    for code in ("29", "2A", "2B", "971", "01", "PTSM-35", "53.1"):
        assert safe_file_stem(code) == code  # today's file names
    tricky = ["x", "../x", "./x", "T 1", "T_1", "T-1", "T/1", "t 1", "Brest Métropole",
              "CON", "_43ON", "..", ".", "", "a.", "a..b", "x" * 300, "x" * 301, "é" * 120,
              "\\x", "x\n", "%2F", "_2F"]
    stems = [safe_file_stem(code) for code in tricky]
    assert len(set(stems)) == len(tricky)  # injective
    for code, stem in zip(tricky, stems, strict=True):
        assert re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", stem) and not stem.startswith(".")
        assert not stem.endswith(".") and ".." not in stem
        if "__" not in stem:  # not shortened: the code reads back from its file name
            assert _decode(stem) == code


def test_codes_that_would_share_a_file_are_refused_before_any_kernel(tmp_path, monkeypatch):
    data = _folder(tmp_path / "donnees", TERRITOIRES + "2a;Essai minuscule;94;departement;2A\n"
                   "2A;Essai majuscule;94;departement;2A\nsynthese;Essai;53;departement;29\n")

    def no_kernel(*_args, **_kwargs):
        raise AssertionError("un noyau a été démarré")

    monkeypatch.setattr(WarmKernel, "acquire", no_kernel)
    monkeypatch.setattr(batch_module, "execute_jobs", no_kernel)
    out = tmp_path / "lot"
    with pytest.raises(FileNameCollisionError) as error:
        run_batch(data, out, codes=["29", "2a", "2A", "synthese"])
    message = str(error.value)
    assert "« 2A » et « 2a » → diagnostic_2A.html" in message
    assert "« synthese » et la synthèse du lot" in message
    assert "Rien n'a été lancé" in message
    assert sorted(p.name for p in (out / STATE_DIR).iterdir()) == [LOCK_FILE]  # nothing else
    assert not (out / "index.html").exists()
    assert main(["batch", "--donnees", str(data), "--territoires", "2a,2A", "--sortie",
                 str(out)]) == 1
    assert check_file_names([("2a", ""), ("29", "")], "diagnostic") == {"2a": "2a", "29": "29"}


def test_codes_once_merged_get_their_own_reports_error_pages_and_links(tmp_path):
    data = _folder(tmp_path / "donnees", TERRITOIRES.splitlines()[0] + "\n"
                   "x;Essai x;53;departement;29\n../x;Essai point;53;departement;22\n"
                   "T 1;Essai espace;53;departement;35\nT_1;Essai souligné;53;departement;56\n")
    out = tmp_path / "lot"
    result = run_batch(data, out, options=BatchOptions(
        jobs=1, notebook=str(_notebook(tmp_path / "essai_lot.ipynb", fail_on="../x")),
        synthesis=False))
    statuses = {o.code: o.status for o in result.outcomes}
    assert statuses == {"x": OK, "../x": "échec", "T 1": OK, "T_1": OK}
    assert "Essai espace" in (out / "essai_T_201.html").read_text(encoding="utf-8")
    assert "Essai souligné" in (out / "essai_T_5F1.html").read_text(encoding="utf-8")
    assert "Essai x" in (out / "essai_x.html").read_text(encoding="utf-8")
    error_page = (out / "erreurs" / "_2E_2E_2Fx.html").read_text(encoding="utf-8")
    assert "échec demandé pour ../x" in error_page
    assert not (out / "erreurs" / "x.html").exists()
    logs = {p.name for p in (out / "journaux").iterdir()}
    assert {"x.log", "_2E_2E_2Fx.log", "T_201.log", "T_5F1.log"} <= logs
    assert "../x" not in (out / "journaux" / "x.log").read_text(encoding="utf-8")
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="essai_x.html"' in index and 'href="erreurs/_2E_2E_2Fx.html"' in index
    links = re.findall(r'href="([^"]+)"', index)
    reports = [link for link in links if not link.startswith("journaux/")]
    logs_linked = [link for link in links if link.startswith("journaux/")]
    assert len(reports) == len(set(reports)) == 4  # one file per territory
    assert len(logs_linked) == len(set(logs_linked)) == 4  # and one log each


# --- 15. processes die with the batch ----------------------------------------------------


def _gone(process) -> bool:
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SIGKILL et prctl : Linux")
@pytest.mark.parametrize("where", ["processus", "noyaux"])
def test_killing_the_batch_kills_its_workers_and_kernels(tmp_path, where):
    data = _folder(tmp_path / "donnees")
    out = tmp_path / "lot"
    notebook = _notebook(tmp_path / "essai_lot.ipynb", sleep=20)
    command = [sys.executable, "-m", "ptsm_diag.cli", "batch", "--donnees", str(data),
               "--tous", "--sortie", str(out), "--jobs", "2", "--notebook", str(notebook),
               "--sans-synthese", *(["--noyaux"] if where == "noyaux" else [])]
    batch = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children: list = []
    try:
        deadline = time.monotonic() + 180
        # two workers running a notebook: in their kernels, or in themselves (their logs)
        marker = "ipykernel" if where == "noyaux" else "multiprocessing"
        while time.monotonic() < deadline:
            children = psutil.Process(batch.pid).children(recursive=True)
            running = [c for c in children if marker in " ".join(_cmdline(c))]
            if len(running) >= 2 and (where == "noyaux"
                                      or len(list(out.glob("journaux/*.log"))) >= 2):
                break
            time.sleep(0.5)
        assert len(running) >= 2, "les processus du lot n'ont pas démarré"
        batch.send_signal(signal.SIGKILL)  # the batch alone, not its process group
        batch.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not all(_gone(c) for c in children):
            time.sleep(0.2)
        alive = [(c.pid, _cmdline(c)[:3]) for c in children if not _gone(c)]
        assert alive == []
        assert not list(out.glob("essai_*.html"))  # nothing written after the batch died
    finally:
        for child in children:
            if not _gone(child):
                child.kill()
        if batch.poll() is None:
            batch.kill()


def test_the_progress_bar_never_lands_in_a_report_made_in_the_batch_process(
        tmp_path, monkeypatch, capsys):
    """With --jobs 1 a notebook's cells run in the command's process, with ``sys.stdout``
    recording into the report; the progress bar, refreshed meanwhile by its thread in a
    terminal, must keep writing to the terminal."""
    from rich.console import Console

    monkeypatch.setattr(Console, "is_terminal", property(lambda self: True))
    data = _folder(tmp_path / "donnees")
    out = tmp_path / "lot"
    notebook = _notebook(tmp_path / "essai_lot.ipynb", sleep=0.6)
    code = main(["batch", "--donnees", str(data), "--territoires", "35", "--sortie", str(out),
                 "--jobs", "1", "--notebook", str(notebook), "--sans-synthese"])
    assert code == 0
    report = (out / "essai_35.html").read_text(encoding="utf-8")
    assert "Territoire &#39;35&#39;" in report or "Territoire '35'" in report
    assert "Rapports" not in report and "réussis" not in report
    assert "réussis" in capsys.readouterr().out  # the bar was drawn, on the terminal


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signaux POSIX")
def test_ctrl_c_stops_a_batch_running_notebooks_in_its_own_process(tmp_path):
    """Ctrl-C during a notebook's cell stops the batch (exit code 130, « Interrompu. »)
    instead of failing that territory and going on with the next ones."""
    data = _folder(tmp_path / "donnees")
    out = tmp_path / "lot"
    notebook = _notebook(tmp_path / "essai_lot.ipynb", sleep=20)
    batch = subprocess.Popen(
        [sys.executable, "-m", "ptsm_diag.cli", "batch", "--donnees", str(data), "--tous",
         "--sortie", str(out), "--jobs", "1", "--notebook", str(notebook), "--sans-synthese"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list(out.glob("journaux/*.log")):
            time.sleep(0.2)
        time.sleep(1)  # inside the notebook's sleeping cell
        started = time.monotonic()
        batch.send_signal(signal.SIGINT)
        output, _ = batch.communicate(timeout=60)
        assert batch.returncode == 130, output
        assert "Interrompu" in output
        assert time.monotonic() - started < 15  # not after every territory's 20 s
        assert not list(out.glob("erreurs/*.html"))  # no territory recorded as failed
    finally:
        if batch.poll() is None:
            batch.kill()


def _cmdline(process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


# --- 16. one batch at a time in an output folder ------------------------------------------


def _hold_lock(out: Path) -> subprocess.Popen:
    code = ("import sys, time\nfrom pathlib import Path\n"
            "from ptsm_diag.report.batch import output_folder_lock\n"
            "with output_folder_lock(Path(sys.argv[1])):\n"
            "    print('verrou pris', flush=True)\n    time.sleep(120)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "verrou pris"
    return holder


def test_a_second_batch_on_a_locked_folder_stops_and_names_the_first(tmp_path, capsys):
    data = _folder(tmp_path / "donnees")
    out = tmp_path / "lot"
    options = BatchOptions(jobs=1, notebook=str(_notebook(tmp_path / "essai_lot.ipynb")),
                           synthesis=False)
    holder = _hold_lock(out)
    try:
        with pytest.raises(BatchLockedError) as error:
            run_batch(data, out, codes=["29"], options=options)
        message = str(error.value)
        assert f"processus {holder.pid}" in message
        assert str(out / STATE_DIR / LOCK_FILE) in message
        assert "déjà utilisé" in message
        assert error.value.pid == holder.pid
        assert not list(out.glob("*.html"))  # nothing run, nothing written
        assert main(["batch", "--donnees", str(data), "--territoires", "29", "--sortie",
                     str(out), "--notebook", options.notebook, "--sans-synthese"]) == 1
        assert f"processus {holder.pid}" in capsys.readouterr().err
    finally:
        holder.kill()  # SIGKILL: the holder cannot release anything itself
        holder.wait()

    seen: list[str] = []
    result = run_batch(data, out, codes=["29"], options=options, on_start=lambda _n: seen.append(
        (out / STATE_DIR / LOCK_FILE).read_text(encoding="utf-8")))
    assert [o.status for o in result.outcomes] == [OK]  # a dead holder's lock is taken over
    assert f'"pid": {os.getpid()}' in seen[0]


def test_a_lock_file_left_by_a_dead_batch_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    out = tmp_path / "lot"
    lock = out / STATE_DIR / LOCK_FILE
    lock.parent.mkdir(parents=True)
    lock.write_text(f'{{"pid": {dead_pid}, "debut": "2026-01-01T08:00:00"}}', encoding="utf-8")
    with output_folder_lock(out) as path:
        assert path == lock
        assert f'"pid": {os.getpid()}' in lock.read_text(encoding="utf-8")
        # the same folder, even from the same process
        with pytest.raises(BatchLockedError, match=f"processus {os.getpid()}"), \
                output_folder_lock(out):
            pass
    with output_folder_lock(out):  # released at the end of the block
        pass
