"""A batch of reports: one per territory, in parallel, never losing finished work.

The data folder is validated once, in the parent, before any kernel starts; its
accepted tables are cached (Parquet tables in a ZIP, keyed by content hash, never a
pickle: see :mod:`ptsm_diag.io.data_cache`) in the output folder, so each notebook reads them
in a fraction of a second; a cache that does not read is rebuilt. Reports run in worker
processes (papermill is multi-process safe, not thread-safe) that die with the batch, and
so do their Jupyter kernels (:mod:`ptsm_diag.report.lifeline`). A failing territory gets an error
page and the batch goes on. Every file is written atomically; a territory whose inputs,
parameters and notebook have not changed since its last success is skipped (unless
``force``). An ``index.html`` lists every territory with its status and key figures.

One batch at a time writes in an output folder: it holds ``.ptsm-lot/verrou``
(:func:`output_folder_lock`); a second batch on the same folder stops at once and names
the first one's process. Each territory code has its own file names
(:func:`~ptsm_diag.report.execute.safe_file_stem` is injective); codes whose files would still
collide (``2a`` and ``2A`` on a case-insensitive disk) are refused before anything runs.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import re
import socket
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import datetime
from multiprocessing import get_context
from multiprocessing.util import Finalize
from pathlib import Path
from typing import Any

import pandas as pd
from jupyter_client.manager import KernelManager

from ptsm_diag import __version__
from ptsm_diag.errors import PtsmError, ReportError, UnknownCodeError
from ptsm_diag.io.data_cache import CACHE_SUFFIX, DataCacheError, read_data_cache, write_data_cache
from ptsm_diag.io.files import OutputWriteError
from ptsm_diag.io.sources import DataFolder, read_folder
from ptsm_diag.report.execute import (
    NotebookRunner,
    ReportOptions,
    WarmKernel,
    notebook_parameters,
    notebook_path,
    render_report,
    safe_file_stem,
    write_atomic,
)
from ptsm_diag.report.inprocess import InProcessShell, can_run_in_process
from ptsm_diag.report.lifeline import guarded_command
from ptsm_diag.report.startup import init_worker
from ptsm_diag.report.summary import (
    batch_index_html,
    error_page_html,
    territory_key_figures,
    territory_signals,
)

try:  # the lock of an output folder: flock on Linux and macOS, msvcrt on Windows
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
try:
    import msvcrt  # type: ignore[import-not-found]
except ImportError:
    msvcrt = None  # type: ignore[assignment]

STATE_DIR = ".ptsm-lot"
LOCK_FILE = "verrou"
OLD_PICKLE_SUFFIX = ".donnees.pkl"  # caches of earlier versions: deleted, never read

OK, FAILED, UNCHANGED = "réussi", "échec", "inchangé"

_WORKER_KERNELS: dict[str, WarmKernel] = {}  # one reused kernel per worker process


class GuardedKernelManager(KernelManager):
    """A kernel manager whose kernels die with the process that started them (Linux:
    parent-death signal armed by :mod:`ptsm_diag.report.lifeline` before the kernel starts)."""

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        """The kernel command, run through :func:`ptsm_diag.report.lifeline.guarded_command`."""
        return guarded_command(super().format_kernel_cmd(extra_arguments))


_WORKER_SHELL = InProcessShell()  # this process's shell, when notebooks run in it


def worker_runner(in_process: bool, reuse_kernel: bool) -> NotebookRunner | None:
    """Where this worker runs its notebooks: in this process (``in_process``, when
    :func:`ptsm_diag.report.inprocess.can_run_in_process`), else on its reused kernel
    (``reuse_kernel``), else on a fresh kernel per notebook (None)."""
    if in_process and can_run_in_process():
        return _WORKER_SHELL
    return _worker_kernel() if reuse_kernel else None


def _worker_kernel(kernel_name: str = "python3") -> WarmKernel:
    """This worker's reused kernel, shut down when the worker process exits (and killed
    by the system when the worker dies without shutting it down)."""
    if kernel_name not in _WORKER_KERNELS:
        kernel = WarmKernel(kernel_name)
        kernel.manager_class = GuardedKernelManager
        _WORKER_KERNELS[kernel_name] = kernel
        Finalize(kernel, kernel.discard, exitpriority=10)  # pool workers skip atexit
        atexit.register(kernel.discard)
    return _WORKER_KERNELS[kernel_name]


@dataclass(frozen=True)
class BatchOptions:
    """How a batch runs.

    Attributes
    ----------
    jobs : int
        Worker processes (default: the number of cores).
    force : bool
        Re-run territories whose inputs have not changed.
    notebook : str
        Notebook of ``notebooks/`` to run for each territory.
    parameters : dict
        Extra notebook parameters, the same for every territory (``reference``, ``fond``).
    timeout : int
        Seconds a notebook cell may run.
    shared_assets : bool
        Reports link plotly.js and Leaflet from one ``assets/`` folder (smaller reports).
    pdf : bool
        Also print each report to PDF with headless Chromium.
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:8786``) to run the reports
        on; default: local worker processes.
    in_process : bool
        Each worker runs its notebooks in its own process, on an IPython shell cleared
        between two reports, instead of a Jupyter kernel (see
        :mod:`ptsm_diag.report.inprocess`): a third faster. A notebook that crashes the
        interpreter then stops its worker, not only its report. Where it cannot (a Dask
        worker's thread, Windows, a batch started from a notebook), kernels run them.
    reuse_kernel : bool
        On kernels: each worker reuses one Jupyter kernel for its successive reports
        (namespace cleared in between; see :class:`ptsm_diag.report.execute.WarmKernel`).
    synthesis : bool
        Also produce the synthesis of the batch's territories (``synthese.html``).
    """

    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    force: bool = False
    notebook: str = "diagnostic_territorial.ipynb"
    parameters: dict[str, str] = field(default_factory=dict)
    timeout: int = 600
    shared_assets: bool = False
    pdf: bool = False
    scheduler: str | None = None
    in_process: bool = True
    reuse_kernel: bool = True
    synthesis: bool = True


@dataclass(frozen=True)
class TerritoryJob:
    """One territory's report: everything a worker needs (picklable)."""

    code: str
    name: str
    data_cache: Path
    out_dir: Path
    report_name: str
    log_path: Path
    state_path: Path
    error_path: Path
    fingerprint: str
    notebook: str
    parameters: dict[str, str]
    timeout: int
    shared_assets: bool = False
    pdf: bool = False
    in_process: bool = True
    reuse_kernel: bool = True
    gaps_export: str | None = None  # gaps workbook written beside the report
    gaps_in_notebook: bool = False  # the notebook writes it (parameter insuffisances_xlsx)
    reference: str = "france"


@dataclass(frozen=True)
class TerritoryOutcome:
    """What happened to one territory."""

    code: str
    name: str
    status: str
    report: str | None
    error: str | None
    seconds: float
    made_at: str | None = None  # when the report was made (ISO), kept across reruns
    log: str | None = None  # log file, relative to the output folder


@dataclass
class BatchResult:
    """The outcome of a batch."""

    out_dir: Path
    outcomes: list[TerritoryOutcome]
    index: Path
    seconds: float
    synthesis: TerritoryOutcome | None = None

    @property
    def failed(self) -> list[TerritoryOutcome]:
        """Territories whose report failed (and the synthesis, when it failed)."""
        every = [*self.outcomes, *([self.synthesis] if self.synthesis else [])]
        return [o for o in every if o.status == FAILED]


def fingerprint_folder(folder: Path) -> str:
    """Content hash of every file of a data folder (names and bytes)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).iterdir() if p.is_file()):
        digest.update(path.name.encode("utf-8"))
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _job_fingerprint(data_hash: str, notebook: Path, code: str, options: BatchOptions) -> str:
    digest = hashlib.sha256()
    for part in (data_hash, hashlib.sha256(notebook.read_bytes()).hexdigest(), code,
                 json.dumps(options.parameters, sort_keys=True), __version__,
                 f"assets={options.shared_assets},pdf={options.pdf}"):
        digest.update(part.encode("utf-8"))
    return digest.hexdigest()


def select_territories(
    territoires: pd.DataFrame,
    codes: Iterable[str] | None = None,
    region: str | None = None,
    regions: dict[str, str] | None = None,
) -> list[tuple[str, str]]:
    """(code, name) of the territories to run: listed codes, a région's, or all.

    Raises
    ------
    UnknownCodeError
        Listing every requested code that is not in the ``territoires`` table.
    """
    table = territoires.assign(code_territoire=territoires["code_territoire"].astype(str))
    names = table.drop_duplicates("code_territoire").set_index("code_territoire")[
        "nom_territoire"].astype(str)
    if codes:
        wanted = [str(c).strip() for c in codes]
        unknown = [c for c in wanted if c not in names.index]
        if unknown:
            raise UnknownCodeError("territoire", unknown,
                                   hint="Les codes possibles sont ceux de territoires.csv.")
        return [(c, names[c]) for c in dict.fromkeys(wanted)]
    if region:
        chosen = [c for c in names.index if (regions or {}).get(c) == str(region)]
        if not chosen:
            raise UnknownCodeError("région", [str(region)],
                                   hint="Aucun territoire du dossier n'est dans cette région.")
        return [(c, names[c]) for c in chosen]
    return list(names.items())


def _logger(log_path: Path) -> logging.Logger:
    logger = logging.getLogger(f"ptsm_diag.report.batch.{log_path.stem}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = logging.FileHandler(log_path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    return logger


def run_territory(job: TerritoryJob) -> TerritoryOutcome:
    """Produce one territory's report (runs in a worker process); never raises."""
    started = time.perf_counter()
    job.log_path.parent.mkdir(parents=True, exist_ok=True)
    log = _logger(job.log_path)
    log.info("territoire %s (%s), notebook %s, paramètres %s, processus %d",
             job.code, job.name, job.notebook, job.parameters, os.getpid())
    try:
        path = render_report(
            job.code, job.data_cache, job.out_dir,
            parameters=job.parameters,
            options=ReportOptions(notebook=job.notebook, timeout=job.timeout,
                                  shared_assets=job.shared_assets),
            file_name=job.report_name,
            runner=worker_runner(job.in_process, job.reuse_kernel),
        )
        if job.pdf:
            from ptsm_diag.report.browser import html_to_pdf

            html_to_pdf(path)
        if job.gaps_export and not job.gaps_in_notebook:
            write_gaps_export(job.code, job.data_cache, path.with_name(job.gaps_export),
                              job.reference)
        seconds = time.perf_counter() - started
        made_at = datetime.now().isoformat(timespec="seconds")
        write_atomic(job.state_path, json.dumps(
            {"empreinte": job.fingerprint, "rapport": path.name, "secondes": seconds,
             "date": made_at}, ensure_ascii=False))
        job.error_path.unlink(missing_ok=True)
        log.info("rapport écrit : %s (%.1f s)", path, seconds)
        return TerritoryOutcome(job.code, job.name, OK, path.name, None, seconds, made_at,
                                _log_name(job.log_path))
    except Exception as exc:  # a failing territory must not stop the batch
        message = str(exc) if isinstance(exc, PtsmError) else f"{type(exc).__name__} : {exc}"
        log.error("échec : %s\n%s", message, traceback.format_exc())
        cell = exc.cell_index if isinstance(exc, ReportError) else None
        write_atomic(job.error_path, error_page_html(job.code, job.name, message, cell,
                                                     job.log_path.name))
        job.state_path.unlink(missing_ok=True)
        return TerritoryOutcome(job.code, job.name, FAILED, None, message,
                                time.perf_counter() - started,
                                datetime.now().isoformat(timespec="seconds"),
                                _log_name(job.log_path))
    finally:
        for handler in list(log.handlers):
            handler.close()
            log.removeHandler(handler)


def write_gaps_export(code: str, data: Path, path: Path, reference: str = "france") -> Path:
    """Write the gaps workbook (XLSX) of one territory at ``path`` (atomically).

    The same analysis as the report's « Insuffisances » section, all gaps included.
    """
    from ptsm_diag.diagnostic import prepare_diagnostic
    from ptsm_diag.report.gaps import export_gaps_xlsx
    from ptsm_diag.report.sections import gap_analysis

    analysis = gap_analysis(prepare_diagnostic(code, data, reference=reference))
    return export_gaps_xlsx(analysis.gaps, path, analysis.config)


def _log_name(log_path: Path) -> str:
    return f"{log_path.parent.name}/{log_path.name}"


def _read_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _unchanged_outcome(job: TerritoryJob) -> TerritoryOutcome | None:
    """The outcome of a territory whose report is up to date (when and how long it took
    to make, as recorded then), or None when it must be made."""
    if not (job.out_dir / job.report_name).is_file():
        return None
    if job.gaps_export and not (job.out_dir / job.gaps_export).is_file():
        return None
    state = _read_state(job.state_path)
    if not state or state.get("empreinte") != job.fingerprint:
        return None
    seconds = state.get("secondes")
    return TerritoryOutcome(job.code, job.name, UNCHANGED, job.report_name, None,
                            float(seconds) if isinstance(seconds, int | float) else 0.0,
                            state.get("date") if isinstance(state.get("date"), str) else None,
                            _log_name(job.log_path))


def _unchanged(job: TerritoryJob) -> bool:
    return _unchanged_outcome(job) is not None


def _cache_data(data: DataFolder, state_dir: Path, data_hash: str) -> Path:
    """Write the validated tables once (the notebooks load them instead of re-validating).

    An existing cache is read back first and rebuilt when it does not read (truncated by
    a full disk, altered, planted): a bad cache never fails the batch. Pickle caches of
    earlier versions are deleted unread.
    """
    for old in state_dir.glob(f"*{OLD_PICKLE_SUFFIX}"):
        old.unlink(missing_ok=True)
    path = state_dir / f"{data_hash[:16]}{CACHE_SUFFIX}"
    if path.is_file():
        try:
            read_data_cache(path)
            return path
        except DataCacheError:
            pass  # rebuilt below
    write_data_cache(data, path)
    return path


# Temporary files of write_atomic_with (".<stem>.<8 random chars><suffix>"), left behind
# only when a batch was killed mid-write.
_STALE_TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]{8}\.(?:html|pdf|json|pkl|zip|ipynb)$")


