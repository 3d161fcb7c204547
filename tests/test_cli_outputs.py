"""Unusable outputs and notebooks end in a French message and a non-zero exit, never in a
traceback or a partial file; no command writes into the data folder (issue 12, items 7-8)."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

import nbformat
import pytest

from ptsm_diag.cli import main
from ptsm_diag.io import files

TEMPLATES = Path(__file__).resolve().parents[1] / "data_templates"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A small valid data folder (territory 35 of the templates)."""
    folder = tmp_path / "donnees"
    folder.mkdir()
    for name in ("territoires.csv", "ressources.csv"):
        shutil.copy(TEMPLATES / name, folder / name)
    return folder


def _argv(command: str, data: Path, sortie: Path) -> list[str]:
    """The arguments of ``command`` for territory 35 of ``data``, writing to ``sortie``."""
    if command in ("batch", "synthese"):
        return [command, "--donnees", str(data), "--territoires", "35", "--sortie", str(sortie)]
    return [command, "--territoire", "35", "--donnees", str(data), "--sortie", str(sortie)]


WRITERS = ["rapport", "annuaire", "insuffisances", "carte", "rosace", "batch", "synthese"]


def _fails_in_french(code: int, capsys, *expected: str) -> str:
    captured = capsys.readouterr()
    assert code != 0
    assert "Traceback" not in captured.err + captured.out
    assert captured.err.startswith("Erreur : ")
    message = " ".join(captured.err.split())  # the console may wrap long lines
    for text in expected:
        assert text in message, message
    return message


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# --------------------------------------------------------------------------- item 8


@pytest.mark.parametrize("command", WRITERS)
@pytest.mark.parametrize("inside", [".", "rapports"])
def test_no_command_writes_into_the_data_folder(command, inside, data, capsys):
    before = _tree(data)
    code = main(_argv(command, data, data / inside))
    _fails_in_french(code, capsys, "dossier de données", str(data))
    assert _tree(data) == before
    assert not (data / "rapports").exists()


def test_workshop_map_file_inside_the_data_folder_is_refused(data, capsys):
    before = _tree(data)
    code = main(_argv("carte", data, data / "carte.html"))
    _fails_in_french(code, capsys, "dossier de données")
    assert _tree(data) == before


def test_valider_report_inside_the_data_folder_is_refused(data, capsys):
    code = main(["valider", str(data), "--rapport", str(data / "problemes.csv")])
    assert code != 0
    assert "dossier de données" in " ".join(capsys.readouterr().err.split())
    assert not (data / "problemes.csv").exists()


# --------------------------------------------------------------------------- item 7: --sortie


@pytest.mark.parametrize("command", WRITERS)
def test_output_that_is_an_existing_file(command, data, tmp_path, capsys):
    existing = tmp_path / "rapport.txt"
    existing.write_text("à garder", encoding="utf-8")
    code = main(_argv(command, data, existing))
    _fails_in_french(code, capsys, "est un fichier existant, pas un dossier", str(existing))
    assert existing.read_text(encoding="utf-8") == "à garder"


@pytest.mark.parametrize("command", WRITERS)
def test_output_below_a_file(command, data, tmp_path, capsys):
    existing = tmp_path / "fichier"
    existing.write_text("x", encoding="utf-8")
    code = main(_argv(command, data, existing / "sous-dossier"))
    _fails_in_french(code, capsys, "est un fichier, pas un dossier", str(existing))
    assert existing.read_text(encoding="utf-8") == "x"


def test_valider_report_that_is_a_folder(data, tmp_path, capsys):
    code = main(["valider", str(data), "--rapport", str(tmp_path)])
    _fails_in_french(code, capsys, "est un dossier", "nom de fichier")


def test_finess_output_that_is_a_folder_or_the_extract(tmp_path, capsys):
    extract = Path(__file__).parent / "fixtures" / "finess" / \
        "etalab-cs1100507-stock-20260512-0339.csv"
    _fails_in_french(main(["finess", str(extract), "--sortie", str(tmp_path)]), capsys,
                     "est un dossier")
    copy = tmp_path / "extraction.csv"
    shutil.copy(extract, copy)
    before = copy.read_bytes()
    _fails_in_french(main(["finess", str(copy), "--sortie", str(copy)]), capsys,
                     "extraction FINESS lue")
    assert copy.read_bytes() == before


