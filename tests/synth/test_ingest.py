"""Ingest: the formats read, malformed input counted (never raised), names normalised,
duplicates merged, versions kept apart, provenance kept."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest

from envscale.synth.ingest import NAME_RULE, ingest, normalise_name

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "apis" / "apis.jsonl.gz"


def tool(name: str, description: str = "", **properties: Any) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": []},
        },
    }


def write_lines(path: Path, entries: list[Any]) -> Path:
    text = "\n".join(e if isinstance(e, str) else json.dumps(e) for e in entries) + "\n"
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode("utf-8")))
    else:
        path.write_text(text, encoding="utf-8")
    return path


STRING = {"type": "string", "description": "An id."}


def test_jsonl_gzip_with_provenance(tmp_path: Path) -> None:
    entry = {
        **tool("getMatchInfo", "Match info.", match_id=STRING),
        "source": "repo@abc:tool.jsonl",
        "group": "Sports/Football",
        "category": "Sports",
        "returns": {"info": {"type": "str"}},
        "method": "get",
    }
    path = write_lines(tmp_path / "tools.jsonl.gz", [entry, tool("other", x=STRING)])
    tools, report = ingest([path])
    assert [t.name for t in tools] == ["getMatchInfo", "other"]
    first = tools[0]
    assert first.returns == {"info": {"type": "str"}} and first.method == "GET"
    (p,) = first.provenance
    assert (p.source, p.group, p.category, p.original_name, p.line) == (
        "repo@abc:tool.jsonl",
        "Sports/Football",
        "Sports",
        "getMatchInfo",
        1,
    )
    # A definition that names no source is known by the file it came from.
    assert tools[1].provenance[0].source == str(path) and tools[1].provenance[0].line == 2
    assert (report.read, report.tools, report.malformed_total) == (2, 2, 0)


def test_array_bare_functions_and_mcp(tmp_path: Path) -> None:
    array = tmp_path / "array.json"
    array.write_text(
        json.dumps([tool("a", x=STRING), tool("b", y=STRING)["function"]]), encoding="utf-8"
    )
    mcp = tmp_path / "mcp.json"
    listed = {
        "name": "read_file",
        "description": "Read a file.",
        "inputSchema": {
            "type": "object",
            "properties": {"path": {"type": "string"}},
            "required": ["path"],
        },
    }
    mcp.write_text(json.dumps({"tools": [listed]}), encoding="utf-8")
    rpc = tmp_path / "rpc.jsonl"
    write_lines(
        rpc,
        [
            {"jsonrpc": "2.0", "id": 1, "result": {"tools": [{**listed, "name": "write_file"}]}},
            {"jsonrpc": "2.0", "id": 2, "error": {"code": -32601, "message": "no"}},
        ],
    )
    tools, report = ingest([array, mcp, rpc])
    assert [t.name for t in tools] == ["a", "b", "read_file", "write_file"]
    assert tools[2].parameters["required"] == ["path"]
    assert tools[1].provenance[0].line == 2  # the position in the array
    assert report.files == 3 and report.malformed == {"a JSON-RPC error response": 1}


def test_malformed_lines_are_counted_with_reasons(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "bad.jsonl",
        [
            tool("fine", x=STRING),
            "{not json",
            "[1, 2",
            json.dumps(42),
            {"type": "function", "function": {"description": "no name"}},
            {"type": "function", "function": {"name": "p", "parameters": {"type": "array"}}},
            {"type": "function", "function": {"name": "q", "parameters": {"properties": []}}},
            {"type": "function", "function": {"name": "r", "description": 7}},
            {"tools": "none"},
        ],
    )
    missing = tmp_path / "missing.jsonl"
    tools, report = ingest([path, missing])
    assert [t.name for t in tools] == ["fine"]
    assert report.malformed_total == 9
    reasons = set(report.malformed)
    assert {"no name", "description is not a string", "`tools` is not a list"} <= reasons
    assert any(r.startswith("not JSON") for r in reasons)
    assert any(r.startswith("unreadable file") for r in reasons)
    assert "a tool is a JSON object, not int" in reasons
    warnings = report.warnings()
    assert any(f"{path}:2" in line for line in warnings)
    assert all(line.startswith("ingest: ") for line in warnings)


def test_garbage_bytes_and_empty_files(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "bytes.jsonl").write_bytes(b"\xff\xfe\x00garbage\n\x00")
    (tmp_path / "fake.jsonl.gz").write_bytes(b"not gzip at all")
    tools, report = ingest(sorted(tmp_path.iterdir()))
    assert tools == [] and report.read == report.malformed_total == 3


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("getMatchInfo", "getMatchInfo"),
        ("math.sum", "math_sum"),
        ("weather forecast", "weather_forecast"),
        ("café-menu", "cafe-menu"),
        ("  spaced..out  ", "spaced_out"),
    ],
)
def test_normalise_name(name: str, expected: str) -> None:
    assert normalise_name(name) == expected


def test_names_without_latin_letters_and_long_names() -> None:
    chinese = normalise_name("查询天气")
    assert re.fullmatch(r"tool_[0-9a-f]{8}", chinese)
    assert chinese != normalise_name("查询航班")
    long = "a.very_long_name" * 8
    cut = normalise_name(long)
    assert 56 <= len(cut) <= 64 and NAME_RULE.match(cut) and cut.startswith("a_very_long")
    assert cut != normalise_name(long + "x")  # the hash tells them apart


def test_exact_and_near_duplicates_merge_and_versions_stay_apart(tmp_path: Path) -> None:
    base = tool("search", "Search the catalogue.", query=STRING)
    near = tool("search", "  search THE catalogue ", query={**STRING, "description": "AN ID"})
    other_params = tool("search", "Search the catalogue.", term=STRING, page={"type": "integer"})
    unrelated = tool("search", "Find flights between two airports.", query=STRING)
    dotted = tool("se.arch", "x")  # normalises to se_arch, a different name
    path = write_lines(
        tmp_path / "t.jsonl", [base, base, near, other_params, unrelated, dotted, other_params]
    )
    tools, report = ingest([path])
    names = [t.name for t in tools]
    assert names == ["search", "search_v2", "search_v3", "se_arch"]
    assert (report.exact_merged, report.near_merged, report.versions) == (2, 1, 2)
    assert [len(t.provenance) for t in tools] == [3, 2, 1, 1]
    assert [t.version for t in tools] == [1, 2, 3, 1]
    assert tools[0].description == "Search the catalogue."  # the first definition's text
    assert report.renamed == 1 and tools[3].provenance[0].original_name == "se.arch"
    assert all(NAME_RULE.match(n) for n in names) and len(set(names)) == len(names)


def test_a_version_name_never_takes_an_existing_name(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "t.jsonl",
        [tool("pay", "Pay.", a=STRING), tool("pay_v2", "Other."), tool("pay", "Pay.", b=STRING)],
    )
    tools, _ = ingest([path])
    assert [t.name for t in tools] == ["pay", "pay_v3", "pay_v2"]
    assert tools[1].version == 2


@pytest.mark.skipif(not SHARED.exists(), reason="no ../shared")
def test_the_shared_collection() -> None:
    tools, report = ingest([SHARED])
    assert report.read == 65_284 and report.malformed_total == 0
    names = [t.name for t in tools]
    assert len(set(names)) == len(names) and all(NAME_RULE.match(n) for n in names)
    assert report.versions > 2_000 and report.renamed > 3_000
    assert sum(len(t.provenance) for t in tools) == report.read
