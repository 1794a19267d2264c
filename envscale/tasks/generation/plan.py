"""The status mix of an entity's records, planned from what its one-to-one referrers need.

A record that a later entity refers to through a `@unique` reference (a rating of an order,
a delivery of an order) can only be taken by one of them, and only in the states that
entity's invariants allow (a rated order is delivered). Once an entity's records are made,
`_plan_states` counts, for each such referrer, the records it could take as they are; when
fewer than it is asked for, others move into a state it accepts. Records that wait for a
referrer in their state (a delivered order waits for a trip that delivered it) are kept to
no more than that referrer is asked for, the rest moving to a state that waits for nothing.
"""

from __future__ import annotations

import random
from functools import partial
from typing import Any

from envscale.records import EntityField
from envscale.runtime.rowview import RowView
from envscale.tasks import fakes
from envscale.tasks.generation.state import State
from envscale.tasks.repair import judge


def _holds(view: Any, every_row: bool = True) -> None:
    """A check that always holds: a move is judged by the record's own invariants after."""
    return None


class StatePlan(State):
    def _plan_states(self, env: Any, entity: str, later: dict[str, int]) -> None:
        """`later`: the entities made after this one, with the counts asked for them."""
        spec = self.manifest.entities[entity]
        statuses = [f for f in spec.fields if f.kind == "enum" and f.name not in spec.key]
        takers = [
            (other, f, count)
            for other, count in later.items()
            for f in self.manifest.entities[other].fields
            if f.kind == "ref" and f.ref == entity and f.unique and count > 0
        ]
        if not statuses or not takers or not self.index.get(entity):
            return
        rng = random.Random(f"envscale-datagen:{self.seed}:{entity}:plan")
        for other, f, count in takers:
            fitting = [k for k in self.index[entity] if self._fits_taker(env, other, f, k)]
            for key in [k for k in self.index[entity] if k not in fitting]:
                if len(fitting) >= count:
                    break
                fits = partial(self._fits_taker, env, other, f)
                if self._move(env, entity, key, statuses, rng, fits):
                    fitting.append(key)
        for other, _, count in takers:
            needed = {
                k
                for taker, f, _ in takers
                if taker != other
                for k in self.index[entity]
                if self._fits_taker(env, taker, f, k)
            }
            waiting = [k for k in self.index[entity] if other in self._waiting_for(env, entity, k)]
            waiting.sort(key=lambda k: k in needed)  # those no other taker needs move first
            for key in waiting[: max(0, len(waiting) - count)]:
                self._move(
                    env,
                    entity,
                    key,
                    statuses,
                    rng,
                    lambda k, other=other: other not in self._waiting_for(env, entity, k),
                )

    def _fits_taker(self, env: Any, taker: str, f: EntityField, key: Any) -> bool:
        """Whether a record of `taker` referring to `key` meets, by what that record holds,
        the taker's invariants that read it (a check needing the taker's other values says
        nothing)."""
        held = [*self.row_checks.get(taker, []), *self.deferred.get(taker, [])]
        for name, check in held:
            if f.ref not in self.invariant_reads[name]:
                continue
            try:
                if check(RowView(env.db, taker, {f.name: key}), every_row=True) is not None:
                    return False
            except Exception:  # it reads a value of the taker not made yet
                continue
        return True

    def _waiting_for(self, env: Any, entity: str, key: Any) -> set[str]:
        """The later entities a record's set-aside invariants that it breaks now read."""
        row = self.index[entity].get(key)
        reads = self.invariant_reads
        return {
            e
            for name, check in self.deferred.get(entity, [])
            if row is not None and judge(check, env.db, entity, row)
            for e in reads[name]
            if e != entity
        }

    def _move(
        self, env: Any, entity: str, key: Any, statuses: list, rng: random.Random, ok
    ) -> bool:
        """Give the record another state, with what follows it (its dates), when its own
        invariants still hold and `ok(key)` holds after."""
        meta = env.db.tables[entity]
        record = self.index[entity][key]
        for f in statuses:
            members = [m for m in f.enum or [] if m != record.get(f.name)]
            rng.shuffle(members)
            members.sort(key=fakes.is_exit)  # a state off the normal path only when no other fits
            for member in members:
                env.connection.execute("SAVEPOINT plan")
                mark = len(self.rewritten)
                moved = self._try(env, meta, entity, record, f, member, _holds)
                fine = moved is not None and not any(
                    judge(c, env.db, entity, moved) for _, c in self.row_checks.get(entity, [])
                )
                if fine:
                    self.index[entity][key] = moved
                    if ok(key):
                        env.connection.execute("RELEASE plan")
                        return True
                self.index[entity][key] = record
                self._roll_back(env, "plan", mark)
        return False