def remove_stale_temporaries(out_dir: Path) -> list[Path]:
    """Delete the temporary files a killed batch left in ``out_dir`` (never a report)."""
    removed = []
    for folder in (out_dir, out_dir / STATE_DIR, out_dir / "erreurs", out_dir / "assets"):
        if folder.is_dir():
            for path in folder.iterdir():
                if path.is_file() and _STALE_TEMPORARY.match(path.name):
                    path.unlink(missing_ok=True)
                    removed.append(path)
    return removed


class FileNameCollisionError(PtsmError):
    """Territory codes of one batch whose files would be the same file on some disks.

    Parameters
    ----------
    collisions : list of (str, str, str)
        ``(code, other code or what else writes there, file name)`` for each collision.
    """

    def __init__(self, collisions: list[tuple[str, str, str]]) -> None:
        self.collisions = collisions
        case = " (mêmes lettres aux majuscules près : Windows et macOS ne les distinguent pas)"
        listed = " ; ".join(f"« {code} » et {other} → {name}"
                            f"{case if other.startswith('«') else ''}"
                            for code, other, name in collisions)
        super().__init__(
            f"Des territoires du lot écriraient dans le même fichier : {listed}. Rien n'a "
            "été lancé ; donnez-leur des codes distincts dans territoires.csv.")


