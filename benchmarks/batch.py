"""Benchmark: a batch of diagnostic reports on the demo data, measured every way at once.

Ways, each run in its own process tree so that its wall time and its peak memory are its
own (the largest single process among the batch, its workers and their kernels):

(a) the naive way: ``papermill`` CLI then ``jupyter nbconvert`` CLI, per territory, on a
    small sample;
(b) ``ptsm-diag batch`` (what users run) with ``--jobs 1`` and ``--jobs 2``, on every
    territory (``--tous``) or on a stated sample; with ``--jobs 2`` cold (new output
    folder) then warm (same folder, ``--force``: the validated-data cache and the disk
    cache are warm); with ``--noyaux`` also ``--jobs 1`` and ``--jobs 2`` on Jupyter
    kernels (the batch's option ``--noyaux``) instead of in the workers' processes;
(c) the floor: the same work (folder validated and cached, the notebook's code cells for
    each territory with every output rendered to HTML and written, its gaps workbook,
    the synthesis notebook's cells, the index) run by plain library calls in 1 process
    (as ``--jobs 1``: everything in the one process) and in 2 worker processes beside the
    one that reads the folder (as ``--jobs 2``), without notebooks nor kernels. Between two
    territories the floor's process does what a batch worker does between two reports:
    its garbage collected, then what survives frozen out of the collector's reach
    (``gc.freeze``).

Ratios compare like with like: b(jobs=1)/c(1 process) and b(jobs=2)/c(2 processes) on
the same territories, each pair measured back to back (jobs=1, floor 1, jobs=2, floor 2);
a/b per report. With ``--repetitions N`` the four are measured N rounds in that order and
each way keeps its best time (every round printed): a slow spell of a shared machine then
weighs on neither side of a ratio. Then report sizes (self-contained, with shared
assets, the assets folder) and a per-section table of the floor: what each notebook cell
costs per report, so the next change knows where the time goes.

Usage::

    python benchmarks/batch.py                   # 12 territories, naive on 3 (≈ 5 min)
    python benchmarks/batch.py --tous            # every territory (≈ 15 min on 2 cores)
    python benchmarks/batch.py --echantillon 6 --echantillon-naif 2
    python benchmarks/batch.py --tous --noyaux   # also the batch on Jupyter kernels
    python benchmarks/batch.py --tous --repetitions 2   # best of two rounds (≈ 25 min)

Times depend on the machine and its load: run it on a quiet machine; the first lines
print the cores and the load average.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Spread over the country: mainland, Corsica, overseas, large and small départements.
SAMPLE = ["35", "2A", "59", "48", "971", "75", "13", "23", "974", "69", "29", "05"]
NOTEBOOK = "diagnostic_territorial.ipynb"
SYNTHESIS_NOTEBOOK = "synthese_regionale.ipynb"

# Runs a command, then prints its wall time and the peak RSS of its largest process.
_WRAPPER = r"""
import json, resource, subprocess, sys, time
started = time.perf_counter()
with open(sys.argv[1], "w") as log:
    code = subprocess.run(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT).returncode
