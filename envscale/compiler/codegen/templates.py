"""The Jinja environment that renders the artifact skeletons."""

from __future__ import annotations

import json
from functools import cache

import jinja2

from envscale import __version__
from envscale.compiler.codegen.escape import docstring, sql_comment


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("envscale.compiler", "templates"),
        keep_trailing_newline=True,
        trim_blocks=False,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    env.filters["tojson"] = lambda v: json.dumps(v, ensure_ascii=False)
    env.filters["docstring"] = docstring
    env.filters["sql_comment"] = sql_comment
    return env


def render(template: str, **context: object) -> str:
    text = environment().get_template(template).render(version=__version__, **context)
    return text.rstrip() + "\n"
