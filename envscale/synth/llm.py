"""A model's revision of a heuristic draft, with a bounded repair loop (see docs/design.md,
"Synthesis: the LLM mode").

The model, behind any OpenAI-compatible `/v1/chat/completions` endpoint, gets the domain's
tools (names, descriptions, parameters, provenance), the heuristic draft (with its diagnostics,
if it has any) and the language reference, and answers with a whole spec. Each answer is
extracted, compiled, held to the draft's contract (the domain's name, and every tool with the
same name, parameters, JSON types and required parameters) and then given to `check`; what
failed goes back to the model, for at most `rounds` answers. The first answer that passes
everything is kept; otherwise, or when the endpoint fails, the heuristic draft is kept. Either
way the draft carries an `llm` record (model, rounds, the reason each round failed, tokens)
that the index shows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from envscale.compiler.build import compile_source
from envscale.dsl.diagnostics import render_all
from envscale.records import Manifest
from envscale.rollout.dialogue import BackendConfig
from envscale.rollout.openai_client import ChatClient, ChatError, message_text
from envscale.synth.records import Community, SpecDraft, Verification
from envscale.synth.reference import language_reference

# How much of a failure goes back to the model in one message.
FEEDBACK_CHARS = 6000


@dataclass(frozen=True)
class LlmConfig:
    """The endpoint and how to ask it. The key is read from the environment variable named."""

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 0.0
    max_tokens: int = 8192
    timeout: float = 300.0  # seconds per request, the whole answer included
    retries: int = 2  # of a request that failed in a way worth retrying
    seed: int | None = None

    def backend(self) -> BackendConfig:
        return BackendConfig(
            kind="openai",
            model=self.model,
            base_url=self.base_url,
            api_key_env=self.api_key_env,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            timeout=self.timeout,
            retries=self.retries,
            concurrency=1,
        )


class RoundFailure(Exception):
    """Why one answer was not kept; the message goes back to the model."""


Signature = dict[str, dict[str, tuple[str | None, bool]]]
"""Tool name -> parameter name -> (JSON type or None for any, required)."""

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)(?:\n[ \t]*```|\Z)", re.S)
_DOMAIN = re.compile(r"^\s*domain\s+[A-Za-z_]", re.M)


def extract_spec(reply: str | None) -> str | None:
    """The spec in a model's answer: the last fenced block that declares a domain (a block cut
    off by the token limit counts), else the whole answer when it declares one."""
    if not reply:
        return None
    blocks = [m.group(2) for m in _FENCE.finditer(reply)]
    with_domain = [b for b in blocks if _DOMAIN.search(b)]
    if with_domain:
        return with_domain[-1].strip() + "\n"
    if not blocks and _DOMAIN.search(reply):
        return reply.strip() + "\n"
    return None


def _json_type(schema: object) -> str | None:
    if not isinstance(schema, dict):
        return None
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else None
    return kind if isinstance(kind, str) else None


def schema_signature(parameters: object) -> dict[str, tuple[str | None, bool]]:
    """A tool's parameters as the contract compares them."""
    if not isinstance(parameters, dict):
        return {}
    properties = parameters.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    required = parameters.get("required")
    required = set(required) if isinstance(required, list) else set()
    return {name: (_json_type(p), name in required) for name, p in properties.items()}


def community_signature(draft: SpecDraft, community: Community) -> Signature:
    """What the community's tools require of a spec, by the draft's tool names (a community
    tool whose provenance a draft tool carries is that tool)."""
    by_origin = {
        json.dumps([p.to_dict() for p in provenance], sort_keys=True): name
        for name, provenance in draft.provenance.items()
    }
    out: Signature = {}
    for tool in community.tools:
        key = json.dumps([p.to_dict() for p in tool.provenance], sort_keys=True)
        out[by_origin.get(key, tool.name)] = schema_signature(tool.parameters)
    return out


