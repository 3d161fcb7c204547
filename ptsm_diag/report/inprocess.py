"""Run a report's notebook in this process, on an IPython shell instead of a Jupyter kernel.

A batch worker that runs its notebooks on a kernel pays, for every cell, the kernel
protocol: each output serialised to JSON, signed, sent over a socket, read back,
validated and turned into a notebook output, and the worker and its kernel waiting on
each other in turn. For a report of a few dozen cells and megabytes of outputs that is
about a third of the report's time. :class:`InProcessShell` runs the cells with IPython's
own shell (magics, ``display``, the last expression shown, tracebacks, as in a kernel)
in the worker's process, and records their outputs straight into the notebook's cells
as nbclient would (streams, ``display_data``, ``execute_result``, ``error``); papermill
still injects the parameters, times the cells and raises the first error
(:class:`InProcessEngine`, registered as ``ptsm-en-processus``).

What differs from a kernel, and how it is handled:

- a cell runs in the worker: a crash of the interpreter (not a Python exception) stops
  the worker, not only the report. Python exceptions, ``SystemExit`` included, are the
  cell's error output as in a kernel; ``KeyboardInterrupt`` (Ctrl-C) stops the batch;
- a cell's time limit is a ``SIGALRM`` timer, available in the main thread of a POSIX
  process only: elsewhere (a Dask worker's thread, Windows), the batch uses kernels;
- text written by C code straight to the process's file descriptors is not captured
  (a kernel captures it; it is log noise that a report drops anyway);
- ``sys.path`` starts with the notebook's folder during the run, as in a kernel
  (``''``), so an adapted notebook imports the modules beside it;
- ``input()`` and ``getpass()`` raise, as in a kernel without stdin, instead of waiting
  for the batch's terminal;
- ``sys.stdout`` and ``sys.stderr`` record what the cell's thread writes; other threads
  of the process (the command's progress bar) keep writing where they wrote.
"""

from __future__ import annotations

import ctypes
import gc
import io
import json
import os
import signal
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout, suppress
from typing import Any, TextIO

import nbformat
from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.error import StdinNotImplementedError
from IPython.core.interactiveshell import InteractiveShell
from jupyter_client.jsonutil import json_default
from nbformat import NotebookNode
from papermill.engines import Engine, papermill_engines
from traitlets.config import Config

from ptsm_diag.report.display import OUTPUTS_VARIABLE, REPORT_ONLY

INPROCESS_ENGINE = "ptsm-en-processus"
# nbclient's tags: a cell not run, a cell whose error does not stop the notebook
SKIP_TAG = "skip-execution"
RAISES_TAG = "raises-exception"


def _as_json(value: Any) -> Any:
    """``value`` as JSON data, as a kernel sends it (bytes in base64, dates in ISO 8601,
    NumPy numbers as numbers: ``jupyter_client``'s own conversion)."""
    return json.loads(json.dumps(value, default=json_default))


def _bundle(data: dict[str, Any]) -> NotebookNode:
    """A MIME bundle as notebook data: texts as they are (most of a report, megabytes),
    anything else (JSON, images as bytes) converted as a kernel converts it."""
    return NotebookNode({mime: value if isinstance(value, str) else _as_json(value)
                         for mime, value in data.items()})