# What the batch itself writes under a territory-like name (logs, errors, states).
_RESERVED_STEMS = {"synthese": "la synthèse du lot"}


# The notebook whose reports get a gaps workbook beside them (insuffisances_<code>.xlsx,
# the name ptsm_diag.report.gaps.gaps_export_name gives and the report cites).
GAPS_NOTEBOOK = "diagnostic_territorial"
GAPS_PARAMETER = "insuffisances_xlsx"  # its parameter: where the notebook writes the workbook


def report_prefix(notebook: str) -> str:
    """The start of a batch's report names: ``diagnostic`` for ``diagnostic_territorial``."""
    return Path(notebook).stem.split("_")[0]


def check_file_names(territories: Iterable[tuple[str, str]], prefix: str) -> dict[str, str]:
    """The file stem of each territory code, after checking that no two codes of the
    batch share a file, even on a disk that ignores case (Windows, macOS).

    :func:`~ptsm_diag.report.execute.safe_file_stem` never gives two codes the same stem; codes
    differing only by case (``2a``, ``2A``) and a code named like a file of the batch
    itself (``synthese``) are what is left to refuse. Nothing is written.

    Raises
    ------
    FileNameCollisionError
        Listing every collision, in French.
    """
    stems: dict[str, str] = {}
    seen: dict[str, str] = {}
    collisions: list[tuple[str, str, str]] = []
    for code, _name in territories:
        stem = safe_file_stem(code)
        stems[code] = stem
        key = stem.casefold()
        if key in _RESERVED_STEMS:
            collisions.append((code, _RESERVED_STEMS[key], f"erreurs/{stem}.html"))
        elif key in seen:
            collisions.append((code, f"« {seen[key]} »", f"{prefix}_{stem}.html"))
        else:
            seen[key] = code
    if collisions:
        raise FileNameCollisionError(collisions)
    return stems