@pytest.mark.parametrize("command", ["annuaire", "insuffisances", "carte"])
def test_read_only_output_folder(command, data, tmp_path, capsys):
    out = tmp_path / "lecture_seule"
    out.mkdir()
    out.chmod(0o555)
    try:
        if os.access(out, os.W_OK):
            pytest.skip("les droits ne s'appliquent pas à root : voir les tests EROFS simulés")
        code = main(_argv(command, data, out))
        _fails_in_french(code, capsys, "lecture seule", str(out))
        assert not list(out.iterdir())
    finally:
        out.chmod(0o755)


# --------------------------------------------------------------------------- item 7: writes


def _failing_at(monkeypatch, where: str, code: int) -> None:
    """Simulate a read-only file system (the temporary file cannot be created) or a full
    disk (the file is written, then the rename fails), whoever runs the tests (root too)."""
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    if where == "create":
        monkeypatch.setattr(tempfile, "mkstemp", fail)
    else:
        monkeypatch.setattr(files.os, "replace", fail)


FAILURES = [("create", errno.EROFS, "lecture seule"), ("rename", errno.ENOSPC, "disque est plein")]


@pytest.mark.parametrize(("where", "code", "said"), FAILURES)
@pytest.mark.parametrize("command", ["annuaire", "insuffisances", "carte"])
def test_failed_write_is_french_and_leaves_no_partial_file(command, where, code, said, data,
                                                           tmp_path, capsys, monkeypatch):
    out = tmp_path / "sortie"
    out.mkdir()
    _failing_at(monkeypatch, where, code)
    status = main(_argv(command, data, out))
    _fails_in_french(status, capsys, "Impossible d'écrire", said, str(out),
                     "Aucun fichier partiel")
    assert not list(out.iterdir())  # neither the file nor its temporary copy


@pytest.mark.parametrize(("where", "code", "said"), FAILURES)
def test_failed_report_write(where, code, said, data, tmp_path, capsys, monkeypatch):
    """The notebook run is replaced by a ready notebook: only the writing is tested."""
    import ptsm_diag.report.execute as report

    executed = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Rapport")])
    monkeypatch.setattr(report, "execute_notebook", lambda *args, **kwargs: executed)
    out = tmp_path / "sortie"
    out.mkdir()
    _failing_at(monkeypatch, where, code)
    status = main(_argv("rapport", data, out))
    _fails_in_french(status, capsys, "Impossible d'écrire", said, "Aucun fichier partiel")
    assert not list(out.iterdir())


@pytest.mark.parametrize(("where", "code", "said"), FAILURES)
def test_failed_valider_report_write(where, code, said, data, tmp_path, capsys, monkeypatch):
    target = tmp_path / "sortie" / "problemes.csv"
    target.parent.mkdir()
    _failing_at(monkeypatch, where, code)
    status = main(["valider", str(data), "--rapport", str(target)])
    _fails_in_french(status, capsys, "Impossible d'écrire", said, str(target))
    assert not list(target.parent.iterdir())


def test_write_error_is_still_an_oserror(tmp_path, monkeypatch):
    _failing_at(monkeypatch, "rename", errno.ENOSPC)
    with pytest.raises(OSError) as raised:
        files.write_atomic(tmp_path / "a.txt", "texte")
    assert raised.value.errno == errno.ENOSPC  # code catching OSError keeps working
    assert isinstance(raised.value, files.OutputWriteError)
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- item 7: notebook


def _not_notebooks(tmp_path: Path) -> list[Path]:
    text = tmp_path / "notes.ipynb"
    text.write_text("Ceci n'est pas un notebook.\n", encoding="utf-8")
    no_cells = tmp_path / "sans_cellules.ipynb"
    no_cells.write_text('{"metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
                        encoding="utf-8")
    a_list = tmp_path / "liste.json"
    a_list.write_text("[1, 2]", encoding="utf-8")
    binary = tmp_path / "image.ipynb"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    found = [text, no_cells, a_list, binary]
    if Path("/etc/passwd").is_file():
        found.append(Path("/etc/passwd"))
    return found


@pytest.mark.parametrize("command", ["rapport", "batch"])
def test_a_file_that_is_not_a_notebook(command, data, tmp_path, capsys):
    out = tmp_path / "sortie"
    for notebook in _not_notebooks(tmp_path):
        code = main([*_argv(command, data, out), "--notebook", str(notebook)])
        _fails_in_french(code, capsys, "n'est pas un notebook Jupyter valide", str(notebook))
        assert not out.exists() or not [p for p in out.rglob("*") if p.is_file()]
