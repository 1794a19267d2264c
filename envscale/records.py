"""The records that pass between stages and onto disk, versioned.

    Manifest      manifest.json of a compiled domain     compiler -> runtime, tasks
    Task          one line of tasks.jsonl                tasks -> rollout, jobs
    Trajectory    one line of trajectories.jsonl         rollout -> jobs, trainer
    EpisodeError  one line of errors.jsonl               jobs -> jobs (a rerun retries it)
    EvalReport    eval.json                              jobs (evaluate) -> people, plots
    DomainEntry   one line of a synthesis's index.jsonl   synth -> jobs (generate), people

Every record carries its schema `version` (the manifest calls it `format`). A file written
before versions existed has none and reads as version 1; a version newer than this module
knows is refused. Keys a record does not declare are kept and written back, so a file from a
producer that has gained a field still loads, and rewriting it loses nothing.

`to_dict()` gives the JSON value in the shape the files have always had; `to_json()` the
text as it goes into the file. A key that producers write only sometimes (a message's
`tool_calls`, a field's `default`) is written back only when it was given. This module
imports only the standard library, pydantic and envscale.errors: every layer may import it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Literal, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
)

from envscale.errors import DataError
from envscale.jsonl import Appender, dumps, repair


class Part(BaseModel):
    """A piece of a record. Keys it does not declare are kept and written back."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_dict(self) -> dict[str, Any]:
        """The JSON value, keys as the files spell them."""
        return self.model_dump(mode="json", by_alias=True)

    def to_json(self) -> str:
        """The JSON value as one line (no newline), formatted as the JSON-lines files are."""
        return dumps(self.to_dict())


class SparsePart(Part):
    """A part whose fields named in `written_when_set` are written only when they were given
    (read from a file, or passed when built), so that absent stays absent and null null."""

    written_when_set: ClassVar[frozenset[str]] = frozenset()

    # A plain serializer: a wrapping one would cost a call back into pydantic per part.
    @model_serializer(mode="plain")
    def _given(self) -> dict[str, Any]:
        given = self.model_fields_set
        values = self.__dict__
        out = {
            name: values[name]
            for name, sparse in _field_sparseness(type(self))
            if not sparse or name in given
        }
        if self.model_extra:
            out.update(self.model_extra)
        return out


@cache
def _field_sparseness(cls: type[SparsePart]) -> tuple[tuple[str, bool], ...]:
    """The fields of a sparse part in order, each with whether it is written only when given."""
    return tuple((name, name in cls.written_when_set) for name in cls.model_fields)


class Record(Part):
    """A whole record: a line of a JSON-lines file or a JSON file of its own."""

    VERSION: ClassVar[int] = 1
    version: int = 1

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if not 1 <= value <= cls.VERSION:
            raise ValueError(
                f"{cls.__name__} version {value} is not one this envscale reads "
                f"(1 to {cls.VERSION})"
            )
        return value

    @classmethod
    def from_dict(cls, data: Any, where: str = "") -> Self:
        """The record of a JSON value; a value that does not fit is a DataError naming `where`."""
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise DataError(_problems(cls.__name__, error, where)) from None

    @classmethod
    def from_line(cls, line: str, where: str = "") -> Self:
        """The record of one JSON line; text that is not JSON is a DataError too."""
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError([f"{where or '<line>'}: not JSON: {error}"]) from None
        return cls.from_dict(data, where)

    @classmethod
    def line_reader(cls) -> Callable[[str, str], Self | None]:
        """What reads the lines of one file of these records, in order: the record of a line,
        or None for a line that is not one."""
        return cls.from_line


def _problems(name: str, error: ValidationError, where: str) -> list[str]:
    prefix = f"{where}: " if where else ""
    out = []
    for item in error.errors(include_url=False):
        at = ".".join(str(part) for part in item["loc"])
        out.append(f"{prefix}not a {name}: {at + ': ' if at else ''}{item['msg']}")
    return out


R = TypeVar("R", bound=Record)


