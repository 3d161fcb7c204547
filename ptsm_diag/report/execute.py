"""Run a parameterised notebook with papermill and export it to one offline HTML file.

The path follows ``../shared/reference/ecosystem.md`` §3: codes are passed as Python
strings through the API (never through ``-p`` or YAML, which turn ``01`` into ``1``),
parameter names are checked against the notebook before running, the executed notebook
is exported in-process by one ``HTMLExporter`` with the ``ptsm`` template (no require.js,
MathJax or mermaid fetched from CDNs), and the HTML is written atomically.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import jinja2
import nbformat
import papermill
from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.manager import KernelManager
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.execute import (
    prepare_notebook_metadata,
    raise_for_execution_errors,
    remove_error_markers,
)
from papermill.iorw import load_notebook_node
from papermill.log import logger as papermill_logger
from papermill.parameterize import parameterize_notebook
from papermill.utils import chdir
from traitlets import Bool

from ptsm_diag import __version__
from ptsm_diag.errors import PtsmError, ReportError
from ptsm_diag.io.files import (  # noqa: F401 - write_atomic_with public here too
    file_version,
    write_atomic,
    write_atomic_with,
)
from ptsm_diag.report.display import (
    OUTPUTS_VARIABLE,
    REPORT_ONLY,
    strip_map_previews,
    strip_table_styles,
)
from ptsm_diag.viz.offline import (
    externalise_assets,
    fill_plotly_placeholder,
    fit_plotly_bundle,
    remote_assets,
    share_page_blocks,
)

NOTEBOOKS_DIR_NAME = "notebooks"
REMOVE_TAG = "remove_cell"
ASSETS_DIR_NAME = "assets"


@dataclass(frozen=True)
class ReportOptions:
    """How a report is produced.

    Attributes
    ----------
    notebook : str
        File name of a shipped notebook (``notebooks/``), or the path of an adapted copy.
    kernel_name : str
        Jupyter kernel; ``python3`` is the Python running ptsm-diag.
    timeout : int
        Seconds a cell may run.
    keep_notebook : bool
        Also keep the executed ``.ipynb`` beside the HTML (for consultants).
    shared_assets : bool
        Link plotly.js and Leaflet from an ``assets/`` folder beside the report instead of
        embedding them (reports of a batch then share one copy; keep the folder with them).
    """

    notebook: str = "diagnostic_territorial.ipynb"
    kernel_name: str = "python3"
    timeout: int = 600
    keep_notebook: bool = False
    shared_assets: bool = False


def notebooks_dir() -> Path:
    """The folder of the shipped notebooks (inside the wheel, or at the repository root)."""
    packaged = Path(str(resources.files("ptsm_diag").joinpath(NOTEBOOKS_DIR_NAME)))
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / NOTEBOOKS_DIR_NAME


def notebook_path(name: str | Path) -> Path:
    """Path of a notebook: a shipped one by file name, or an adapted copy by its path.

    Raises
    ------
    PtsmError
        When the notebook does not exist (the message lists the shipped ones), or when the
        file is not a Jupyter notebook (read and validated with nbformat).
    """
    candidate = Path(name)
    if len(candidate.parts) > 1 and candidate.suffix == ".ipynb" and candidate.is_file():
        return check_notebook(candidate.resolve())
    path = notebooks_dir() / name
    if not path.is_file():
        available = sorted(p.name for p in notebooks_dir().glob("*.ipynb"))
        raise PtsmError(f"Notebook « {name} » introuvable ; disponibles : {', '.join(available)}")
    return check_notebook(path)


def check_notebook(path: Path) -> Path:
    """``path`` when it is a valid Jupyter notebook (nbformat 4); a French error otherwise.

    Raises
    ------
    PtsmError
        The file cannot be read, is not JSON, or is not a valid notebook (``/etc/passwd``,
        a text file, a JSON without cells...); the message names the file.
    """
    try:
        _validate_notebook(*file_version(path))
    except Exception as exc:  # NotJSONError, ValidationError, UnicodeDecodeError, OSError...
        if isinstance(exc, OSError):
            reason = f"lecture impossible ({exc.strerror or type(exc).__name__})"
        elif isinstance(exc, ValueError):  # NotJSONError, JSONDecodeError, UnicodeDecodeError
            reason = "son contenu n'est pas du JSON"
        else:  # ValidationError, or a JSON that is not an object
            reason = ("c'est du JSON, mais pas la structure d'un notebook (liste « cells », "
                      "« metadata », « nbformat »)")
        raise PtsmError(
            f"Le fichier « {path} » n'est pas un notebook Jupyter valide : {reason}. "
            "Attendu : un fichier .ipynb au format nbformat 4, ouvert et enregistré avec "
            "Jupyter (par exemple une copie d'un notebook fourni)."
        ) from exc
    return path


@lru_cache(maxsize=16)  # a batch checks its notebook for every report
def _validate_notebook(path: str, _mtime_ns: int, _size: int) -> None:
    nbformat.validate(nbformat.read(path, as_version=4))


def notebook_parameters(path: Path) -> dict[str, Any]:
    """The parameters a notebook declares in its ``parameters`` cell."""
    return {name: dict(spec) for name, spec in _parameters(*file_version(path)).items()}


@lru_cache(maxsize=16)
def _parameters(path: str, _mtime_ns: int, _size: int) -> dict[str, Any]:
    return papermill.inspect_notebook(path)


_FOCUSABLE_DIV = re.compile(
    r'<div class="([^"]*\b(?:jp-OutputArea-output|jp-Cell-inputWrapper)\b[^"]*)"')


_RAW_TEXT_START = re.compile(r"<(script|style)\b[^>]*>")


def raw_text_pieces(page: str) -> list[tuple[str, str]]:
    """``page`` cut into ``(kind, text)`` pieces whose texts join back into it: each
    ``<script>`` and ``<style>`` element whole (kind ``"script"`` or ``"style"``, from its
    start tag to the first ``</script>`` or ``</style>``, as a browser ends it) and the
    markup between them (kind ``""``).

    Edits of the page's text or of its style sheets go through it instead of a regular
    expression skipping ``<script>.*?</script>``: a report holds megabytes of script,
    which such an expression walks character by character (a tenth of a second each).
    """
    pieces: list[tuple[str, str]] = []
    position = searched = 0
    while (start := _RAW_TEXT_START.search(page, searched)) is not None:
        closing = f"</{start.group(1)}>"
        end = page.find(closing, start.end())
        if end < 0:  # never closed: ordinary text, and a later element may be closed
            searched = start.end()
            continue
        end += len(closing)
        if start.start() > position:
            pieces.append(("", page[position:start.start()]))
        pieces.append((start.group(1), page[start.start():end]))
        position = searched = end
    if position < len(page):
        pieces.append(("", page[position:]))
    return pieces


# A decimal character reference (nbconvert's markdown writes « é » as ``&#233;``).
_CHARACTER_REFERENCE = re.compile(r"&#(\d{3,6});")


def _as_character(match: re.Match[str]) -> str:
    """A reference to a character with no meaning in HTML (from U+00A0) as the character
    itself, as BeautifulSoup writes it; anything else unchanged."""
    code = int(match.group(1))
    return chr(code) if 0xA0 <= code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF \
        else match.group(0)


class ReportExporter(HTMLExporter):
    """nbconvert's HTML exporter without its BeautifulSoup pass over the whole page.

    ``HTMLExporter.from_notebook_node`` parses and re-serialises the finished page to give
    images without ``alt`` a placeholder text and outputs a ``tabindex``: half of the
    export time of a report. The report's pictures all have their own ``alt`` and its
    template shows no input, so the pass is done here on the template's output with a
    regular expression (``tabindex="0"`` on each output and text cell, and accented
    letters written as characters, as nbconvert's pass does), the rest of the export being
    nbconvert's own.
    """

    @jinja2.pass_context
    def markdown2html(self, context: Any, source: str) -> str:
        """nbconvert's rendering of a Markdown cell, remembered: a batch renders the same
        prose in every report (about 10 ms a report). Cells with attachments and embedded
        images (read from disk) are rendered each time."""
        cell = context.get("cell", {})
        if cell.get("attachments") or self.embed_images:
            return super().markdown2html(context, source)
        path = context.get("resources", {}).get("metadata", {}).get("path", "")
        key = (source, path)
        if key not in self._markdown:
            if len(self._markdown) >= 512:
                self._markdown.clear()
            self._markdown[key] = super().markdown2html(context, source)
        return self._markdown[key]

    @property
    def _markdown(self) -> dict[tuple[str, str], str]:
        return self.__dict__.setdefault("_ptsm_markdown", {})

    def from_notebook_node(  # type: ignore[override]
        self, nb: nbformat.NotebookNode, resources: dict[str, Any] | None = None, **kw: Any
    ) -> tuple[str, dict[str, Any]]:
        """The page of ``nb`` (see ``HTMLExporter.from_notebook_node``)."""
        real = BeautifulSoupStub.install()
        try:
            body, resources = super().from_notebook_node(nb, resources, **kw)
        finally:
            BeautifulSoupStub.remove(real)
        body = _FOCUSABLE_DIV.sub(r'<div class="\1" tabindex="0"', body)
        body = "".join(text if kind else _CHARACTER_REFERENCE.sub(_as_character, text)
                       for kind, text in raw_text_pieces(body))
        return body, resources


class BeautifulSoupStub:
    """Stands for BeautifulSoup in ``nbconvert.exporters.html`` during one export: the
    page comes back unparsed (``select`` finds nothing, ``str`` is the page)."""

    def __init__(self, markup: str, features: str | None = None) -> None:
        self.markup = markup

    def select(self, selector: str) -> list[Any]:
        """No element: the exporter's post-processing has nothing to change."""
        return []

    def __str__(self) -> str:
        return self.markup

    @classmethod
    def install(cls) -> Any:
        """Replace BeautifulSoup in nbconvert's HTML exporter; return the real one."""
        import nbconvert.exporters.html as nbconvert_html

        real = nbconvert_html.BeautifulSoup
        nbconvert_html.BeautifulSoup = cls  # type: ignore[assignment,misc]
        return real

    @staticmethod
    def remove(real: Any) -> None:
        """Put the real BeautifulSoup back."""
        import nbconvert.exporters.html as nbconvert_html

        nbconvert_html.BeautifulSoup = real


@cache
def _exporter() -> HTMLExporter:
    template_dir = Path(str(resources.files("ptsm_diag.report.templates").joinpath("nbconvert")))
    exporter = ReportExporter(
        template_name="ptsm",
        extra_template_basedirs=[str(template_dir)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        language_code="fr",  # <html lang="fr">: French hyphenation and screen readers
        # the notebook validated once, after all preprocessors, not after each of the 13
        # (a report's notebook holds megabytes of outputs: 35 ms a report)
        optimistic_validation=True,
    )
    # cells meant for notebook users only (how to run it) are not in the report
    remove = TagRemovePreprocessor(remove_cell_tags={REMOVE_TAG}, enabled=True)
    exporter.register_preprocessor(remove, enabled=True)
    return exporter


_H2 = re.compile(r'<h2 id="([^"]+)"[^>]*>(.*?)</h2>', re.S)
_H1 = re.compile(r"<h1[^>]*>(.*?)</h1>", re.S)
_TAGS = re.compile(r"<[^>]+>")


def _heading_text(fragment: str) -> str:
    return html.unescape(_TAGS.sub("", fragment)).replace("¶", "").strip()


def add_table_of_contents(page: str) -> str:
    """Insert a table of contents of the ``h2`` sections before the first one, and use
    the first ``h1`` as the page title."""
    sections = _H2.findall(page)
    if sections:
        items = "".join(
            f'<li><a href="#{html.escape(anchor)}">{html.escape(_heading_text(text))}</a></li>'
            for anchor, text in sections
        )
        toc = f'<nav class="ptsm-sommaire"><h2>Sommaire</h2><ol>{items}</ol></nav>'
        first = _H2.search(page)
        assert first is not None
        # Insert before the output/cell wrapping the first section heading.
        # (its attributes in any order: nbconvert writes ``id`` before ``class``)
        marker = page.rfind('class="jp-Cell ', 0, first.start())
        cell_start = page.rfind("<div", 0, marker) if marker != -1 else -1
        cut = cell_start if cell_start != -1 else first.start()
        page = page[:cut] + toc + page[cut:]
    title = _H1.search(page)
    if title:
        text = html.escape(_heading_text(title.group(1)))
        page = re.sub(r"<title>.*?</title>", lambda _: f"<title>{text}</title>", page, count=1,
                      flags=re.S)  # a function: a backslash in a name is not a group reference
    return page


def _drop_noise(nb: nbformat.NotebookNode) -> None:
    """Remove stderr streams (warnings) from outputs: a report shows results only."""
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = [
                o for o in cell.get("outputs", [])
                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]


def _edit_styles(page: str, edit: Callable[[str], str]) -> str:
    """``page`` with ``edit`` applied to each of its ``<style>`` elements."""
    return "".join(edit(text) if kind == "style" else text
                   for kind, text in raw_text_pieces(page))


_LAB_ICON = re.compile(r"--jp-icon-[\w-]+:\s*url\(data:image/svg\+xml;base64,[A-Za-z0-9+/=]*\);")


def drop_lab_icons(page: str) -> str:
    """Remove JupyterLab's toolbar and file icons (190 kB of SVG) from the page's styles:
    a report has no toolbar."""
    return _edit_styles(page, lambda block: _LAB_ICON.sub("", block))


_CLASS_ATTRIBUTE = re.compile(r'class="([^"]*)"')
_CSS_CLASS = re.compile(r"\.(-?[_a-zA-Z][\w-]*)")
# A selector with one of these may match without its classes: its rule is always kept.
_SELECTOR_FUNCTIONS = (":not(", ":is(", ":where(", ":has(", ":host")


def _used_rules(rules: list, classes: frozenset[str]) -> str:
    import tinycss2

    kept: list[str] = []
    for rule in rules:
        if rule.type == "qualified-rule":
            selector = tinycss2.serialize(rule.prelude)
            if any(function in selector for function in _SELECTOR_FUNCTIONS) or any(
                    set(_CSS_CLASS.findall(part)) <= classes for part in selector.split(",")):
                kept.append(rule.serialize())
        elif (rule.type == "at-rule" and rule.lower_at_keyword == "media"
              and rule.content is not None):
            inner = _used_rules(tinycss2.parse_rule_list(
                rule.content, skip_comments=True, skip_whitespace=True), classes)
            if inner:
                kept.append(f"@media{tinycss2.serialize(rule.prelude)}{{{inner}}}")
        elif rule.type != "error":
            kept.append(rule.serialize())
    return "\n".join(kept)


@lru_cache(maxsize=32)
def _purged_css(css: str, classes: frozenset[str]) -> str:
    import tinycss2

    return _used_rules(tinycss2.parse_stylesheet(css, skip_comments=True,
                                                 skip_whitespace=True), classes)


def drop_unused_css(page: str) -> str:
    """Drop from the page's style sheets the rules whose selectors name a class that no
    element of the page has (most of JupyterLab's style sheet: toolbars, dialogs, menus...).

    A rule stays when one of its selectors may match: all its classes are in the page, or
    it uses ``:not()``, ``:is()``, ``:where()`` or ``:has()``. Other at-rules than
    ``@media`` stay as they are.
    """
    outside = "".join(text for kind, text in raw_text_pieces(page) if kind != "style")
    classes = frozenset(name for value in _CLASS_ATTRIBUTE.findall(outside)
                        for name in value.split())

    def purge(text: str) -> str:
        start, end = text.index(">") + 1, text.rindex("</style>")
        return text[:start] + _purged_css(text[start:end], classes) + text[end:]

    return _edit_styles(page, purge)


def export_html(nb: nbformat.NotebookNode) -> str:
    """Export an executed notebook to one offline HTML page (no code, with a contents).

    The page keeps one copy of Leaflet and of the maps' outlines for all its maps, the
    partial plotly.js unless a figure needs a trace type it lacks, and leaves the tables'
    look to its style sheet (no per-cell styles) and JupyterLab's icons out.
    """
    _drop_noise(nb)
    body, _ = _exporter().from_notebook_node(nb, resources={"ptsm_version": __version__})
    body = fit_plotly_bundle(share_page_blocks(strip_table_styles(strip_map_previews(body))))
    body = drop_unused_css(drop_lab_icons(body))
    page = add_table_of_contents(body)
    leftovers = remote_assets(page)
    if leftovers:
        raise PtsmError(
            "Le rapport chargerait des ressources depuis Internet : " + ", ".join(leftovers)
        )
    return fill_plotly_placeholder(page)


# Clears a reused kernel between two reports: its user namespace (``%reset -f``, which
# collects the previous report's garbage), then freezes what survives (modules, the
# batch's national work, caches: ``gc.freeze``), so that collections no longer traverse
# it (``%reset`` itself took 0.3 s a report), then gives the heap pages glibc keeps back
# to the system (``malloc_trim``), so that the kernel stays under its memory ceiling.
_RESET = """%reset -f
__import__("gc").freeze()
try:
    __import__("ctypes").CDLL("libc.so.6").malloc_trim(0)
except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to give back
    pass
"""


def kernel_environment(report_only: bool = False) -> dict[str, str]:
    """The environment of a report's kernel: this process's, with pyarrow allocating from
    the system's heap (``ARROW_DEFAULT_MEMORY_POOL=system``) unless the user chose a pool,
    and, with ``report_only``, outputs made for the exported report only
    (``PTSM_DIAG_SORTIES=rapport``, :func:`ptsm_diag.report.display.report_only`).

    pyarrow's default pool (mimalloc) keeps the pages it has freed, which the kernel's
    ``malloc_trim`` cannot give back: about 60 MB more per kernel on the demo batch.
    """
    env = {"ARROW_DEFAULT_MEMORY_POOL": "system", **os.environ}
    env.pop(OUTPUTS_VARIABLE, None)
    if report_only:
        env[OUTPUTS_VARIABLE] = REPORT_ONLY
    return env


def _outputs_code(report_only: bool) -> str:
    """Code that sets, in a running kernel, what its outputs are made for."""
    if report_only:
        return f'__import__("os").environ["{OUTPUTS_VARIABLE}"] = "{REPORT_ONLY}"\n'
    return f'__import__("os").environ.pop("{OUTPUTS_VARIABLE}", None)\n'


class ReportKernelManager(KernelManager):
    """A kernel manager whose kernel starts with :func:`kernel_environment`: outputs for
    the exported report only when :attr:`report_only` is set (the notebook is not kept)."""

    report_only = Bool(False, help="outputs made for the exported report only").tag(
        config=True)

    def start_kernel(self, **kw: Any) -> None:
        """Start the kernel with :func:`kernel_environment` (unless ``env`` is given)."""
        kw.setdefault("env", kernel_environment(self.report_only))
        super().start_kernel(**kw)


class NotebookRunner(Protocol):
    """What runs a batch worker's successive notebooks: a reused Jupyter kernel
    (:class:`WarmKernel`) or this process's IPython shell
    (:class:`ptsm_diag.report.inprocess.InProcessShell`)."""

    def engine(self, report_only: bool) -> dict[str, Any]:
        """The papermill engine name and arguments that run a notebook on it."""
        ...

    def discard(self) -> None:
        """Forget its state after a failed notebook (the next one starts afresh)."""
        ...


class WarmKernel:
    """One Jupyter kernel reused by the successive reports of a batch worker.

    Starting a kernel and importing pandas, geopandas, plotly and folium in it costs
    seconds per report; a worker that produces many reports keeps its kernel and one
    connected client, clears the user namespace (``%reset -f``), freezes the long-lived
    objects out of the garbage collector's reach and gives freed heap back to the system
    before each notebook, and restarts the kernel after a failure, every
    ``max_uses`` reports, or when its resident memory is above ``max_rss_mb`` (read from
    ``/proc`` on Linux: the memory a kernel keeps grows with the reports, unevenly). The
    default ``max_uses`` lets one kernel make a national batch (101 reports and the
    synthesis) with ``--jobs 1``: its memory stays near 460 MB, and a restart costs the
    imports and the national work again (about 5 s).
    Module caches (the bundled geography, a batch's national work) stay loaded: that is
    the point. ``manager_class`` may be a subclass of ``KernelManager`` (the batch's
    kernels die with their worker). Notebooks run on it through :class:`WarmKernelEngine`.
    """

    manager_class: type[KernelManager] = KernelManager

    def __init__(self, kernel_name: str = "python3", max_uses: int = 250,
                 max_rss_mb: float = 560.0) -> None:
        self.kernel_name = kernel_name
        self.max_uses = max_uses
        self.max_rss_mb = max_rss_mb
        self.uses = 0
        self._manager: KernelManager | None = None
        self._client: BlockingKernelClient | None = None
        self._folder = tempfile.TemporaryDirectory(prefix="ptsm-kernel-")

    def engine(self, report_only: bool) -> dict[str, Any]:
        """The papermill engine and its arguments for running a notebook on this kernel."""
        return {"engine_name": WARM_ENGINE, "warm_kernel": self, "report_only": report_only}

    def acquire(self, cwd: Path, report_only: bool = False) -> KernelManager:
        """A running kernel with an empty namespace (its client: :attr:`client`), its
        outputs made for the exported report only with ``report_only`` (see
        :func:`kernel_environment`)."""
        if self._manager is not None and (self.uses >= self.max_uses
                                          or not self._manager.is_alive()
                                          or (self.resident_mb() or 0.0) > self.max_rss_mb):
            self.discard()
        if self._manager is None:
            self._manager = self.manager_class(kernel_name=self.kernel_name, transport="ipc",
                                               ip=str(Path(self._folder.name) / "kernel"))
            # the history of a batch's cells in memory, as nbclient does for its kernels,
            # not in the user's IPython history file
            self._manager.start_kernel(cwd=str(cwd), env=kernel_environment(report_only),
                                       extra_arguments=["--HistoryManager.hist_file=:memory:"])
            # A session of its own: a client shares its manager's session, hence its
            # ZeroMQ identity, with every other client of that manager, and the kernel
            # answers only the latest connected of them.
            session = self._manager.session.clone()
            session.session = str(uuid.uuid4())
            self._client = self._manager.client(session=session)
            self._client.start_channels()
            # Once per kernel: waits for the kernel and for IOPub to be subscribed (no
            # output lost), then 0.2 s of IOPub silence, which a client per report paid.
            self._client.wait_for_ready(timeout=60)
            self._client.allow_stdin = False
            self.uses = 0
        else:
            self.client.execute_interactive(_RESET + _outputs_code(report_only), timeout=60,
                                            store_history=False)
        self.uses += 1
        return self._manager

    @property
    def client(self) -> BlockingKernelClient:
        """The connected client of the running kernel (after :meth:`acquire`)."""
        if self._client is None:
            raise RuntimeError("WarmKernel.acquire() must be called first")
        return self._client

    def resident_mb(self) -> float | None:
        """Resident memory of the kernel in MB (None when unknown: no kernel, no /proc)."""
        process = getattr(getattr(self._manager, "provisioner", None), "process", None)
        pid = getattr(process, "pid", None)
        if pid is None:
            return None
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except (OSError, ValueError):
            return None
        return None

    def discard(self) -> None:
        """Shut the kernel down (next :meth:`acquire` starts a fresh one)."""
        if self._client is not None:
            self._client.stop_channels()
            self._client = None
        if self._manager is not None:
            if self._manager.has_kernel:
                self._manager.shutdown_kernel(now=True)
            self._manager.cleanup_resources()
            self._manager = None


WARM_ENGINE = "ptsm-noyau-reutilise"


class WarmKernelEngine(NBClientEngine):
    """papermill engine that runs a notebook on a :class:`WarmKernel` (its kernel and its
    connected client), registered as ``ptsm-noyau-reutilise``.

    papermill's own engine gives nbclient the kernel manager only: nbclient then opens a
    new client per notebook, waits for it (0.2 s of IOPub silence each time), and leaves
    it open when it does not own the kernel; each report left a heartbeat thread and a
    ZeroMQ context behind in the batch worker (7 MB a report). Here every notebook runs
    on the warm kernel's one client.
    """

    @classmethod
    def execute_managed_notebook(  # type: ignore[override]
        cls, nb_man: Any, kernel_name: str, log_output: bool = False,
        stdout_file: Any = None, stderr_file: Any = None, start_timeout: int = 60,
        execution_timeout: int | None = None, **kwargs: Any,
    ) -> nbformat.NotebookNode:
        """Execute ``nb_man``'s notebook on ``kwargs["warm_kernel"]`` (acquired)."""
        warm: WarmKernel = kwargs.pop("warm_kernel")
        report_only = kwargs.pop("report_only", False)
        client = PapermillNotebookClient(  # papermill has moved to the notebook's cwd
            nb_man, km=warm.acquire(Path.cwd(), report_only=report_only),
            timeout=execution_timeout, startup_timeout=start_timeout,
            kernel_name=kernel_name, log=papermill_logger, log_output=log_output,
            stdout_file=stdout_file, stderr_file=stderr_file)
        client.kc = warm.client
        return client.execute()


papermill_engines.register(WARM_ENGINE, WarmKernelEngine)


def execute_notebook(
    notebook: Path, parameters: dict[str, Any], options: ReportOptions, label: str,
    runner: NotebookRunner | None = None,
) -> nbformat.NotebookNode:
    """Execute ``notebook`` with ``parameters``; failures become :class:`ReportError`.

    With ``runner`` (a reused kernel, this process's shell), the notebook runs there
    instead of in a new kernel.
    """
    declared = notebook_parameters(notebook)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise PtsmError(
            f"Paramètre(s) inconnu(s) du notebook {notebook.name} : {', '.join(unknown)} ; "
            f"paramètres acceptés : {', '.join(declared)}"
        )
    with tempfile.TemporaryDirectory(prefix="ptsm-nb-") as tmp:
        report_only = not options.keep_notebook  # outputs that only the export reads
        if runner is not None:
            engine: dict[str, Any] = runner.engine(report_only)
        else:  # IPC sockets: local only, and no "running over TCP" warning from the kernel
            kernel = ReportKernelManager(kernel_name=options.kernel_name, transport="ipc",
                                         ip=str(Path(tmp) / "kernel"), report_only=report_only)
            engine = {"km": kernel}
        try:
            executed = _papermill_execute(notebook, parameters, options, **engine)
        except BaseException as exc:
            if runner is not None:
                runner.discard()  # never reuse a kernel or a namespace in an unknown state
            if not isinstance(exc, papermill.PapermillExecutionError):
                raise
            raise ReportError(
                territory=label,
                message=f"{exc.ename} : {exc.evalue}",
                cell_index=_cell_number(notebook, exc.cell_index),
                error_name=exc.ename,
            ) from exc
        finally:
            if runner is None and kernel.has_kernel:
                kernel.shutdown_kernel(now=True)
        return executed


def _papermill_execute(notebook: Path, parameters: dict[str, Any], options: ReportOptions,
                       engine_name: str | None = None, **engine: Any) -> nbformat.NotebookNode:
    """``papermill.execute_notebook`` with the executed notebook kept in memory only.

    papermill's steps (parameters cell injected, metadata, the engine run in the
    notebook's folder, execution errors raised), without its final ``write_ipynb``,
    which serialises the whole executed notebook to JSON even when there is no output
    path (0.08 s per report, for nothing). ``engine_name`` and ``engine`` go to the
    papermill engine (papermill's own by default).
    """
    nb = parameterize_notebook(load_notebook_node(str(notebook)), parameters,
                               kernel_name=options.kernel_name)
    nb = remove_error_markers(prepare_notebook_metadata(nb, str(notebook), None))
    with chdir(str(notebook.parent)):
        nb = papermill_engines.execute_notebook_with_engine(
            engine_name, nb, kernel_name=options.kernel_name, input_path=str(notebook),
            output_path=None, progress_bar=False, log_output=False,
            execution_timeout=options.timeout, **engine)
    raise_for_execution_errors(nb, None)
    return nb


def _cell_number(notebook: Path, executed_index: int) -> int:
    """Number (from 1) in the user's notebook of a cell of the executed one, which has
    papermill's injected-parameters cell right after the ``parameters`` cell."""
    cells = nbformat.read(notebook, as_version=4).cells
    tagged = [i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])]
    injected_after = tagged[0] if tagged else -1
    return executed_index + (0 if executed_index <= injected_after else -1) + 1


