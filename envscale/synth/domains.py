"""One community to one domain: draft its spec, let a model improve it when asked, verify it.

`make_domain` runs in a worker process (or a Ray task) and never raises: a draft or an
improvement that crashes is a rejected domain with the exception as its reason. Everything
it takes is picklable (the drafter and the improver are module-level functions, or partials
of them).
"""

from __future__ import annotations

import hashlib
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from envscale.records import DomainEntry
from envscale.synth.records import Community, SpecDraft, Verification
from envscale.synth.verify import verify

Drafter = Callable[[Community], SpecDraft]
Check = Callable[[SpecDraft], Verification]
# (heuristic draft, its community, a check that verifies a draft) -> the draft to keep.
Improver = Callable[[SpecDraft, Community, Check], SpecDraft]

KEPT_FOLDER = "domains"
REJECTED_FOLDER = "rejected"


@dataclass(frozen=True)
class DomainJob:
    community: Community
    seed: int
    tasks: int
    drafter: Drafter
    improve: Improver | None = None


@dataclass
class DomainOutcome:
    """What became of one community; `entry` is its line of index.jsonl."""

    entry: DomainEntry
    draft: SpecDraft | None
    verification: Verification | None
    seconds: dict[str, float] = field(default_factory=dict)  # draft, improve, verify
    peak_rss_mb: float = 0.0  # of the process that made it, so far
    community_hash: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry": self.entry.to_dict(),
            "draft": self.draft.to_dict() if self.draft is not None else None,
            "verification": self.verification.to_dict() if self.verification else None,
            "seconds": self.seconds,
            "peak_rss_mb": self.peak_rss_mb,
            "community_hash": self.community_hash,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DomainOutcome:
        return cls(
            entry=DomainEntry.model_validate(data["entry"]),
            draft=SpecDraft.model_validate(data["draft"]) if data.get("draft") else None,
            verification=(
                Verification.model_validate(data["verification"])
                if data.get("verification")
                else None
            ),
            seconds=dict(data.get("seconds") or {}),
            peak_rss_mb=float(data.get("peak_rss_mb") or 0.0),
            community_hash=str(data.get("community_hash") or ""),
        )


def peak_rss_mb() -> float:
    """This process's high-water mark of resident memory, in MiB: the kernel's VmHWM, which
    a spawned worker starts afresh (getrusage's ru_maxrss keeps the parent's across exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def community_hash(community: Community, seed: int, tasks: int) -> str:
    """What a domain's result depends on besides the code: its tools and the verification."""
    text = f"{community.to_json()}\0{seed}\0{tasks}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_domain(job: DomainJob) -> DomainOutcome:
    community = job.community
    seconds: dict[str, float] = {}
    reasons: list[str] = []
    notes: dict[str, str] = {}
    draft: SpecDraft | None = None
    started = time.perf_counter()
    try:
        draft = job.drafter(community)
    except Exception as error:  # a drafter bug rejects this domain, not the run
        reasons.append(f"draft: crashed: {type(error).__name__}: {error}"[:500])
    seconds["draft"] = time.perf_counter() - started
    cache: dict[str, Verification] = {}

    def check(candidate: SpecDraft) -> Verification:
        key = f"{candidate.source}\0{candidate.instructions}"
        if key not in cache:
            cache[key] = verify(candidate, job.seed, job.tasks)
        return cache[key]

    if draft is not None and job.improve is not None:
        started = time.perf_counter()
        try:
            draft = job.improve(draft, community, check)
        except Exception as error:  # the heuristic draft stands, and the index says why
            notes["improve_error"] = f"improve: crashed: {type(error).__name__}: {error}"[:500]
        seconds["improve"] = time.perf_counter() - started
    verification: Verification | None = None
    if draft is not None:
        started = time.perf_counter()
        verification = check(draft)
        seconds["verify"] = time.perf_counter() - started
    kept = verification is not None and verification.kept
    entry = DomainEntry(
        name=community.name,
        status="kept" if kept else "rejected",
        reasons=[] if kept else [*reasons, *(verification.reasons if verification else [])],
        spec=f"{KEPT_FOLDER if kept else REJECTED_FOLDER}/{community.name}.domain"
        if draft is not None
        else None,
        spec_hash=(verification.figures.get("spec_hash") if verification else None),
        tools=_tools(community, draft, verification),
        entities=list(draft.entities) if draft is not None else [],
        figures={**_figures(draft, verification, community), **notes},
    )
    return DomainOutcome(
        entry=entry,
        draft=draft,
        verification=verification,
        seconds={k: round(v, 4) for k, v in seconds.items()},
        peak_rss_mb=peak_rss_mb(),
        community_hash=community_hash(community, job.seed, job.tasks),
    )


def _tools(
    community: Community, draft: SpecDraft | None, verification: Verification | None
) -> list[dict[str, Any]]:
    """Each tool with its kind (read or write, as compiled; the draft's where it did not
    compile), its effect (create, update or delete, for a classified write) and where its
    definitions came from."""
    figures = verification.figures if verification is not None else {}
    effects = figures.get("write_kinds") or {}
    kinds = {**(draft.tool_kinds if draft is not None else {}), **(figures.get("tool_kinds") or {})}
    if draft is not None and draft.provenance:
        return [
            {
                "name": name,
                "kind": kinds.get(name),
                **({"effect": effects[name]} if name in effects else {}),
                "provenance": [p.to_dict() for p in provenance],
            }
            for name, provenance in draft.provenance.items()
        ]
    return [
        {
            "name": tool.name,
            "kind": kinds.get(tool.name),
            **({"effect": effects[tool.name]} if tool.name in effects else {}),
            "provenance": [p.to_dict() for p in tool.provenance],
        }
        for tool in community.tools
    ]


def _figures(
    draft: SpecDraft | None, verification: Verification | None, community: Community
) -> dict[str, Any]:
    """The verification's figures without its timings (they go to report.json), so that the
    index is the same bytes for the same seed."""
    figures: dict[str, Any] = {
        "community_tools": len(community.tools),
        "sources": sorted({p.source for t in community.tools for p in t.provenance}),
    }
    if draft is not None:
        figures["author"] = draft.author
        if (llm := (draft.model_extra or {}).get("llm")) is not None:
            figures["llm"] = llm  # the model's rounds and why each failed (synth/llm.py)
    if verification is not None:
        figures.update(
            {k: v for k, v in verification.figures.items() if k not in ("seconds", "tool_kinds")}
        )
    return figures
