"""The fast rendering of folium maps gives the same page as folium's own rendering."""

from __future__ import annotations

import itertools

import branca.element
import branca.utilities
import jinja2
import pytest

from ptsm_diag.diagnostic import prepare_diagnostic
from ptsm_diag.report import cooperation as cv
from ptsm_diag.report import sections as s
from ptsm_diag.viz import fast_render, offline


@pytest.mark.parametrize("text", [
    "abc", "abc\n", "abc\n\n", "\n", "", " \n", "a\n b", "x{y}z", "a}}b", "{ {",
    "var o = {a: {b: 1}};\n", "{{ 7*191 }}", "{% if 1 %}x{% endif %}", "{# c #}y", "a\r\nb\n",
])
def test_template_for_renders_like_jinja(text: str) -> None:
    assert fast_render.template_for(text).render(this=None, kwargs={}) == \
        jinja2.Template(text).render(this=None, kwargs={})


def test_text_with_jinja_syntax_still_goes_to_jinja() -> None:
    assert isinstance(fast_render.template_for("{{ x }}"), jinja2.Template)
    assert isinstance(fast_render.template_for("plain <b>text</b>"), fast_render.LiteralTemplate)


def _rendered_maps(monkeypatch: pytest.MonkeyPatch, fast: bool) -> list[str]:
    """Pages of the report's maps, element ids numbered in order (folium draws them at random)."""
    counter = itertools.count()
    monkeypatch.setattr("branca.element.Element._generate_id",
                        classmethod(lambda cls: f"{next(counter):032x}"))
    if not fast:  # folium and branca as published: templates compiled, names uncached
        monkeypatch.setattr(offline, "literal_templates", _NoChange)
        monkeypatch.setattr("branca.element._camelify", branca.utilities._camelify)
    diag = prepare_diagnostic("35")
    maps = [s.resource_map(diag, None), s.commune_density_map(diag, None),
            cv.cooperation_map(diag, None)]
    pages = []
    for m in maps:
        framed = offline.map_to_framed_html(m)  # the report's maps (frames sharing blocks)
        pages += [framed.frame, str(framed.shared)]
    return pages + [offline.map_to_html(m) for m in maps]  # standalone pages


class _NoChange:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_maps_render_byte_for_byte_as_with_folium(monkeypatch: pytest.MonkeyPatch) -> None:
    assert branca.element._camelify is fast_render._class_name  # names remembered
    fast = _rendered_maps(monkeypatch, fast=True)
    with monkeypatch.context() as m:
        slow = _rendered_maps(m, fast=False)
    assert fast and len(fast) == len(slow)
    for a, b in zip(fast, slow, strict=True):
        assert len(a) > 5_000  # a whole page, not an error message
        assert a == b
