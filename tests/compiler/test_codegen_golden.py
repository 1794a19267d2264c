"""Generated code for the shipped specs: golden files, determinism, schemas, format and lint."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envscale.api import compile_file
from envscale.compiler.codegen import ARTIFACTS

ROOT = Path(__file__).resolve().parents[2]
SPECS = ("clinic", "retail", "airline")
GOLDEN = Path(__file__).resolve().parent / "golden"


def compile_spec(name: str) -> dict[str, str]:
    files, diagnostics, _ = compile_file(ROOT / "specs" / f"{name}.domain")
    assert files is not None, [d.message for d in diagnostics]
    assert not [d for d in diagnostics if d.severity == "error"]
    return files


def compile_clinic() -> dict[str, str]:
    return compile_spec("clinic")


@pytest.fixture(scope="module")
def compiled() -> dict[str, dict[str, str]]:
    return {name: compile_spec(name) for name in SPECS}


@pytest.fixture(scope="module")
def files(compiled) -> dict[str, str]:
    return compiled["clinic"]


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("name", ARTIFACTS)
def test_generated_code_matches_golden(compiled, golden, spec, name):
    golden(GOLDEN / spec / name, compiled[spec][name])


def test_compiling_twice_gives_identical_bytes(files):
    again = compile_clinic()
    assert set(files) == set(ARTIFACTS) == set(again)
    for name in ARTIFACTS:
        assert files[name].encode() == again[name].encode(), name


def test_tools_json_is_an_openai_function_schema(files):
    schemas = json.loads(files["tools.json"])
    manifest = json.loads(files["manifest.json"])
    assert [s["function"]["name"] for s in schemas] == [t["name"] for t in manifest["tools"]]
    for schema in schemas:
        assert set(schema) == {"type", "function"} and schema["type"] == "function"
        function = schema["function"]
        assert set(function) == {"name", "description", "parameters"}
        assert len(function["description"]) > 20
        parameters = function["parameters"]
        assert parameters["type"] == "object"
        assert set(parameters["required"]) <= set(parameters["properties"])
        for name, prop in parameters["properties"].items():
            assert prop.get("type") in {
                "string",
                "integer",
                "number",
                "boolean",
                "array",
                "object",
            }, name
            assert prop.get("description"), f"{function['name']}.{name} has no description"
    by_name = {s["function"]["name"]: s["function"]["parameters"] for s in schemas}
    book = by_name["book_appointment"]
    assert book["required"] == ["patient_id", "slot_id", "visit_type", "reason"]
    assert book["properties"]["visit_type"]["enum"] == [
        "new_patient",
        "follow_up",
        "annual_physical",
        "telehealth",
    ]
    invoices = by_name["list_invoices"]
    assert invoices["required"] == ["patient_id"]
    assert invoices["properties"]["status"]["enum"] == ["open", "paid", "void"]
    assert by_name["find_open_slots"]["properties"]["day"] == {
        "type": "string",
        "format": "date",
        "description": "The day to search, YYYY-MM-DD",
    }
    assert by_name["list_appointments"]["properties"]["include_past"]["default"] is False


def test_manifest_lists_tools_effects_and_a_tool_graph(files):
    manifest = json.loads(files["manifest.json"])
    tools = {t["name"]: t for t in manifest["tools"]}
    assert len(tools) >= 12
    assert tools["get_patient"] == {
        "name": "get_patient",
        "kind": "read",
        "reads": ["Patient"],
        "writes": [],
        "params": ["patient_id"],
        "returns": "Patient",
        "returns_shape": {"row": "Patient"},
    }
    assert tools["pay_invoice"]["kind"] == "write"
    assert tools["pay_invoice"]["writes"] == ["Invoice", "Patient", "Payment"]
    assert {t["kind"] for t in tools.values()} == {"read", "write"}
    edges = {(e["from"], e["to"], e["param"]) for e in manifest["tool_graph"]}
    assert ("find_patient", "verify_patient", "patient_id") in edges
    assert ("find_open_slots", "book_appointment", "slot_id") in edges
    assert all(e["from"] in tools and e["to"] in tools for e in manifest["tool_graph"])
    enforced = {i["name"]: i["enforced_by"] for i in manifest["invariants"]}
    assert enforced == {
        "payment_positive": "sql",
        "invoice_not_overpaid": "sql",
        "invoice_split": "sql",
        "invoice_adds_up": "runtime",
        "invoice_paid_in_full": "runtime",
        "invoice_total_is_its_lines": "runtime",
        "invoice_paid_by_payments": "runtime",
        "invoice_open_until_paid": "runtime",
        "invoice_for_a_held_visit": "runtime",
        "invoice_bills_what_was_done": "runtime",
        "one_invoice_per_visit": "runtime",
        "fees_as_the_policy_states": "runtime",
        "balance_is_what_is_due": "runtime",
        "member_id_with_a_plan": "runtime",
        "archived_patients_owe_nothing": "runtime",
        "therapists_do_not_prescribe": "runtime",
        "prescribed_by_a_prescriber": "runtime",
        "notes_after_the_visit": "runtime",
        "appointment_in_its_slot": "runtime",
        "slot_booked_by_a_visit": "runtime",
        "one_held_visit_per_slot": "runtime",
        "payments_within_due": "runtime",
        "archived_patients_have_no_visits": "runtime",
        "one_visit_per_slot": "runtime",
    }
    assert manifest["clock"] == "2024-06-10T09:00:00"
    assert manifest["policy"].startswith("# Riverside Family Clinic")


def test_schema_carries_named_checks_keys_and_indexes(files):
    schema = files["schema.sql"]
    assert 'CONSTRAINT "payment_positive (clinic.domain)"' in schema
    assert 'CONSTRAINT "Patient.phone is unique" UNIQUE ("phone")' in schema
    assert 'CREATE INDEX "Patient.last_name index" ON "Patient" ("last_name");' in schema
    assert 'FOREIGN KEY ("slot_id") REFERENCES "Slot" ("slot_id")' in schema
    assert schema.count(") STRICT;") == 8


def _ruff() -> str | None:
    candidate = Path(sys.executable).parent / "ruff"
    if candidate.exists():
        return str(candidate)
    return shutil.which("ruff")


# The project's rules, with the line length checked as well: generated code must fit.
RUFF_RULES = ["--isolated", "--line-length", "100", "--target-version", "py311"]
RUFF_SELECT = ["--select", "E,F,W,I,B,UP,SIM,RUF", "--ignore", "RUF001,RUF002,RUF003"]


def test_generated_python_is_ruff_formatted_and_clean(compiled, tmp_path):
    ruff = _ruff()
    if ruff is None:
        pytest.skip("ruff is not installed next to the interpreter or on PATH")
    for spec, files in compiled.items():
        for name in ("tools.py", "models.py"):
            (tmp_path / spec).mkdir(exist_ok=True)
            (tmp_path / spec / name).write_text(files[name], encoding="utf-8")
    commands = [
        [ruff, "format", "--check", "--diff", "--no-cache", *RUFF_RULES, str(tmp_path)],
        [ruff, "check", "--no-cache", *RUFF_RULES, *RUFF_SELECT, str(tmp_path)],
    ]
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
