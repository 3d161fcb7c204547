"""The ptsm-diag command: French help, clear errors, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ptsm_diag.cli import build_parser, main


def test_help_is_french_and_lists_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "rapport", "valider", "generer-demo"):
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
