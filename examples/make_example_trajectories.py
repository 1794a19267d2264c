"""Write small synthetic trajectory files in the envscale format, for the training demo.

    python examples/make_example_trajectories.py [--out examples/trajectories] [--n 60]

Three general domains (library, weather, calendar) go under general/, two vertical ones
(retail, airline) under vertical/. Each dialogue: a policy, a request, one or two tool
calls with their results, a closing reply; about one in ten fails a filter, as real
generated files do. Real trajectories come from `envscale` generation; these only stand
in for them so the trainer can be run before any domain is generated.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from pathlib import Path
from typing import Any


def tool(name: str, description: str, **params: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {k: {"type": "string", "description": v} for k, v in params.items()},
                "required": list(params),
            },
        },
    }


def call(idx: int, name: str, **args: Any) -> dict[str, Any]:
    return {
        "id": f"call_{idx}",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(args)},
    }


def library(rng: random.Random) -> tuple[list, list]:
    title = rng.choice(["Dune", "Emma", "Ulysses", "Beloved", "Middlemarch", "Solaris"])
    card = f"LC{rng.randint(1000, 9999)}"
    copies = rng.randint(0, 3)
    tools = [
        tool("search_catalog", "Find a book by title.", title="book title"),
        tool(
            "place_hold",
            "Reserve a copy for a card holder.",
            card="library card",
            book_id="book id",
        ),
    ]
    book_id = f"B{rng.randint(100, 999)}"
    msgs = [
        {"role": "user", "content": f"Is {title} available? My card is {card}."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [call(1, "search_catalog", title=title)],
        },
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": json.dumps({"book_id": book_id, "title": title, "copies_available": copies}),
        },
    ]
    if copies:
        msgs += [
            {
                "role": "assistant",
                "content": f"{title} has {copies} copies in. I will place a hold.",
                "tool_calls": [call(2, "place_hold", card=card, book_id=book_id)],
            },
            {
                "role": "tool",
                "tool_call_id": "call_2",
                "content": json.dumps({"hold": "ok", "pickup_days": 3}),
            },
            {
                "role": "assistant",
                "content": "Your hold is placed; pick the book up within 3 days.",
            },
        ]
    else:
        msgs.append(
            {"role": "assistant", "content": f"Sorry, every copy of {title} is out right now."}
        )
    return tools, msgs


def weather(rng: random.Random) -> tuple[list, list]:
    city = rng.choice(["Paris", "Lima", "Oslo", "Cairo", "Osaka", "Quito"])
    temp = rng.randint(-5, 35)
    sky = rng.choice(["sunny", "cloudy", "rainy", "windy"])
    tools = [tool("get_forecast", "Tomorrow's forecast for a city.", city="city name")]
    msgs = [
        {"role": "user", "content": f"What will the weather be like in {city} tomorrow?"},
        {"role": "assistant", "content": None, "tool_calls": [call(1, "get_forecast", city=city)]},
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": json.dumps({"city": city, "high_c": temp, "sky": sky}),
        },
        {
            "role": "assistant",
            "content": f"Tomorrow in {city}: {sky}, with a high of {temp} degrees.",
        },
    ]
    return tools, msgs


def calendar(rng: random.Random) -> tuple[list, list]:
    who = rng.choice(["Alice", "Bob", "Chen", "Dana"])
    day = rng.choice(["Monday", "Tuesday", "Thursday", "Friday"])
    hour = rng.randint(9, 16)
    tools = [
        tool(
            "create_event",
            "Add a meeting to the calendar.",
            title="title",
            day="weekday",
            time="HH:MM",
            guest="guest",
        )
    ]
    msgs = [
        {"role": "user", "content": f"Book a meeting with {who} on {day}."},
        {"role": "assistant", "content": "Sure. At what time?"},
        {"role": "user", "content": f"{hour}:00 please."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                call(
                    1,
                    "create_event",
                    title=f"Meeting with {who}",
                    day=day,
                    time=f"{hour:02d}:00",
                    guest=who,
                )
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": json.dumps({"event_id": f"E{rng.randint(10, 99)}"}),
        },
        {"role": "assistant", "content": f"Done: {day} at {hour}:00 with {who}."},
    ]
    return tools, msgs


def retail(rng: random.Random) -> tuple[list, list]:
    order = f"#W{rng.randint(1000000, 9999999)}"
    status = rng.choice(["pending", "pending", "delivered"])
    reason = rng.choice(["no longer needed", "ordered by mistake"])
    tools = [
        tool("get_order_details", "Look an order up.", order_id="order id"),
        tool(
            "cancel_pending_order", "Cancel a pending order.", order_id="order id", reason="reason"
        ),
    ]
    msgs = [
        {"role": "user", "content": f"Please cancel order {order}, it was {reason}."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [call(1, "get_order_details", order_id=order)],
        },
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": json.dumps(
                {"order_id": order, "status": status, "total": round(rng.uniform(5, 300), 2)}
            ),
        },
    ]
    if status == "pending":
        msgs += [
            {
                "role": "assistant",
                "content": f"Order {order} is pending. Shall I cancel it ({reason})?",
            },
            {"role": "user", "content": "Yes, go ahead."},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [call(2, "cancel_pending_order", order_id=order, reason=reason)],
            },
            {
                "role": "tool",
                "tool_call_id": "call_2",
                "content": json.dumps({"order_id": order, "status": "cancelled"}),
            },
            {
                "role": "assistant",
                "content": "The order is cancelled and the refund is on its way.",
            },
        ]
    else:
        msgs.append(
            {
                "role": "assistant",
                "content": f"Order {order} was already delivered, so it cannot be cancelled.",
            }
        )
    return tools, msgs


def airline(rng: random.Random) -> tuple[list, list]:
    res = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6))
    bags = rng.randint(1, 3)
    tools = [
        tool("get_reservation_details", "Look a reservation up.", reservation_id="reservation id"),
        tool(
            "update_reservation_baggages",
            "Set the checked bags.",
            reservation_id="reservation id",
            total_baggages="count",
        ),
    ]
    msgs = [
        {"role": "user", "content": f"I need {bags} checked bags on reservation {res}."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [call(1, "get_reservation_details", reservation_id=res)],
        },
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": json.dumps(
                {
                    "reservation_id": res,
                    "cabin": rng.choice(["economy", "business"]),
                    "total_baggages": 0,
                }
            ),
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                call(2, "update_reservation_baggages", reservation_id=res, total_baggages=str(bags))
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "call_2",
            "content": json.dumps({"reservation_id": res, "total_baggages": bags}),
        },
        {"role": "assistant", "content": f"Reservation {res} now has {bags} checked bags."},
    ]
    return tools, msgs


DOMAINS = {"general": [library, weather, calendar], "vertical": [retail, airline]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="examples/trajectories", help="output directory")
    ap.add_argument("--n", type=int, default=40, help="trajectories per domain")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    for group, makers in DOMAINS.items():
        folder = Path(args.out) / group
        folder.mkdir(parents=True, exist_ok=True)
        for make in makers:
            rng = random.Random(f"{args.seed}:{make.__name__}")
            spec_hash = hashlib.sha256(f"example:{make.__name__}".encode()).hexdigest()
            lines = []
            for i in range(args.n):
                tools, msgs = make(rng)
                policy = f"You are a {make.__name__} assistant. Use the tools; never guess ids."
                ok = rng.random() > 0.1
                lines.append(
                    json.dumps(
                        {
                            "id": f"{make.__name__}-{i:04d}",
                            "domain": make.__name__,
                            "spec_hash": spec_hash,
                            "task_id": f"{make.__name__}-task-{i:04d}",
                            "tools": tools,
                            "messages": [{"role": "system", "content": policy}, *msgs],
                            "reward": 1.0 if ok else 0.0,
                            "final_state_hash": hashlib.sha256(str(i).encode()).hexdigest()[:16],
                            "filters": {"valid": True, "state": ok, "exact": ok},
                            "meta": {
                                "agent": "example",
                                "user": "example",
                                "seed": args.seed,
                                "envscale": "0.1.0",
                            },
                        }
                    )
                )
            (folder / f"{make.__name__}.jsonl").write_text("\n".join(lines) + "\n")
    print(f"wrote {sum(len(m) for m in DOMAINS.values())} files under {args.out}")


if __name__ == "__main__":
    main()
