"""Pass: episode policies: their rules name real tools (or `reads`, `writes`, `any`), and a
rule that binds a parameter can tell, for every tool it covers, which record a call
concerns (compiler/bindings.py)."""

from __future__ import annotations

from envscale.compiler.bindings import GROUPS, resolve_binding
from envscale.compiler.context import Compilation
from envscale.dsl import ast
from envscale.dsl.diagnostics import did_you_mean


def check_policies(c: Compilation) -> None:
    tools = c.symbols.tools
    for policy in c.symbols.policies.values():
        for rule in policy.rules:
            selectors = [rule.subject] + ([rule.requirement] if rule.requirement else [])
            known = True
            for selector in selectors:
                known = _check_selector(c, selector, tools) and known
            if rule.kind == "at_most":
                if (rule.limit or 0) < 1:
                    c.error(
                        "E501",
                        "'at most' needs a limit of at least 1",
                        rule.span,
                        "to forbid a tool, remove it from the spec instead",
                    )
                for param in rule.subject.params:
                    if param is not None:
                        c.error(
                            "E501",
                            "'at most' counts calls; it binds no parameter",
                            param[1],
                            f"write the tool alone, e.g. at most {rule.limit} "
                            f"{rule.subject.names[0][0]}",
                        )
            if rule.kind == "before" and rule.requirement is not None:
                required = {n for n, _ in rule.requirement.names}
                if required & set(GROUPS):
                    c.error(
                        "E501",
                        "the required side of a rule must name tools, not groups",
                        rule.requirement.span,
                        "e.g. before writes require verify_identity",
                    )
                elif known:
                    for problem in resolve_binding(c, rule)[1]:
                        c.error(problem.code, problem.message, problem.span, problem.hint)


def _check_selector(c: Compilation, selector: ast.Selector, tools: dict) -> bool:
    """Whether every name of the selector is a tool or a group; reports the others."""
    known = True
    for name, span in selector.names:
        if name not in tools and name not in GROUPS:
            known = False
            c.error(
                "E105",
                f"unknown tool '{name}'",
                span,
                did_you_mean(name, [*tools, *GROUPS])
                or f"use a tool name or one of: {', '.join(GROUPS)}",
            )
    return known
