"""Static images of figures for slides: real PNG/SVG when possible, a clear error if not."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from ptsm_diag.errors import PtsmError
from ptsm_diag.report.images import export_figure
from ptsm_diag.testing import chromium_path


def _figure() -> go.Figure:
    return go.Figure(go.Barpolar(r=[80, 120, 100], theta=[0, 120, 240]),
                     layout={"width": 400, "height": 400})


def test_unknown_format_is_refused_in_french(tmp_path):
    with pytest.raises(PtsmError, match="Format d'image"):
        export_figure(_figure(), tmp_path / "rosace.gif")


def test_missing_image_engine_gives_a_clear_message(tmp_path, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("Kaleido requires Google Chrome to be installed")

    monkeypatch.setattr(go.Figure, "to_image", broken)
    with pytest.raises(PtsmError, match="kaleido") as error:
        export_figure(_figure(), tmp_path / "rosace.png")
    assert "Chromium" in str(error.value) and "HTML" in str(error.value)
    assert not list(tmp_path.iterdir())  # nothing half-written


@pytest.mark.slow
def test_png_and_svg_for_slides(tmp_path):
    pytest.importorskip("kaleido")
    if chromium_path() is None:
        pytest.skip("Chromium absent : export d'image non vérifié")
    png = export_figure(_figure(), tmp_path / "rosace.png", scale=1)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = export_figure(_figure(), tmp_path / "rosace.svg")
    assert "<svg" in svg.read_text(encoding="utf-8")[:500]
