"""The page: one HTML file holding its style, its script and its data, needing no network.

The data goes in once, as JSON inside a `<script type="application/json">` element, read with
`JSON.parse`; the script renders only the rows of the list in view and a dialogue only when
it is opened, so the page stays quick with tens of thousands of trajectories.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from envscale import __version__
from envscale.jsonl import escape_surrogates

# Inside a <script> element the HTML parser ends the element at `</script` and treats `<!--`
# specially; JSON written with these characters escaped is the same value and has neither.
_SCRIPT_SAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def script_json(value: Any) -> str:
    """JSON text that can sit inside a <script> element and parses back to `value`."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return escape_surrogates(text).translate(_SCRIPT_SAFE)


def _asset(name: str) -> str:
    text = resources.files("envscale.viewer").joinpath("templates", name).read_text("utf-8")
    if "</script" in text.lower() or "</style" in text.lower():
        raise ValueError(f"{name} holds a closing tag and cannot be inlined")
    return text


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("envscale.viewer", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render(data: dict[str, Any], title: str) -> str:
    """The page's HTML text."""
    template = _environment().get_template("page.html.j2")
    return template.render(
        title=title,
        version=__version__,
        count=len(data.get("rows", [])),
        style=Markup(_asset("viewer.css")),
        script=Markup(_asset("viewer.js")),
        data=Markup(script_json(data)),
    )


def write(path: Path, data: dict[str, Any], title: str) -> int:
    """Write the page (whole, then renamed into place); its size in bytes."""
    text = render(data, title).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(text)
    tmp.replace(path)
    return len(text)
