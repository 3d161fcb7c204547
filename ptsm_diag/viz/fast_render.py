"""Render folium maps without compiling their output as Jinja templates again.

Names of elements, derived from their class names, are computed once per class name
(for every map of the process, as soon as this module is imported).

branca wraps every rendered piece of a map (each marker's script, each popup) in a new
``Element(text)``, which compiles ``text`` as a Jinja template before rendering it back to
itself: about 1,200 compilations per report, a second of work. :func:`literal_templates`
makes that step a plain copy for texts that hold no Jinja syntax, which Jinja would render
unchanged (less one trailing newline, as Jinja does); any other text is still compiled by
Jinja, so the page is the same byte for byte (``tests/test_fast_render.py``).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import branca.element
import branca.utilities
import jinja2

# What Jinja reads as syntax in a template's text (default delimiters, no line statements);
# a carriage return is normalised by Jinja, so such texts go to Jinja too.
_JINJA_MARKERS = ("{{", "{%", "{#", "\r")
_LOCK = threading.RLock()


class LiteralTemplate:
    """A template without Jinja syntax: rendering gives its text back (as Jinja would)."""

    def __init__(self, text: str) -> None:
        self._text = text[:-1] if text.endswith("\n") else text

    def render(self, *args: Any, **kwargs: Any) -> str:
        """The text (arguments are ignored, as by a Jinja template without variables)."""
        return self._text


def template_for(text: str) -> jinja2.Template | LiteralTemplate:
    """A :class:`LiteralTemplate` for a text without Jinja syntax, else a Jinja template."""
    if any(marker in text for marker in _JINJA_MARKERS):
        return jinja2.Template(text)
    return LiteralTemplate(text)


# branca names every element from its class name, character by character, each time the
# name is asked (about 700 times per map, 20 µs each, when children are added and when
# rendered): the same class name gives the same text, so it is remembered, for every map
# of the process (a pure function replaced by its memoised self changes no output).
_class_name = functools.lru_cache(maxsize=1024)(branca.utilities._camelify)
if hasattr(branca.element, "_camelify"):
    branca.element._camelify = _class_name


@contextmanager
def literal_templates() -> Iterator[None]:
    """Within the block, branca elements built from plain text skip Jinja compilation."""
    with _LOCK:
        original = branca.element.Template
        branca.element.Template = template_for  # type: ignore[assignment,misc]
        try:
            yield
        finally:
            branca.element.Template = original  # type: ignore[misc]