def plan_jobs(
    data: DataFolder,
    data_hash: str,
    territories: list[tuple[str, str]],
    out_dir: Path,
    options: BatchOptions,
) -> list[TerritoryJob]:
    """The job of each territory, with paths kept inside ``out_dir``.

    Raises
    ------
    FileNameCollisionError
        Before anything is written, when two territories would share a file.
    """
    prefix = report_prefix(options.notebook)
    stems = check_file_names(territories, prefix)
    state_dir = out_dir / STATE_DIR
    state_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out_dir)
    cache = _cache_data(data, state_dir, data_hash)
    notebook = notebook_path(options.notebook)
    # Every report of the batch runs the notebook as it was when the batch started, even
    # if someone edits it meanwhile: the fingerprints then say the truth.
    content = notebook.read_bytes()
    snapshot = state_dir / f"{notebook.stem}-{hashlib.sha256(content).hexdigest()[:12]}.ipynb"
    if not snapshot.is_file():
        write_atomic(snapshot, content)
    from ptsm_diag.report.gaps import gaps_export_name  # folium: loaded only here

    # The diagnostic notebook writes its gaps workbook from the analysis it shows (one
    # computation); an older notebook without that parameter gets it written after.
    gaps_in_notebook = GAPS_PARAMETER in notebook_parameters(snapshot)
    jobs = []
    for code, name in territories:
        stem = stems[code]
        gaps_export = (gaps_export_name(code) if Path(options.notebook).stem == GAPS_NOTEBOOK
                       else None)
        parameters = dict(options.parameters)
        if gaps_export and gaps_in_notebook:
            parameters[GAPS_PARAMETER] = str(out_dir / gaps_export)
        job = TerritoryJob(
            code=code, name=name, data_cache=cache, out_dir=out_dir,
            report_name=f"{prefix}_{stem}.html",
            log_path=out_dir / "journaux" / f"{stem}.log",
            state_path=state_dir / f"{stem}.json",
            error_path=out_dir / "erreurs" / f"{stem}.html",
            fingerprint=_job_fingerprint(data_hash, notebook, code, options),
            notebook=str(snapshot), parameters=parameters,
            timeout=options.timeout, shared_assets=options.shared_assets, pdf=options.pdf,
            in_process=options.in_process, reuse_kernel=options.reuse_kernel,
            gaps_export=gaps_export,
            gaps_in_notebook=gaps_export is not None and gaps_in_notebook,
            reference=str(options.parameters.get("reference", "france")),
        )
        for path in (job.log_path, job.state_path, job.error_path, out_dir / job.report_name):
            if out_dir.resolve() not in path.resolve().parents:
                raise PtsmError(f"Chemin de sortie hors du dossier de sortie : {path}")
        jobs.append(job)
    return jobs