def read_jsonl(path: str | Path, model: type[R]) -> Iterator[R]:
    """The records of a JSON-lines file, in order. Blank lines are skipped, and so is an
    unterminated last line: a writer killed mid-line leaves one, and it is not data yet.
    Lines that serve the records rather than being one (a trajectory file's tool schemas)
    are read by the model's `line_reader` and yield nothing."""
    take = model.line_reader()
    for line, where in _lines(path):
        record = take(line, where)
        if record is not None:
            yield record


def _lines(path: str | Path) -> Iterator[tuple[str, str]]:
    """The complete, non-blank lines of a file, each with its "path:line"."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if line.strip() and line.endswith("\n"):
                yield line, f"{path}:{number}"


def load_jsonl(path: str | Path, model: type[R]) -> list[R]:
    """Every record of a JSON-lines file (see `read_jsonl`)."""
    return list(read_jsonl(path, model))


# ---- manifest.json


class Shape(SparsePart):
    """How a value is rendered to its shown form: one key, the others absent. `row` and
    `struct` name an entity or a struct; `list` and `map` give the shape of the items; `ref`
    names the entity whose key a reference holds (shown as it is stored)."""

    written_when_set: ClassVar[frozenset[str]] = frozenset({"row", "struct", "ref", "list", "map"})
    row: str | None = None
    struct: str | None = None
    ref: str | None = None
    list: Shape | None = None
    map: Shape | None = None


class EntityField(SparsePart):
    """A field of an entity and the column that stores it."""

    written_when_set: ClassVar[frozenset[str]] = frozenset(
        {"default", "derived", "hidden", "as_written"}
    )
    name: str
    column: str
    type: str  # as the spec writes it, e.g. "list<str>"
    kind: str  # str int float bool date datetime enum json ref
    nullable: bool
    unique: bool
    ref: str | None  # the entity a reference points to
    enum: list[str] | None
    external: bool
    sparse: bool
    shape: Shape | None
    default: Any = None  # present only for a field with a default (which may be null)
    derived: str | None = None  # the source of a @derived field's expression
    hidden: bool = False  # @hidden: left out of tool results
    as_written: bool = False  # @as_written: keeps a str, int or float of any of those types


class Fact(SparsePart):
    """A fact read off a check's condition (see compiler/facts.py): `field` compared by `op`
    with a `value`, another field (`other`) or a list (`values`); `of` is "len" for lengths."""

    written_when_set: ClassVar[frozenset[str]] = frozenset({"of", "value", "other", "values"})
    field: str
    of: str | None = None
    op: str
    value: Any = None
    other: str | None = None
    values: list[Any] | None = None
    check: str  # the check it comes from


class EntityInfo(Part):
    doc: str | None
    key: list[str]  # field names
    fields: list[EntityField]
    checks: dict[str, str]  # constraint name -> message
    facts: list[Fact]


class StructField(SparsePart):
    written_when_set: ClassVar[frozenset[str]] = frozenset({"hidden", "default"})
    name: str
    sparse: bool
    shape: Shape | None
    hidden: bool = False
    default: Any = None  # present only for a field with a default


class ToolInfo(SparsePart):
    # "Entity.field" -> the enum members a tool needs, and may leave, the record a parameter
    # names in (compiler/states.py); written only when the tool has some. `stores`: the
    # parameters whose values the tool writes into records (the same module), likewise, and
    # `parts`: parameter -> the entity of the record another parameter names that the
    # parameter's values must be parts of (`item_ids` -> Order: items of `order_id`'s order).
    # `side`, who may call it (an agent, the user on their own device, or neither: set-up
    # actions), and `role` (a sync block run after every call, or an assertion a task names)
    # are written only when not the default (format 4).
    written_when_set: ClassVar[frozenset[str]] = frozenset(
        {"needs", "leaves", "stores", "parts", "as_sent", "side", "role"}
    )
    name: str
    kind: Literal["read", "write"]
    reads: list[str]  # entities
    writes: list[str]
    params: list[str]
    returns: str | None  # the return type as the spec writes it
    returns_shape: Shape | None
    needs: dict[str, list[str]] = {}
    leaves: dict[str, list[str]] = {}
    stores: list[str] = []
    parts: dict[str, str] = {}
    as_sent: list[str] = []  # parameters whose arguments reach the body unvalidated
    side: Literal["agent", "user", "internal"] = "agent"
    role: Literal["tool", "sync", "assertion"] = "tool"


class Invariant(Part):
    name: str
    entity: str | None
    where: str  # file:line
    reads: list[str]
    enforced_by: Literal["sql", "runtime"]


class Chain(Part):
    """How an argument leads to a bound record: `param` names a record (of the entity of
    `via`'s first step, or the bound entity itself when `via` is empty), and each step
    ("Entity.field") follows a reference to the next."""

    param: str
    via: list[str]


class Binding(Part):
    """What a bound `before` rule is met for: records of `entity`, one by one. `params` holds
    each requirement tool's parameter that names the record (a requirement tool not listed is
    met by any successful call); `chains` how each subject tool's arguments lead to such
    records (a subject tool not listed concerns none). Absent from manifests of format 1."""

    entity: str
    params: dict[str, str]
    chains: dict[str, list[Chain]]


class Rule(SparsePart):
    written_when_set: ClassVar[frozenset[str]] = frozenset({"binding"})
    kind: Literal["before", "at_most"]
    subject: list[str]
    requirement: list[str]
    limit: int | None
    binding: Binding | None = None


class Policy(Part):
    name: str
    doc: str | None
    rules: list[Rule]


class ToolFlow(Part):
    """One value an edge of the tool graph carries: what `via` (a path such as
    `Order.items[].item_id`) holds fills parameter `param`; `kind` is "key" (a key of
    `entity`) or "value" (a value of the same name); `weight` how specific the flow is."""

    param: str
    via: str
    kind: Literal["key", "value"]
    entity: str | None
    weight: float


class ToolEdge(Part):
    """An edge of the tool graph (compiler/toolgraph.py): `source`'s result can feed
    `target`, by each of `flows`, strongest first; `param`, `via` and `weight` are the
    strongest one's. Manifests compiled before flows existed list one edge per parameter,
    with `param` and `via` only (and are read so: `flows` empty)."""

    source: str = Field(alias="from")
    target: str = Field(alias="to")
    param: str
    via: str
    weight: float = 0.0
    flows: list[ToolFlow] = []

    @model_serializer(mode="wrap")
    def _flows_when_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        for name in ("weight", "flows"):
            if name not in self.model_fields_set:
                del out[name]
        return out


class KeyFormat(SparsePart):
    """How the tools make new keys of an entity: `next_key`'s `prefix` and `width` (keys such
    as PREFIX0042), or `free_key`'s `first` key, counted up from (compiler/ir.py KeyFormat)."""

    written_when_set: ClassVar[frozenset[str]] = frozenset({"prefix", "width", "first"})
    prefix: str = ""
    width: int = 0
    first: str = ""


