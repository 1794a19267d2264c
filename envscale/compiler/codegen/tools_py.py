"""tools.py as a whole: the module around the generated tool functions."""

from __future__ import annotations

from envscale.compiler import ir
from envscale.compiler.codegen.python import invariant_source, tool_source
from envscale.compiler.codegen.templates import render


def runtime_invariants(d: ir.DomainIR) -> list[ir.Invariant]:
    """Invariants that SQL cannot hold; the runtime checks them after write tools."""
    return [inv for inv in d.invariants if inv.sql is None]


def tools_py(d: ir.DomainIR) -> str:
    checks = runtime_invariants(d)
    return render(
        "tools.py.j2",
        d=d,
        tools=[tool_source(d, tool) for tool in d.tools],
        invariants=[invariant_source(d, inv) for inv in checks],
        runtime_invariants=checks,
    )