print(json.dumps({"secondes": time.perf_counter() - started, "code": code,
                  "pic_mo": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def measured(command: list[str], log: Path) -> dict[str, float]:
    """Wall time and peak memory of ``command`` (output kept in ``log``)."""
    done = subprocess.run([sys.executable, "-c", _WRAPPER, str(log), *command],
                          capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["code"] != 0:
        raise SystemExit(f"échec de {' '.join(command)} (code {result['code']}) : voir {log}")
    return result


# --------------------------------------------------------------------------- (a) naive


def naive(codes: list[str], out: Path) -> None:
    """(a) papermill CLI + nbconvert CLI per territory (run under :func:`measured`)."""
    from ptsm_diag.report.execute import notebook_path

    out.mkdir(parents=True, exist_ok=True)
    notebook = notebook_path(NOTEBOOK)
    for code in codes:
        executed = out / f"diagnostic_{code}.ipynb"
        subprocess.run([_bin("papermill"), str(notebook), str(executed), "-p", "territoire",
                        code, "--no-progress-bar", "--cwd", str(notebook.parent)],
                       check=True, capture_output=True)
        subprocess.run([_bin("jupyter"), "nbconvert", "--to", "html", "--no-input",
                        str(executed)], check=True, capture_output=True)


# --------------------------------------------------------------------------- (c) floor


def _cells(name: str) -> tuple[list[str], list[str]]:
    """(code cells without the parameters cell, parameter names) of a packaged notebook."""
    import nbformat

    from ptsm_diag.report.execute import notebook_parameters, notebook_path

    path = notebook_path(name)
    cells = [c.source for c in nbformat.read(path, as_version=4).cells
             if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]
    return cells, list(notebook_parameters(path))


def _label(source: str) -> str:
    shown = re.findall(r"show\(\s*(?:collapsible\([^,]+,\s*)?([\w.]+)", source)
    return ", ".join(dict.fromkeys(shown)) or source.strip().splitlines()[-1][:40]


def floor_worker(codes: list[str], cache: str, out: str, synthesis: str, times: str) -> None:
    """The floor's work for ``codes`` in this process: each territory's notebook cells with
    every shown output rendered to HTML and the page written, its gaps workbook; the
    synthesis of ``synthesis`` (comma-separated codes, empty: none) and the index."""
    from unittest import mock

    from ptsm_diag.report import display
    from ptsm_diag.report.execute import write_atomic
    from ptsm_diag.report.inprocess import _system_heap_for_arrow
    from ptsm_diag.viz.offline import PLOTLY_PLACEHOLDER, fill_plotly_placeholder

    # outputs made for the report only, as in a batch's kernels (its notebooks are not kept)
    os.environ[display.OUTPUTS_VARIABLE] = display.REPORT_ONLY
    # pyarrow on the system's heap, as a batch process before its first notebook (about
    # 4 % slower than pyarrow's own pool: the same setting on both sides of a ratio)
    _system_heap_for_arrow()
    cells, declared = _cells(NOTEBOOK)
    per_cell: dict[int, list[float]] = {i: [] for i in range(len(cells))}
    pages: list[str] = []
    target = Path(out)
    # plotly.js: the placeholder init_display shows, filled when the page is written
    with mock.patch.object(display, "show", lambda obj: pages.append(display.to_html(obj))), \
            mock.patch.object(display, "init_display",
                              lambda: pages.append(PLOTLY_PLACEHOLDER)):
        for code in codes:
            pages.clear()
            namespace: dict[str, object] = {"territoire": code, "donnees": cache,
                                            "reference": "france", "fond": "aucun"}
            if "insuffisances_xlsx" in declared:
                namespace["insuffisances_xlsx"] = str(target / f"insuffisances_{code}.xlsx")
            for i, source in enumerate(cells):
                started = time.perf_counter()
                exec(compile(source, f"<{NOTEBOOK}>", "exec"), namespace)
                per_cell[i].append(time.perf_counter() - started)
            write_atomic(target / f"diagnostic_{code}.html",
                         fill_plotly_placeholder("\n".join(pages)))
            if "insuffisances_xlsx" not in declared:  # older notebook: the batch wrote it
                from ptsm_diag.report.batch import write_gaps_export

                write_gaps_export(code, Path(cache), target / f"insuffisances_{code}.xlsx")
            namespace.clear()  # as a batch kernel between two reports (execute._RESET)
            gc.collect()
            gc.freeze()
        if synthesis:
            pages.clear()
            syn_cells, _ = _cells(SYNTHESIS_NOTEBOOK)
            namespace = {"territoires": synthesis, "region": "", "donnees": cache,
                         "reference": "france", "indicateur": "", "fond": "aucun"}
            for source in syn_cells:
                exec(compile(source, f"<{SYNTHESIS_NOTEBOOK}>", "exec"), namespace)
            write_atomic(target / "synthese.html", fill_plotly_placeholder("\n".join(pages)))
    Path(times).write_text(json.dumps({"cells": [_label(c) for c in cells],
                                       "times": per_cell}), encoding="utf-8")


def floor(codes: list[str], processes: int, out: str, times: str) -> None:
    """(c) the floor in ``processes`` processes (run under :func:`measured`): the folder
    validated and cached once, the territories dealt round-robin, the synthesis in the
    first process, then the index."""
    from ptsm_diag.demo import demo_data_dir
    from ptsm_diag.io.sources import read_folder
    from ptsm_diag.report.batch import _cache_data, fingerprint_folder
    from ptsm_diag.report.execute import write_atomic
    from ptsm_diag.report.summary import territory_key_figures, territory_signals

    folder = demo_data_dir()
    data = read_folder(folder)
    target = Path(out)
    state = target / ".etat"
    state.mkdir(parents=True, exist_ok=True)
    cache = _cache_data(data, state, fingerprint_folder(folder))
    if processes == 1:  # this very process, as ``ptsm-diag batch --jobs 1`` does
        floor_worker(codes, str(cache), out, ",".join(codes), f"{times}.0")
    else:  # worker processes beside this one, as a batch's pool
        shares = [codes[i::processes] for i in range(processes)]
        children = [subprocess.Popen([
            sys.executable, __file__, "--interne-plancher-worker", ",".join(share),
            str(cache), out, ",".join(codes) if i == 0 else "", f"{times}.{i}"])
            for i, share in enumerate(shares)]
        if any(child.wait() for child in children):
            raise SystemExit("échec d'un processus du plancher")
    figures = territory_key_figures(data, codes)
    signals = territory_signals(data, codes, "france")
    write_atomic(target / "index.html", figures.to_html() + signals.to_html())


# --------------------------------------------------------------------------- main


def _keep_best(rows: dict[str, dict[str, float]], every_run: dict[str, list[float]],
               key: str, run: dict[str, float]) -> bool:
    """Record ``run`` of way ``key``; keep it in ``rows`` when it is the fastest so far."""
    every_run.setdefault(key, []).append(run["secondes"])
    if key not in rows or run["secondes"] < rows[key]["secondes"]:
        rows[key] = run
        return True
    return False


def _mb(path: Path) -> float:
    return path.stat().st_size / 1e6


def _sizes(folder: Path, prefix: str = "diagnostic_") -> tuple[float, float, str]:
    pages = sorted(folder.glob(f"{prefix}*.html"), key=lambda p: p.stat().st_size)
    mean = sum(_mb(p) for p in pages) / len(pages)
    return mean, _mb(pages[-1]), pages[-1].name


def main() -> None:
    """Run every way and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--echantillon", type=int, default=12,
                        help="territoires pour (b) et (c) sans --tous (défaut 12)")
    parser.add_argument("--echantillon-naif", type=int, default=3,
                        help="territoires pour (a) (défaut 3 ; 0 = pas de (a))")
    parser.add_argument("--tous", action="store_true",
                        help="(b) et (c) sur tous les territoires des données de démonstration")
    parser.add_argument("--repetitions", type=int, default=1,
                        help="tours de (b) et (c) (défaut 1) : chaque tour mesure jobs=1, "
                             "plancher 1, jobs=2, plancher 2 à la suite ; le meilleur temps "
                             "de chaque façon est retenu, les autres affichés")
    parser.add_argument("--noyaux", action="store_true",
                        help="mesurer aussi (b) avec --noyaux (notebooks dans des noyaux "
                             "Jupyter)")
    parser.add_argument("--interne-plancher", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--interne-plancher-worker", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--interne-naif", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.interne_plancher or args.interne_plancher_worker:
        # what ptsm-diag's own processes (the command, a batch worker) do before their
        # imports, so that the floor and the batch import the same modules
        from ptsm_diag.report.startup import skip_unneeded_imports

        skip_unneeded_imports()
    if args.interne_plancher:
        codes, processes, out, times = args.interne_plancher
        return floor(codes.split(","), int(processes), out, times)
    if args.interne_plancher_worker:
        codes, cache, out, synthesis, times = args.interne_plancher_worker
        return floor_worker([c for c in codes.split(",") if c], cache, out, synthesis, times)
    if args.interne_naif:
        return naive(args.interne_naif[0].split(","), Path(args.interne_naif[1]))

    from ptsm_diag import __version__
    from ptsm_diag.demo import demo_data_dir
    from ptsm_diag.io.sources import read_folder

    data = read_folder(demo_data_dir())
    every = sorted(data.territoires["code_territoire"].astype(str).unique())
    codes = every if args.tous else SAMPLE[: args.echantillon]
    n = len(codes)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=Path(__file__).parent).stdout.strip()
    print(f"ptsm-diag {__version__} ({commit or 'hors git'}) ; {os.cpu_count()} cœurs ; "
          f"charge {os.getloadavg()[0]:.2f} ; données de démonstration : {len(every)} "
          f"territoires ; (b) et (c) sur {n} territoires"
          f"{' (tous)' if args.tous else ' : ' + ','.join(codes)}")
    me = [sys.executable, __file__]
    cli = [_bin("ptsm-diag"), "batch"]
    chosen = ["--tous"] if args.tous else ["--territoires", ",".join(codes)]
    rows: dict[str, dict[str, float]] = {}
    every_run: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="ptsm-bench-") as tmp:
        work = Path(tmp)
        naive_codes = SAMPLE[: args.echantillon_naif]
        if naive_codes:
            rows["a"] = measured([*me, "--interne-naif", ",".join(naive_codes),
                                  str(work / "naif")], work / "naif.log")
            rows["a"]["n"] = len(naive_codes)
        # Each round runs a batch and its floor back to back (a slow spell of the machine
        # then weighs on both sides of a ratio); the best of the rounds is kept.
        times_of: dict[str, str] = {}
        for round_ in range(max(1, args.repetitions)):
            tag = "" if round_ == 0 else f"-{round_ + 1}"
            for jobs in (1, 2):
                lot = work / f"lot{jobs}{tag}"
                run = measured([*cli, *chosen, "--jobs", str(jobs), "--sortie", str(lot)],
                               work / f"lot{jobs}{tag}.log")
                _keep_best(rows, every_run, f"b{jobs}", run)
                times = str(work / f"temps{jobs}{tag}")
                run = measured([*me, "--interne-plancher", ",".join(codes), str(jobs),
                                str(work / f"plancher{jobs}{tag}"), times],
                               work / f"plancher{jobs}{tag}.log")
                if _keep_best(rows, every_run, f"c{jobs}", run):
                    times_of[f"c{jobs}"] = times
        rows["b2 chaud"] = measured([*cli, *chosen, "--jobs", "2", "--force", "--sortie",
                                     str(work / "lot2")], work / "lot2-chaud.log")
        for jobs in (1, 2) if args.noyaux else ():
            rows[f"b{jobs} noyaux"] = measured(
                [*cli, *chosen, "--jobs", str(jobs), "--noyaux", "--sortie",
                 str(work / f"noyaux{jobs}")], work / f"noyaux{jobs}.log")
        shared_codes = codes[:3]
        measured([*cli, "--territoires", ",".join(shared_codes), "--jobs", "2",
                  "--assets-partages", "--sans-synthese", "--sortie", str(work / "partage")],
                 work / "partage.log")

        print("\nTemps (mur, du lancement à la fin ; pic = plus gros processus de l'arbre)")
        print(f"{'façon':44s} {'total s':>8s} {'s/rapport':>10s} {'pic Mo':>7s}")
        labels = {
            "a": f"(a) papermill + nbconvert CLI ({rows.get('a', {}).get('n', 0):.0f} terr.)",
            "b1": "(b) ptsm-diag batch --jobs 1 (froid)",
            "b2": "(b) ptsm-diag batch --jobs 2 (froid)",
            "b2 chaud": "(b) ptsm-diag batch --jobs 2 --force (chaud)",
            "b1 noyaux": "(b) ptsm-diag batch --jobs 1 --noyaux",
            "b2 noyaux": "(b) ptsm-diag batch --jobs 2 --noyaux",
            "c1": "(c) plancher, 1 processus",
            "c2": "(c) plancher, 2 processus",
        }
        per: dict[str, float] = {}
        for key, label in labels.items():
            if key not in rows:
                continue
            count = rows[key].get("n", n)
            per[key] = rows[key]["secondes"] / count
            others = [f"{t:.1f}" for t in every_run.get(key, [])]
            print(f"{label:44s} {rows[key]['secondes']:8.1f} {per[key]:10.2f} "
                  f"{rows[key]['pic_mo']:7.0f}"
                  + (f"  (tours : {', '.join(others)})" if len(others) > 1 else ""))
        print("\nRapports (à parallélisme égal, même travail : rapports, classeurs, synthèse, "
              "index)")
        print(f"b/c 1 processus : {rows['b1']['secondes']:.1f} / {rows['c1']['secondes']:.1f}"
              f" = {rows['b1']['secondes'] / rows['c1']['secondes']:.2f}")
        print(f"b/c 2 processus : {rows['b2']['secondes']:.1f} / {rows['c2']['secondes']:.1f}"
              f" = {rows['b2']['secondes'] / rows['c2']['secondes']:.2f}")
        print(f"jobs=1 / jobs=2 : {rows['b1']['secondes']:.1f} / {rows['b2']['secondes']:.1f}"
              f" = {rows['b1']['secondes'] / rows['b2']['secondes']:.2f}×")
        for jobs in (1, 2) if args.noyaux else ():
            kernels, own = rows[f"b{jobs} noyaux"]["secondes"], rows[f"b{jobs}"]["secondes"]
            print(f"--noyaux / dans les processus, jobs={jobs} : {kernels:.1f} / {own:.1f} = "
                  f"{kernels / own:.2f} ; b/c {kernels:.1f} / "
                  f"{rows[f'c{jobs}']['secondes']:.1f} = "
                  f"{kernels / rows[f'c{jobs}']['secondes']:.2f}")
        if "a" in per:
            print(f"a/b par rapport : {per['a']:.2f} / {per['b2']:.2f} (jobs=2) = "
                  f"{per['a'] / per['b2']:.1f}× ; {per['a']:.2f} / {per['b1']:.2f} (jobs=1)"
                  f" = {per['a'] / per['b1']:.1f}×")

        print("\nTaille des rapports")
        mean, largest, name = _sizes(work / "lot2")
        print(f"autonome : moyenne {mean:.2f} Mo, plus gros {largest:.2f} Mo ({name})")
        mean, largest, name = _sizes(work / "partage")
        assets = sum(p.stat().st_size for p in (work / "partage" / "assets").iterdir()) / 1e6
        print(f"assets partagés ({len(shared_codes)} terr.) : moyenne {mean:.2f} Mo, plus gros "
              f"{largest:.2f} Mo ({name}) + assets/ {assets:.2f} Mo une fois pour le lot")
        synthesis = work / "lot2" / "synthese.html"
        if synthesis.is_file():
            print(f"synthèse ({len(codes)} terr.) : {_mb(synthesis):.2f} Mo")
        if naive_codes:
            mean, largest, name = _sizes(work / "naif")
            print(f"naïf (nbconvert par défaut) : moyenne {mean:.2f} Mo")

        print("\nPar section (plancher, 1 processus ; moyenne par rapport, sans le premier)")
        first = json.loads(Path(f"{times_of['c1']}.0").read_text(encoding="utf-8"))
        total = 0.0
        lines = []
        for i, label in enumerate(first["cells"]):
            values = first["times"][str(i)]
            warm = values[1:] or values
            mean_s = sum(warm) / len(warm)
            total += mean_s
            lines.append((mean_s, values[0], label))
        print(f"{'s/rapport':>9s} {'1er':>6s}  cellule")
        for mean_s, first_s, label in lines:
            print(f"{mean_s:9.3f} {first_s:6.2f}  {label}")
        print(f"{total:9.3f}         total des cellules")


if __name__ == "__main__":
    main()