class CellOutputs:
    """The outputs of the cell being run, in the order the cell made them (nbformat 4).

    Outputs are built as nbclient builds them from a kernel's messages, without checking
    each against the notebook schema (the export checks the notebook once).
    """

    def __init__(self) -> None:
        self.outputs: list[NotebookNode] = []
        self.execution_count: int | None = None
        self._clear_on_next = False
        self._displays: dict[str, list[NotebookNode]] = {}

    def start(self, execution_count: int) -> list[NotebookNode]:
        """Start recording a new cell; return its (empty) output list."""
        self.outputs = []
        self.execution_count = execution_count
        self._clear_on_next = False
        return self.outputs

    def _add(self, output: NotebookNode) -> NotebookNode:
        if self._clear_on_next:
            self.outputs.clear()
            self._clear_on_next = False
        self.outputs.append(output)
        return output

    def stream(self, name: str, text: str) -> None:
        """Text written to ``sys.stdout`` or ``sys.stderr`` (joined to the previous
        output when it is the same stream, as Jupyter front ends show it)."""
        if not text:
            return
        last = self.outputs[-1] if self.outputs and not self._clear_on_next else None
        if last is not None and last.output_type == "stream" and last.name == name:
            last.text += text
        else:
            self._add(NotebookNode(output_type="stream", name=name, text=text))

    def display(self, data: dict[str, Any], metadata: dict[str, Any] | None,
                transient: dict[str, Any] | None, update: bool) -> None:
        """A ``display_data`` output, or, with ``update``, new data for the outputs shown
        earlier with the same ``display_id`` (in any cell of the notebook)."""
        display_id = (transient or {}).get("display_id")
        if update:
            for output in self._displays.get(display_id, []):
                output.data = _bundle(data)
                output.metadata = nbformat.from_dict(_as_json(metadata or {}))
            return
        output = self._add(NotebookNode(output_type="display_data", data=_bundle(data),
                                        metadata=nbformat.from_dict(_as_json(metadata or {}))))
        if display_id:
            self._displays.setdefault(display_id, []).append(output)

    def result(self, data: dict[str, Any], metadata: dict[str, Any] | None) -> None:
        """The ``execute_result`` of the cell's last expression."""
        self._add(NotebookNode(output_type="execute_result", data=_bundle(data),
                               metadata=nbformat.from_dict(_as_json(metadata or {})),
                               execution_count=self.execution_count))

    def error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        """The cell's ``error`` output."""
        self._add(NotebookNode(output_type="error", ename=ename, evalue=evalue,
                               traceback=list(traceback)))

    def clear(self, wait: bool) -> None:
        """``clear_output``: now, or (``wait``) when the next output comes."""
        if wait:
            self._clear_on_next = True
        else:
            self.outputs.clear()


class RecordingStream(io.TextIOBase):
    """``sys.stdout`` or ``sys.stderr`` during a cell: what the cell's thread writes becomes
    the cell's stream output; what other threads of the process write (a progress bar
    refreshed by its own thread, a log handler) goes on to ``others``, the stream replaced."""

    def __init__(self, recorder: CellOutputs, name: str, others: TextIO) -> None:
        super().__init__()
        self._recorder = recorder
        self._others = others
        self._thread = threading.get_ident()
        self.name = name  # type: ignore[misc]

    @property
    def encoding(self) -> str:  # type: ignore[override]
        """Text is kept as text; UTF-8 for code that asks."""
        return "utf-8"

    def writable(self) -> bool:
        """Always writable."""
        return True

    def write(self, text: str) -> int:
        """Record ``text`` in the cell's outputs (from another thread: write it on)."""
        if threading.get_ident() != self._thread:
            return self._others.write(text)
        self._recorder.stream(self.name, str(text))
        return len(text)

    def flush(self) -> None:
        """Flush the stream replaced when another thread asks."""
        if threading.get_ident() != self._thread:
            self._others.flush()


class RecordingDisplayPublisher(DisplayPublisher):
    """``display()`` and ``clear_output()`` recorded into the current cell's outputs."""

    def publish(self, data: dict[str, Any], metadata: dict[str, Any] | None = None,
                *args: Any, transient: dict[str, Any] | None = None, update: bool = False,
                **kwargs: Any) -> None:
        """Record a display (see ``IPython.core.displaypub.DisplayPublisher.publish``)."""
        self.shell.recorder.display(data, metadata, transient, update)

    def clear_output(self, wait: bool = False) -> None:
        """Clear the cell's outputs, now or at its next output."""
        self.shell.recorder.clear(wait)


class RecordingDisplayHook(DisplayHook):
    """The value of a cell's last expression recorded as its ``execute_result``."""

    def write_output_prompt(self) -> None:
        """No prompt: the result goes into the notebook."""

    def write_format_data(self, format_dict: dict[str, Any],
                          md_dict: dict[str, Any] | None = None) -> None:
        """Record the formatted result."""
        self.shell.recorder.result(format_dict, md_dict)

    def finish_displayhook(self) -> None:
        """Nothing is printed."""
        self._is_active = False


