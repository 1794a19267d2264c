"""The records that pass between the synthesis stages.

    ApiTool       one tool of a collection, normalised     ingest -> graph, partition, specs
    Community     the tools of one would-be domain         partition -> specs, verify
    SpecDraft     a spec written for a community           specs, llm -> verify
    Verification  what checking a draft found                verify -> run, llm

A line of DIR/index.jsonl is `envscale.records.DomainEntry`: the generate job reads it too.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from envscale.records import Part


class Provenance(Part):
    """Where one definition of a tool came from."""

    source: str  # the collection and file, as the input names it (else the file read)
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


class SpecDraft(Part):
    """A domain spec written for a community, with what goes beside it."""

    name: str
    source: str  # the .domain text
    instructions: str | None = None  # the <name>.instructions.toml sidecar, if any
    tool_kinds: dict[str, str] = Field(default_factory=dict)  # tool -> "read" | "write"
    # Tool name in the spec -> its definitions.
    provenance: dict[str, list[Provenance]] = Field(default_factory=dict)
    entities: list[str] = Field(default_factory=list)
    author: str = "heuristic"  # "heuristic", or "llm" when a model's revision was kept


class Verification(Part):
    """What checking a draft found: kept only when every step passed."""

    kept: bool
    # One line per failed step, with the step's name first.
    reasons: list[str] = Field(default_factory=list)
    # Rendered diagnostics of check and compile, if any.
    diagnostics: list[str] = Field(default_factory=list)
    # tasks sampled, replayed, tools reached, chain lengths, ...
    figures: dict[str, Any] = Field(default_factory=dict)
