"""Hand-made clinic tasks in the task JSON shape.

Their gold states are computed on a real environment.
"""

from __future__ import annotations

from pathlib import Path

import envscale
from envscale.records import GoldCall, Task

ROOT = Path(__file__).resolve().parents[2]
CLINIC = ROOT / "specs" / "clinic.domain"
CLINIC_DATA = ROOT / "specs" / "clinic.data.json"

CHAINS = [
    (
        "I'd like to see my upcoming appointments. I'm patient P001, born 1985-03-14.",
        [
            ("verify_patient", {"patient_id": "P001", "date_of_birth": "1985-03-14"}),
            ("list_appointments", {"patient_id": "P001"}),
        ],
    ),
    (
        "Please cancel my appointment A0004, I'm feeling better. I am P004, born 1948-01-30.",
        [
            ("verify_patient", {"patient_id": "P004", "date_of_birth": "1948-01-30"}),
            ("cancel_appointment", {"appointment_id": "A0004", "reason": "feeling_better"}),
        ],
    ),
    (
        "Could you refill my prescription RX001? Patient P001, born 1985-03-14.",
        [
            ("verify_patient", {"patient_id": "P001", "date_of_birth": "1985-03-14"}),
            ("list_prescriptions", {"patient_id": "P001"}),
            ("refill_prescription", {"rx_id": "RX001"}),
        ],
    ),
    ("Which clinicians do dermatology?", [("list_clinicians", {"specialty": "dermatology"})]),
    (
        "Update my address to 9 Elm Rd, Springfield. I'm P003.",
        [
            ("verify_patient", {"patient_id": "P003", "date_of_birth": "1990-07-21"}),
            ("update_contact", {"patient_id": "P003", "address": "9 Elm Rd, Springfield"}),
        ],
    ),
    (
        "Please refill RX007 for patient P009, born 1979-08-15.",
        [
            ("verify_patient", {"patient_id": "P009", "date_of_birth": "1979-08-15"}),
            ("refill_prescription", {"rx_id": "RX007"}),
        ],
    ),
]


def clinic_domain():
    return envscale.load(CLINIC)


def make_task(domain, task_id: str, instruction: str, chain: list, seed: int = 0) -> Task:
    """A task in the shape `tasks.sample_tasks` writes, its gold results from a real run."""
    env = domain.environment(data=CLINIC_DATA)
    initial_hash = env.state_hash()
    outputs = []
    for name, arguments in chain:
        result = env.call(name, arguments)
        assert result.ok, (task_id, name, result.error)
        outputs.append({"ok": True, "content": result.text})
    kind = "write" if any(domain.tool_kinds[name] == "write" for name, _ in chain) else "read"
    task = {
        "id": task_id,
        "domain": domain.name,
        "spec_hash": domain.spec_hash,
        "seed": seed,
        "initial_state": {"data": str(CLINIC_DATA)},
        "initial_state_hash": initial_hash,
        "instruction": instruction,
        "gold_calls": [{"name": n, "arguments": a} for n, a in chain],
        "gold_outputs": outputs,
        "gold_state_hash": env.state_hash(),
        "kind": kind,
        "length": len(chain),
        "invalid_calls": [],
        "enforce_policies": True,
    }
    env.close()
    return Task.from_dict(task)


def clinic_tasks(n: int | None = None) -> list[Task]:
    domain = clinic_domain()
    chains = CHAINS if n is None else [CHAINS[i % len(CHAINS)] for i in range(n)]
    return [
        make_task(domain, f"clinic-{i:04d}", text, chain, seed=i)
        for i, (text, chain) in enumerate(chains)
    ]


def bare_task(task_id: str, chain_length: int) -> Task:
    """A task with only an id and a gold chain of `chain_length` calls.

    For evaluation's arithmetic.
    """
    return Task(
        id=task_id,
        domain="clinic",
        spec_hash="",
        seed=0,
        initial_state={},
        instruction="",
        gold_calls=[GoldCall(name="get_patient", arguments={})] * chain_length,
        gold_outputs=[],
        gold_state_hash="",
    )
