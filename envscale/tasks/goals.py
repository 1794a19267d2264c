"""What the user of a sampled task wants, in terms a person knows.

From the task's valid calls and the state it starts from (`catalog.py`), a `Goal` holds:
who the user is (the person the chain's records belong to, and what they would give to be
recognised: an email, a name with a zip code or a birth date, a user id only when the
person record has nothing else), and one `Step` per call: the action (the tool name's
verb and object words), the record it concerns, and its details, each either a value the
user says (a date, an amount, a reason, a new phone number, the id of an order from their
own history) or a description of a record the agent must look up (an item by its options,
a payment method by its brand and last digits, a slot by its time). Keys of records that
are not the user's own (slot, item, payment ids) are never said.

A record an earlier call of the chain makes (the appointment `book_appointment` returns,
then cancelled) has no id the user could know when they ask: a key that first appears in an
earlier call's output and is nowhere in the starting state is such a record, and the step
names it by what made it (`Step.made`, the making call's verb in the past: "booked"), for
the wording to say "the new appointment" where the id would stand.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from envscale.records import Manifest
from envscale.tasks.catalog import Catalog, leaves, singular
from envscale.tasks.phrasing import is_date, listed, spoken, told, words

_ID_WORDS = ("id", "ids", "key", "number", "code")
_PERSON_FIELDS = ("email", "first_name", "last_name", "name", "date_of_birth", "dob")
_SKIP_DESCRIBE = {"available", "status", "price", "amount", "balance", "id"}


@dataclass
class Detail:
    name: str  # the parameter (or field) it fills, in words
    text: str  # what the user says
    known: bool  # False: a description of what the agent must find
    param: str = ""  # the parameter itself
    kind: str = "text"  # text | enum | flag | number | date | id | record | list | struct
    value: Any = None  # the argument's value
    own: bool = False  # a fact of the user's own record (their last name, their birth date)


@dataclass
class Step:
    tool: str
    verb: str
    words: list[str]  # the tool name's other words
    kind: str  # read | write
    record: str | None = None  # "order #W123", when the call concerns one of the user's records
    details: list[Detail] = field(default_factory=list)
    noun: str | None = None  # what `record` is, in words: "order"
    made: str | None = None  # a record an earlier call made: that call's verb, past ("booked")
    maker: str | None = None  # and the verb itself ("book")
    mine: bool = False  # the call names the user by their key (their appointments)


@dataclass
class Goal:
    person: str | None  # the entity of the person, when one is found
    identity: list[tuple[str, str]]  # (fact in words, value) the user gives to be recognised
    look_up: list[str]  # what the agent must find itself, in words
    steps: list[Step]


def person_entity(manifest: Manifest) -> str | None:
    """The entity the users are: the one others refer to that has the most personal fields."""
    referenced = {
        f.ref for info in manifest.entities.values() for f in info.fields if f.kind == "ref"
    }
    best, score = None, 0
    for entity, info in manifest.entities.items():
        names = {f.name for f in info.fields}
        own = sum(1 for p in _PERSON_FIELDS if p in names)
        own += 1 if entity in referenced else 0
        if own > score:
            best, score = entity, own
    return best if score >= 2 else None


class GoalReader:
    def __init__(self, manifest: Manifest | None, schemas: dict[str, dict]):
        self.manifest = manifest
        self.schemas = schemas
        self.kinds = {t.name: t.kind for t in manifest.tools} if manifest is not None else {}
        self.person = person_entity(manifest) if manifest is not None else None
        self.statuses = {
            member
            for info in (manifest.entities.values() if manifest is not None else [])
            for f in info.fields
            for member in (f.enum or [])
        }
        self.plain = {
            t.name
            for t in (manifest.tools if manifest is not None else [])
            if not t.reads and not t.writes
        }
        self._values_of: tuple[Catalog, set] | None = None  # the values of the last state read

    def read(
        self, calls: list[dict], catalog: Catalog | None, outputs: list[str] | None = None
    ) -> Goal:
        """The goal of a chain of `calls` from the state `catalog` indexes; `outputs`, what
        each call returned, tells which records the chain itself makes."""
        person_record = self._person_of(calls, catalog) if catalog is not None else None
        owned = self._owned_keys(person_record, catalog)
        made = self._made(calls, outputs or [], catalog)
        steps = [
            self._step(
                c, catalog, owned, person_record, {v: m for v, m in made.items() if m[0] < i}
            )
            for i, c in enumerate(calls)
        ]
        identity = self._identity(person_record)
        look_up = []
        person_key = self._person_key()
        said = {value for _, value in identity}
        if person_record is not None and person_key is not None:
            key = person_record.get(person_key)
            if key not in said and _found_before_use(key, calls, outputs or []):
                look_up.append(words(person_key))
        return Goal(self.person, identity, look_up, steps)

    # ---- who

    def _person_key(self) -> str | None:
        if self.manifest is None:
            return None
        info = self.manifest.entities.get(self.person or "")
        return info.key[0] if info is not None and len(info.key) == 1 else None

    def _person_of(self, calls: list[dict], catalog: Catalog) -> dict | None:
        if self.person is None:
            return None
        people = catalog.by_key.get(self.person, {})
        for call in calls:
            for leaf in leaves(call["arguments"], "", {}):
                if not isinstance(leaf.value, str | int):
                    continue
                if leaf.value in people:
                    return people[leaf.value]
                for entity, index in catalog.by_key.items():
                    record = index.get(leaf.value) if entity != self.person else None
                    if record is None:
                        continue
                    for target, key in catalog.refs_of(entity, record):
                        if target == self.person and key in people:
                            return people[key]
        return None

    def _owned_keys(self, person: dict | None, catalog: Catalog | None) -> set:
        """Keys of the records that are the user's own: theirs to name (their order ids)."""
        if person is None or catalog is None or self.person is None:
            return set()
        key = catalog.key_of(self.person, person)
        # What the person's record lists is theirs when no other person lists it too (their
        # orders, not the insurance plan many patients share).
        out = {
            k
            for target, k in catalog.refs_of(self.person, person)
            if sum(1 for e, _ in catalog.referrers.get((target, k), []) if e == self.person) <= 1
        }
        for entity, record in catalog.referrers.get((self.person, key), []):
            out.add(catalog.key_of(entity, record))
        out.discard(None)
        return out

    def _identity(self, person: dict | None) -> list[tuple[str, str]]:
        if person is None:
            return []
        flat = {leaf.name: leaf.value for leaf in leaves(person, "", person)}
        if isinstance(flat.get("email"), str):
            return [("email", flat["email"])]
        first, last = flat.get("first_name"), flat.get("last_name")
        for when in ("date_of_birth", "dob", "zip"):
            if isinstance(last, str) and isinstance(flat.get(when), str):
                name = f"{first} {last}" if isinstance(first, str) else last
                return [("name", name), (words(when), flat[when])]
        key = self._person_key()
        if key is not None and person.get(key) is not None:
            return [(words(key), str(person[key]))]
        return []

    # ---- records the chain makes

    def _made(
        self, calls: list[dict], outputs: list[str], catalog: Catalog | None
    ) -> dict[Any, tuple[int, str]]:
        """Values first returned by a call of the chain that the starting state does not
        hold, with that call's index and verb: value -> (index, verb)."""
        if catalog is None or not outputs:
            return {}
        known = self._state_values(catalog)
        made: dict[Any, tuple[int, str]] = {}
        for j, text in enumerate(outputs[: len(calls)]):
            for value in _output_values(text):
                if value not in known and value not in made:
                    made[value] = (j, calls[j]["name"].split("_")[0])
        return made

    def _state_values(self, catalog: Catalog) -> set:
        if self._values_of is not None and self._values_of[0] is catalog:
            return self._values_of[1]
        values = {
            leaf.value
            for found in catalog.by_name.values()
            for _, leaf in found
            if isinstance(leaf.value, str | int) and not isinstance(leaf.value, bool)
        }
        for index in catalog.by_key.values():
            values.update(k for k in index if isinstance(k, str | int))
        self._values_of = (catalog, values)
        return values

    def _is_made(
        self, param: str, value: Any, made: dict[Any, tuple[int, str]], catalog: Catalog | None
    ) -> bool:
        if isinstance(value, bool) or not isinstance(value, str | int) or value not in made:
            return False
        return _id_like(param) or (catalog is not None and param in catalog.names)

    # ---- what

    def _step(
        self,
        call: dict,
        catalog: Catalog | None,
        owned: set,
        person: dict | None,
        made: dict[Any, tuple[int, str]] | None = None,
    ) -> Step:
        name = call["name"]
        tokens = name.split("_by_")[0].split("_")
        verb = tokens[0]
        words = [w for w in tokens[1:] if w not in self.statuses]  # "pending order" is "order"
        step = Step(name, verb, words, self.kinds.get(name, "read"))
        props = (self.schemas.get(name) or {}).get("properties") or {}
        person_key = self._person_key()
        made = made or {}
        for param, value in call["arguments"].items():
            if param == person_key and person is not None and person.get(param) == value:
                step.mine = True
                continue  # the user is named by their identity, not their id
            if self._is_made(param, value, made, catalog):
                noun = self._noun(param)
                if step.record is None:
                    step.record, step.noun = noun, noun
                    step.maker = made[value][1]
                    step.made = past(step.maker)
                else:  # a second new record: named, never by its id
                    step.details.append(Detail(noun, f"the new {noun}", True))
                continue
            if isinstance(value, str | int) and value in owned and step.record is None:
                step.noun = self._noun(param)
                step.record = f"{step.noun} {value}"
                continue
            detail = self._detail(param, value, props.get(param, {}), catalog, owned)
            detail.own = person is not None and _own_fact(person, param, value)
            step.details.append(detail)
        return step

    def _noun(self, param: str) -> str:
        base = param.removeprefix("new_")
        for suffix in ("_ids", "_id", "_number", "_code"):
            base = base.removesuffix(suffix)
        if base in ("id", "ids", "key"):
            return "record"
        return words(singular(base))

    def _detail(
        self, param: str, value: Any, prop: dict, catalog: Catalog | None, owned: set
    ) -> Detail:
        if isinstance(value, list):
            parts = [self._detail(param, v, prop.get("items") or {}, catalog, owned) for v in value]
            known = all(p.known for p in parts)
            texts = [p.text for p in parts]
            if any(p.kind == "struct" for p in parts):  # the structs hold commas of their own
                text = "; ".join([*texts[:-2], " and ".join(texts[-2:])])
            else:
                text = listed(texts)
            return Detail(words(param), text, known, param, "list", value)
        if isinstance(value, dict):
            parts = [
                self._detail(k, v, (prop.get("properties") or {}).get(k, {}), catalog, owned)
                for k, v in value.items()
            ]
            return Detail(
                words(param), _struct(parts), all(p.known for p in parts), param, "struct", value
            )
        if _id_like(param) and isinstance(value, str | int) and value not in owned:
            described = self._describe(param, value, catalog)
            if described is not None:
                return Detail(self._noun(param), described, False, param, "record", value)
        return Detail(words(param), _show(value), True, param, _kind(param, value, prop), value)

    def _describe(self, param: str, value: Any, catalog: Catalog | None) -> str | None:
        """The record `value` is the key of, told by its plain fields (not its id)."""
        if catalog is None:
            return None
        record = None
        for index in catalog.by_key.values():
            if value in index:
                record = index[value]
                break
        if record is None:
            bare = param.removeprefix("new_")
            # In this order: the first name that finds the value decides the record.
            names = dict.fromkeys((param, singular(param), bare, singular(bare), "id"))
            for n in names:
                for _, leaf in catalog.by_name.get(n, [])[:5000]:
                    if leaf.value == value:
                        record = leaf.parent
                        break
                if record is not None:
                    break
        if record is None:
            return None
        parts: list[tuple[str, Any]] = []
        for leaf in leaves(record, "", record):
            if leaf.value == value or _id_like(leaf.name) or leaf.name in _SKIP_DESCRIBE:
                continue
            if leaf.name in catalog.names:  # another record's key says nothing to a person
                continue
            if isinstance(leaf.value, str) and re.fullmatch(r"\d{5,}", leaf.value):
                continue  # a number that names a record (a map's key) is an id too
            if isinstance(leaf.value, str) and 0 < len(leaf.value) <= 40:
                parts.append((leaf.name, leaf.value))
            if len(parts) == 4:
                break
        return told(self._noun(param), parts)