class ReportShell(InteractiveShell):
    """IPython's shell with its displays, results and tracebacks recorded as notebook
    outputs (:attr:`recorder`) instead of printed."""

    display_pub_class = RecordingDisplayPublisher  # type: ignore[assignment]
    displayhook_class = RecordingDisplayHook  # type: ignore[assignment]

    def __init__(self, **kwargs: Any) -> None:
        self.recorder = CellOutputs()
        super().__init__(**kwargs)

    def _showtraceback(self, etype: type[BaseException], evalue: BaseException,
                       stb: list[str]) -> None:
        self.recorder.error(etype.__name__, str(evalue), stb)


class CellTimeout(Exception):  # noqa: N818 - the name the cell's error output shows
    """A cell ran longer than its time limit."""


def _timeouts_available() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def can_run_in_process() -> bool:
    """Whether notebooks can run in this process: in its main thread (for the cells' time
    limits: not a Dask worker's thread), on POSIX (not Windows), and not inside an IPython
    session of its own (a batch started from a notebook)."""
    if not _timeouts_available():
        return False
    return (not InteractiveShell.initialized()
            or isinstance(InteractiveShell.instance(), ReportShell))


@contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`CellTimeout` in the code run inside after ``seconds`` (none: no
    limit)."""
    if not seconds:
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise CellTimeout(f"cellule interrompue après {seconds:g} s (délai dépassé)")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _no_keyboard(*args: Any, **kwargs: Any) -> str:
    raise StdinNotImplementedError(
        "un notebook exécuté par le lot ne peut rien demander au clavier (input, getpass) : "
        "donnez la valeur en paramètre du notebook")


@contextmanager
def _without_keyboard() -> Iterator[None]:
    """``input()`` and ``getpass()`` raise, as in a kernel without stdin, instead of
    waiting for the terminal of the batch."""
    import builtins
    import getpass

    saved = builtins.input, getpass.getpass
    builtins.input = getpass.getpass = _no_keyboard  # type: ignore[assignment]
    try:
        yield
    finally:
        builtins.input, getpass.getpass = saved


@contextmanager
def _notebook_import_path() -> Iterator[None]:
    """``''`` (the current folder: the notebook's) first in ``sys.path``, as in a kernel."""
    added = not sys.path or sys.path[0] != ""
    if added:
        sys.path.insert(0, "")
    try:
        yield
    finally:
        if added and "" in sys.path:
            sys.path.remove("")


def _give_back_memory() -> None:
    """Collect, freeze the survivors out of the collector's reach and return freed heap
    pages to the system (glibc), as a batch kernel does between two reports."""
    gc.collect()
    gc.freeze()
    with suppress(OSError, AttributeError):  # not glibc (macOS, musl): nothing to give
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class InProcessShell:
    """This process's :class:`ReportShell`, reused by the successive notebooks of a batch
    worker.

    Like :class:`ptsm_diag.report.execute.WarmKernel`, but in this process: its namespace
    is cleared (``%reset -f``) before each notebook, what survives (modules, the batch's
    national work) is frozen out of the garbage collector's reach and freed heap is given
    back to the system. :meth:`discard` (after a failure) replaces the shell by a new one.
    Notebooks run on it through :class:`InProcessEngine`.
    """

    def __init__(self) -> None:
        self.uses = 0
        self._shell: ReportShell | None = None

    def engine(self, report_only: bool) -> dict[str, Any]:
        """The papermill engine and its arguments for running a notebook here."""
        return {"engine_name": INPROCESS_ENGINE, "shell": self, "report_only": report_only}

    def acquire(self) -> ReportShell:
        """The shell (this process's one), with an empty namespace and its cells counted
        from 1, as in a new kernel."""
        if not ReportShell.initialized():
            _system_heap_for_arrow()
            main_module = sys.modules.get("__main__")
            # the instance get_ipython() and IPython.display find
            ReportShell.instance(config=_shell_config(), user_module=types.ModuleType("__main__"))
            if main_module is not None:  # IPython registers its own; this process keeps its
                sys.modules["__main__"] = main_module
            self.uses = 0
        # one shell per process (IPython's): several InProcessShell share it
        self._shell = ReportShell.instance()
        self._shell.reset(new_session=True)
        _give_back_memory()
        self.uses += 1
        return self._shell

    def run_cell(self, cell: NotebookNode, timeout: float | None) -> bool:
        """Run a code cell, its outputs and execution count written into it; False when
        it ended on an error.

        Raises
        ------
        KeyboardInterrupt
            The user stopped the run (Ctrl-C): the batch stops, as with a kernel.
        """
        shell = self._shell
        if shell is None:
            raise RuntimeError("InProcessShell.acquire() must be called first")
        count = shell.execution_count
        cell.outputs = shell.recorder.start(count)
        with redirect_stdout(RecordingStream(shell.recorder, "stdout", sys.stdout)), \
                redirect_stderr(RecordingStream(shell.recorder, "stderr", sys.stderr)), \
                _without_keyboard(), _notebook_import_path(), _time_limit(timeout):
            result = shell.run_cell(cell.source, store_history=True)
        cell.execution_count = count
        if isinstance(result.error_in_exec, KeyboardInterrupt):
            raise KeyboardInterrupt
        return result.success

    def discard(self) -> None:
        """Drop the shell (after a failure): the next notebook gets a new one."""
        if self._shell is not None:
            self._shell.reset(new_session=True)
            ReportShell.clear_instance()
            InteractiveShell.clear_instance()
            self._shell = None
            _give_back_memory()


def _system_heap_for_arrow() -> None:
    """pyarrow allocating from the system's heap, which :func:`_give_back_memory` can
    trim, unless the user chose a pool (``ARROW_DEFAULT_MEMORY_POOL``), as in a batch
    kernel (:func:`ptsm_diag.report.execute.kernel_environment`)."""
    if "ARROW_DEFAULT_MEMORY_POOL" in os.environ:
        return
    try:
        import pyarrow
    except ImportError:  # pragma: no cover - a dependency of the data cache
        return
    pyarrow.set_memory_pool(pyarrow.system_memory_pool())


def _shell_config() -> Config:
    config = Config()
    # the cells' history in memory, as nbclient's kernels keep it, not in the user's file
    config.HistoryManager.hist_file = ":memory:"
    config.InteractiveShell.colors = "nocolor"  # plain tracebacks in logs and errors
    return config


class InProcessEngine(Engine):
    """papermill engine that runs a notebook on an :class:`InProcessShell` (this
    process), registered as ``ptsm-en-processus``."""

    @classmethod
    def execute_managed_notebook(  # type: ignore[override]
        cls, nb_man: Any, kernel_name: str, log_output: bool = False,
        execution_timeout: int | None = None, **kwargs: Any,
    ) -> NotebookNode:
        """Run ``nb_man``'s code cells in order on ``kwargs["shell"]``, stopping at the
        first error (unless its cell is tagged ``raises-exception``)."""
        host: InProcessShell = kwargs.pop("shell")
        host.acquire()
        with _outputs_for(kwargs.pop("report_only", False)):
            cls._run_cells(host, nb_man, execution_timeout)
        return nb_man.nb

    @staticmethod
    def _run_cells(host: InProcessShell, nb_man: Any, timeout: int | None) -> None:
        for index, cell in enumerate(nb_man.nb.cells):
            nb_man.cell_start(cell, index)  # every cell timed, as papermill's engine does
            try:
                tags = cell.metadata.get("tags", [])
                if cell.cell_type != "code" or SKIP_TAG in tags:
                    continue
                if not host.run_cell(cell, timeout) and RAISES_TAG not in tags:
                    nb_man.cell_exception(cell, cell_index=index)
                    break
            finally:
                nb_man.cell_complete(cell, cell_index=index)


@contextmanager
def _outputs_for(report_only: bool) -> Iterator[None]:
    """Outputs made for the exported report only (``PTSM_DIAG_SORTIES=rapport``, see
    :func:`ptsm_diag.report.display.report_only`) or for a kept notebook, during the run;
    this process's environment as it was afterwards."""
    before = os.environ.get(OUTPUTS_VARIABLE)
    if report_only:
        os.environ[OUTPUTS_VARIABLE] = REPORT_ONLY
    else:
        os.environ.pop(OUTPUTS_VARIABLE, None)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(OUTPUTS_VARIABLE, None)
        else:
            os.environ[OUTPUTS_VARIABLE] = before


papermill_engines.register(INPROCESS_ENGINE, InProcessEngine)