class BatchLockedError(PtsmError):
    """Another batch is writing in the same output folder.

    Parameters
    ----------
    lock_path : Path
        The lock file.
    holder : dict
        What the holder wrote in it: ``pid``, ``debut`` (ISO date), ``machine``.
    """

    def __init__(self, lock_path: Path, holder: dict[str, Any]) -> None:
        self.lock_path = Path(lock_path)
        self.holder = holder
        self.pid = holder.get("pid")
        who = f"le lot du processus {self.pid}" if self.pid else "un autre lot"
        if holder.get("machine") and holder.get("machine") != socket.gethostname():
            who += f" (machine {holder['machine']})"
        since = ""
        with suppress(KeyError, ValueError):
            started = datetime.fromisoformat(str(holder["debut"]))
            since = started.strftime(" commencé le %d/%m/%Y à %H:%M")
        super().__init__(
            f"Le dossier de sortie {self.lock_path.parent.parent} est déjà utilisé par {who}"
            f"{since} (verrou : {self.lock_path}). Attendez la fin de ce lot ou choisissez un "
            "autre dossier avec --sortie ; le verrou se libère tout seul quand ce lot "
            "s'arrête, même interrompu.")

    def __reduce__(self) -> tuple[type, tuple[Path, dict[str, Any]]]:
        return (type(self), (self.lock_path, self.holder))


