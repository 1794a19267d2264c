"""User instructions for sampled tasks: what a person would say, rendered from their goal.

`goals.py` reads the goal of a task from its valid calls and its initial state: who the user
is, which of their records each call concerns, what changes and what the agent must find
itself. This module words it, seeded by the task so that wording varies from task to task:
how the user is recognised ("My email is ..."), one request per call (`requests.py`:
"cancel my order #W123, the reason being no longer needed", "know which appointments I
have, past ones included"), why, and what the agent has to look up ("I don't know my user
id"). Tool descriptions are never used: an instruction that copies `COPY_WORDS`
consecutive words of one is a defect (`copied_words` finds it), and so is one that lists
fields as "key: value" (`reads_as_form`).

A spec refines the wording in a sidecar file beside it, `<spec stem>.instructions.toml`:

    [tools]
    cancel_appointment = "cancel {{ record }}, because of {{ reason | words }}"

    [task]
    template = "{{ identity }} I'd like to {{ steps | join(', then ') }}."

A step template sees the call's arguments as variables, plus `args` (all of them), `tool`,
`record` (the user's record it concerns as the user says it: "my order #W123", or "the new
appointment" for one an earlier call of the task makes; "" when none) and `details` (the
default wording of the arguments, as phrases: "for the slot starting at 13:30 on 12 June
2024, as a new patient visit"; the filter `spoken`, beside `show` and `words`, writes a
value as people do: a date as "3 December 2019"). A record the task makes is never named
by its id, which the user cannot know before it exists. The task template sees `steps`,
`calls`, `identity`, `look_up` and `then` (a connective per step). Greetings are the
dialogue's, not the instruction's.
A step template that names an optional argument the call leaves out falls back to the
default wording for that step (listed in `problems`); a template naming a variable that
is no argument at all is a ValueError when the renderer is made. Templates run in jinja2's
sandbox.
"""

from __future__ import annotations

import random
import re
import tomllib
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, UndefinedError, meta
from jinja2.sandbox import SandboxedEnvironment

from envscale.records import Manifest
from envscale.tasks.catalog import Catalog
from envscale.tasks.goals import Goal, GoalReader, Step
from envscale.tasks.phrasing import spoken
from envscale.tasks.requests import BOUND, Request

COPY_WORDS = 8
DEFAULT_TASK_TEMPLATE = (
    "{% if identity %}{{ identity }} {% endif %}"
    "I'd like to {{ steps[0] }}.{% for step in steps[1:] %} {{ then[loop.index0] }} "
    "{{ step }}.{% endfor %}{% if look_up %} {{ look_up }}{% endif %}"
)
_STEP_NAMES = {"args", "tool", "description", "record", "details"}
THEN = ("Then", "After that,", "Also,", "And then", "Next,")
IDENTITY = {
    "email": ("My email is {v}.", "You can find me under {v}.", "I'm registered as {v}."),
    "name": (
        "I'm {name}, {fact} {v}.",
        "My name is {name} and my {fact} is {v}.",
        "This is {name} ({fact} {v}).",
    ),
    "other": ("My {fact} is {v}.", "It's {fact} {v}."),
}
LOOK_UP = (
    "I don't know my {x}, so please look it up.",
    "I don't have my {x} at hand; you'll need to find it.",
)
FIND = (
    "I don't know the exact ids, so please look them up.",
    "Please find the exact records yourself.",
    "",
)
# A record an earlier step makes, as the user names it before it exists; "the appointment you
# booked for me" only where the step that makes it says so (not "the invoice you completed").
NEW_RECORD = ("the new {noun}", "that new {noun}")
MADE_BY = ("the {noun} you {made} for me",)
MAKING = {"book", "place", "create", "start", "open", "add", "make", "schedule", "register"}
MAKING |= {"submit", "issue", "request", "file", "buy", "reserve", "insert", "new"}
MOTIVES = {
    "end": ("my plans changed", "I don't need it any more", "it was a mistake", ""),
    "change": ("something changed on my side", "I got it wrong the first time", ""),
    "other": ("", "", "I need it sorted out today"),
    "read": ("",),
    "check": ("",),
}


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _words(value: Any) -> str:
    return str(value).replace("_", " ")


def load_instructions(spec: str | Path) -> dict:
    """The sidecar instruction templates of a spec (`<stem>.instructions.toml`), or {} when none."""
    path = Path(spec)
    sidecar = path.with_name(f"{path.stem}.instructions.toml")
    if not sidecar.exists():
        return {}
    return tomllib.loads(sidecar.read_text(encoding="utf-8"))


def word_grams(text: str, n: int = COPY_WORDS) -> set[tuple[str, ...]]:
    tokens = re.findall(r"[a-z0-9']+", text.lower())
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def copied_words(text: str, descriptions: list[str], n: int = COPY_WORDS) -> str | None:
    """The first run of `n` consecutive words `text` shares with one of `descriptions`."""
    theirs: set[tuple[str, ...]] = set()
    for description in descriptions:
        theirs |= word_grams(description, n)
    for gram in sorted(word_grams(text, n) & theirs):
        return " ".join(gram)
    return None


# What a form has and speech does not: a dash-led list, or a field name and a colon.
_FORM = re.compile(r" - |\b[a-z][a-z ]{0,30}: \S")


def reads_as_form(text: str) -> bool:
    """Whether an instruction lists fields ("- key: value") rather than saying them."""
    return _FORM.search(text) is not None


