"""The viewer's page in a real headless Chromium (Debian's package, driven by Playwright):
loaded from file://, filtered, a trajectory opened, its DOM checked, a screenshot taken, and a
page of 10,000 trajectories loaded and filtered; no console or page errors anywhere."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envscale.viewer import Sources, build, write
from tests.viewer.conftest import RETAIL, TELECOM, Episodes

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason=f"no Chromium at {CHROMIUM} (Debian's chromium package)"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


class Page:
    """A page opened from a file, with the errors its console and script report."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.errors: list[str] = []
        self.page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_selector("body[data-ready]")

    def count(self) -> str:
        return self.page.locator("#count").text_content() or ""

    def open(self, trajectory_id: str) -> None:
        self.page.fill("#f-text", trajectory_id)
        row = self.page.locator(f'.row[data-id="{trajectory_id}"]')
        row.click()
        self.page.wait_for_selector(f'#detail h2:text-is("{trajectory_id}")')


def test_filter_open_and_read_a_trajectory(
    browser: Any, episodes: Episodes, tmp_path: Path
) -> None:
    data = build(Sources(episodes.mixed / "trajectories.jsonl", specs=_specs())).value
    path = tmp_path / "page.html"
    write(path, data, "envscale trajectories")
    rows = data["rows"]
    page = Page(browser, path)
    assert page.count() == f"{len(rows)} of {len(rows)} trajectories"

    failed = [r for r in rows if not r["passed"]]
    page.page.select_option("#f-outcome", "failed")
    assert page.count() == f"{len(failed)} of {len(rows)} trajectories"
    shown = page.page.locator(".row").evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert shown == [r["id"] for r in failed][: len(shown)] and shown
    page.page.select_option("#f-reason", "turn_limit")
    assert (
        page.count()
        == f"{sum(r['reason'] == 'turn_limit' for r in rows)} of {len(rows)} trajectories"
    )
    page.page.select_option("#f-outcome", "")
    page.page.select_option("#f-reason", "")
    telecom = data["domains"].index("telecom")
    page.page.select_option("#f-domain", "telecom")
    assert (
        page.count() == f"{sum(r['domain'] == telecom for r in rows)} of {len(rows)} trajectories"
    )
    page.page.select_option("#f-domain", "")

    # A dialogue with a failed call.
    row = next(r for r in rows if any(m.get("error") for m in r["messages"]))
    page.open(row["id"])
    detail = page.page.locator("#detail")
    errors = detail.locator(".msg.role-tool.error")
    wanted = [m for m in row["messages"] if m.get("error")]
    assert errors.count() == len(wanted)
    assert (errors.first.locator(".badge.error").text_content() or "") == "error"
    first_error = wanted[0].get("content") or data["texts"][wanted[0]["text"]]
    assert (errors.first.locator(".body").text_content() or "") == first_error
    assert detail.locator(".msg.role-tool:not(.error)").count() == sum(
        m["role"] == "tool" and not m["error"] for m in row["messages"]
    )

    # A dual-control dialogue: the user acts on their own device.
    row = next(
        r
        for r in rows
        if r["domain"] == telecom and any(m.get("side") == "user" for m in r["messages"])
    )
    page.open(row["id"])
    roles = detail.locator(".msg").evaluate_all("ms => ms.map(m => m.dataset.role)")
    assert roles == [m["role"] for m in row["messages"]]
    sides = detail.locator(".msg").evaluate_all("ms => ms.map(m => m.dataset.side || null)")
    assert sides == [m.get("side") for m in row["messages"]]
    assert detail.locator(".msg.side-user .badge.side-user").count() > 0

    call = next(c for m in row["messages"] for c in m.get("calls", []) if c.get("arguments"))
    shown_args = detail.locator(f'#dialogue .tool-call[data-name="{call["name"]}"] pre.args')
    assert json.loads(shown_args.first.text_content() or "") == call["arguments"]

    gold = data["tasks"][row["task"]]["gold"]
    compared = detail.locator("#calls table.compare tr")
    assert compared.count() == 1 + len(row["compare"])
    gold_names = compared.locator("td:nth-child(2) .name").all_text_contents()
    assert gold_names == [gold[p["gold"]]["name"] for p in row["compare"] if p["gold"] is not None]
    agent_names = compared.locator("td:nth-child(3) .name").all_text_contents()
    assert len(agent_names) == sum(p["agent"] is not None for p in row["compare"])
    failing_gold = [g["name"] for g in gold if not g["ok"]]
    if failing_gold:
        cells = detail.locator("#calls table.failed-calls td:nth-child(1) .name")
        assert cells.all_text_contents() == failing_gold

    states = detail.locator("#state table.diff tr[data-entity]")
    assert states.count() == sum(
        max(1, len(c["fields"])) for c in data["states"][row["diff"]["state"]]
    )
    assert page.page.url.endswith("#" + row["id"])

    shot = tmp_path / "trajectory.png"
    page.page.screenshot(path=str(shot), full_page=False)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    assert page.errors == []


def test_a_deep_link_opens_its_trajectory(browser: Any, episodes: Episodes, tmp_path: Path) -> None:
    data = build(Sources(episodes.whole / "trajectories.jsonl")).value
    path = tmp_path / "page.html"
    write(path, data, "envscale trajectories")
    wanted = data["rows"][-1]["id"]
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.resolve().as_uri() + "#" + wanted)
    page.wait_for_selector(f'#detail h2:text-is("{wanted}")')
    assert page.locator(".row.selected").get_attribute("data-id") == wanted
    assert errors == []


def test_ten_thousand_trajectories_load_and_filter(
    browser: Any, episodes: Episodes, tmp_path: Path
) -> None:
    # 10,000 episodes: the real ones again and again under new ids (the page's rows, copied:
    # how the rows are made from trajectory records is the other tests' business).
    data = build(Sources(episodes.mixed / "trajectories.jsonl", specs=_specs())).value
    real = data["rows"]
    data["rows"] = []
    for n in range(10_000):
        row = json.loads(json.dumps(real[n % len(real)]))
        row["id"] = f"{row['id']}.copy{n}"
        data["rows"].append(row)
    path = tmp_path / "page.html"
    write(path, data, "10,000 trajectories")
    page = Page(browser, path)
    assert page.count() == "10000 of 10000 trajectories"
    # The list holds the rows in view, not ten thousand.
    assert 0 < page.page.locator(".row").count() < 100
    page.page.select_option("#f-outcome", "failed")
    failed = sum(not r["passed"] for r in data["rows"])
    assert 0 < failed < 10_000
    assert page.count() == f"{failed} of 10000 trajectories"
    page.page.locator("#list").evaluate("list => { list.scrollTop = list.scrollHeight; }")
    last = [r["id"] for r in data["rows"] if not r["passed"]][-1]
    page.page.wait_for_selector(f'.row[data-id="{last}"]')
    page.page.locator(f'.row[data-id="{last}"]').click()
    page.page.wait_for_selector(f'#detail h2:text-is("{last}")')
    assert page.page.locator("#detail .msg").count() > 0
    assert page.errors == []


def _specs() -> list[str]:
    return [str(RETAIL), str(TELECOM)]