_WINDOWS_LOCK_OFFSET = 1 << 30  # msvcrt locks bytes: lock one far past the holder's note


def _try_lock(fd: int) -> bool:
    """Take the lock without waiting; False when another process holds it."""
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    if msvcrt is not None:  # pragma: no cover - Windows
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    return True  # pragma: no cover - no file lock on this system


def _unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    elif msvcrt is not None:  # pragma: no cover - Windows
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


def _lock_holder(fd: int) -> dict[str, Any]:
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        holder = json.loads(os.read(fd, 4096).decode("utf-8"))
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


@contextmanager
def output_folder_lock(out_dir: Path) -> Iterator[Path]:
    """Hold the lock of a batch output folder (``.ptsm-lot/verrou``) for a ``with`` block.

    The lock is the operating system's (``flock`` on Linux and macOS, ``msvcrt.locking``
    on Windows): it is released when the process ends, however it ends, so a lock left by
    a killed batch is simply taken over; the file keeps the holder's process id, start
    date and machine for the message of a second batch. On a network folder the lock
    holds as far as the file system honours it (NFS v4 and SMB do).

    Raises
    ------
    BatchLockedError
        At once, when another batch holds the lock (its process id in the message).
    OutputWriteError
        When the lock file cannot be created (read-only folder...).
    """
    path = Path(out_dir) / STATE_DIR / LOCK_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise OutputWriteError(path, exc) from exc
    try:
        if not _try_lock(fd):
            raise BatchLockedError(path, _lock_holder(fd))
        try:
            note = {"pid": os.getpid(), "debut": datetime.now().isoformat(timespec="seconds"),
                    "machine": socket.gethostname()}
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, json.dumps(note).encode("utf-8"))
            yield path
        finally:
            os.ftruncate(fd, 0)  # released: no process id left to mislead anyone
            _unlock(fd)
    finally:
        os.close(fd)


def run_batch(
    donnees: str | Path,
    sortie: str | Path,
    *,
    codes: Iterable[str] | None = None,
    region: str | None = None,
    options: BatchOptions | None = None,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[TerritoryOutcome], None] | None = None,
) -> BatchResult:
    """Produce the reports of many territories, then the batch index.

    Parameters
    ----------
    donnees : path
        Data folder in the template format (validated once, before any kernel starts).
    sortie : path
        Output folder: reports, ``erreurs/``, ``journaux/``, ``index.html``.
    codes : iterable of str, optional
        Territory codes; with ``region`` None and no codes, every territory.
    region : str, optional
        Only the territories whose main région has this code.
    options : BatchOptions, optional
        Jobs, force, notebook, parameters.
    on_start, on_done : callable, optional
        Progress callbacks: number of territories to run; each outcome.

    Raises
    ------
    InputError
        When the data folder has errors (nothing is run).
    UnknownCodeError
        When a requested territory or région is unknown (nothing is run).
    FileNameCollisionError
        When two territories would write the same file (nothing is run).
    BatchLockedError
        When another batch is writing in ``sortie`` (nothing is run or written).
    """
    options = options or BatchOptions()
    out_dir = Path(sortie).resolve()
    with output_folder_lock(out_dir):
        return _run_batch_locked(Path(donnees), out_dir, codes, region, options, on_start,
                                 on_done)