def tool_descriptions(tool_schemas: list[dict]) -> list[str]:
    """Every description of the tools and their parameters, nested ones included."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("description"), str):
                out.append(node["description"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tool_schemas)
    return out


class InstructionRenderer:
    def __init__(
        self,
        tool_schemas: list[dict],
        overrides: dict | str | Path | None = None,
        manifest: Manifest | None = None,
    ):
        if isinstance(overrides, str | Path):
            overrides = tomllib.loads(Path(overrides).read_text(encoding="utf-8"))
        overrides = overrides or {}
        self.env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        self.env.filters["show"] = _show
        self.env.filters["words"] = _words
        self.env.filters["spoken"] = spoken
        self.schemas = {s["function"]["name"]: s for s in tool_schemas}
        self.params = {
            name: (s["function"].get("parameters") or {}) for name, s in self.schemas.items()
        }
        self.reader = GoalReader(manifest, self.params)
        self.problems: list[str] = []
        custom = overrides.get("tools", {})
        unknown = sorted(set(custom) - set(self.schemas))
        if unknown:
            raise ValueError(f"instruction templates for unknown tools: {', '.join(unknown)}")
        self.steps = {name: self._compile(name, text) for name, text in custom.items()}
        self.task = self.env.from_string(
            overrides.get("task", {}).get("template") or DEFAULT_TASK_TEMPLATE
        )
        self._fell_back: set[str] = set()

    def _compile(self, tool: str, text: str) -> Any:
        names = meta.find_undeclared_variables(self.env.parse(text))
        props = self.params[tool].get("properties") or {}
        strangers = sorted(names - set(props) - _STEP_NAMES)
        if strangers:
            raise ValueError(
                f"instruction template for {tool} names {', '.join(strangers)}, which is no "
                f"argument of {tool} (its arguments: {', '.join(props) or 'none'})"
            )
        return self.env.from_string(text)

    # ---- rendering

    def render(
        self,
        calls: list[dict],
        catalog: Catalog | None = None,
        seed: str | int = 0,
        outputs: list[str] | None = None,
    ) -> str:
        """The instruction for a task whose valid calls are `calls`, from the state indexed
        by `catalog`; `outputs` (what each call returned) tells the records the task makes;
        `seed` picks the wording."""
        rng = random.Random(f"envscale-instruction:{seed}")
        goal = self.reader.read(calls, catalog, outputs)
        pairs = list(zip(goal.steps, calls, strict=True))
        # A tool about no record (think, calculate) is the agent's business, not the user's,
        # unless it is all the task does.
        kept = [(s, c) for s, c in pairs if s.tool not in self.reader.plain] or pairs
        steps = [self._step(step, call, rng, goal) for step, call in kept]
        unknown = any(not d.known for step in goal.steps for d in step.details)
        look = [rng.choice(LOOK_UP).format(x=x) for x in goal.look_up]
        if unknown:
            look.append(rng.choice(FIND))
        text = self.task.render(
            steps=steps or ["ask a question"],
            calls=calls,
            identity=self._identity(goal, rng),
            look_up=" ".join(x for x in look if x),
            then=[rng.choice(THEN) for _ in steps],
        )
        return " ".join(text.split())

    def _identity(self, goal: Goal, rng: random.Random) -> str:
        if not goal.identity:
            return ""
        if goal.identity[0][0] == "email":
            return rng.choice(IDENTITY["email"]).format(v=goal.identity[0][1])
        if goal.identity[0][0] == "name" and len(goal.identity) > 1:
            fact, value = goal.identity[1]
            return rng.choice(IDENTITY["name"]).format(name=goal.identity[0][1], fact=fact, v=value)
        fact, value = goal.identity[0]
        return rng.choice(IDENTITY["other"]).format(fact=fact, v=value)

    def _step(self, step: Step, call: dict, rng: random.Random, goal: Goal) -> str:
        own = _mention(step, rng)
        default = self._phrase(step, own, rng, goal)
        template = self.steps.get(call["name"])
        if template is None:
            return default
        variables = {
            **call["arguments"],
            "args": call["arguments"],
            "tool": call["name"],
            "description": "",
            "record": own,
            "details": self._details(step, own, goal),
        }
        try:
            return " ".join(template.render(variables).split())
        except UndefinedError as error:
            if call["name"] not in self._fell_back:
                self._fell_back.add(call["name"])
                self.problems.append(
                    f"instruction template for {call['name']}: {error.message}; the calls that "
                    "leave that argument out are worded by default"
                )
            return default

    def _phrase(self, step: Step, own: str, rng: random.Random, goal: Goal) -> str:
        request = Request(step, own, self._person_words(), {v for _, v in goal.identity}, rng)
        head, family = request.head()
        details = request.woven(family)
        if details:
            head += f" {details}" if details.startswith(BOUND) else f", {details}"
        motive = rng.choice(MOTIVES.get(family, MOTIVES["other"]))
        if motive and step.kind == "write" and not any(d.name == "reason" for d in step.details):
            head += rng.choice((f", since {motive}", f" because {motive}"))
        return head

    def _details(self, step: Step, own: str, goal: Goal) -> str:
        """The default wording of a step's arguments alone, for a template's `details`."""
        request = Request(step, own, self._person_words(), {v for _, v in goal.identity}, _Fixed())
        return request.woven("other")

    def _person_words(self) -> str:
        person = self.reader.person or ""
        return re.sub(r"(?<!^)(?=[A-Z])", " ", person).lower()


class _Fixed(random.Random):
    """The first of every choice: the details of a template, the same on every call."""

    def choice(self, seq):  # type: ignore[override]
        return seq[0]


def _mention(step: Step, rng: random.Random) -> str:
    """The record a step concerns as the user says it, or "" when it concerns none."""
    if step.record is None:
        return ""
    if step.made is not None:
        forms = NEW_RECORD + (MADE_BY if step.maker in MAKING else ())
        return rng.choice(forms).format(noun=step.record, made=step.made)
    return f"my {step.record}"
