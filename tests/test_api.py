"""The public API of the package: names, lazy loading, standard exception types."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ptsm_diag


@pytest.mark.parametrize("name", [n for n in ptsm_diag.__all__ if n != "__version__"])
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(ptsm_diag, name) is not None


def test_import_is_light() -> None:
    code = "import sys, ptsm_diag; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_bad_argument_is_a_value_error_in_french() -> None:
    with pytest.raises(ValueError, match="Référence « mars » inconnue"):
        ptsm_diag.prepare_diagnostic("35", reference="mars")
    with pytest.raises(ptsm_diag.ArgumentError):
        ptsm_diag.prepare_synthesis(reference="lune")


def test_unknown_territory_is_a_value_error(tmp_path) -> None:
    folder = tmp_path / "donnees"
    folder.mkdir()
    (folder / "territoires.csv").write_text(
        "code_territoire;nom_territoire;code_region;niveau;code\n"
        "T1;Territoire un;53;departement;35\n", encoding="utf-8")
    with pytest.raises(ValueError, match="« T9 »"):
        ptsm_diag.prepare_diagnostic("T9", folder)