def _run_batch_locked(
    folder: Path,
    out_dir: Path,
    codes: Iterable[str] | None,
    region: str | None,
    options: BatchOptions,
    on_start: Callable[[int], None] | None,
    on_done: Callable[[TerritoryOutcome], None] | None,
) -> BatchResult:
    from ptsm_diag.compute.territory import main_regions

    started = time.perf_counter()
    data = read_folder(folder)
    if data.territoires is None:
        raise PtsmError(f"Le dossier {folder} ne contient pas de fichier territoires.csv")
    regions = main_regions(data.territoires)
    territories = select_territories(data.territoires, codes, region, regions)
    options = _with_default_reference(options, region)
    data_hash = fingerprint_folder(folder)
    jobs = plan_jobs(data, data_hash, territories, out_dir, options)

    outcomes: dict[str, TerritoryOutcome] = {}
    synthesis: TerritoryOutcome | None = None
    todo = []
    for job in jobs:
        kept = None if options.force else _unchanged_outcome(job)
        if kept is not None:
            outcomes[job.code] = kept
        else:
            todo.append(job)
    if on_start:
        on_start(len(todo))
    for outcome in outcomes.values():
        if on_done:
            on_done(outcome)
    pool: list[TerritoryJob | SynthesisJob] = list(todo)
    if options.synthesis and jobs:  # the longest job: first, alongside the reports
        pool.insert(0, SynthesisJob(jobs[0].data_cache, out_dir,
                                    tuple(c for c, _ in territories), data_hash, options))
    try:
        for outcome in execute_jobs(pool, options):
            if outcome.code == SYNTHESIS_CODE and outcome.code not in outcomes:
                synthesis = outcome
            else:
                outcomes[outcome.code] = outcome
            if on_done:
                on_done(outcome)
    finally:
        ordered = [outcomes[j.code] for j in jobs if j.code in outcomes]
        index = out_dir / "index.html"
        chosen = [code for code, _ in territories]
        figures = territory_key_figures(data, chosen)
        figures["code_region"] = pd.Series({code: regions.get(code) for code in chosen},
                                           dtype=object)
        try:
            signals = territory_signals(data, chosen,
                                        options.parameters.get("reference", "france"))
        except Exception:  # the index is written whatever: « n.d. » instead of a signal
            signals = None
        write_atomic(index, batch_index_html(ordered, figures, folder, data_hash,
                                             datetime.now(), synthesis=synthesis,
                                             region=region, signals=signals))
    return BatchResult(out_dir, ordered, index, time.perf_counter() - started, synthesis)


SYNTHESIS_CODE = "synthèse"
SYNTHESIS_FILE = "synthese.html"
ROADMAP_NOTEBOOK = "suivi_feuille_de_route.ipynb"


def _with_default_reference(options: BatchOptions, region: str | None) -> BatchOptions:
    """The options with a ``reference`` parameter: the one given, else the région for the
    roadmap follow-up of a regional batch (its territories are compared with their
    région's, not with every territory), else France."""
    if options.parameters.get("reference"):
        return options
    roadmap = Path(options.notebook).name == ROADMAP_NOTEBOOK
    reference = "region" if region and roadmap else "france"
    return replace(options, parameters={**options.parameters, "reference": reference})


@dataclass(frozen=True)
class SynthesisJob:
    """The synthesis of a batch's territories: a job of the pool like a report (picklable),
    submitted first so that it runs alongside the reports instead of after them."""

    data_cache: Path
    out_dir: Path
    codes: tuple[str, ...]
    data_hash: str
    options: BatchOptions
    code: str = SYNTHESIS_CODE

    @property
    def fingerprint(self) -> str:
        """Key of the job (Dask)."""
        return self.data_hash[:16]


def run_job(job: TerritoryJob | SynthesisJob) -> TerritoryOutcome:
    """Run a report or the synthesis (in a worker process); never raises."""
    if isinstance(job, SynthesisJob):
        return run_synthesis(job.data_cache, job.out_dir, list(job.codes), job.data_hash,
                             job.options)
    return run_territory(job)


