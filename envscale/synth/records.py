"""The records that pass between the synthesis stages.

    ApiTool       one tool of a collection, normalised     ingest -> graph, partition, specs
    Community     the tools of one would-be domain         partition -> specs, verify
    DomainEntry   one line of DIR/index.jsonl              verify -> generate, people
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from envscale.records import Part, Record


class Provenance(Part):
    """Where one definition of a tool came from."""

    source: str  # the collection and file, as the input names it ("" when it names none)
    group: str | None = None  # the API, server or class the tool belongs to in its source
    category: str | None = None  # the source's own topic label
    original_name: str
    line: int | None = None  # 1-based line (or array position) in the input


class ApiTool(Part):
    """A tool after ingest: a name that meets OpenAI's rule (`^[a-zA-Z0-9_-]{1,64}$`), unique
    in the collection (a second version of a name gets a `_v2` suffix, and so on), and every
    definition merged into it."""

    name: str
    description: str = ""
    parameters: dict[str, Any]  # a JSON schema of type object
    returns: Any = None  # the source's output description, free-form
    method: str | None = None  # the HTTP method, where the source gives one
    version: int = 1
    provenance: list[Provenance]


class Community(Part):
    """The tools the partition put together."""

    name: str  # unique in a run, usable as a spec name
    tools: list[ApiTool]


class DomainEntry(Record):
    """What a run knows of one domain, kept or rejected."""

    VERSION: ClassVar[int] = 1
    name: str
    status: Literal["kept", "rejected"]
    reasons: list[str] = []  # why it was rejected; empty when kept
    spec: str | None = None  # path of the .domain file, relative to the output directory
    spec_hash: str | None = None
    tools: list[dict[str, Any]] = []  # {"name": ..., "kind": "read"|"write", "provenance": [...]}
    entities: list[str] = []
    figures: dict[str, Any] = {}  # verification figures: tasks, replayed, tools reached, ...