_IRREGULAR = {
    "make": "made",
    "buy": "bought",
    "send": "sent",
    "put": "put",
    "set": "set",
    "begin": "begun",
    "take": "taken",
    "give": "given",
    "write": "written",
    "get": "got",
    "pay": "paid",
    "transfer": "transferred",
}


def past(verb: str) -> str:
    """A verb's past participle, as in "the appointment you booked": regular forms and a few
    irregular ones."""
    if verb in _IRREGULAR:
        return _IRREGULAR[verb]
    if verb.endswith("e"):
        return verb + "d"
    if verb in ("cancel", "travel", "label"):
        return verb + "led"
    if re.fullmatch(r"[a-z]*[^aeiou][aeiou][bdgmnprt]", verb) and len(verb) <= 4:
        return verb + verb[-1] + "ed"  # ship -> shipped, plan -> planned
    if re.fullmatch(r"[a-z]*[^aeiou]y", verb):
        return verb[:-1] + "ied"
    return verb + "ed"


def _output_values(text: str) -> list[Any]:
    """The scalar values of one call's output (a JSON document, or a bare word)."""
    try:
        value = json.loads(text)
    except ValueError:
        stripped = text.strip()
        return [stripped] if stripped and " " not in stripped else []
    out: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, item in node.items():
                if isinstance(item, dict):
                    out.append(key)  # a mapping's keys name records too
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, str | int) and not isinstance(node, bool):
            out.append(node)

    walk(value)
    return out


