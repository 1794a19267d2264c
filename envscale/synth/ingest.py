"""Ingest: tool collections read into `ApiTool`s with valid, unique names (see docs/design.md,
Synthesis).

Accepted inputs (any of them gzipped when the name ends in `.gz`): OpenAI tools one a line
(`{"type": "function", "function": {...}}` or the bare function object), a JSON array of
them, and MCP `tools/list` results (`{"tools": [{"name", "description", "inputSchema"}]}`,
also wrapped in a JSON-RPC response, whole or one a line). Keys beside the function
(`source`, `group`, `category`, `returns`, `method`) are kept as provenance.

Definitions are grouped by their normalised name. In a group, an exact duplicate (same
description and parameters) and a near duplicate (same parameter set once descriptions are
set aside, and descriptions alike: equal after folding case and whitespace, one of them
empty, or sharing at least `NEAR_JACCARD` of their words) merge into one tool that keeps
every definition's provenance; any other definition is a further version, named
`name_v2`, `name_v3`, ...
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envscale.synth.records import ApiTool, Provenance

NAME_RULE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_NAME = 64
NEAR_JACCARD = 0.6
_INVALID = re.compile(r"[^a-zA-Z0-9_-]+")
_WORD = re.compile(r"[a-z0-9]+")
_EXAMPLES = 3  # places kept per malformed reason


@dataclass
class IngestReport:
    files: int = 0
    read: int = 0  # definitions read, malformed ones included
    malformed: dict[str, int] = field(default_factory=dict)  # reason -> count
    examples: dict[str, list[str]] = field(default_factory=dict)  # reason -> "file:line"
    renamed: int = 0  # tools whose name had to change to meet the name rule
    exact_merged: int = 0  # definitions merged into an identical one
    near_merged: int = 0  # definitions merged into a near-identical one
    versions: int = 0  # tools that are a second or later version of a name
    tools: int = 0  # tools out
    no_parameters: int = 0  # tools out that take no parameters

    @property
    def malformed_total(self) -> int:
        return sum(self.malformed.values())

    def count(self, reason: str, where: str) -> None:
        self.malformed[reason] = self.malformed.get(reason, 0) + 1
        places = self.examples.setdefault(reason, [])
        if len(places) < _EXAMPLES:
            places.append(where)

    def warnings(self) -> list[str]:
        """One line per malformed reason, with a few of the places it was seen."""
        return [
            f"ingest: {n} definition(s) skipped: {reason} (at {', '.join(self.examples[reason])})"
            for reason, n in sorted(self.malformed.items(), key=lambda kv: (-kv[1], kv[0]))
        ]

    def summary(self) -> str:
        return (
            f"{self.files} file(s), {self.read} definitions read, {self.malformed_total} "
            f"malformed, {self.exact_merged} exact and {self.near_merged} near duplicates "
            f"merged, {self.versions} further versions, {self.renamed} renamed: "
            f"{self.tools} tools ({self.no_parameters} without parameters)"
        )


@dataclass
class _Definition:
    name: str  # normalised, before versions
    description: str
    parameters: dict[str, Any]
    returns: Any
    method: str | None
    provenance: Provenance


class _Malformed(ValueError):
    pass


def ingest(paths: Sequence[str | Path]) -> tuple[list[ApiTool], IngestReport]:
    """Every tool of the files, normalised, merged and versioned, in order of first sight."""
    report = IngestReport()
    definitions: list[_Definition] = []
    for path in paths:
        report.files += 1
        for where, position, entry, error in _entries(Path(path)):
            report.read += 1
            if error is not None:
                report.count(error, where)
                continue
            try:
                definitions.append(_definition(entry, str(path), position))
            except _Malformed as problem:
                report.count(str(problem), where)
    tools = _merge(definitions, report)
    report.tools = len(tools)
    report.no_parameters = sum(1 for t in tools if not t.parameters.get("properties"))
    return tools, report


def _open_text(path: Path) -> str:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("utf-8-sig", "replace")


def _entries(path: Path) -> Iterator[tuple[str, int, Any, str | None]]:
    """(place, position, tool entry, error) for every definition a file holds."""
    try:
        text = _open_text(path)
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        yield f"{path}", 0, None, f"unreadable file ({type(error).__name__}: {error})"
        return
    whole: Any = None
    stripped = text.lstrip()
    if stripped[:1] in "[{":
        try:
            whole = json.loads(text)
        except (ValueError, RecursionError):
            whole = None  # one object a line, or broken: read line by line
    if whole is not None:
        for position, entry, error in _unwrap(whole):
            yield f"{path}:{position}", position, entry, error
        return
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError) as error:
            yield f"{path}:{number}", number, None, f"not JSON ({_json_reason(error)})"
            continue
        items = list(_unwrap(value))
        for _position, entry, error in items:
            yield f"{path}:{number}", number, entry, error


def _json_reason(error: Exception) -> str:
    return error.msg if isinstance(error, json.JSONDecodeError) else type(error).__name__


def _unwrap(value: Any) -> Iterator[tuple[int, Any, str | None]]:
    """The tool entries of one JSON value, with their 1-based positions."""
    if isinstance(value, dict) and isinstance(value.get("result"), dict):
        if "tools" in value["result"]:
            value = value["result"]  # a JSON-RPC response to tools/list
    elif isinstance(value, dict) and "error" in value and "jsonrpc" in value:
        yield 1, None, "a JSON-RPC error response"
        return
    if isinstance(value, dict) and "tools" in value and "function" not in value:
        value = value["tools"]
        if not isinstance(value, list):
            yield 1, None, "`tools` is not a list"
            return
    if isinstance(value, list):
        for position, entry in enumerate(value, 1):
            yield position, entry, None
    else:
        yield 1, value, None


def _definition(entry: Any, path: str, position: int) -> _Definition:
    if not isinstance(entry, dict):
        raise _Malformed(f"a tool is a JSON object, not {type(entry).__name__}")
    function = entry.get("function", entry)
    if not isinstance(function, dict):
        raise _Malformed("`function` is not an object")
    name = function.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _Malformed("no name")
    description = function.get("description") or ""
    if not isinstance(description, str):
        raise _Malformed("description is not a string")
    parameters = function.get("parameters", function.get("inputSchema"))
    parameters = _schema(parameters)
    source = entry.get("source") or function.get("source") or path
    extras = {k: entry.get(k, function.get(k)) for k in ("group", "category", "method")}
    for key, text in extras.items():
        if text is not None and not isinstance(text, str):
            extras[key] = json.dumps(text, sort_keys=True)
    returns = entry.get("returns", function.get("returns", function.get("outputSchema")))
    method = extras["method"] or entry.get("http_method")
    return _Definition(
        name=normalise_name(name),
        description=description.strip(),
        parameters=parameters,
        returns=returns,
        method=method.upper() if isinstance(method, str) and method.strip() else None,
        provenance=Provenance(
            source=str(source),
            group=extras["group"],
            category=extras["category"],
            original_name=name,
            line=position,
        ),
    )


def _schema(parameters: Any) -> dict[str, Any]:
    if parameters is None or parameters == {}:
        return {"type": "object", "properties": {}}
    if not isinstance(parameters, dict):
        raise _Malformed("parameters are not a JSON schema object")
    kind = parameters.get("type", "object")
    if kind != "object":
        raise _Malformed("parameters are not a schema of type object")
    properties = parameters.get("properties", {})
    if not isinstance(properties, dict) or not all(
        isinstance(p, dict) for p in properties.values()
    ):
        raise _Malformed("parameters' properties are not an object of schemas")
    required = parameters.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise _Malformed("parameters' required is not a list of names")
    return {**parameters, "type": "object", "properties": properties}


def _short_hash(text: str, size: int = 8) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:size]


def normalise_name(name: str) -> str:
    """A name meeting `^[a-zA-Z0-9_-]{1,64}$`: accents dropped, other characters replaced by
    `_`, a name with no Latin letter or digit left `tool_<hash>`, a long one cut with a hash."""
    if NAME_RULE.match(name):
        return name
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    cleaned = _INVALID.sub("_", ascii_name).strip("_")
    if not re.search(r"[a-zA-Z0-9]", cleaned):
        return f"tool_{_short_hash(name)}"
    return fit_name(cleaned, name)


def fit_name(name: str, original: str | None = None, reserve: int = 0) -> str:
    """`name` cut to leave `reserve` characters below the limit, with a hash of `original`."""
    if len(name) + reserve <= MAX_NAME:
        return name
    digest = _short_hash(original or name)
    return f"{name[: MAX_NAME - reserve - len(digest) - 1].rstrip('_-')}_{digest}"


def _fold(text: str) -> str:
    return " ".join(text.casefold().split()).rstrip(".")


def _without_descriptions(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_descriptions(v) for k, v in schema.items() if k != "description"}
    if isinstance(schema, list):
        return [_without_descriptions(v) for v in schema]
    return schema


def _alike(a: str, b: str) -> bool:
    if not a or not b or _fold(a) == _fold(b):
        return True
    wa, wb = set(_WORD.findall(a.casefold())), set(_WORD.findall(b.casefold()))
    return bool(wa | wb) and len(wa & wb) / len(wa | wb) >= NEAR_JACCARD


@dataclass
class _Version:
    definition: _Definition
    shape: str  # the parameter set with descriptions set aside
    exact: set[str]  # keys of the exact definitions merged in
    provenance: list[Provenance]


def _merge(definitions: list[_Definition], report: IngestReport) -> list[ApiTool]:
    groups: dict[str, list[_Version]] = {}
    for d in definitions:
        exact = json.dumps([d.description, d.parameters], sort_keys=True)
        shape = json.dumps(_without_descriptions(d.parameters), sort_keys=True)
        versions = groups.setdefault(d.name, [])
        for version in versions:
            if exact in version.exact:
                report.exact_merged += 1
                break
            if version.shape == shape and _alike(version.definition.description, d.description):
                report.near_merged += 1
                version.exact.add(exact)
                break
        else:
            versions.append(_Version(d, shape, {exact}, []))
            version = versions[-1]
        version.provenance.append(d.provenance)
        if version.definition.returns is None and d.returns is not None:
            version.definition.returns = d.returns
        if not version.definition.description and d.description:
            version.definition.description = d.description
    taken = set(groups)
    tools: list[ApiTool] = []
    for base, versions in groups.items():
        for number, version in enumerate(versions, 1):
            name = base if number == 1 else _version_name(base, number, taken)
            report.versions += number > 1
            d = version.definition
            report.renamed += number == 1 and base != d.provenance.original_name
            tools.append(
                ApiTool(
                    name=name,
                    description=d.description,
                    parameters=d.parameters,
                    returns=d.returns,
                    method=d.method,
                    version=number,
                    provenance=version.provenance,
                )
            )
    return tools


def _version_name(base: str, number: int, taken: set[str]) -> str:
    suffix = number
    while True:
        tail = f"_v{suffix}"
        name = fit_name(base, reserve=len(tail)) + tail
        if name not in taken:
            taken.add(name)
            return name
        suffix += 1
