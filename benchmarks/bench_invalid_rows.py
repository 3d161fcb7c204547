"""Peak memory of ``ptsm-diag valider`` on a file where every row is invalid.

Writes, in a temporary folder, a ``ressources.csv`` of N rows (1,000,000 by default) whose
every row has three errors (unknown resource type, commune code of the wrong format,
bed count that is not a number), runs ``ptsm-diag valider DOSSIER --rapport problemes.csv``
in a child process, and prints: rows, wall time, peak resident memory of the child
(``getrusage``), exit code and size of the problems file.

Usage: python benchmarks/bench_invalid_rows.py [--rows N] [--python PYTHON]
       [--pythonpath DIR]  (e.g. an export of an older commit, to compare before/after)

Nothing is asserted: the figures are printed for the README or an issue.

Measured on 2 shared, heavily loaded cores (1,000,000 rows, 4 errors per row: the
commune code also fails the referential check):

- before (commit a4e2e4f): peak 4,134 Mo, problems file 800 Mo, 2,055 s;
- after: peak 1,819 Mo, problems file 0.8 Mo (the first 1,000 problems of each kind,
  exact counts per kind in the terminal), 192 s.

What is left grows with the rows, not the problems: the text, typed and accepted frames
and pandera's table of failure cases (about 280 Mo is imports and referentials).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = "id_ressource;nom;type_ressource;code_commune;capacite_lits"


def make_invalid_ressources(path: Path, n: int) -> None:
    """``n`` rows, each with three errors (type, commune code, bed count)."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\n")
        for i in range(n):
            out.write(f"R{i:07d};Structure {i};type_inconnu_{i % 7};ABCDE;beaucoup\n")


def run(rows: int, python: str, pythonpath: str | None) -> dict[str, object]:
    """Generate the file, run ``valider`` in a child process, measure it."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "donnees"
        folder.mkdir()
        make_invalid_ressources(folder / "ressources.csv", rows)
        report = Path(tmp) / "problemes.csv"
        env = dict(os.environ, COLUMNS="120")
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        command = [python, "-c", "import sys; from ptsm_diag.cli import main; "
                   "sys.exit(main(sys.argv[1:]))", "valider", str(folder),
                   "--rapport", str(report)]
        start = time.perf_counter()
        done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, check=False)
        wall = time.perf_counter() - start
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
        size = report.stat().st_size if report.exists() else 0
        if done.returncode not in (0, 1):
            print(done.stderr[-2000:], file=sys.stderr)
        return {"lignes": rows, "secondes": round(wall, 1),
                "memoire_max_mo": round(peak_kib / 1024), "code_sortie": done.returncode,
                "rapport_mo": round(size / 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--pythonpath", default=None)
    args = parser.parse_args()
    result = run(args.rows, args.python, args.pythonpath)
    print(" | ".join(f"{k} : {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