class Manifest(Record):
    """manifest.json: what the runtime and the task sampler need to know about a compiled
    domain. Written by the compiler (compiler/codegen/manifest.py); read when a domain is
    loaded, and by the environment, the data generator, the tool graph and the task walker.
    Sections added later (undeclared here) are kept as they are."""

    # Format 2 adds rules bound to records (Rule.binding); format 3 derived and hidden fields,
    # transitions and references inside shapes (Shape.ref), which the runtime checks; a
    # manifest with none of them is format 1; format 4 tools of other sides than the agent's,
    # sync blocks and assertions (ToolInfo.side, ToolInfo.role).
    VERSION: ClassVar[int] = 4
    version: int = Field(1, alias="format")
    envscale: str  # the version that compiled it
    domain: str
    description: str
    spec: str  # the spec file as given
    spec_hash: str
    includes: list[str]  # files the spec reads, relative to it
    clock: str
    policy: str
    entities: dict[str, EntityInfo]
    structs: dict[str, list[StructField]]
    tools: list[ToolInfo]
    invariants: list[Invariant]
    runtime_invariants: list[str]
    policies: list[Policy]
    tool_graph: list[ToolEdge]
    key_formats: dict[str, KeyFormat] = {}  # absent from manifests compiled before it existed
    # "Entity.field" -> each state to the states a write may move it to; absent before format 3.
    transitions: dict[str, dict[str, list[str]]] = {}

    @model_serializer(mode="wrap")
    def _key_formats_when_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        for name in ("key_formats", "transitions"):
            if name not in self.model_fields_set:
                del out[name]
        return out

    def to_json(self) -> str:
        """The file's text: indented, non-ASCII kept, a final newline."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"


# ---- tasks.jsonl


Side = Literal["agent", "user"]


class GoldCall(SparsePart):
    """A call of a task's gold chain. `side` says who makes it: the agent, or the user on
    their own device (dual control; written only when given). `compare_args` names the
    arguments a call must match when the task scores its actions (all when absent)."""

    written_when_set: ClassVar[frozenset[str]] = frozenset({"side", "compare_args"})
    name: str
    arguments: dict[str, Any]
    side: Side = "agent"
    compare_args: list[str] | None = None


class GoldOutput(Part):
    ok: bool
    content: str  # the text the agent reads for the call (CallResult.text)


RewardPart = Literal["DB", "ENV_ASSERTION", "COMMUNICATE", "NL_ASSERTION", "ACTION"]


class Assertion(SparsePart):
    """A check a task names over the final state: the domain's assertion `name` with
    `arguments` must give `expect`. `message` says what it means when it does not."""

    written_when_set: ClassVar[frozenset[str]] = frozenset({"message"})
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    expect: bool = True
    message: str | None = None


class Scoring(SparsePart):
    """How an episode of a task is scored when the task brings its own criteria (tau2's
    tasks): the reward is the product of the parts named in `basis` (rollout/criteria.py).
    DB: the state after replaying the episode's writes equals the gold state; ENV_ASSERTION:
    every assertion holds on it; COMMUNICATE: the agent said every text of `communicate`;
    ACTION: every gold call was made; NL_ASSERTION: `nl_assertions` hold, which needs a
    judge model and is reported as not scored."""

    written_when_set: ClassVar[frozenset[str]] = frozenset({"source"})
    basis: list[RewardPart]
    assertions: list[Assertion] = Field(default_factory=list)
    communicate: list[str] = Field(default_factory=list)
    nl_assertions: list[str] = Field(default_factory=list)
    source: str | None = None  # where the criteria come from, e.g. "tau2"


class Task(Record):
    """A task: a tool chain sampled from the tool graph and executed, with its gold results;
    one line of tasks.jsonl. Written by task sampling (`envscale tasks`, `envscale generate`);
    read by episodes (the simulated user and the filters), the generate and evaluate jobs,
    and `envscale tasks --verify`.

    `initial_state` is one of `{"data": PATH}` (a data file; a relative path is relative to
    the spec's folder), `{"generated": {"seed": S, "size": N}}` (made by the data generator;
    `size` may be a count per entity, and `like` names a data file to imitate) or the records
    themselves (entity -> records). `invalid_calls` lists the calls made invalid on purpose;
    `kind` is "read" when every call is a read tool's, else "write"."""

    id: str
    domain: str
    spec_hash: str
    seed: int
    initial_state: dict[str, Any]
    initial_state_hash: str = ""
    instruction: str
    gold_calls: list[GoldCall]
    gold_outputs: list[GoldOutput]
    gold_state_hash: str
    kind: Literal["read", "write"] = "write"
    length: int = 0
    invalid_calls: list[int] = Field(default_factory=list)
    enforce_policies: bool = True
    scoring: Scoring | None = None  # the task's own criteria; written only when given

    @model_serializer(mode="wrap")
    def _scoring_when_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        if "scoring" not in self.model_fields_set:
            del out["scoring"]
        return out


