"""Standalone HTML pages rendered from Jinja2 templates with autoescaping.

Every value handed to a template is text unless the template says otherwise: a name
holding ``<script>``, ``{{ 7*191 }}`` or ``${…}`` comes out as written. The templates are
in ``ptsm_diag/report/templates/pages/``; only CSS and JavaScript that ptsm-diag itself
ships are marked safe there.
"""

from __future__ import annotations

import functools
from typing import Any

import jinja2


@functools.cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment of the pages (autoescape on, undefined names are errors)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("ptsm_diag.report", "templates/pages"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_page(template: str, /, **context: Any) -> str:
    """Render the page ``template`` (e.g. ``"annuaire.html.j2"``) with ``context``.

    Values are escaped by the template; the template source is ours, never input text.
    """
    return environment().get_template(template).render(**context)
