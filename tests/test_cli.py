"""The ptsm-diag command: French help, clear errors, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pyogrio
import pytest

from ptsm_diag.cli import main
from ptsm_diag.cli.commands import build_parser


def test_help_is_french_and_lists_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "rapport", "valider", "generer-demo", "batch", "synthese", "carte",
                    "insuffisances", "finess", "annuaire", "donnees"):
        assert command in out
    assert "Diagnostic territorial" in out


def test_rapport_help_documents_options(capsys):
    with pytest.raises(SystemExit):
        main(["rapport", "--help"])
    out = capsys.readouterr().out
    assert "--territoire" in out and "--donnees" in out and "hors ligne" in out


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().out


def test_rapport_on_missing_folder_is_a_clear_error(tmp_path: Path, capsys):
    code = main(["rapport", "--territoire", "35", "--donnees", str(tmp_path / "absent")])
    assert code == 2
    assert "Dossier de données introuvable" in capsys.readouterr().err


def test_territory_code_stays_a_string():
    args = build_parser().parse_args(["rapport", "--territoire", "01", "--donnees", "."])
    assert args.territoire == "01"


def test_console_script_is_installed():
    result = subprocess.run([sys.executable, "-m", "ptsm_diag.cli", "--version"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert result.stdout.startswith("ptsm-diag ")


def test_finess_command_writes_the_ressources_template(tmp_path: Path, capsys):
    extract = Path(__file__).parent / "fixtures" / "finess" / \
        "etalab-cs1100507-stock-20260512-0339.csv"
    target = tmp_path / "ressources.csv"
    assert main(["finess", str(extract), "--sortie", str(target)]) == 0
    written = pd.read_csv(target, sep=";", dtype=str, encoding="utf-8-sig")
    assert {"id_ressource", "type_ressource", "code_commune"} <= set(written.columns)
    assert "97101" in set(written["code_commune"])  # overseas commune rebuilt from 9A + 101
    assert "rejetée" in capsys.readouterr().out


@pytest.mark.slow
def test_gap_export_and_workshop_map_on_the_demo(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PTSM_DIAG_CACHE", str(tmp_path / "cache"))
    assert main(["insuffisances", "--territoire", "29", "--sortie", str(tmp_path)]) == 0
    workbook = openpyxl.load_workbook(tmp_path / "insuffisances_29.xlsx", read_only=True)
    assert workbook.sheetnames[0] == "Synthèse" and "Paramètres" in workbook.sheetnames
    assert main(["carte", "--territoire", "29", "--sortie", str(tmp_path), "--gpkg"]) == 0
    page = (tmp_path / "carte_atelier_29.html").read_text(encoding="utf-8")
    assert "Finistère" in page and "leaflet" in page.lower()
    layers = pyogrio.list_layers(tmp_path / "carte_atelier_29.gpkg")[:, 0]
    assert {"communes", "territoire", "ressources"} <= set(layers)
    assert main(["annuaire", "--territoire", "29", "--sortie", str(tmp_path)]) == 0
    directory = (tmp_path / "annuaire_29.html").read_text(encoding="utf-8")
    assert "Finistère" in directory and "<script" in directory  # search works offline
    assert (tmp_path / "annuaire_29.xlsx").is_file()


@pytest.mark.parametrize("command", ["carte", "insuffisances", "rosace", "annuaire"])
def test_territory_commands_name_a_missing_data_folder(command, tmp_path: Path, capsys):
    missing = tmp_path / "absent"
    assert main([command, "--territoire", "35", "--donnees", str(missing)]) == 1
    err = capsys.readouterr().err
    assert "Dossier de données introuvable" in err and "absent" in err
