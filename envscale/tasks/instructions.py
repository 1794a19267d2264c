"""User instructions for sampled tasks, rendered from jinja2 templates.

Each tool has a step template: by default the first sentence of its description followed by
its arguments ("cancel a scheduled appointment and free its slot (appointment id: A0004,
reason: schedule_conflict)"). A task template joins the steps. A spec refines either in a
sidecar file beside it, `<spec stem>.instructions.toml`:

    [tools]
    cancel_appointment = "cancel my appointment {{ appointment_id }}, reason: {{ reason | words }}"

    [task]
    template = "Hi! I'd like to {{ steps | join(', then ') }}."

A step template sees the call's arguments as variables, plus `args` (all of them), `tool`
and `description`. The task template sees `steps` (the rendered steps) and `calls`.
Templates run in jinja2's sandbox.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

DEFAULT_TASK_TEMPLATE = (
    "I'd like to {{ steps[0] }}.{% for step in steps[1:] %} Then {{ step }}.{% endfor %}"
)
_ARGS_SUFFIX = (
    "{% if args %} ({% for name, value in args.items() %}{{ name | words }}: {{ value | show }}"
    "{% if not loop.last %}, {% endif %}{% endfor %}){% endif %}"
)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    return json.dumps(value, ensure_ascii=False)


def _words(value: Any) -> str:
    return str(value).replace("_", " ")


def action_phrase(schema: dict) -> str:
    """The first sentence of a tool's description as a clause: 'cancel a scheduled appointment'."""
    function = schema["function"]
    text = " ".join((function.get("description") or "").split())
    if not text or text == function["name"]:
        return function["name"].replace("_", " ")
    sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0].rstrip(".!? ")
    if len(sentence) > 1 and not sentence[1].isupper():
        sentence = sentence[0].lower() + sentence[1:]
    return sentence


def default_step_template(schema: dict) -> str:
    # Every brace of the prose becomes a literal, in one pass: replacing "{" and then "}"
    # would break the braces the first replacement wrote.
    action = re.sub(r"[{}]", lambda brace: "{{ '" + brace.group() + "' }}", action_phrase(schema))
    return action + _ARGS_SUFFIX


def load_instructions(spec: str | Path) -> dict:
    """The sidecar instruction templates of a spec (`<stem>.instructions.toml`), or {} when none."""
    path = Path(spec)
    sidecar = path.with_name(f"{path.stem}.instructions.toml")
    if not sidecar.exists():
        return {}
    return tomllib.loads(sidecar.read_text(encoding="utf-8"))


class InstructionRenderer:
    def __init__(self, tool_schemas: list[dict], overrides: dict | str | Path | None = None):
        if isinstance(overrides, str | Path):
            overrides = tomllib.loads(Path(overrides).read_text(encoding="utf-8"))
        overrides = overrides or {}
        self.env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        self.env.filters["show"] = _show
        self.env.filters["words"] = _words
        self.schemas = {s["function"]["name"]: s for s in tool_schemas}
        custom = overrides.get("tools", {})
        unknown = sorted(set(custom) - set(self.schemas))
        if unknown:
            raise ValueError(f"instruction templates for unknown tools: {', '.join(unknown)}")
        # A spec's own templates are compiled now, so that a broken one fails here; the default
        # ones when a task first uses their tool (compiling one per tool dominates small runs).
        self.steps = {name: self.env.from_string(text) for name, text in custom.items()}
        self.task = self.env.from_string(
            overrides.get("task", {}).get("template") or DEFAULT_TASK_TEMPLATE
        )

    def step(self, name: str, arguments: dict) -> str:
        function = self.schemas[name]["function"]
        variables = {
            **arguments,
            "args": arguments,
            "tool": name,
            "description": function.get("description", ""),
        }
        template = self.steps.get(name)
        if template is None:
            template = self.steps[name] = self.env.from_string(
                default_step_template(self.schemas[name])
            )
        return " ".join(template.render(variables).split())

    def render(self, calls: list[dict]) -> str:
        steps = [self.step(c["name"], c["arguments"]) for c in calls]
        return " ".join(self.task.render(steps=steps, calls=calls).split())