def compiled_signature(files: dict[str, str]) -> Signature:
    tools = json.loads(files["tools.json"])
    return {t["function"]["name"]: schema_signature(t["function"]["parameters"]) for t in tools}


def contract_problems(expected: Signature, found: Signature) -> list[str]:
    """How `found` departs from `expected`: tools renamed, dropped or added, and parameters
    renamed, dropped, added, retyped or made (not) required. A type of None matches any."""
    problems = []
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing:
        problems.append(f"tools missing (keep every tool, named as given): {', '.join(missing)}")
    if extra:
        problems.append(f"tools that are not the domain's: {', '.join(extra)}")
    for name in sorted(set(expected) & set(found)):
        want, got = expected[name], found[name]
        for p in sorted(set(want) - set(got)):
            problems.append(f"{name}: parameter '{p}' is missing")
        for p in sorted(set(got) - set(want)):
            problems.append(f"{name}: parameter '{p}' is not one of the tool's")
        for p in sorted(set(want) & set(got)):
            (want_type, want_required), (got_type, got_required) = want[p], got[p]
            if want_type is not None and got_type != want_type:
                problems.append(
                    f"{name}: parameter '{p}' must be a JSON {want_type}, not {got_type}"
                )
            if want_required != got_required:
                shown = "required" if want_required else "optional (give it a default)"
                problems.append(f"{name}: parameter '{p}' must be {shown}")
    return problems


def _tool_listing(community: Community) -> str:
    tools = [
        {
            "name": t.name,
            "description": t.description,
            "parameters": t.parameters,
            **({"returns": t.returns} if t.returns is not None else {}),
            **({"method": t.method} if t.method else {}),
            "provenance": [
                {k: v for k, v in p.to_dict().items() if k in ("source", "group", "category")}
                for p in t.provenance[:3]
            ],
        }
        for t in community.tools
    ]
    return json.dumps(tools, indent=1, ensure_ascii=False)


SYSTEM = """You design simulated tool-use environments. You write one domain spec in the envscale \
spec language: entities (database tables), and every tool as a read or a write on them, with \
the requirements a real service would check. The language:

{reference}"""

TASK = """The domain '{name}' has these tools (OpenAI function format, with where they come \
from):

{tools}

A first draft written by rules:

```
{draft}```
{draft_status}
Write an improved spec: a better entity design (the records a real service keeps, with \
references between them), richer rules (require ... else "message" for what the real service \
would refuse; statuses with declared transitions), realistic seed-free behaviour, and a short \
policy in the domain declaration. Keep exactly: the domain name '{name}', every tool's name, \
its parameters' names, their JSON types and which of them are required. Write the policy \
inline (no `policy from`). Reply with the whole spec in one fenced block."""


def _draft_status(draft: SpecDraft) -> tuple[str, dict[str, str] | None]:
    files, diagnostics, sources = compile_source(draft.source, f"{draft.name}.domain")
    if files is not None:
        return "It checks and compiles.\n", files
    shown = render_all(diagnostics, sources)[:FEEDBACK_CHARS]
    return f"It does not check:\n\n{shown}\n", None


def _candidate(draft: SpecDraft, source: str, files: dict[str, str]) -> SpecDraft:
    manifest = Manifest.from_line(files["manifest.json"], "manifest.json")
    return draft.model_copy(
        update={
            "source": source,
            "tool_kinds": {t.name: t.kind for t in manifest.tools},
            "entities": list(manifest.entities),
            "author": "llm",
        }
    )