def _found_before_use(key: Any, calls: list[dict], outputs: list[str]) -> bool:
    """Whether the chain finds `key` before a call needs it: an earlier call's result holds
    it. Only then can the user leave it to the agent; otherwise they must say it when asked."""
    for i, call in enumerate(calls):
        if _holds(call["arguments"], key):
            return any(str(key) in text for text in outputs[:i] if not text.startswith("Error: "))
    return False


def _holds(value: Any, wanted: Any) -> bool:
    return any(leaf.value == wanted for leaf in leaves({"v": value}, "", {}))


def _id_like(name: str) -> bool:
    last = name.split("_")[-1]
    return last in _ID_WORDS or name == "id"


def _show(value: Any) -> str:
    return spoken(value)


def _kind(param: str, value: Any, prop: dict) -> str:
    if isinstance(value, bool):
        return "flag"
    if isinstance(value, int | float):
        return "number"
    if is_date(value):
        return "date"
    if prop.get("enum") or (isinstance(value, str) and re.fullmatch(r"[a-z]+(_[a-z]+)+", value)):
        return "enum"
    return "id" if _id_like(param) else "text"


def _own_fact(person: dict, param: str, value: Any) -> bool:
    """Whether `param` = `value` is a fact of the user's own record (not their key)."""
    if _id_like(param) or isinstance(value, dict | list):
        return False
    return any(leaf.name == param and leaf.value == value for leaf in leaves(person, "", person))


_ADDRESS_FIELDS = {"city", "zip", "street", "address1", "postcode", "country"}


def _struct(parts: list[Detail]) -> str:
    """A struct's fields as said: an address as its lines, a person as a name and a birth
    date, other fields by name."""
    by = {p.param: p for p in parts}
    if _ADDRESS_FIELDS & set(by):
        return ", ".join(p.text for p in parts if p.text)
    said: list[str] = []
    when = [by.pop(p.param).text for p in parts if p.kind == "date" and p.param in ("date", "day")]
    if "first_name" in by and "last_name" in by:
        said.append(f"{by.pop('first_name').text} {by.pop('last_name').text}")
    for name in ("dob", "date_of_birth"):
        if name in by:
            said.append(f"born {by.pop(name).text}")
    said += [p.text if not p.known else f"{p.name} {p.text}" for p in by.values()]
    return ", ".join(said) + "".join(f" on {w}" for w in when)