def render_report(
    territoire: str,
    donnees: str | Path | None,
    sortie: str | Path,
    *,
    parameters: dict[str, Any] | None = None,
    options: ReportOptions | None = None,
    file_name: str | None = None,
    runner: NotebookRunner | None = None,
) -> Path:
    """Produce the HTML report of one territory and return its path.

    Parameters
    ----------
    territoire : str
        Territory code, as a string (``"01"``, ``"2A"``, ``"PTSM-35"``).
    donnees : path or None
        Data folder in the template format; None uses the demo data.
    sortie : path
        Output folder (created when missing).
    parameters : dict, optional
        Further notebook parameters (``reference``, ``fond``...).
    options : ReportOptions, optional
        Notebook, kernel, timeout.
    file_name : str, optional
        HTML file name; ``diagnostic_<territoire>.html`` by default.
    runner : NotebookRunner, optional
        Where to run the notebook (batch workers: a reused kernel, or this process's
        shell); by default a fresh kernel per report.
    """
    options = options or ReportOptions()
    out_dir = Path(sortie).resolve()
    values = {
        "territoire": str(territoire),
        "donnees": str(Path(donnees).resolve()) if donnees else "",
        **(parameters or {}),
    }
    notebook = notebook_path(options.notebook)
    nb = execute_notebook(notebook, values, options, label=str(territoire),
                          runner=runner)
    stem = Path(options.notebook).stem.split("_")[0]
    target = out_dir / (file_name or f"{stem}_{safe_file_stem(str(territoire))}.html")
    return save_report(nb, target, options)


