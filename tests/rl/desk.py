"""A small domain of the RL tests' own (short policy and few tools, so a tiny model's prompt
stays short), with tasks sampled from it."""

from __future__ import annotations

from envscale.api import compile_source
from envscale.records import Task
from envscale.runtime.domain import Domain
from envscale.tasks.sampling import sample_tasks
from envscale.tasks.states import EnvFactory

DESK = """
domain desk "A help desk." clock "2024-03-01T10:00:00"
  policy "Help users with their tickets."

enum Status { open, closed }

entity Ticket "A support ticket" {
  ticket_id: str @key
  title: str
  status: Status @default(open)
}

tool get_ticket(ticket_id: str "The ticket's id, e.g. T1") -> Ticket {
  "Show a ticket."
  return Ticket[ticket_id]
}

tool close_ticket(ticket_id: str "The ticket's id, e.g. T1") -> Ticket {
  "Close an open ticket."
  let t = Ticket[ticket_id]
  require t.status == open else "Only open tickets can be closed"
  set t.status = closed
  return t
}
"""

STATE = {
    "Ticket": [
        {"ticket_id": "T1", "title": "Printer jams", "status": "open"},
        {"ticket_id": "T2", "title": "VPN drops", "status": "open"},
        {"ticket_id": "T3", "title": "New laptop", "status": "closed"},
    ]
}


def desk_domain() -> Domain:
    files, diagnostics, _ = compile_source(DESK, "desk.domain")
    assert files is not None, diagnostics
    return Domain(files)


def desk_tasks(domain: Domain, n: int = 4) -> list[Task]:
    tasks = sample_tasks(domain, EnvFactory(domain, STATE), n=n, seed=0, invalid_share=0.0)
    assert tasks
    return tasks
