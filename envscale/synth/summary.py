"""What a synthesis made, in figures: report.json, the plots and the summary table."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from envscale.synth.domains import DomainOutcome
from envscale.synth.records import Community

REASON_STEPS = (
    "draft",
    "improve",
    "check",
    "compile",
    "instructions",
    "data",
    "properties",
    "tasks",
    "replay",
    "reach",
    "internal",
    "verify",
)


def reason_step(reason: str) -> str:
    step = reason.split(":", 1)[0].strip()
    return step if step in REASON_STEPS else "other"


def reason_kind(reason: str) -> str:
    """A reason with its particulars (names, numbers, quoted values) left out, so that
    domains rejected the same way count together."""
    if reason_step(reason) == "check":
        codes = sorted(set(re.findall(r"\bE\d{3}\b", reason)))
        return "check: " + ", ".join(codes)
    if reason_step(reason) == "properties":  # "properties: TOOL: what; TOOL: what": the what
        reason = "properties: " + reason.split(": ", 2)[-1].split("; ")[0]
    text = re.sub(r"'[^']*'|\"[^\"]*\"|\([^)]*\)", "…", reason)
    text = re.sub(r"\d+", "N", text)
    step, _, rest = text.partition(":")
    if step == "reach":  # the tools after the last colon are no part of the kind
        rest = rest.rsplit(":", 1)[0]
    return f"{step}:{rest}"[:160]


def histogram(values: Sequence[int]) -> dict[str, int]:
    return {str(k): v for k, v in sorted(Counter(values).items())}


def _mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def _timing(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "total": round(sum(ordered), 3),
        "mean": _mean(ordered),
        "p50": round(ordered[len(ordered) // 2], 4) if ordered else 0.0,
        "max": round(ordered[-1], 4) if ordered else 0.0,
    }


def _has_parameters(tool: Any) -> bool:
    return bool((tool.parameters or {}).get("properties"))


def build_report(
    communities: Sequence[Community],
    outcomes: dict[str, DomainOutcome],
    stages: dict[str, Any],
    tools_total: int,
    tools_with_parameters: int,
) -> dict[str, Any]:
    """report.json: per stage counts, wall time and peak memory; kept and rejected domains
    with the reasons grouped; the share of tools with parameters that end in a kept domain;
    distributions over domains."""
    done = [outcomes[c.name] for c in communities if c.name in outcomes]
    kept = [o for o in done if o.entry.status == "kept"]
    rejected = [o for o in done if o.entry.status != "kept"]
    by_step: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    for outcome in rejected:
        for step in {reason_step(r) for r in outcome.entry.reasons} or {"other"}:
            by_step[step] += 1
        for kind in {reason_kind(r) for r in outcome.entry.reasons}:
            by_kind[kind] += 1
    size_of = {c.name: len(c.tools) for c in communities}
    kept_with_params = sum(
        sum(1 for t in c.tools if _has_parameters(t))
        for c in communities
        if c.name in outcomes and outcomes[c.name].entry.status == "kept"
    )
    figures = [o.entry.figures for o in kept]
    chain_lengths: Counter[str] = Counter()
    for f in figures:
        chain_lengths.update(f.get("chain_lengths") or {})
    domain_stage = {
        step: _timing([o.seconds[step] for o in done if step in o.seconds])
        for step in ("draft", "improve", "verify")
        if any(step in o.seconds for o in done)
    }
    verify_steps: dict[str, list[float]] = {}
    for outcome in done:
        if outcome.verification is not None:
            for step, s in (outcome.verification.figures.get("seconds") or {}).items():
                verify_steps.setdefault(step, []).append(s)
    return {
        "stages": {
            **stages,
            "domains": {
                "communities": len(communities),
                "done": len(done),
                "kept": len(kept),
                "rejected": len(rejected),
                "seconds": domain_stage,
                "verify_steps": {k: _timing(v) for k, v in verify_steps.items()},
                "peak_rss_mb": max((o.peak_rss_mb for o in done), default=0.0),
            },
        },
        "domains": {
            "communities": len(communities),
            "kept": len(kept),
            "rejected": len(rejected),
            "kept_share": round(len(kept) / len(done), 4) if done else 0.0,
            "kept_names": [o.entry.name for o in kept],
        },
        "rejected": {
            "by_step": dict(by_step.most_common()),
            "by_reason": dict(by_kind.most_common(30)),
            "examples": {
                step: next(
                    f"{o.entry.name}: {r}"
                    for o in rejected
                    for r in o.entry.reasons
                    if reason_step(r) == step
                )
                for step in by_step
                if step != "other"
            },
        },
        "tools": {
            "ingested": tools_total,
            "with_parameters": tools_with_parameters,
            "in_communities": sum(size_of.values()),
            "with_parameters_kept": kept_with_params,
            "share_with_parameters_kept": (
                round(kept_with_params / tools_with_parameters, 4) if tools_with_parameters else 0.0
            ),
        },
        "distributions": {
            "community_sizes": histogram(list(size_of.values())),
            "tools_per_kept_domain": histogram([f.get("tools", 0) for f in figures]),
            "entities_per_kept_domain": histogram([f.get("entities", 0) for f in figures]),
            "write_tools_per_kept_domain": histogram([f.get("writes", 0) for f in figures]),
            "chain_lengths": {k: chain_lengths[k] for k in sorted(chain_lengths, key=int)},
            "sources_per_domain": histogram(
                [len(o.entry.figures.get("sources") or []) for o in done]
            ),
        },
    }


def write_plots(report: dict[str, Any], folder: Path) -> list[Path]:
    """Domain sizes, tools per domain, verification outcomes, sources per domain."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    dist = report["distributions"]
    outcomes = {"kept": report["domains"]["kept"], **report["rejected"]["by_step"]}
    plots = [
        ("domain_sizes.png", "tools per community", dist["community_sizes"], "communities"),
        ("tools_per_domain.png", "tools per kept domain", dist["tools_per_kept_domain"], "domains"),
        ("verification.png", "verification outcome", outcomes, "domains"),
        ("sources_per_domain.png", "sources per domain", dist["sources_per_domain"], "domains"),
    ]
    written = []
    for name, title, counts, ylabel in plots:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        labels = list(counts)
        ax.bar(range(len(labels)), [counts[k] for k in labels], color="#4a7ab5")
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, rotation=45 if len(labels) > 12 else 0, ha="right", fontsize=7)
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        fig.tight_layout()
        path = folder / name
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def summary_table(report: dict[str, Any]) -> str:
    rows = [["stage", "in", "out", "seconds", "peak MB"]]
    for name, stage in report["stages"].items():
        if name == "domains":
            seconds = sum(t["total"] for t in stage["seconds"].values())
            rows.append(
                [
                    "draft+verify",
                    str(stage["communities"]),
                    f"{stage['kept']} kept",
                    f"{seconds:.1f}",
                    f"{stage['peak_rss_mb']:.0f}",
                ]
            )
        else:
            rows.append(
                [
                    name,
                    str(stage.get("in", "")),
                    str(stage.get("out", "")),
                    f"{stage.get('seconds', 0.0):.1f}",
                    f"{stage.get('peak_rss_mb', 0.0):.0f}",
                ]
            )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            v.ljust(w) if i == 0 else v.rjust(w)
            for i, (v, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    d, tools = report["domains"], report["tools"]
    lines.append(
        f"domains: {d['kept']} kept, {d['rejected']} rejected of {d['communities']} communities; "
        f"tools with parameters in kept domains: {tools['with_parameters_kept']} of "
        f"{tools['with_parameters']} ({100 * tools['share_with_parameters_kept']:.0f}%)"
    )
    for step, count in report["rejected"]["by_step"].items():
        lines.append(f"  rejected at {step}: {count}")
    return "\n".join(lines)
