"""Download (or take from the cache), check and convert the official files into a folder.

:func:`telecharger` is what ``ptsm-diag donnees telecharger`` runs: for each source it
uses the cached file when it is intact (no network at all), else downloads it (resuming
an interrupted transfer), records its manifest, converts it, and finally writes the
template tables ``territoires.csv``, ``ressources.csv`` and ``population.csv`` (plus
``provenance.json``, and the national tables ``references_nationales.csv`` and
``population_nationale.csv`` of the FINESS and INSEE files) into the output folder.
Nothing is written when a source fails: the files already downloaded stay in the cache
for the next run.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from ptsm_diag.errors import Problem, PtsmError, Severity
from ptsm_diag.io.opendata.cache import CacheEntry, OpenDataCache
from ptsm_diag.io.opendata.converters import Context, Converted, join_capacities
from ptsm_diag.io.opendata.download import (
    DEFAULT_TIMEOUT,
    DownloadError,
    FormatChangedError,
    download,
    fetch_json,
    part_path,
)
from ptsm_diag.io.opendata.registry import (
    DATAGOUV_API,
    SourceAdapter,
    mirror_url,
    override_url,
    pick_resource,
    select_sources,
)

Notify = Callable[[str, str], None]  # (message, level: "info" | "avertissement")
SourceProgress = Callable[[str, int, int | None], None]  # (source, done, total)

ORIGIN_CACHE = "cache"
ORIGIN_DOWNLOAD = "téléchargement"
ORIGIN_RESUMED = "reprise"
PROVENANCE = "provenance.json"


@dataclass(frozen=True)
class Options:
    """How to obtain the files.

    Attributes
    ----------
    hors_ligne : bool
        Use the cache only; never touch the network.
    url_base : str, optional
        Mirror serving every source at ``<url_base>/<mirror_name>``.
    force : bool
        Download again even when the cached file is intact.
    timeout : float
        Network timeout in seconds.
    api : str
        data.gouv.fr dataset API URL template (``{dataset}``).
    """

    hors_ligne: bool = False
    url_base: str | None = None
    force: bool = False
    timeout: float = DEFAULT_TIMEOUT
    api: str = DATAGOUV_API


@dataclass(frozen=True)
class Resolved:
    """Where to download a source from, and what the catalogue says about it."""

    url: str
    file_name: str
    producer_date: str = ""
    checksum: tuple[str, str] | None = None  # (algorithm, hex value)
    details: dict = field(default_factory=dict)


@dataclass
class SourceOutcome:
    """One source: its cached file and its conversion."""

    adapter: SourceAdapter
    path: Path
    entry: CacheEntry
    origin: str
    converted: Converted | None = None


@dataclass
class DownloadReport:
    """What :func:`telecharger` did.

    Attributes
    ----------
    folder : Path
        Output folder.
    files : list of Path
        Files written.
    outcomes : dict of str to SourceOutcome
        Per source.
    departements : list of str
        Départements covered (empty: all).
    problems : list of Problem
        Warnings and repairs of every source.
    """

    folder: Path
    files: list[Path]
    outcomes: dict[str, SourceOutcome]
    departements: list[str]
    problems: list[Problem]

    def to_french(self) -> str:
        """A short French summary."""
        lines = [f"Données écrites dans {self.folder} :"]
        lines += [f"- {path.name}" for path in self.files]
        for name, outcome in self.outcomes.items():
            where = {ORIGIN_CACHE: "depuis le cache", ORIGIN_DOWNLOAD: "téléchargé",
                     ORIGIN_RESUMED: "téléchargement repris"}[outcome.origin]
            lines.append(f"Source « {name} » ({outcome.entry.fichier}, {where}) :")
            if outcome.converted is not None:
                lines += [f"  {note}" for note in outcome.converted.notes]
        return "\n".join(lines)


# ----------------------------------------------------------------------------- obtaining


def _file_name(url: str, fallback: str) -> str:
    name = Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path)).name
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")
    return name if "." in name else fallback


def resolve(adapter: SourceAdapter, options: Options) -> Resolved:
    """The URL of a source: mirror, environment override, catalogue entry or fixed URL."""
    if options.url_base:
        url = mirror_url(adapter, options.url_base)
        return Resolved(url, adapter.mirror_name, details={"miroir": options.url_base})
    url = override_url(adapter)
    if url:
        return Resolved(url, _file_name(url, adapter.mirror_name))
    if adapter.dataset:
        api = options.api.format(dataset=adapter.dataset)
        try:
            catalogue = fetch_json(api, timeout=options.timeout)
        except DownloadError:
            if adapter.url is None:
                raise
            return Resolved(adapter.url, _file_name(adapter.url, adapter.mirror_name))
        resource = pick_resource(adapter, catalogue)
        if resource is None or not resource.get("url"):
            if adapter.url is not None:
                return Resolved(adapter.url, _file_name(adapter.url, adapter.mirror_name))
            raise DownloadError(api, "aucune ressource « "
                                f"{adapter.resource_pattern} » dans le catalogue",
                                f"Le jeu de données a peut-être changé : voir {adapter.page}.")
        checksum = resource.get("checksum") or {}
        algorithm = str(checksum.get("type") or "").lower()
        return Resolved(
            resource["url"], _file_name(resource["url"], adapter.mirror_name),
            str(resource.get("last_modified") or "")[:10],
            (algorithm, str(checksum["value"]).lower())
            if algorithm in ("sha1", "sha256", "md5") and checksum.get("value") else None,
            {"catalogue": api, "ressource": resource.get("title", ""),
             "taille_catalogue": resource.get("filesize")})
    if adapter.url is None:
        raise PtsmError(f"Source « {adapter.name} » sans adresse : utilisez --url-base.")
    return Resolved(adapter.url, _file_name(adapter.url, adapter.mirror_name))


def _digest(path: Path, algorithm: str) -> str:
    import hashlib

    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def obtain(
    adapter: SourceAdapter,
    cache: OpenDataCache,
    options: Options,
    *,
    progress: SourceProgress | None = None,
    notify: Notify | None = None,
) -> tuple[Path, CacheEntry, str]:
    """The checked file of a source: from the cache when intact, else downloaded.

    Returns
    -------
    tuple of (Path, CacheEntry, str)
        The file, its manifest and its origin (``cache``, ``téléchargement``,
        ``reprise``).

    Raises
    ------
    PtsmError
        Offline without a usable cached file.
    DownloadError
        Network unavailable, HTTP error, truncated transfer, checksum mismatch.
    """
    say = notify or (lambda message, level: None)
    name = adapter.name
    check = cache.check(name)
    if check.ok and (not options.force or options.hors_ligne):
        if options.force:
            say(f"« {name} » : --force ignoré en mode hors ligne, fichier du cache utilisé.",
                "avertissement")
        return check.path, check.entry, ORIGIN_CACHE
    if check.entry is not None and not check.ok:
        follow = ("il n'est pas utilisé." if options.hors_ligne
                  else "il n'est pas utilisé et va être téléchargé à nouveau.")
        say(f"Fichier en cache de « {name} » ({check.entry.fichier}) inutilisable : "
            f"{check.reason} ; {follow}", "avertissement")
    if options.hors_ligne:
        folder = cache.folder(name)
        reason = ("il n'est pas dans le cache" if check.entry is None
                  else f"le fichier en cache est inutilisable ({check.reason})")
        raise PtsmError(
            f"Mode hors ligne : la source « {name} » ({adapter.title}) ne peut pas être "
            f"utilisée, {reason} (dossier {folder}). Lancez d'abord « ptsm-diag donnees "
            "telecharger » avec une connexion (ou --url-base vers un miroir), puis "
            "relancez avec --hors-ligne.")
    if check.entry is not None and not check.ok:
        cache.discard(name)  # never used again; an intact one is kept until replaced
    resolved = resolve(adapter, options)
    target = cache.target(name, resolved.file_name)
    resume = not options.force
    if not resume:
        part_path(target).unlink(missing_ok=True)
    elif part_path(target).is_file():
        say(f"« {name} » : reprise du téléchargement interrompu "
            f"({part_path(target).stat().st_size} octets déjà reçus).", "info")
    result = download(
        resolved.url, target, timeout=options.timeout, resume=resume,
        progress=(lambda done, total: progress(name, done, total)) if progress else None)
    if resolved.checksum is not None:
        algorithm, expected = resolved.checksum
        if _digest(result.path, algorithm) != expected:
            result.path.unlink(missing_ok=True)
            raise DownloadError(resolved.url, f"empreinte {algorithm} différente de celle du "
                                "catalogue data.gouv.fr (fichier altéré en route ?)",
                                "Relancez la commande.")
    entry = CacheEntry(
        source=name, fichier=result.path.name, url=resolved.url,
        date_telechargement=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        taille=result.size, sha256=result.sha256,
        date_producteur=resolved.producer_date or result.last_modified,
        details={**resolved.details, "page": adapter.page, "reprise_a": result.resumed_from},
    )
    cache.record(entry)
    return result.path, entry, ORIGIN_RESUMED if result.resumed_from else ORIGIN_DOWNLOAD


# ----------------------------------------------------------------------------- territory


def resolve_departements(departements: str | list[str] | None, region: str | None
                         ) -> list[str] | None:
    """Département codes from ``--departements`` / ``--region`` (None: all of France).

    Raises
    ------
    UnknownCodeError
        For a département or région that the bundled geography does not know.
    """
    from ptsm_diag.catalog.geography import cached_layer, normalize_departement_code
    from ptsm_diag.errors import UnknownCodeError

    deps = cached_layer("departements")
    known = list(deps["code_departement"].astype(str))
    if region:
        code = str(region).strip().zfill(2)
        chosen = sorted(deps.loc[deps["code_region"].astype(str) == code, "code_departement"])
        if not chosen:
            raise UnknownCodeError("région", [code], "Codes INSEE à 2 chiffres (ex. 53).")
        return list(chosen)
    if not departements:
        return None
    items = departements.split(",") if isinstance(departements, str) else departements
    codes = [normalize_departement_code(c) for c in items if str(c).strip()]
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise UnknownCodeError("département", unknown, "Exemples : 01, 2A, 29, 971.")
    return list(dict.fromkeys(codes))


def territoires_table(departements: list[str] | None) -> pd.DataFrame:
    """One PTSM territory per département (the usual case), in the template format."""
    from ptsm_diag.catalog.geography import cached_layer

    deps = cached_layer("departements")
    if departements is not None:
        deps = deps[deps["code_departement"].isin(departements)]
    deps = deps.sort_values("code_departement")
    return pd.DataFrame({
        "code_territoire": deps["code_departement"].astype(str).to_numpy(),
        "nom_territoire": [f"PTSM {nom}" for nom in deps["nom"]],
        "code_region": deps["code_region"].astype(str).to_numpy(),
        "niveau": "departement",
        "code": deps["code_departement"].astype(str).to_numpy(),
    })


# ----------------------------------------------------------------------------- pipeline


def _csv(frame: pd.DataFrame) -> str:
    from ptsm_diag.io.exports import csv_text  # no cell a spreadsheet would run as a formula

    return csv_text(frame, decimal=".", lineterminator="\n")


def telecharger(
    sources: str | list[str] | None = None,
    *,
    sortie: str | Path,
    departements: str | list[str] | None = None,
    region: str | None = None,
    options: Options | None = None,
    cache: OpenDataCache | None = None,
    progress: SourceProgress | None = None,
    notify: Notify | None = None,
) -> DownloadReport:
    """Fetch, check and convert the official open data into a template data folder.

    Parameters
    ----------
    sources : str or list of str, optional
        Registry names (comma-separated); the default sources when None.
    sortie : path
        Output folder (created; other files in it are left alone).
    departements, region : optional
        Territory: département codes (``"29,35"``) or a région code (``"53"``); the
        whole country when both are None.
    options : Options, optional
        Offline mode, mirror, force, timeout.
    cache : OpenDataCache, optional
        The cache (``cache_dir()/opendata`` by default).
    progress : callable, optional
        ``progress(source, bytes_done, bytes_total_or_None)`` while downloading.
    notify : callable, optional
        ``notify(message, level)`` for French messages (cache problems, resumes...).

    Raises
    ------
    PtsmError
        When a source cannot be obtained or converted (every failure is listed); no table
        is written then.
    """
    from ptsm_diag.io.files import write_atomic
    from ptsm_diag.io.sources.finess import ressources_csv_text
    from ptsm_diag.io.sources.national import (
        NATIONAL_FILE,
        POPULATION_FILE,
        national_csv_text,
        national_population_csv_text,
    )

    options = options or Options()
    cache = cache or OpenDataCache()
    adapters = select_sources(sources)
    chosen = resolve_departements(departements, region)
    scope = frozenset(chosen) if chosen is not None else None
    outcomes: dict[str, SourceOutcome] = {}
    failures: list[str] = []
    for adapter in adapters:
        context = Context(adapter.name, scope, f"Page de la source : {adapter.page}")
        try:
            path, entry, origin = obtain(adapter, cache, options, progress=progress,
                                         notify=notify)
        except PtsmError as exc:
            failures.append(str(exc))
            continue
        outcome = SourceOutcome(adapter, path, entry, origin)
        try:
            outcome.converted = adapter.converter(path, context)
        except FormatChangedError as exc:
            failures.append(str(exc))
            continue
        except PtsmError as exc:
            failures.append(f"Source « {adapter.name} » ({path.name}) : {exc}")
            continue
        date = outcome.converted.producer_date
        if date and date != entry.date_producteur:
            outcome.entry = replace(entry, date_producteur=date)
            cache.record(outcome.entry)
        outcomes[adapter.name] = outcome
    if failures:
        raise PtsmError("Aucun fichier n'a été écrit :\n" + "\n".join(failures))

    folder = Path(sortie)
    texts: dict[str, str] = {"territoires.csv": _csv(territoires_table(chosen))}
    problems: list[Problem] = []
    for outcome in outcomes.values():
        problems += outcome.converted.problems
    resources = next((o for o in outcomes.values() if o.adapter.table == "ressources"), None)
    capacities = next((o for o in outcomes.values() if o.adapter.table == "capacites"), None)
    if resources is not None:
        table = resources.converted.table
        if capacities is not None:
            table, filled = join_capacities(table, capacities.converted.table)
            capacities.converted.notes.append(
                f"{filled} établissement(s) de ressources.csv complété(s) avec leurs places "
                "installées.")
        texts["ressources.csv"] = "\ufeff" + ressources_csv_text(table)
        national = national_table(resources.converted, capacities and capacities.converted)
        if national is not None:
            texts[NATIONAL_FILE] = national_csv_text(national)
            departements_count = national["code_departement"].nunique()
            resources.converted.notes.append(
                f"Table nationale de référence ({NATIONAL_FILE}) : {int(national['nombre'].sum())} "
                f"structure(s) de {departements_count} départements, pour les références "
                "région et France des rapports.")
    elif capacities is not None:
        problems.append(Problem(capacities.path.name, None, None, None,
                                "la source finess ou finess_plus",
                                "places installées non utilisées : pas de table ressources à "
                                "compléter", Severity.AVERTISSEMENT))
    population = outcomes.get("population")
    if population is not None:
        texts["population.csv"] = _csv(population.converted.table)
        national_population = population.converted.national
        if national_population is not None and not national_population.empty:
            texts[POPULATION_FILE] = national_population_csv_text(national_population)
            bands = ", ".join(sorted(national_population["tranche_age"].unique()))
            population.converted.notes.append(
                f"Population nationale ({POPULATION_FILE}) : "
                f"{national_population['code_departement'].nunique()} départements, tranches "
                f"{bands}, pour les dénominateurs région et France des indicateurs calculés.")
    contexts = [o.converted.table for o in outcomes.values()
                if o.adapter.table == "contexte" and o.converted.table is not None]
    if contexts:
        texts["contexte.csv"] = _csv(pd.concat(contexts, ignore_index=True))
    provenance = {
        "genere_le": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "departements": chosen or "tous",
        "sources": {
            name: {"titre": o.adapter.title, "producteur": o.adapter.producer,
                   "page": o.adapter.page, "origine": o.origin,
                   "manifeste": o.entry.__dict__, "notes": o.converted.notes,
                   "details": o.converted.details}
            for name, o in outcomes.items()},
        "problemes": [p.as_dict() for p in problems],
    }
    texts[PROVENANCE] = json.dumps(provenance, ensure_ascii=False, indent=2, default=str) + "\n"
    written = []
    for file_name, text in texts.items():
        write_atomic(folder / file_name, text)
        written.append(folder / file_name)
    return DownloadReport(folder, written, outcomes, chosen or [], problems)


def national_table(resources: Converted, capacities: Converted | None
                   ) -> pd.DataFrame | None:
    """The national reference table of a FINESS conversion (whole country, before the
    départements were kept), its places completed from the équipements when given."""
    from ptsm_diag.io.sources.national import national_reference_table

    if resources.national is None:
        return None
    table = resources.national
    source = f"FINESS {resources.producer_date}".strip()
    if capacities is not None and capacities.table is not None:
        table, _ = join_capacities(table, capacities.table)
        source += f" ; équipements FINESS {capacities.producer_date}".rstrip()
    return national_reference_table(table, date_finess=resources.producer_date,
                                    source=source)


def cache_status(cache: OpenDataCache | None = None) -> pd.DataFrame:
    """The cache as a table: source, fichier, date, taille, sha256 vérifié, date producteur."""
    cache = cache or OpenDataCache()
    rows = []
    for name in cache.sources():
        check = cache.check(name)
        entry = check.entry
        parts = cache.partial(name)
        rows.append({
            "source": name,
            "fichier": entry.fichier if entry else "",
            "telecharge_le": entry.date_telechargement if entry else "",
            "date_producteur": entry.date_producteur if entry else "",
            "taille": entry.taille if entry else 0,
            "etat": "OK" if check.ok else check.reason,
            "partiel": sum(p.stat().st_size for p in parts),
            "url": entry.url if entry else "",
        })
    return pd.DataFrame(rows, columns=["source", "fichier", "telecharge_le", "date_producteur",
                                       "taille", "etat", "partiel", "url"])
