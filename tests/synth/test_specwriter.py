"""The heuristic spec writer on hand-written communities of each kind: a CRUD API, a status
workflow, an outside-information API, and tools with odd names and descriptions. Each draft
must check, compile, load generated data, and yield tasks that replay; two drafts are
golden files (rewritten only with --update-golden)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from envscale.compiler.build import compile_source
from envscale.runtime.domain import Domain
from envscale.runtime.environment import Environment
from envscale.synth.classify import classify
from envscale.synth.nouns import singular, valid_name, words
from envscale.synth.records import ApiTool, Community, Provenance, SpecDraft
from envscale.synth.specwriter import draft_spec
from envscale.tasks.datagen import generate_data
from envscale.tasks.sampling import sample_tasks, verify_task
from envscale.tasks.states import EnvFactory

GOLDEN = Path(__file__).parent / "golden"


def tool(
    name: str,
    description: str,
    props: dict,
    required: list[str] | None = None,
    returns: object = None,
    method: str | None = None,
    group: str = "Shop",
) -> ApiTool:
    return ApiTool(
        name=name,
        description=description,
        parameters={"type": "object", "properties": props, "required": required or []},
        returns=returns,
        method=method,
        provenance=[Provenance(source="test", group=group, category="Test", original_name=name)],
    )


def s(doc: str = "", **extra: object) -> dict:
    return {"type": "string", "description": doc, **extra}


CRUD = Community(
    name="bookshop",
    tools=[
        tool("get_book", "Look a book up by its ISBN.", {"isbn": s("The book's ISBN")}, ["isbn"]),
        tool(
            "search_books",
            "Find books by title words and genre.",
            {"query": s("Words of the title"), "genre": s("A genre", enum=["fiction", "poetry"])},
        ),
        tool(
            "add_book",
            "Add a book to the catalogue.",
            {
                "title": s("Title"),
                "author": s("Author's full name"),
                "price": {"type": "number", "description": "Price in USD", "minimum": 0},
                "published": s("Publication date", format="date"),
            },
            ["title", "author", "price"],
        ),
        tool(
            "updateBookPrice",
            "Change a book's price.",
            {"isbn": s("ISBN"), "price": {"type": "number", "description": "New price"}},
            ["isbn", "price"],
        ),
        tool("delete_book", "Remove a book.", {"isbn": s("ISBN")}, ["isbn"], method="DELETE"),
        tool(
            "list_reviews",
            "The reviews of one book.",
            {"isbn": s("ISBN"), "stars": {"type": "integer", "minimum": 1, "maximum": 5}},
            ["isbn"],
        ),
        tool(
            "rate_book",
            "Rate a book with one to five stars.",
            {
                "isbn": s("ISBN"),
                "userId": s("Who rates"),
                "stars": {"type": "integer", "minimum": 1, "maximum": 5},
            },
            ["isbn", "userId", "stars"],
        ),
    ],
)

WORKFLOW = Community(
    name="orders",
    tools=[
        tool("get_order", "Show an order.", {"order_id": s("The order id")}, ["order_id"]),
        tool(
            "place_order",
            "Order a product for a customer.",
            {
                "customer_id": s("Customer"),
                "product_id": s("Product"),
                "quantity": {"type": "integer", "description": "How many"},
            },
            ["customer_id", "product_id", "quantity"],
        ),
        tool(
            "cancel_order", "Cancel an order.", {"order_id": s(), "reason": s("Why")}, ["order_id"]
        ),
        tool("ship_order", "Ship an order.", {"order_id": s()}, ["order_id"]),
        tool("confirm_order", "Confirm an order.", {"order_id": s()}, ["order_id"]),
        tool("list_customer_orders", "A customer's orders.", {"customer_id": s()}, ["customer_id"]),
        tool(
            "pay_invoice",
            "Pay an invoice.",
            {"invoice_id": s(), "amount": {"type": "number", "description": "USD"}},
            ["invoice_id", "amount"],
        ),
    ],
)

OUTSIDE = Community(
    name="weather_and_words",
    tools=[
        tool(
            "get_current_weather",
            "The weather now in a city.",
            {
                "city": s("City name, e.g. 'London'"),
                "units": s("Units", enum=["metric", "imperial"]),
            },
            ["city"],
            returns={
                "temperature": {"type": "float", "description": "Degrees"},
                "conditions": {"type": "str", "description": "Sky"},
            },
            group="Weather",
        ),
        tool(
            "translate_text",
            "Translate a text.",
            {"text": s("What to translate"), "target_language": s("Language code")},
            ["text", "target_language"],
            group="Weather",
        ),
        tool(
            "get_stock_quote",
            "The latest quote of a ticker.",
            {"symbol": s("Ticker symbol")},
            ["symbol"],
            returns={"type": "object", "properties": {"price": {"type": "number"}}},
            group="Weather",
        ),
        tool(
            "web_search",
            "Search the web.",
            {"q": s("Query"), "count": {"type": "integer", "description": "Results"}},
            ["q"],
            group="Weather",
        ),
    ],
)

ODD = Community(
    name="odd names",
    tools=[
        tool(
            "2fa-verify",
            'Checks a "code".\nSecond line\twith a tab, a backslash \\ and unicode: 日本 ü 😀'
            + " long" * 400,
            {
                "from": s("A Python keyword"),
                "format": s("A built-in"),
                "class": s(),
                "page[size]": {"type": "integer"},
                "x-api-key": s("Credential"),
                "user_id": s('Quoted "id" \\ here'),
            },
            ["from", "user_id"],
            group="Odd/API",
        ),
        tool(
            "delete",
            "",
            {"user_id": s(), "list": s(), "set": {"type": "boolean"}},
            ["user_id"],
            group="Odd/API",
        ),
        tool(
            "model_dump",
            "Named like pydantic's own.",
            {
                "sqlite_master": s(),
                "_private": s(),
                "db": s(),
                "nested": {
                    "type": "object",
                    "properties": {"a b": {"type": "array", "items": {"type": "object"}}},
                },
            },
            group="Odd/API",
        ),
        tool("user", "Get a user.", {"userId": s()}, ["userId"], group="Odd/API"),
    ],
)

ALL = {"crud": CRUD, "workflow": WORKFLOW, "outside": OUTSIDE, "odd": ODD}


def run_draft(draft: SpecDraft, tasks: int = 6) -> tuple[Domain, list]:
    files, diagnostics, _ = compile_source(draft.source, f"{draft.name}.domain")
    assert files is not None, "\n".join(str(d) for d in diagnostics) + "\n" + draft.source
    domain = Domain(files)
    with contextlib.redirect_stderr(io.StringIO()):
        data = generate_data(domain, 3, 6)
    Environment.create(domain, data, enforce_policies=False).close()
    made = sample_tasks(domain, EnvFactory(domain, data), tasks, seed=3, max_length=3)
    assert made, draft.source
    assert all(verify_task(domain, t) for t in made)
    return domain, made


@pytest.mark.parametrize("kind", sorted(ALL))
def test_draft_compiles_and_samples(kind: str) -> None:
    draft = draft_spec(ALL[kind])
    domain, _ = run_draft(draft)
    kinds = {t.name: t.kind for t in domain.manifest.tools}
    assert draft.tool_kinds == kinds
    assert set(draft.entities) == set(domain.manifest.entities)
    assert list(draft.provenance) == list(draft.tool_kinds)
    assert draft.author == "heuristic"


@pytest.mark.parametrize("kind", sorted(ALL))
def test_drafts_are_deterministic(kind: str) -> None:
    community = ALL[kind]
    copy = Community.model_validate(community.model_dump())
    assert draft_spec(community).source == draft_spec(copy).source


def test_crud_draft() -> None:
    draft = draft_spec(CRUD)
    text = draft.source
    assert "entity Book " in text and "isbn: str @key" in text
    assert "return Book[isbn]" in text
    assert 'next_key(Book, "BO", 4)' in text  # a key in a format of its own
    assert "require price > 0" in text and "require stars <= 5" in text  # positive; schema bounds
    assert "delete book" in text
    assert "Review.where(book: book)" in text  # the reviews refer to the book
    assert "insert Rating(" in text and "user: user" in text  # an act leaves a record
    assert "enum Genre { fiction, poetry }" in text
    assert draft.tool_kinds["search_books"] == "read" and draft.tool_kinds["rate_book"] == "write"


def test_workflow_draft_declares_transitions() -> None:
    draft = draft_spec(WORKFLOW)
    text = draft.source
    assert "transitions Order.status {" in text
    assert "set order.status = cancelled" in text
    assert "require order.status in [pending]" in text
    assert "require amount > 0" in text  # amounts are positive
    domain, _ = run_draft(draft)
    env = Environment.create(domain, {}, enforce_policies=False)
    with contextlib.redirect_stderr(io.StringIO()):
        data = generate_data(domain, 1, 4)
    env = Environment.create(domain, data, enforce_policies=False)
    order = data["Order"][0]["order_id"]
    first = env.call("cancel_order", {"order_id": order})
    again = env.call("cancel_order", {"order_id": order})
    assert (first.ok and not again.ok) or not first.ok  # cancelled is final
    assert "can be cancelled" in (again.error or first.error or "")


def test_outside_information_is_a_table_keyed_by_arguments() -> None:
    draft = draft_spec(OUTSIDE)
    domain, _ = run_draft(draft)
    text = draft.source
    assert "entry_id: str @key @hidden" in text
    assert "temperature: float" in text and "conditions: str" in text
    with contextlib.redirect_stderr(io.StringIO()):
        data = generate_data(domain, 2, 5)
    env = Environment.create(domain, data, enforce_policies=False)
    row = data["CurrentWeather"][0]
    args = {"city": row["city"]}
    one, two = env.call("get_current_weather", args), env.call("get_current_weather", args)
    assert one.ok and one.text == two.text  # the same arguments, the same answer
    assert not env.call("get_current_weather", {"city": "Nowhere at all"}).ok
    assert all(k in ("read",) for k in draft.tool_kinds.values())


def test_odd_names_are_valid_and_text_is_escaped() -> None:
    draft = draft_spec(ODD)
    domain, _ = run_draft(draft, tasks=3)
    names = [t.name for t in domain.manifest.tools]
    assert names == list(draft.tool_kinds)
    assert all(n[0].isalpha() for n in names)
    schemas = {s["function"]["name"]: s["function"] for s in domain.tool_schemas}
    first = schemas[names[0]]
    assert first["description"].startswith('Checks a "code".')
    assert "a backslash \\ and unicode: 日本 ü 😀" in first["description"]
    assert first["description"].endswith("…")  # very long text is cut
    assert '"Checks a \\"code\\".\\nSecond line\\twith a tab' in draft.source
    params = set(first["parameters"]["properties"])
    assert {"from_", "format_", "class_", "page_size", "x_api_key"} <= params
    assert draft.provenance[names[0]][0].original_name == "2fa-verify"


def test_words_and_names() -> None:
    assert words("getUserOrders") == ["get", "user", "orders"]
    assert words("HTTPServerID") == ["http", "server", "id"]
    assert singular("categories") == "category" and singular("status") == "status"
    assert valid_name("class") == "class_" and valid_name("2fa") == "n_2fa"
    assert valid_name("format") == "format_" and valid_name("Field", "type") == "Field_"
    assert classify(["cancel", "order"]).state == "cancelled"
    assert classify(["get", "order"]).action == "lookup"
    assert classify(["order", "pizza"]).action == "act"
    assert classify(["user", "orders"], method="DELETE").action == "delete"
    assert classify(["albums", "get", "details"]).action == "lookup"


@pytest.mark.parametrize("kind", ["crud", "workflow"])
def test_golden_drafts(golden, kind: str) -> None:
    golden(GOLDEN / f"{kind}.domain", draft_spec(ALL[kind]).source)
