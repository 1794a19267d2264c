"""The whole synthesis: ingest -> similarity graph -> partition -> a spec per community ->
(an optional model's revision) -> verification -> the output folder (see `output.py`).

Deterministic for a seed: the stages are seeded, the domains are verified with the run's
seed, and the index and the specs are written in community order whatever the workers'
order. Resumable: the partition is kept in the folder, each domain's result is written as
it finishes, and a rerun makes only the domains missing.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections import Counter
from typing import Any

from envscale import jsonl
from envscale.synth.graph import similarity_graph
from envscale.synth.ingest import ingest
from envscale.synth.output import (
    DROPPED_FILE,
    STAGES_FILE,
    check_run,
    load_communities,
    save_communities,
    write_json,
)
from envscale.synth.partition import partition
from envscale.synth.pipeline import (
    Stages,
    SynthOptions,
    SynthReport,
    as_dict,
    describe,
    domain_stages,
    has_parameters,
    read_json,
)
from envscale.synth.records import Community
from envscale.synth.specwriter import draft_spec
from envscale.synth.vectors import make_vectoriser

__all__ = ["SynthOptions", "SynthReport", "synthesise"]


def _partition_stages(
    options: SynthOptions, stages: Stages
) -> tuple[list[Community], dict[str, Any]]:
    """Ingest, graph and partition; their figures and what they dropped."""
    tools, ingest_report = stages.run("ingest", lambda: ingest(options.inputs))
    found = getattr(ingest_report, "warnings", None)
    warnings = [str(w) for w in ((found() if callable(found) else found) or [])]
    read = len(tools)
    if options.limit is not None:
        tools = tools[: options.limit]
    stages.figures["ingest"].update({"in": len(options.inputs), "out": len(tools), "read": read})
    stages.figures["ingest"]["report"] = as_dict(ingest_report)
    vectoriser = make_vectoriser(options.vectoriser)
    graph = stages.run(
        "graph",
        lambda: similarity_graph(tools, vectoriser, options.threshold, options.neighbours),
    )
    stages.figures["graph"].update(
        {
            "in": len(tools),
            "out": graph.number_of_edges(),
            **({"report": as_dict(graph.graph["report"])} if "report" in graph.graph else {}),
        }
    )
    result = stages.run(
        "partition",
        lambda: partition(
            tools, graph, options.resolution, options.min_size, options.max_size, options.seed
        ),
    )
    dropped = Counter(reason for _, reason in result.dropped)
    stages.figures["partition"].update(
        {
            "in": len(tools),
            "out": len(result.communities),
            "dropped": len(result.dropped),
            "dropped_reasons": dict(dropped.most_common(20)),
            **({"figures": as_dict(result.figures)} if hasattr(result, "figures") else {}),
        }
    )
    jsonl.write_atomic(
        options.out / DROPPED_FILE,
        ({"tool": name, "reason": reason} for name, reason in result.dropped),
    )
    extra = {
        "tools_total": len(tools),
        "tools_with_parameters": sum(1 for t in tools if has_parameters(t)),
        "warnings": warnings,
    }
    return list(result.communities), extra


def synthesise(options: SynthOptions) -> SynthReport:
    """Run (or resume) a synthesis into `options.out`."""
    if options.drafter is None:
        options = dataclasses.replace(options, drafter=draft_spec)
    stream = options.stream or sys.stderr
    started = time.perf_counter()
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    resumed = check_run(out, describe(options))
    communities = load_communities(out) if resumed else None
    stages = Stages(options, stream)
    stages_path = out / STAGES_FILE
    if communities is None or not stages_path.exists():
        communities, extra = _partition_stages(options, stages)
        write_json(stages_path, {"stages": stages.figures, **extra})
        save_communities(out, communities)
    saved = read_json(stages_path)
    return domain_stages(options, communities, saved, stream, started)
