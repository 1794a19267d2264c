"""Tool parameters read from JSON schema, and the spec types they take.

string -> str (format date -> date, date-time -> datetime), integer -> int, number -> float,
boolean -> bool, array -> list<T>, an object with properties -> a struct, other objects ->
map<str, str>; a string enum -> an enum type (members in order, duplicates dropped); a type
that is missing, null or unknown -> str. `Types` collects the enums and structs of one spec,
sharing one declaration among parameters with the same members or fields.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from envscale.synth.nouns import NAME, Namer, camel, clashes, valid_name, words

MAX_DEPTH = 3  # structs nested deeper become map<str, str>
MAX_ENUM = 200  # members; an enum longer than this is free text
MAX_DOC = 1500  # characters of a description carried over


@dataclass(frozen=True)
class SpecType:
    text: str  # as written in the spec: "str", "list<Address>", "Color"
    base: str  # str int float bool date datetime enum struct list map

    @property
    def numeric(self) -> bool:
        return self.base in ("int", "float")

    @property
    def scalar(self) -> bool:
        return self.base in ("str", "int", "float", "bool", "date", "datetime", "enum")


STR = SpecType("str", "str")
INT = SpecType("int", "int")
FLOAT = SpecType("float", "float")
BOOL = SpecType("bool", "bool")
DATETIME = SpecType("datetime", "datetime")


@dataclass
class Param:
    name: str  # in the spec
    original: str  # in the source
    type: SpecType
    required: bool
    doc: str = ""
    default: str | None = None  # a literal, as written in the spec
    minimum: float | None = None
    maximum: float | None = None
    choices: list[Any] | None = None  # allowed values of a number
    words: list[str] = field(default_factory=list)


@dataclass
class Types:
    """The enums and structs of one spec, by name."""

    namer: Namer
    enums: dict[str, list[str]] = field(default_factory=dict)
    structs: dict[str, list[tuple[str, SpecType, bool, str]]] = field(default_factory=dict)
    _enum_by_members: dict[tuple[str, ...], str] = field(default_factory=dict)
    _struct_by_fields: dict[str, str] = field(default_factory=dict)

    def enum(self, wanted: str, members: list[str]) -> SpecType:
        key = tuple(members)
        name = self._enum_by_members.get(key)
        if name is None:
            name = self.namer.fresh(wanted, "type")
            self.enums[name] = members
            self._enum_by_members[key] = name
        return SpecType(name, "enum")

    def struct(self, wanted: str, schema: dict, depth: int) -> SpecType:
        props = schema.get("properties")
        required = (
            set(schema.get("required") or []) if isinstance(schema.get("required"), list) else set()
        )
        fields: list[tuple[str, SpecType, bool, str]] = []
        names = Namer()
        for original, sub in props.items():
            sub = sub if isinstance(sub, dict) else {}
            name = names.fresh(original)
            fields.append(
                (name, self.of(sub, original, depth + 1), original not in required, doc_of(sub))
            )
        key = json.dumps([(n, t.text, o) for n, t, o, _ in fields])
        name = self._struct_by_fields.get(key)
        if name is None:
            name = self.namer.fresh(wanted, "type")
            self.structs[name] = fields
            self._struct_by_fields[key] = name
        return SpecType(name, "struct")

    def of(self, schema: dict, name: str, depth: int = 0) -> SpecType:
        """The spec type of a JSON schema, for a parameter or property called `name`."""
        schema = _plain(schema)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), None)
        members = schema.get("enum")
        if isinstance(members, list) and members and kind in (None, "string"):
            texts = enum_members(members)
            if texts:
                return self.enum(camel(words(name)) or "Choice", texts)
        if kind == "string" or kind is None:
            fmt = schema.get("format")
            if fmt == "date":
                return SpecType("date", "date")
            if fmt == "date-time":
                return DATETIME
            return STR
        if kind == "integer":
            return INT
        if kind == "number":
            return FLOAT
        if kind == "boolean":
            return BOOL
        if kind == "array":
            items = schema.get("items")
            item = self.of(items if isinstance(items, dict) else {}, _item_name(name), depth)
            if item.base in ("list", "map"):
                item = STR
            return SpecType(f"list<{item.text}>", "list")
        if kind == "object":
            props = schema.get("properties")
            if isinstance(props, dict) and props and depth < MAX_DEPTH and len(props) <= 40:
                return self.struct(camel(words(name)) or "Value", schema, depth)
            return SpecType("map<str, str>", "map")
        return STR


def _plain(schema: dict) -> dict:
    """The first alternative of an anyOf/oneOf that is not null."""
    for combinator in ("anyOf", "oneOf"):
        options = schema.get(combinator)
        if "type" not in schema and isinstance(options, list):
            for option in options:
                if isinstance(option, dict) and option.get("type") not in (None, "null"):
                    return {**option, "description": schema.get("description", "")}
    return schema


def _item_name(name: str) -> str:
    ws = words(name)
    if ws and ws[-1].endswith("s") and len(ws[-1]) > 3:
        ws[-1] = ws[-1][:-1]
    return "_".join(ws) or "item"


def enum_members(values: list[Any]) -> list[str]:
    """An enum's members: its string values, in order, without repeats; [] when there are
    others (numbers, objects) or too many."""
    if len(values) > MAX_ENUM or not all(isinstance(v, str) for v in values):
        return []
    return list(dict.fromkeys(clean(v, 200) for v in values))


def member_text(member: str) -> str:
    """An enum member as written in a declaration: a plain name, or quoted."""
    if NAME.fullmatch(member) and not clashes(member, "value"):
        return member
    return quote(member)


def doc_of(schema: dict) -> str:
    doc = schema.get("description") if isinstance(schema, dict) else None
    text = clean(doc, MAX_DOC) if isinstance(doc, str) else ""
    examples = schema.get("examples") if isinstance(schema, dict) else None
    if isinstance(examples, list) and examples and isinstance(examples[0], str | int | float):
        example = clean(str(examples[0]), 60)
        if example and example not in text and "'" not in example:
            text = f"{text} (e.g. '{example}')" if text else f"e.g. '{example}'"
    return text


def clean(text: str, limit: int) -> str:
    """User text fit for a spec string: no NUL, no lone surrogate, no other control character
    than newline and tab, at most `limit` characters."""
    out = "".join(
        ch
        for ch in text
        if ch in "\n\t" or (ch >= " " and ch != "\x7f" and not ("\ud800" <= ch <= "\udfff"))
    ).strip()
    if len(out) > limit:
        out = out[: limit - 1].rstrip() + "…"
    return out


def quote(text: str) -> str:
    """A STRING token whose value is `text` (escaped as Python reads it)."""
    return json.dumps(text, ensure_ascii=False)


def read_params(tool_name: str, schema: dict, types: Types, reserved: set[str]) -> list[Param]:
    """The parameters of one tool, named so the spec accepts them."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict):
        return []
    required = schema.get("required") if isinstance(schema.get("required"), list) else []
    namer = Namer(reserved)
    out: list[Param] = []
    for original, sub in props.items():
        sub = _plain(sub) if isinstance(sub, dict) else {}
        if sub.get("optional") is True and original in required:
            required = [r for r in required if r != original]
        name = namer.fresh(valid_name(str(original)))
        ptype = types.of(sub, str(original))
        choices = None
        kind = sub.get("type")
        if ptype.numeric and isinstance(sub.get("enum"), list):
            values = [v for v in sub["enum"] if _number(v, ptype.base)]
            choices = list(dict.fromkeys(values)) or None
        param = Param(
            name=name,
            original=str(original),
            type=ptype,
            required=original in required,
            doc=doc_of(sub),
            words=words(str(original)) or [name.lower()],
        )
        param.choices = choices
        if ptype.numeric:
            param.minimum = _bound(sub.get("minimum"))
            param.maximum = _bound(sub.get("maximum"))
            if (
                param.minimum is not None
                and param.maximum is not None
                and param.minimum > param.maximum
            ):
                param.minimum = param.maximum = None
        param.default = _default(sub.get("default"), ptype, types) if kind != "null" else None
        out.append(param)
    return out


def _number(value: Any, base: str) -> bool:
    if isinstance(value, bool):
        return False
    if base == "int":
        return isinstance(value, int) and abs(value) < 2**62
    return isinstance(value, int | float) and math.isfinite(value) and abs(value) < 1e15


def _bound(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and abs(value) < 1e15 else None


def _default(value: Any, ptype: SpecType, types: Types) -> str | None:
    """A schema default as a spec literal, when it fits the type."""
    if value is None:
        return None
    if ptype.base == "str" and isinstance(value, str):
        return quote(clean(value, 200))
    if ptype.base == "bool" and isinstance(value, bool):
        return "true" if value else "false"
    if ptype.base == "int" and _number(value, "int"):
        return str(value)
    if ptype.base == "int" and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value.strip())
        return str(number) if abs(number) < 2**62 else None
    if ptype.base == "float" and _number(value, "float"):
        return repr(float(value)) if "e" not in repr(float(value)) else None
    if ptype.base == "enum" and isinstance(value, str):
        members = types.enums.get(ptype.text, [])
        text = clean(value, 200)
        if text in members and NAME.fullmatch(text) and not clashes(text, "value"):
            return text
    return None
