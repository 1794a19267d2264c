"""The domain stages of a synthesis on communities and drafts written in the test: the output
folder, the index and report, resuming, and the same bytes from one process or several."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from envscale.records import DomainEntry, read_jsonl
from envscale.synth.domains import DomainJob, make_domain
from envscale.synth.pipeline import SynthOptions, synthesise_communities
from envscale.synth.records import Community, SpecDraft
from tests.synth import drafts

NAMES = ["notebook", "unchecked_notes", "unreachable_notes"]


def communities() -> list[Community]:
    return [Community(name=n, tools=drafts.notebook_tools(f"test/{n}.json")) for n in NAMES]


def run(out: Path, workers: int = 1) -> tuple[object, str]:
    stream = io.StringIO()
    options = SynthOptions(
        inputs=[],
        out=out,
        seed=0,
        workers=workers,
        tasks=10,
        drafter=drafts.by_name,
        progress=False,
        stream=stream,
    )
    figures = {"stages": {"ingest": {"in": 1, "out": 18, "seconds": 0.0, "peak_rss_mb": 0.0}}}
    return synthesise_communities(options, communities(), figures), stream.getvalue()


def test_the_output_folder(tmp_path: Path) -> None:
    result, stderr = run(tmp_path)
    assert (tmp_path / "domains" / "notebook.domain").read_text().startswith("domain notebook ")
    assert (tmp_path / "rejected" / "unchecked_notes.domain").exists()
    assert not (tmp_path / "domains" / "unchecked_notes.domain").exists()
    entries = list(read_jsonl(tmp_path / "index.jsonl", DomainEntry))
    assert [e.name for e in entries] == NAMES
    kept, unchecked, unreachable = entries
    assert kept.status == "kept" and kept.reasons == [] and kept.spec == "domains/notebook.domain"
    assert kept.spec_hash and kept.entities == ["Person", "Note"]
    tool = next(t for t in kept.tools if t["name"] == "create_note")
    assert tool["kind"] == "write" and tool["effect"] == "create"
    assert tool["provenance"] == [
        {
            "source": "test/notebook.json",
            "group": "notes",
            "category": None,
            "original_name": "create_note",
            "line": None,
        }
    ]
    assert kept.figures["tools_reached"] == kept.figures["tools_total"] == 6
    assert "seconds" not in kept.figures  # timings go to report.json: the index is reproducible
    assert unchecked.status == "rejected" and unchecked.reasons[0].startswith("check: 1 error")
    assert unreachable.reasons == [r for r in unreachable.reasons if r.startswith("reach:")]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["domains"] == {
        "communities": 3,
        "kept": 1,
        "rejected": 2,
        "kept_share": 0.3333,
        "kept_names": ["notebook"],
    }
    assert report["rejected"]["by_step"] == {"check": 1, "reach": 1}
    assert report["tools"]["with_parameters"] == 18
    assert report["tools"]["with_parameters_kept"] == 6
    assert report["stages"]["domains"]["seconds"]["verify"]["total"] > 0
    assert set(report["stages"]["domains"]["verify_steps"]) >= {"check", "tasks", "replay"}
    assert report["distributions"]["tools_per_kept_domain"] == {"6": 1}
    assert sorted(report["plots"]) == [
        "plots/domain_sizes.png",
        "plots/sources_per_domain.png",
        "plots/tools_per_domain.png",
        "plots/verification.png",
    ]
    for plot in report["plots"]:
        assert (tmp_path / plot).read_bytes()[:4] == b"\x89PNG"
    # Fewer domains than communities is said on stderr, with the reasons.
    assert "warning: 1 of 3 communities became kept domains" in stderr
    assert "check: E102" in stderr and "reach:" in stderr
    assert "draft+verify" in result.table() and "rejected at reach: 1" in result.table()


def test_a_rerun_makes_only_what_is_missing_and_the_same_bytes(tmp_path: Path) -> None:
    first, _ = run(tmp_path)
    index = (tmp_path / "index.jsonl").read_bytes()
    assert first.made == 3
    again, _ = run(tmp_path)
    assert again.made == 0 and (tmp_path / "index.jsonl").read_bytes() == index
    # As if killed before the last domain finished: its result was never written.
    (tmp_path / "results" / "unreachable_notes.json").unlink()
    (tmp_path / "index.jsonl").unlink()
    resumed, _ = run(tmp_path)
    assert resumed.made == 1
    assert (tmp_path / "index.jsonl").read_bytes() == index
    assert len(list((tmp_path / "results").iterdir())) == 3


def test_workers_write_the_same_domains_and_index(tmp_path: Path) -> None:
    run(tmp_path / "one")
    run(tmp_path / "two", workers=2)
    for name in ("index.jsonl", "domains/notebook.domain", "rejected/unchecked_notes.domain"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def _crashing_drafter(community: Community) -> SpecDraft:
    raise ValueError(f"cannot draft {community.name}")


def _crashing_improver(draft: SpecDraft, community: Community, check: object) -> SpecDraft:
    raise RuntimeError("the model went away")


def test_a_drafter_that_crashes_rejects_its_domain_with_the_reason() -> None:
    outcome = make_domain(DomainJob(communities()[0], 0, 10, _crashing_drafter))
    assert outcome.entry.status == "rejected" and outcome.draft is None
    assert outcome.entry.reasons == ["draft: crashed: ValueError: cannot draft notebook"]
    assert [t["name"] for t in outcome.entry.tools][:2] == ["get_person", "get_note"]


def test_an_improver_that_crashes_leaves_the_heuristic_draft() -> None:
    job = DomainJob(communities()[0], 0, 10, drafts.by_name, _crashing_improver)
    outcome = make_domain(job)
    assert outcome.draft is not None and outcome.draft.author == "heuristic"
    assert outcome.entry.status == "kept"
    assert outcome.entry.figures["improve_error"] == (
        "improve: crashed: RuntimeError: the model went away"
    )


def test_the_improver_gets_a_check_and_its_draft_is_verified() -> None:
    seen: list[bool] = []

    def improver(draft: SpecDraft, community: Community, check) -> SpecDraft:
        seen.append(check(draft).kept)
        return draft.model_copy(update={"author": "llm"})

    outcome = make_domain(DomainJob(communities()[0], 0, 10, drafts.by_name, improver))
    assert seen == [True]
    assert outcome.entry.status == "kept" and outcome.entry.figures["author"] == "llm"


def test_the_ray_executor_gives_the_same_index(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="ray is not installed (pip install 'envscale[ray]')")
    run(tmp_path / "local")
    stream = io.StringIO()
    options = SynthOptions(
        inputs=[],
        out=tmp_path / "ray",
        workers=1,
        executor="ray",
        tasks=10,
        drafter=drafts.by_name,
        progress=False,
        stream=stream,
    )
    synthesise_communities(options, communities(), {})
    local, ray = (tmp_path / "local" / "index.jsonl"), (tmp_path / "ray" / "index.jsonl")
    assert ray.read_bytes() == local.read_bytes()
