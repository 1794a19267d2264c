"""Pass: episode policies: their rules name real tools (or `reads`, `writes`, `any`)."""

from __future__ import annotations

from envscale.compiler.context import Compilation
from envscale.dsl import ast
from envscale.dsl.diagnostics import did_you_mean

GROUPS = ("reads", "writes", "any")


def check_policies(c: Compilation) -> None:
    tools = c.symbols.tools
    for policy in c.symbols.policies.values():
        for rule in policy.rules:
            selectors = [rule.subject] + ([rule.requirement] if rule.requirement else [])
            for selector in selectors:
                _check_selector(c, selector, tools)
            if rule.kind == "at_most" and (rule.limit or 0) < 1:
                c.error(
                    "E501",
                    "'at most' needs a limit of at least 1",
                    rule.span,
                    "to forbid a tool, remove it from the spec instead",
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


def _check_selector(c: Compilation, selector: ast.Selector, tools: dict) -> None:
    for name, span in selector.names:
        if name not in tools and name not in GROUPS:
            c.error(
                "E105",
                f"unknown tool '{name}'",
                span,
                did_you_mean(name, [*tools, *GROUPS])
                or f"use a tool name or one of: {', '.join(GROUPS)}",
            )