def run_synthesis(data_cache: Path, out_dir: Path, codes: list[str], data_hash: str,
                  options: BatchOptions) -> TerritoryOutcome:
    """The synthesis of the batch's territories, with the same guarantees as a report:
    skipped when unchanged, an error page instead of an exception. In a batch worker it
    runs where the worker's reports run (:func:`worker_runner`)."""
    from ptsm_diag.report.regional import render_synthesis

    started = time.perf_counter()
    notebook = notebook_path("synthese_regionale.ipynb")
    fingerprint = _job_fingerprint(data_hash, notebook, ",".join(codes), options)
    state = out_dir / STATE_DIR / "synthese.json"
    error_path = out_dir / "erreurs" / "synthese.html"
    name = f"Synthèse des {len(codes)} territoires"
    log_path = out_dir / "journaux" / "synthese.log"
    if not options.force and (out_dir / SYNTHESIS_FILE).is_file():
        kept = _read_state(state)
        if kept.get("empreinte") == fingerprint:
            seconds = kept.get("secondes")
            return TerritoryOutcome(
                SYNTHESIS_CODE, name, UNCHANGED, SYNTHESIS_FILE, None,
                float(seconds) if isinstance(seconds, int | float) else 0.0,
                kept.get("date") if isinstance(kept.get("date"), str) else None,
                _log_name(log_path))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = _logger(log_path)
    try:
        parameters = {k: v for k, v in options.parameters.items() if k in ("reference", "fond")}
        render_synthesis(data_cache, out_dir, territoires=codes, file_name=SYNTHESIS_FILE,
                         parameters=parameters,
                         options=ReportOptions(notebook="synthese_regionale.ipynb",
                                               timeout=options.timeout,
                                               shared_assets=options.shared_assets),
                         runner=worker_runner(options.in_process, options.reuse_kernel))
        seconds = time.perf_counter() - started
        made_at = datetime.now().isoformat(timespec="seconds")
        write_atomic(state, json.dumps({"empreinte": fingerprint, "secondes": seconds,
                                        "date": made_at}))
        error_path.unlink(missing_ok=True)
        log.info("synthèse écrite (%.1f s)", seconds)
        return TerritoryOutcome(SYNTHESIS_CODE, name, OK, SYNTHESIS_FILE, None, seconds,
                                made_at, _log_name(log_path))
    except Exception as exc:  # the territory reports are kept whatever happens here
        message = str(exc) if isinstance(exc, PtsmError) else f"{type(exc).__name__} : {exc}"
        log.error("échec de la synthèse : %s\n%s", message, traceback.format_exc())
        write_atomic(error_path, error_page_html(SYNTHESIS_CODE, name, message, None,
                                                 log_path.name))
        state.unlink(missing_ok=True)
        return TerritoryOutcome(SYNTHESIS_CODE, name, FAILED, None, message,
                                time.perf_counter() - started,
                                datetime.now().isoformat(timespec="seconds"),
                                _log_name(log_path))
    finally:
        for handler in list(log.handlers):
            handler.close()
            log.removeHandler(handler)


def execute_jobs(jobs: list[TerritoryJob | SynthesisJob], options: BatchOptions
                 ) -> Iterable[TerritoryOutcome]:
    """Run jobs on the executor the options ask for; yield outcomes as they finish."""
    if not jobs:
        return iter(())
    executor = EXECUTORS["dask" if options.scheduler else "local"]
    return executor(jobs, options)


def _execute_local(jobs: list[TerritoryJob | SynthesisJob], options: BatchOptions
                   ) -> Iterable[TerritoryOutcome]:
    """Worker processes of this machine (or this process for one worker)."""
    workers = options.jobs
    if workers <= 1 or len(jobs) == 1:
        for job in jobs:
            yield run_job(job)
        return
    context = get_context("spawn")  # no fork of a process holding threads (progress bar)
    # Workers (and, through GuardedKernelManager, their kernels) die with this process,
    # even when it is killed with SIGKILL.
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context,
                             initializer=init_worker, initargs=(os.getpid(),)) as pool:
        pending: set[Future[TerritoryOutcome]] = {pool.submit(run_job, j) for j in jobs}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        except BaseException:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _execute_dask(jobs: list[TerritoryJob | SynthesisJob], options: BatchOptions
                  ) -> Iterable[TerritoryOutcome]:
    """A Dask distributed cluster; its workers must see the data cache and output folder
    (shared file system) and have ptsm-diag installed."""
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # optional dependency
        raise PtsmError("L'option --scheduler demande Dask : pip install 'ptsm-diag[dask]'"
                        ) from exc
    with Client(options.scheduler) as client:
        futures = [client.submit(run_job, job, key=f"ptsm-{job.code}-{job.fingerprint}",
                                 pure=False) for job in jobs]
        try:
            for future in as_completed(futures):
                yield future.result()
        except BaseException:
            client.cancel(futures)
            raise


EXECUTORS: dict[str, Callable[[list[TerritoryJob | SynthesisJob], BatchOptions],
                              Iterable[TerritoryOutcome]]] = {
    "local": _execute_local,
    "dask": _execute_dask,
}