def _try(
    reply: str | None,
    draft: SpecDraft,
    expected: Signature,
    check: Callable[[SpecDraft], Verification],
) -> SpecDraft:
    """The answer as a kept draft, or RoundFailure with what to tell the model."""
    source = extract_spec(reply)
    if source is None:
        raise RoundFailure("no spec found: reply with the whole spec in one fenced block")
    files, diagnostics, sources = compile_source(source, f"{draft.name}.domain")
    if files is None:
        shown = render_all(diagnostics, sources)
        raise RoundFailure(f"the spec does not check:\n\n{shown}")
    manifest = Manifest.from_line(files["manifest.json"], "manifest.json")
    problems = []
    if manifest.domain != draft.name:
        problems.append(f"the domain must be named '{draft.name}', not '{manifest.domain}'")
    problems += contract_problems(expected, compiled_signature(files))
    if problems:
        raise RoundFailure("the spec changes the domain's tools:\n" + "\n".join(problems))
    candidate = _candidate(draft, source, files)
    verification = check(candidate)
    if not verification.kept:
        lines = ["the spec compiles but fails verification:", *verification.reasons]
        lines += verification.diagnostics
        raise RoundFailure("\n".join(lines))
    return candidate


def _summary(text: str) -> str:
    """A failure in a line: its first line, and the first line of its detail."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines[:2])


def improve(
    draft: SpecDraft,
    community: Community,
    config: LlmConfig,
    check: Callable[[SpecDraft], Verification],
    rounds: int,
) -> SpecDraft:
    """The model's revision of `draft` when one passes `check` within `rounds` answers, else
    the draft itself; both carry an `llm` record of what happened."""
    client = ChatClient(config.backend())
    status, draft_files = _draft_status(draft)
    # The draft's compiled schemas are the community's as the language writes them; a draft
    # that does not compile is held to the community's own schemas.
    expected = (
        compiled_signature(draft_files) if draft_files else community_signature(draft, community)
    )
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM.format(reference=language_reference())},
        {
            "role": "user",
            "content": TASK.format(
                name=draft.name,
                tools=_tool_listing(community),
                draft=draft.source if draft.source.endswith("\n") else draft.source + "\n",
                draft_status=status,
            ),
        },
    ]
    record: dict[str, Any] = {"model": config.model, "rounds": 0, "failures": [], "tokens": 0}
    for _ in range(max(0, rounds)):
        record["rounds"] += 1
        try:
            result = client.complete(messages, seed=config.seed)
            reply = message_text(result.message.get("content"))
        except ChatError as error:
            record["failures"].append(f"endpoint: {error}"[:500])
            record["kept"] = "heuristic"
            record["reason"] = "the endpoint failed"
            return _kept_heuristic(draft, record)
        record["tokens"] += result.usage.prompt_tokens + result.usage.completion_tokens
        try:
            improved = _try(reply, draft, expected, check)
        except RoundFailure as failure:
            text = str(failure)
            record["failures"].append(_summary(text)[:500])
            messages.append({"role": "assistant", "content": reply or ""})
            messages.append(
                {
                    "role": "user",
                    "content": text[:FEEDBACK_CHARS]
                    + "\n\nFix it and reply with the whole spec in one fenced block.",
                }
            )
            continue
        record["kept"] = "llm"
        return improved.model_copy(update={"llm": record})
    record["kept"] = "heuristic"
    record["reason"] = f"no answer passed within {record['rounds']} round(s)"
    return _kept_heuristic(draft, record)


def _kept_heuristic(draft: SpecDraft, record: dict[str, Any]) -> SpecDraft:
    return draft.model_copy(update={"author": "heuristic", "llm": record})


@dataclass(frozen=True)
class LlmImprover:
    """`improve` with its endpoint and rounds fixed: the synthesis's improver, called with a
    draft, its community and a check; picklable, so workers can call it."""

    config: LlmConfig
    rounds: int = 3

    def __call__(
        self, draft: SpecDraft, community: Community, check: Callable[[SpecDraft], Verification]
    ) -> SpecDraft:
        return improve(draft, community, self.config, check, self.rounds)

    def describe(self) -> dict[str, Any]:
        """What shapes its output, for a run's description (never the key)."""
        c = self.config
        return {
            "base_url": c.base_url,
            "model": c.model,
            "temperature": c.temperature,
            "max_tokens": c.max_tokens,
            "seed": c.seed,
            "rounds": self.rounds,
        }
