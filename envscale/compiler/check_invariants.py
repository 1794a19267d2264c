"""Pass: invariants: one row's condition (`on Entity`) or a condition on the whole state."""

from __future__ import annotations

from envscale.compiler import types as t
from envscale.compiler.check_entities import row_scope
from envscale.compiler.context import Compilation
from envscale.compiler.typecheck import Checker, Scope
from envscale.dsl.diagnostics import did_you_mean


def check_invariants(c: Compilation) -> None:
    checker = Checker(c)
    for inv in c.symbols.invariants.values():
        scope = Scope()
        if inv.entity is not None:
            record = c.symbols.entities.get(inv.entity)
            if record is None:
                c.error(
                    "E102",
                    f"unknown entity '{inv.entity}'",
                    inv.entity_span or inv.span,
                    did_you_mean(inv.entity, c.symbols.entities),
                )
                continue
            scope = row_scope(record)
        checker.expect(
            inv.condition, checker.expr(inv.condition, scope), t.BOOL, f"invariant '{inv.name}'"
        )
        checker.expect(
            inv.message,
            checker.expr(inv.message, scope),
            t.STR,
            f"message of invariant '{inv.name}'",
        )
