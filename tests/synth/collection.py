"""A made-up collection for the synthesis tests: APIs of a few resources each, every resource
with its own fields, and tools that look them up, list, create and update them."""

from __future__ import annotations

import random
from typing import Any

from envscale.synth.records import ApiTool, Provenance

_NOUNS = """book author loan patient doctor visit order product invoice flight seat booking
hotel room guest movie ticket cinema song album artist recipe ingredient meal car rental
driver parcel route depot course student grade ticket agent queue policy claim premium
account transfer payee repo commit branch"""
NOUNS = _NOUNS.split()
_FIELDS = """title name email phone price amount status date city country code colour size
weight rating genre year note address level score currency capacity duration"""
FIELDS = _FIELDS.split()


def schema(fields: dict[str, str], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            name: {"type": kind, "description": f"The {name.replace('_', ' ')}."}
            for name, kind in fields.items()
        },
        "required": required,
    }


def collection(apis: int, seed: int = 0) -> list[ApiTool]:
    """`apis` APIs of 2 or 3 resources, 4 tools per resource."""
    rng = random.Random(seed)
    tools: list[ApiTool] = []
    for a in range(apis):
        group = f"Api{a:03d}"
        for noun in rng.sample(NOUNS, rng.choice([2, 3])):
            fields = {
                f"{noun}_{f}": rng.choice(["string", "integer"]) for f in rng.sample(FIELDS, 4)
            }
            key = {f"{noun}Id": "string"}
            made = {
                f"get_{noun}": schema(key, list(key)),
                f"list_{noun}s": schema({"page": "integer", **dict(list(fields.items())[:2])}, []),
                f"create_{noun}": schema(fields, list(fields)[:2]),
                f"update_{noun}": schema({**key, **fields}, list(key)),
            }
            for name, parameters in made.items():
                tools.append(
                    ApiTool(
                        name=f"{name}_{a}",
                        description=f"{name.replace('_', ' ').capitalize()} in {group}.",
                        parameters=parameters,
                        provenance=[
                            Provenance(source="test@0:tools.jsonl", group=group, original_name=name)
                        ],
                    )
                )
    return tools
