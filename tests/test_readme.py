"""The README's example spec compiles and behaves as the README says."""

from __future__ import annotations

import re
from pathlib import Path

from envscale.api import compile_source
from envscale.runtime.domain import Domain

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_spec() -> str:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"```\n(# specs/shop\.domain\n.*?)```", text, re.S)
    assert block, "the README's example spec is missing"
    return block.group(1)


def test_readme_spec_compiles_and_runs() -> None:
    files, diagnostics, _ = compile_source(readme_spec(), "shop.domain")
    assert files is not None, diagnostics
    env = Domain(files).environment(
        data={
            "Customer": [{"customer_id": "c1", "email": "c1@example.com"}],
            "Order": [
                {
                    "order_id": "#W1",
                    "customer": "c1",
                    "lines": [{"sku": "s", "price": 2.5}],
                    "total": 2.5,
                }
            ],
        }
    )
    refused = env.call("cancel_order", {"order_id": "#W1"})
    assert not refused.ok and "get_order" in refused.error
    assert env.call("get_order", {"order_id": "#W1"}).ok
    done = env.call("cancel_order", {"order_id": "#W1"})
    assert done.ok and done.content["status"] == "cancelled"
    assert (
        env.call("cancel_order", {"order_id": "#W1"}).error
        == "Only pending orders can be cancelled"
    )


def test_readme_typo_gives_the_documented_diagnostic() -> None:
    source = readme_spec().replace("customer: Customer ", "customer: Custmer ")
    files, diagnostics, _ = compile_source(source, "specs/shop.domain")
    assert files is None
    [d] = diagnostics
    assert (d.code, d.message, d.hint) == (
        "E102",
        "unknown type 'Custmer'",
        "did you mean 'Customer'?",
    )
