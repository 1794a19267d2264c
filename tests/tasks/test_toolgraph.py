"""The tool graph: typed edges from the manifest, JSON export, the drawing and the command."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import pytest

import envscale
from envscale.cli import graph as graph_command
from envscale.records import Manifest, ToolEdge
from envscale.tasks.toolgraph import ToolGraph
from envscale.tasks.toolgraph_png import strongest_edges, transition_lines

SPEC = Path(__file__).resolve().parents[2] / "specs" / "clinic.domain"


@pytest.fixture(scope="module")
def graph() -> ToolGraph:
    return ToolGraph.from_domain(envscale.load(SPEC))


def _flow(graph, source, target, param):
    return next((f for f in graph.flows_between(source, target) if f.param == param), None)


def test_nodes_and_typed_edges(graph):
    assert graph.nodes["find_open_slots"].kind == "read"
    assert graph.nodes["book_appointment"].kind == "write"
    slot = _flow(graph, "find_open_slots", "book_appointment", "slot_id")
    assert slot is not None and slot.kind == "key" and slot.entity == "Slot"
    assert slot.via == "Slot.slot_id"
    found = _flow(graph, "find_patient", "verify_patient", "patient_id")
    assert found is not None and found.kind == "key"
    assert "book_appointment" in graph.successors("find_open_slots")
    assert graph.successors("find_open_slots", ("read",)) == []
    assert all(e.source != e.target for e in graph.edges)
    assert all(0 < f.weight <= 1 for e in graph.edges for f in e.flows)


def test_a_value_the_source_was_given_is_no_flow(graph):
    # verify_patient takes the patient's id: handing that key back on is not a flow ...
    assert _flow(graph, "verify_patient", "list_invoices", "patient_id") is None
    # ... but get_patient, which finds the patient by it alone, hands it on with the record.
    assert _flow(graph, "get_patient", "list_invoices", "patient_id") is not None
    # A patient's plan is a lone reference: it goes to the read that finds the plan, which
    # hands it on, not straight to changing the patient's insurance.
    assert _flow(graph, "verify_patient", "get_insurance_plan", "plan_id") is not None
    assert _flow(graph, "get_insurance_plan", "update_insurance", "plan_id") is not None
    assert _flow(graph, "verify_patient", "update_insurance", "plan_id") is None
    assert _flow(graph, "find_patient", "update_insurance", "plan_id") is None
    # A new phone number is the user's, not a value found in an output.
    assert _flow(graph, "get_patient", "update_contact", "phone") is None
    # The appointment booked names the slot it holds, which a reschedule can move from.
    assert _flow(graph, "list_appointments", "cancel_appointment", "appointment_id") is not None


def test_json_export(graph):
    data = graph.to_json()
    assert json.loads(json.dumps(data)) == data
    assert {n["name"] for n in data["nodes"]} == set(graph.nodes)
    assert len(data["edges"]) == len(graph.edges)
    assert set(data["edges"][0]) == {"source", "target", "weight", "flows"}
    assert set(data["edges"][0]["flows"][0]) == {"param", "via", "kind", "entity", "weight"}


def test_collections_of_ids_are_followed_by_shape_or_by_data():
    airline = envscale.load(SPEC.with_name("airline.domain"))
    # The shipped spec types `User.reservations` as `list<Reservation>`: the shape says it.
    typed = ToolGraph.from_domain(airline)
    flow = _flow(typed, "get_user_details", "get_reservation_details", "reservation_id")
    assert flow is not None and flow.entity == "Reservation" and flow.kind == "key"
    # The same field as a list of plain strings: without data, no flow.
    manifest = airline.manifest.model_copy(deep=True)
    field = next(f for f in manifest.entities["User"].fields if f.name == "reservations")
    field.shape = None
    # Edges without flows, as manifests listed them before: the graph is computed again.
    manifest.tool_graph = [
        ToolEdge.model_validate(e.to_dict() | {"flows": []}) for e in manifest.tool_graph[:1]
    ]
    plain = ToolGraph.from_manifest(manifest, airline.tool_schemas)
    assert _flow(plain, "get_user_details", "get_reservation_details", "reservation_id") is None
    # A value that is no key flows by name (a segment's date), weighted below a key.
    date = _flow(plain, "get_reservation_details", "search_direct_flight", "date")
    user = _flow(plain, "get_reservation_details", "get_user_details", "user_id")
    assert date.kind == "value" and date.via == "Reservation.flights[].date"
    assert user.kind == "key" and date.weight < user.weight
    # With data that shows the strings are keys, the plain list counts as references.
    users = [{"user_id": "u1", "reservations": ["R1", "R2"]}]
    data = {"User": users, "Reservation": [{"reservation_id": "R1"}, {"reservation_id": "R2"}]}
    seen = ToolGraph.from_manifest(manifest, airline.tool_schemas, data)
    flow = _flow(seen, "get_user_details", "get_reservation_details", "reservation_id")
    assert flow is not None and flow.entity == "Reservation" and flow.via == "User.reservations"


def test_transitions_are_kept_when_the_manifest_has_them(graph):
    manifest = envscale.load(SPEC).manifest.model_copy(deep=True)
    moves = {"Appointment.status": {"scheduled": ["checked_in", "cancelled"]}}
    manifest = manifest.model_validate({**manifest.to_dict(), "transitions": moves})
    assert ToolGraph.from_manifest(manifest).transitions == moves


def test_png_is_written(graph, tmp_path):
    pytest.importorskip("matplotlib")
    out = graph.draw_png(tmp_path / "graph.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    drawn = strongest_edges(graph, 3)
    assert len(drawn) <= min(3 * len(graph.nodes), len(graph.edges))
    per_tool = Counter(source for source, _, _, _ in drawn)
    assert max(per_tool.values()) <= 3


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


def test_the_manifest_holds_the_graph_the_sampler_walks(graph):
    manifest = envscale.load(SPEC).manifest
    stored = [(e.source, e.target, [f.to_dict() for f in e.flows]) for e in manifest.tool_graph]
    walked = [(e.source, e.target, [asdict(f) for f in e.flows]) for e in graph.edges]
    assert stored == walked and stored
    # The edge's own param and via are its strongest flow's, as edges had them before flows.
    first = manifest.tool_graph[0]
    assert (first.param, first.via, first.weight) == (
        first.flows[0].param,
        first.flows[0].via,
        first.flows[0].weight,
    )


def test_an_older_manifest_with_one_edge_per_parameter_is_read_and_computed_again():
    clinic = envscale.load(SPEC)
    manifest = clinic.manifest
    old = manifest.to_dict()
    old["tool_graph"] = [
        {"from": "find_open_slots", "to": "book_appointment", "param": "slot_id", "via": "Slot"}
    ]
    read = Manifest.from_dict(old)
    assert read.tool_graph[0].flows == [] and "flows" not in read.tool_graph[0].to_dict()
    again = ToolGraph.from_manifest(read, clinic.tool_schemas)
    assert again.edges == ToolGraph.from_manifest(manifest).edges


def test_echoed_keys_and_reads_that_add_nothing_make_no_edge(graph):
    # complete_visit creates an invoice: its id flows, its patient is the appointment's.
    assert _flow(graph, "complete_visit", "pay_invoice", "invoice_id") is not None
    assert graph.edge("complete_visit", "list_invoices") is None
    # A booking's new appointment flows; its clinician is the slot's, known before it.
    assert _flow(graph, "book_appointment", "cancel_appointment", "appointment_id") is not None
    assert _flow(graph, "list_appointments", "find_open_slots", "clinician_id") is not None
    assert graph.edge("book_appointment", "find_open_slots") is None
    # A write handing back the appointment it changed names no new clinician.
    assert graph.edge("cancel_appointment", "find_open_slots") is None
    # verify_patient checks a birth date, so it adds to what find_patient returned.
    assert _flow(graph, "find_patient", "verify_patient", "patient_id") is not None


def test_reads_that_find_what_the_source_holds_and_value_flows_from_other_records():
    retail = envscale.load(SPEC.with_name("retail.domain"))
    graph = ToolGraph.from_domain(retail)
    # get_user_details returns the user: looking the user up by email again finds nothing new.
    assert graph.edge("get_user_details", "find_user_id_by_email") is None
    assert graph.edge("get_order_details", "find_user_id_by_name_zip") is None
    assert _flow(graph, "find_user_id_by_email", "get_user_details", "user_id") is not None
    # A user's address is for the user's address; an order's address for an order's.
    assert _flow(graph, "get_user_details", "modify_user_address", "address1") is not None
    assert _flow(graph, "get_order_details", "modify_user_address", "address1") is None
    assert _flow(graph, "get_order_details", "modify_pending_order_address", "address1")
    # A write's order still feeds the next change to it (the items just kept pending).
    items = _flow(graph, "modify_pending_order_address", "modify_pending_order_items", "item_ids")
    assert items is not None and items.kind == "value"
    # ... but the order's owner it names was in the order before the write.
    assert graph.edge("cancel_pending_order", "get_user_details") is None
    assert _flow(graph, "get_order_details", "get_user_details", "user_id") is not None
    # A cancelled order is not the pending one whose address changes: its address may be
    # copied into that one, and its payment method charged for another.
    assert _flow(graph, "cancel_pending_order", "modify_pending_order_address", "address1")
    assert _flow(graph, "cancel_pending_order", "modify_pending_order_payment", "payment_method_id")
    # A user's order ids go to get_order_details, which shows the order's state, and on.
    assert graph.edge("get_user_details", "cancel_pending_order") is None
    assert _flow(graph, "get_order_details", "cancel_pending_order", "order_id") is not None


def test_declared_transitions_are_listed_for_the_drawing():
    moves = {"Order.status": {"placed": ["preparing", "cancelled"], "cancelled": [], "done": []}}
    assert transition_lines(moves) == [
        "declared status transitions",
        "Order.status  placed -> preparing | cancelled",
        "Order.status  final: cancelled, done",
    ]