# ---- trajectories.jsonl


class FunctionCall(Part):
    name: str
    arguments: str | dict[str, Any]  # JSON text as the model wrote it, or the parsed object


class ToolCall(Part):
    """One entry of an assistant message's `tool_calls`, in the OpenAI form."""

    id: str
    type: str = "function"
    function: FunctionCall


class Message(SparsePart):
    """A chat message in the OpenAI form. `tool_calls` (assistant) and `tool_call_id` (tool)
    are written only when given. In a dual-control episode `side` says who called: on a
    message holding tool calls and on each tool result, "agent" or "user" (a user message
    with tool calls is the user acting on their own device, which the agent never sees);
    absent, the agent. `agent_view` gives the messages as the agent saw them."""

    written_when_set: ClassVar[frozenset[str]] = frozenset({"tool_call_id", "tool_calls", "side"})
    role: Literal["system", "user", "assistant", "tool"]
    tool_call_id: str | None = None
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[ToolCall] | None = None
    side: Side | None = None


def agent_view(messages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages as the agent sees them, in the OpenAI layout: the user's own tool calls
    and their results left out, and no `side` keys."""
    out = []
    for m in messages:
        if m.get("side") == "user":
            continue
        if "side" in m:
            m = {k: v for k, v in m.items() if k != "side"}
        out.append(m)
    return out


class FunctionSchema(SparsePart):
    written_when_set: ClassVar[frozenset[str]] = frozenset({"description", "parameters"})
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None  # a JSON schema


class ToolSchema(Part):
    """A tool as the agent sees it: an OpenAI function schema, as in tools.json."""

    type: str = "function"
    function: FunctionSchema


class Usage(Part):
    """Tokens a backend spent on an episode."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False  # counted by a word split, not a tokenizer

    def add(self, other: Usage) -> None:
        """Count `other`'s tokens in too."""
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.estimated = self.estimated or other.estimated


class EpisodeUsage(Part):
    agent: Usage = Field(default_factory=Usage)
    user: Usage = Field(default_factory=Usage)


class TrajectoryMeta(SparsePart):
    """Where a trajectory comes from and how its episode went. Every key is optional (files
    made by other tools carry a few) and written only when given."""

    written_when_set: ClassVar[frozenset[str]] = frozenset(
        {
            "agent",
            "agent_model",
            "user",
            "user_model",
            "seed",
            "task_seed",
            "trial",
            "envscale",
            "end",
            "steps",
            "calls",
            "failed_calls",
            "internal_errors",
            "chain_length",
            "failure",
            "usage",
            "user_calls",
            "scores",
        }
    )
    agent: str | None = None  # backend kind
    agent_model: str | None = None
    user: str | None = None
    user_model: str | None = None
    seed: int | None = None  # the job seed
    task_seed: int | None = None
    trial: int | None = None
    envscale: str | None = None  # the version that ran the episode
    end: str | None = None  # user_done | transfer | turn_limit
    steps: int | None = None  # agent turns
    calls: int | None = None
    failed_calls: int | None = None
    internal_errors: int | None = None  # calls that failed on a bug in envscale
    chain_length: int | None = None  # calls in the task's gold chain
    failure: str | None = None  # the first filter stage that failed, with why
    usage: EpisodeUsage | None = None
    user_calls: int | None = None  # calls the user made on their own device (dual control)
    # A task with its own criteria: each part of its basis -> 1.0 or 0.0, or None when not
    # scored (NL_ASSERTION needs a judge model); "stop" is whether the user or agent ended it.
    scores: dict[str, float | None] | None = None


class Trajectory(Record):
    """One episode: the dialogue between a simulated user and an agent on a task, with the
    filters' verdicts; one line of trajectories.jsonl. Written by episodes (the generate and
    evaluate jobs append them); read by those jobs when they resume, by evaluation, and by
    the trainer, which keeps those that passed the filters it requires.

    `filters` maps each filter stage to whether the trajectory passed it (valid, state,
    exact). `source` is where the record was read from ("file:line"), for error messages;
    it is not written.

    In memory and in `to_dict()` a trajectory holds its tool schemas and its whole dialogue,
    in the OpenAI layout. In a file (format 2) a line leaves out what it shares with the
    other trajectories of its domain, the schemas and the system message, and names the
    `Preamble` line earlier in the same file that holds them (`preamble`); `read_jsonl`
    puts them back, and `TrajectoryWriter` writes the lines. A line of format 1 holds
    everything itself, and so may a line of format 2 that names no preamble."""

    VERSION: ClassVar[int] = 2
    model_config = ConfigDict(coerce_numbers_to_str=True)

    id: str
    domain: str = ""
    spec_hash: str = ""
    task_id: str = ""  # the trials of one task share it
    tools: list[ToolSchema]
    messages: list[Message]
    # The user's tools in a dual-control episode; written only when given.
    user_tools: list[ToolSchema] | None = None
    reward: float = 0.0
    final_state_hash: str = ""
    filters: dict[str, bool] = Field(default_factory=dict)
    meta: TrajectoryMeta = Field(default_factory=TrajectoryMeta)
    source: str = Field("", exclude=True)

    @field_validator(
        "domain", "spec_hash", "task_id", "final_state_hash", "filters", "meta", mode="before"
    )
    @classmethod
    def _null_is_absent(cls, value: Any, info: ValidationInfo) -> Any:
        # Files from other tools may write null for what they do not know.
        if value is None:
            return cls.model_fields[info.field_name].get_default(call_default_factory=True)
        return value

    @classmethod
    def from_dict(cls, data: Any, where: str = "") -> Self:
        record = super().from_dict(data, where)
        record.source = where
        return record

    @model_serializer(mode="wrap")
    def _user_tools_when_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        if "user_tools" not in self.model_fields_set:
            out.pop("user_tools", None)
        return out

    @classmethod
    def line_reader(cls) -> Callable[[str, str], Self | None]:
        return TrajectoryReader().from_line  # type: ignore[return-value]

    def passed(self, stages: Iterable[str]) -> bool:
        """Whether the trajectory passed every one of `stages` (a stage not run is not passed)."""
        return all(self.filters.get(stage) is True for stage in stages)

    def agent_messages(self) -> list[dict[str, Any]]:
        """The messages as the agent saw them (see `agent_view`)."""
        return agent_view(m.to_dict() for m in self.messages)


class Preamble(Record):
    """A line of trajectories.jsonl holding what the trajectories after it that name its
    `digest` (their `preamble`) share: the tool schemas (some 17 KB for a domain) and the
    system message (its policy), written once per file instead of on every line. `digest`
    is `preamble_digest` of the rest; `domain` and `spec_hash` say whose they are, for
    people reading the file. A file may hold several (one per domain, or a file made by
    concatenating others)."""

    KIND: ClassVar[str] = "preamble"
    kind: Literal["preamble"] = "preamble"
    digest: str
    domain: str = ""
    spec_hash: str = ""
    tools: list[ToolSchema]
    user_tools: list[ToolSchema] | None = None
    # The content of the system message that opens each such trajectory; None: the
    # trajectories keep their first message.
    system: str | None = None

    @classmethod
    def of(cls, trajectory: Trajectory) -> Preamble:
        """What a trajectory shares with the others of its domain."""
        system = shared_system(trajectory)
        parts: dict[str, Any] = {"tools": trajectory.tools}
        if "user_tools" in trajectory.model_fields_set:  # given, if only as null
            parts["user_tools"] = trajectory.user_tools
        if system is not None:
            parts["system"] = system
        return cls(
            digest=preamble_digest(parts),
            domain=trajectory.domain,
            spec_hash=trajectory.spec_hash,
            **parts,
        )

    @model_serializer(mode="wrap")
    def _given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        for name in ("user_tools", "system"):
            if name not in self.model_fields_set:
                out.pop(name, None)
        return out


def shared_system(trajectory: Trajectory) -> str | None:
    """The text of the system message opening the trajectory, when a preamble can hold it
    (a plain message of text: role and content, nothing else)."""
    first = trajectory.messages[0] if trajectory.messages else None
    if (
        first is None
        or first.role != "system"
        or not isinstance(first.content, str)
        or not first.model_fields_set <= {"role", "content"}
        or first.model_extra
    ):
        return None
    return first.content


def preamble_digest(parts: dict[str, Any]) -> str:
    """The digest trajectory lines name a preamble by: the SHA-256 of the JSON of its parts
    (`tools`, and `user_tools` and `system` when given). It is of the parts themselves, not
    of the spec: the same spec compiled by another version may describe its tools in other
    words, and files from other producers have no spec."""
    value = {
        name: [t.to_dict() for t in part] if isinstance(part, list) else part
        for name, part in parts.items()
    }
    return hashlib.sha256(dumps(value).encode("utf-8")).hexdigest()[:32]


class TrajectoryReader:
    """Reads the lines of one trajectory file in order: `Preamble` lines are remembered by
    digest, and a trajectory line that names one gets its parts back. The tool schemas are
    validated once per file and shared by the trajectories that name them."""

    def __init__(self) -> None:
        self.preambles: dict[str, Preamble] = {}

    def read(self, path: str | Path) -> Iterator[Trajectory]:
        """The trajectories of a file (see `read_jsonl`); `preambles` then holds its preambles."""
        for line, where in _lines(path):
            record = self.from_line(line, where)
            if record is not None:
                yield record

    def from_line(self, line: str, where: str = "") -> Trajectory | None:
        """The trajectory of one line, or None for a preamble."""
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError([f"{where or '<line>'}: not JSON: {error}"]) from None
        return self.from_dict(data, where)

    def from_dict(self, data: Any, where: str = "") -> Trajectory | None:
        """The trajectory of one line's JSON value, or None for a preamble."""
        if not isinstance(data, dict):
            return Trajectory.from_dict(data, where)
        if self.take(data, where):
            return None
        return Trajectory.from_dict(self.expand(data, where), where)

    def take(self, data: dict[str, Any], where: str = "") -> bool:
        """Remember the value when it is a preamble (and say whether it was)."""
        if data.get("kind") != Preamble.KIND:
            return False
        preamble = Preamble.from_dict(data, where)
        known = self.preambles.get(preamble.digest)
        if known is not None and known.to_dict() != preamble.to_dict():
            raise DataError(
                [f"{where}: preamble {preamble.digest} differs from the one of that digest before"]
            )
        self.preambles.setdefault(preamble.digest, preamble)
        return True

    def expand(self, data: dict[str, Any], where: str = "") -> dict[str, Any]:
        """A trajectory line's value with the parts of the preamble it names put back (a
        copy), or the value itself when it names none."""
        digest = data.get("preamble")
        if digest is None:
            return data
        preamble = self.preambles.get(digest) if isinstance(digest, str) else None
        if preamble is None:
            raise DataError(
                [
                    f"{where}: names preamble {digest!r}, which no earlier line of the file holds "
                    "(a trajectory file is read whole, from its first line)"
                ]
            )
        out = {k: v for k, v in data.items() if k != "preamble"}
        out["tools"] = preamble.tools
        if "user_tools" in preamble.model_fields_set:
            out["user_tools"] = preamble.user_tools
        if preamble.system is not None:
            messages = out.get("messages")
            rest = messages if isinstance(messages, list) else []
            out["messages"] = [{"role": "system", "content": preamble.system}, *rest]
        return out


class TrajectoryWriter:
    """Turns trajectories into the lines of a trajectory file: a `Preamble` line before the
    first trajectory that shares it, then trajectory lines naming it. `known` holds the
    digests the file already has (`TrajectoryReader.preambles` of the file appended to), so
    a resumed job writes none twice."""

    def __init__(self, known: Iterable[str] = ()) -> None:
        self.known = set(known)
        # Preambles by the identity of the schemas' objects (and the system text): a job's
        # trajectories share the same ToolSchema objects, so a digest is computed once per
        # domain. The objects are kept alive here, so their ids are not reused while cached.
        self._cache: dict[tuple[Any, ...], tuple[Preamble, list[ToolSchema]]] = {}

    def lines(self, trajectories: Iterable[Trajectory]) -> Iterator[dict[str, Any]]:
        for trajectory in trajectories:
            preamble = self._preamble(trajectory)
            if preamble.digest not in self.known:
                self.known.add(preamble.digest)
                yield preamble.to_dict()
            yield trajectory_line(trajectory, preamble)

    def _preamble(self, trajectory: Trajectory) -> Preamble:
        user_tools = trajectory.user_tools if "user_tools" in trajectory.model_fields_set else None
        schemas = [*trajectory.tools, *(user_tools or ())]
        key = (
            trajectory.domain,
            trajectory.spec_hash,
            shared_system(trajectory),
            len(trajectory.tools),
            -1 if user_tools is None else len(user_tools),
            *map(id, schemas),
        )
        cached = self._cache.get(key)
        if cached is None:
            if len(self._cache) > 64:
                self._cache.clear()
            cached = (Preamble.of(trajectory), schemas)
            self._cache[key] = cached
        return cached[0]


def append_trajectories(path: str | Path, trajectories: Iterable[Trajectory]) -> int:
    """Append trajectories to a trajectory file as the generate and evaluate jobs write it
    (a preamble line before the first trajectory that shares it, unless the file holds that
    preamble already); the number of trajectories written."""
    path = Path(path)
    repair(path)
    reader = TrajectoryReader()
    if path.exists():
        for _ in reader.read(path):  # the preambles the file holds
            pass
    path.parent.mkdir(parents=True, exist_ok=True)
    records = list(trajectories)
    with Appender(path) as out:
        out.write(TrajectoryWriter(known=reader.preambles).lines(records))
    return len(records)


def trajectory_line(trajectory: Trajectory, preamble: Preamble) -> dict[str, Any]:
    """The value of a trajectory's line in a file (format 2): the parts it shares with others
    left out, and the digest of the preamble that holds them."""
    body = trajectory.model_dump(mode="json", by_alias=True, exclude={"tools", "user_tools"})
    if preamble.system is not None:
        body["messages"] = body["messages"][1:]
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key == "messages":
            out["preamble"] = preamble.digest
        out[key] = value
    out["version"] = Trajectory.VERSION
    return out


class EpisodeError(Record):
    """An episode a backend failure stopped (an endpoint down, a model that would not load);
    one line of errors.jsonl, written by the generate and evaluate jobs in place of the
    trajectory. A rerun of the job retries it."""

    id: str  # the trajectory id the episode would have had
    domain: str
    error: str


# ---- eval.json


class LengthResult(Part):
    """Success over the tasks of one gold chain length."""

    tasks: int
    episodes: int
    successes: int
    success_rate: float | None
    pass_1: float | None = Field(alias="pass^1")


class PartScore(Part):
    """One part of the tasks' reward basis over an evaluation's episodes."""

    episodes: int
    passed: int


class TaskResult(Part):
    successes: int
    trials: int
    chain_length: int


class EvalReport(Record):
    """eval.json: pass^k (tau-bench's definition), success by chain length and failure
    reasons over the episodes of an evaluation. Written by `envscale eval`
    (runtime/evaluate.py); read by its plots and by people. `lineage` is the job's job.json."""

    tasks: int
    trials: int
    episodes: int
    missing_episodes: int  # episodes a backend failure lost
    successes: int
    pass_k: dict[str, float] = Field(alias="pass^k")  # k -> pass^k
    by_chain_length: dict[str, LengthResult]
    failure_reasons: dict[str, int]
    failure_examples: dict[str, list[str]]  # reason -> up to five trajectory ids
    # Episodes in which a call failed on a bug in envscale, successful or not.
    internal_error_episodes: int = 0
    internal_error_examples: list[str] = Field(default_factory=list)  # up to five ids
    per_task: dict[str, TaskResult]
    lineage: dict[str, Any] | None = None
    # Tasks with their own criteria: per part of the basis, the episodes it was scored in and
    # those that passed it; parts that could not be scored (NL_ASSERTION) count episodes in
    # `not_scored` and are left out of the reward.
    scores: dict[str, PartScore] = Field(default_factory=dict)
    not_scored: dict[str, int] = Field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        # A report from before internal errors were counted has no such keys, and gains none.
        out = super().to_dict()
        for name in ("scores", "not_scored"):
            if not getattr(self, name):
                del out[name]
        for name in ("internal_error_episodes", "internal_error_examples"):
            if name not in self.model_fields_set:
                del out[name]
        return out

    def to_json(self) -> str:
        """The file's text: indented, a final newline."""
        return json.dumps(self.to_dict(), indent=2) + "\n"


class DomainEntry(Record):
    """What a run knows of one domain, kept or rejected."""

    VERSION: ClassVar[int] = 1
    name: str
    status: Literal["kept", "rejected"]
    reasons: list[str] = Field(default_factory=list)  # why it was rejected; empty when kept
    spec: str | None = None  # path of the .domain file, relative to the output directory
    spec_hash: str | None = None
    # {"name": ..., "kind": "read"|"write", "provenance": [...]}.
    tools: list[dict[str, Any]] = Field(default_factory=list)
    entities: list[str] = Field(default_factory=list)
    # verification figures: tasks, replayed, tools reached, ...
    figures: dict[str, Any] = Field(default_factory=dict)
