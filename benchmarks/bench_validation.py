"""Time and peak memory of validating large input files.

Generates, in a temporary folder, a 100,000-row ``ressources.csv`` and a 200,000-row
``population.csv`` in the French spreadsheet style (``;``, decimal commas, real commune
codes, ~1 % codes that lost their leading zero, a few errors), then validates each file
in a fresh process and prints: rows, problems, wall time, and peak memory (increase of the
resident memory, sampled every 5 ms, over the process after imports and referentials) and
the size of the accepted table.

Usage: python benchmarks/bench_validation.py [--ressources N] [--population N]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd


def make_ressources(path: Path, n: int, communes: np.ndarray, seed: int = 1) -> None:
    """A ressources file with n rows (0.1 % unknown types, 0.1 % duplicate FINESS)."""
    from ptsm_diag.catalog import load_resource_types

    rng = np.random.default_rng(seed)
    types = load_resource_types()
    codes = np.array(list(types))
    picked = codes[rng.integers(0, len(codes), n)]
    commune = communes[rng.integers(0, len(communes), n)].astype(object)
    lost = np.char.startswith(commune.astype(str), "0") & (rng.random(n) < 0.3)
    commune[lost] = [c[1:] for c in commune[lost]]
    finess = np.array([f"{i:09d}" for i in rng.permutation(10**8)[:n] + 10**8], dtype=object)
    duplicate = rng.random(n) < 0.001
    finess[duplicate] = finess[0]
    picked = picked.astype(object)
    picked[rng.random(n) < 0.001] = "type_inconnu"
    prestations = {c: "|".join(t.prestations) for c, t in types.items()}
    frame = pd.DataFrame({
        "id_ressource": [f"R{i:07d}" for i in range(n)],
        "finess": finess,
        "nom": [f"Structure d'exemple n°{i}" for i in range(n)],
        "type_ressource": picked,
        "champ": "",
        "public": "",
        "code_commune": commune,
        "longitude": np.round(rng.uniform(-4.5, 7.5, n), 5),
        "latitude": np.round(rng.uniform(43.0, 50.5, n), 5),
        "capacite_lits": rng.integers(0, 300, n),
        "capacite_places": "",
        "etp": np.round(rng.uniform(0, 80, n), 1),
        "prestations": [prestations.get(c, "") for c in picked],
        "telephone": "02 99 00 00 00",
        "source": "banc d'essai",
    })
    frame.to_csv(path, sep=";", decimal=",", index=False, encoding="utf-8")


def make_population(path: Path, n: int, communes: np.ndarray) -> None:
    """A population file with n rows: communes × years × 3 age bands, thousands spaces."""
    bands = ["0-17", "18-64", "65+"]
    years = range(2015, 2015 + n // (3 * len(communes)) + 1)
    index = pd.MultiIndex.from_product([communes, years, bands],
                                       names=["code_commune", "annee", "tranche_age"])
    frame = index.to_frame(index=False).iloc[:n]
    rng = np.random.default_rng(2)
    values = rng.integers(0, 200_000, len(frame))
    frame["population"] = [f"{v:,}".replace(",", "\u00a0") for v in values]
    frame.to_csv(path, sep=";", index=False, encoding="utf-8")


class _RssSampler(threading.Thread):
    """Samples the resident memory of this process every few milliseconds."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = self.baseline = _rss()
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, _rss())
            time.sleep(0.005)

    def stop(self) -> float:
        """Stop; the peak increase over the baseline, in MiB."""
        self._done.set()
        self.join()
        self.peak = max(self.peak, _rss())
        return (self.peak - self.baseline) / 2**20


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize()


def _measure(name: str, path: str, queue: mp.Queue) -> None:
    from ptsm_diag.io.sources import bundled_referentials, read_table

    bundled_referentials()  # geography and catalogue, loaded once per process in real use
    sampler = _RssSampler()
    sampler.start()
    started = time.perf_counter()
    result = read_table(name, path)
    elapsed = time.perf_counter() - started
    rss = sampler.stop()
    severities = pd.Series([str(p.severity) for p in result.problems]).value_counts().to_dict()
    queue.put({
        "table": name, "lignes": result.n_read, "acceptees": result.n_accepted,
        "rejetees": result.n_rejected, "problemes": severities, "secondes": elapsed,
        "rss_mo": rss, "donnees_mo": result.data.memory_usage(deep=True).sum() / 2**20,
        "taille_mo": Path(path).stat().st_size / 2**20,
    })


def main() -> None:
    """Generate the files, validate each in a fresh process, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ressources", type=int, default=100_000)
    parser.add_argument("--population", type=int, default=200_000)
    args = parser.parse_args()
    from ptsm_diag.catalog.geography import load_communes

    communes = load_communes()["code_commune"].astype(str).to_numpy()
    context = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        make_ressources(folder / "ressources.csv", args.ressources, communes)
        make_population(folder / "population.csv", args.population, communes)
        print(f"Fichiers générés en {time.perf_counter() - started:.1f} s dans {folder}")
        for name in ("ressources", "population"):
            queue = context.Queue()
            process = context.Process(target=_measure,
                                      args=(name, str(folder / f"{name}.csv"), queue))
            process.start()
            figures = queue.get(timeout=900)
            process.join()
            print(
                f"{figures['table']:<12} {figures['lignes']:>7} lignes "
                f"({figures['taille_mo']:.1f} Mo) : {figures['secondes']:.2f} s, "
                f"{figures['lignes'] / figures['secondes']:,.0f} lignes/s ; "
                f"mémoire : pic +{figures['rss_mo']:.0f} Mo RSS, table acceptée "
                f"{figures['donnees_mo']:.0f} Mo ; "
                f"acceptées {figures['acceptees']}, rejetées {figures['rejetees']}, "
                f"problèmes {figures['problemes']}"
            )


if __name__ == "__main__":
    main()
