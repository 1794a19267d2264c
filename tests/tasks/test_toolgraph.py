"""The tool graph: typed edges from the manifest, JSON export, the drawing and the command."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

import envscale
from envscale.cli import graph as graph_command
from envscale.tasks.toolgraph import Edge, ToolGraph

SPEC = Path(__file__).resolve().parents[2] / "specs" / "clinic.domain"


@pytest.fixture(scope="module")
def graph() -> ToolGraph:
    return ToolGraph.from_manifest(envscale.load(SPEC).manifest)


def test_nodes_and_typed_edges(graph):
    assert graph.nodes["find_open_slots"].kind == "read"
    assert graph.nodes["book_appointment"].kind == "write"
    assert Edge("find_open_slots", "book_appointment", "slot_id", "Slot.slot_id") in graph.edges
    assert (
        Edge("find_patient", "verify_patient", "date_of_birth", "Patient.date_of_birth")
        in graph.edges
    )
    assert "book_appointment" in graph.successors("find_open_slots")
    assert graph.successors("find_open_slots", ("read",)) == []
    assert all(e.source != e.target for e in graph.edges)


def test_json_export(graph):
    data = graph.to_json()
    assert json.loads(json.dumps(data)) == data
    assert {n["name"] for n in data["nodes"]} == set(graph.nodes)
    assert len(data["edges"]) == len(graph.edges)
    assert set(data["edges"][0]) == {"source", "target", "param", "via"}


def test_png_is_written(graph, tmp_path):
    pytest.importorskip("matplotlib")
    out = graph.draw_png(tmp_path / "graph.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_graph_command(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    graph_command.register(parser.add_subparsers())
    args = parser.parse_args(["graph", str(SPEC), "--json", str(tmp_path / "g.json")])
    assert args.func(args) == 0
    assert json.loads((tmp_path / "g.json").read_text())["domain"] == "clinic"
    capsys.readouterr()
    args = parser.parse_args(["graph", str(SPEC)])
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["nodes"]


def test_graph_command_reports_a_missing_spec_without_a_traceback(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    graph_command.register(parser.add_subparsers())
    args = parser.parse_args(["graph", str(tmp_path / "absent.domain")])
    assert args.func(args) != 0
    err = capsys.readouterr().err
    assert "absent.domain" in err and "Traceback" not in err