def save_report(nb: nbformat.NotebookNode, target: Path, options: ReportOptions) -> Path:
    """Export an executed notebook to ``target`` (HTML), atomically, with the shared
    ``assets/`` folder or the executed notebook beside it when the options ask for them."""
    page = export_html(nb)
    if options.shared_assets:
        page, assets = externalise_assets(page, ASSETS_DIR_NAME)
        for asset_name, content in assets.items():
            asset = target.parent / ASSETS_DIR_NAME / asset_name
            if not asset.is_file() or asset.stat().st_size != len(content.encode("utf-8")):
                write_atomic(asset, content)
    write_atomic(target, page)
    if options.keep_notebook:
        write_atomic(target.with_suffix(".ipynb"), nbformat.writes(nb))
    return target


# Names Windows keeps for devices, whatever the extension (``CON.html`` cannot be created).
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                    *(f"LPT{i}" for i in range(1, 10))}
_KEPT = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")
_MAX_STEM = 100


def safe_file_stem(code: str) -> str:
    """A territory code as a file name: never a path, and never the same for two codes.

    Letters, digits and ``-`` are kept, and a ``.`` between two of them, so ``29``, ``2A``,
    ``971`` or ``PTSM-35`` are their own file names. Any other character, ``_`` included,
    becomes ``_`` followed by the hexadecimal digits of each of its UTF-8 bytes
    (``T 1`` → ``T_201``, ``T_1`` → ``T_5F1``, ``../x`` → ``_2E_2E_2Fx``, ``Brest Métropole``
    → ``Brest_20M_C3_A9tropole``): the code can be read back from the name, so two codes
    never share a file. The first letter of a Windows device name (``CON``) is written the
    same way, and the empty code is ``_``. A code longer than 100 characters once written
    is cut, and its end replaced by ``__`` and 16 hexadecimal digits of its SHA-256 (``__``
    never appears otherwise).
    Codes differing only by case (``2a``, ``2A``) stay distinct here but would share a file
    on Windows or macOS: :func:`ptsm_diag.report.batch.check_file_names` refuses them in a batch.
    """
    last = len(code) - 1
    parts = []
    for i, char in enumerate(code):
        if char in _KEPT or (char == "." and 0 < i < last and code[i - 1] in _KEPT
                             and code[i + 1] in _KEPT):
            parts.append(char)
        else:
            parts.append("".join(f"_{byte:02X}" for byte in char.encode("utf-8")))
    if code.split(".")[0].upper() in _WINDOWS_DEVICES:
        parts[0] = f"_{ord(code[0]):02X}"
    stem = "".join(parts) or "_"
    if len(stem) > _MAX_STEM:
        digest = hashlib.sha256(code.encode("utf-8")).hexdigest()[:16]
        stem = f"{stem[:_MAX_STEM - 18]}__{digest}"
    return stem
