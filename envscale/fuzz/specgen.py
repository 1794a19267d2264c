"""Seeded generation of valid but unusual spec texts, for the end-to-end spec attack.

`odd_spec(seed)` writes one spec from a random plan: a few or many entities (some with no
field but their key, some with a composite key, a key that is a reference), every field type
(scalars, dates, enums with quoted members, structs nested in structs, lists and maps of
them, optionals, references to other entities, to the entity itself and around cycles, lists
of references), `@unique`, `@index`, `@default`, `@check`, `@external`, `@sparse`, single-row
and cross-row invariants that still admit data, and tools that read, write, insert and
delete, with parameters of every type, `require … else`, `if`/`else`, loops,
comprehensions, built-ins and policies. The newer language has a fair share of each spec:
`@derived(expr)` fields over their record's other fields (arithmetic, `len`, `count`,
`money`, `format("{:,.2f}", x)`, `hours_between`, `add_minutes`, derived fields reading
derived ones), `@hidden` entity and struct fields, `transitions E.field { … }` over enum
fields (chains, groups, states alone), references held in `list<E>`, `map<K, E>` and struct
fields typed as an entity (with tools that append to and read them), and the time and
number built-ins `add_hours`, `add_minutes`, `hours_between`, `minutes_between`, `money` and
`format` specs in tools and messages. Names are legal but odd: long, one letter, mixed
case, digits, words the language uses as keywords elsewhere (`on`, `at`, `most`, `clock`).

What the generator leaves out on purpose, because `check` refuses it (or will): Python
keywords and builtins, pydantic and SQLite reserved names, leading underscores, required
reference cycles between different entities, and literal sizes, nesting and clock ranges
out of the documented limits.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# Words that are keywords of the spec language somewhere, legal as names elsewhere.
NEAR_KEYWORDS = [
    "on",
    "at",
    "most",
    "clock",
    "domain",
    "policy",
    "entity",
    "struct",
    "enum",
    "tool",
    "invariant",
    "before",
    "returns",
    "nones",
    "trues",
    "inserted",
    "lets",
    "iff",
    "fors",
    "ins",
    "nots",
    "ands",
    "ors",
]
WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "kappa",
    "sigma",
    "omega",
    "item",
    "order",
    "ticket",
    "badge",
    "route",
    "shelf",
    "owner",
    "label",
    "score",
    "level",
    "total",
    "price",
    "email",
    "phone",
    "start",
    "end",
    "note",
    "name",
    "first_name",
    "last_name",
    "code",
    "size",
    "weight",
    "status",
    "kind",
    "flag",
    "day",
    "amount",
    "quantity",
    "balance",
    "address",
    "title",
]
# Text for docs, messages and string literals: quotes, escapes, braces, non-ASCII.
ODD_TEXT = [
    "plain words",
    "caf\u00e9 \u00fcber na\u00efve",
    "\u65e5\u672c\u8a9e\u306e\u8aac\u660e",
    "emoji \U0001f600 here",
    'a \\"quoted\\" word',
    "back\\\\slash",
    "tab\\there",
    "new\\nline",
    "{braces} and {{double}}",
    "percent %s %d",
    "{{ jinja }} {% raw %}",
    "",
    "x" * 120,
    "\u0645\u0631\u062d\u0628\u0627",
]
STR_LITERALS = ["a", "", "Zz", "x y", "caf\u00e9", "\u00e9t\u00e9", "K-1", "0", "none", "{}"]


@dataclass
class Type:
    kind: str  # str int float bool date datetime enum struct list map ref
    name: str = ""  # enum, struct or entity
    item: Type | None = None  # list item, map value
    key: Type | None = None  # map key
    optional: bool = False

    def text(self) -> str:
        base = {
            "list": lambda: f"list<{self.item.text()}>",  # type: ignore[union-attr]
            "map": lambda: f"map<{self.key.text()}, {self.item.text()}>",  # type: ignore[union-attr]
        }.get(self.kind, lambda: self.name or self.kind)()
        return base + ("?" if self.optional else "")

    def required(self) -> Type:
        return Type(self.kind, self.name, self.item, self.key, False)


SCALARS = ["str", "int", "float", "bool", "date", "datetime"]


@dataclass
class Field:
    name: str
    type: Type
    attrs: list[str] = field(default_factory=list)
    doc: str | None = None
    key: bool = False
    unique: bool = False
    derived: bool = False  # computed: no statement writes it


@dataclass
class Entity:
    name: str
    fields: list[Field] = field(default_factory=list)
    doc: str | None = None

    @property
    def keys(self) -> list[Field]:
        return [f for f in self.fields if f.key]


@dataclass
class Plan:
    enums: dict[str, list[str]] = field(default_factory=dict)  # name -> members as written
    structs: dict[str, list[Field]] = field(default_factory=dict)
    entities: dict[str, Entity] = field(default_factory=dict)


class _Names:
    """Fresh names, never twice in one spec, from a pool of legal but unusual ones."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.taken: set[str] = set()

    def _fresh(self, base: str) -> str:
        name, n = base, 2
        while name in self.taken or name.lower() in self.taken:
            name = f"{base}{n}"
            n += 1
        self.taken.add(name)
        self.taken.add(name.lower())
        return name

    def lower(self) -> str:
        r = self.rng.random()
        if r < 0.12:
            base = self.rng.choice(NEAR_KEYWORDS)
        elif r < 0.18:
            base = "_".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(6, 9)))
        elif r < 0.24:
            base = self.rng.choice("bcdghjkmnpqrtuvwxyz")
        elif r < 0.30:
            base = self.rng.choice(WORDS) + self.rng.choice(["9", "_2", "X", "_b_C", "0_0"])
        elif r < 0.34:
            base = self.rng.choice(WORDS).capitalize()
        else:
            base = self.rng.choice(WORDS)
        return self._fresh(base)

    def upper(self) -> str:
        r = self.rng.random()
        if r < 0.1:
            base = "".join(w.capitalize() for w in self.rng.sample(WORDS, 6))
        elif r < 0.2:
            base = self.rng.choice("ABCDFGHJKLMNPQRSTUVWXYZ")
        elif r < 0.3:
            base = self.rng.choice(["X9", "A_b", "Q1_2", "ZZ", "Tool", "Entity", "On", "At"])
        elif r < 0.35:
            base = self.rng.choice(WORDS)  # a lower-case type name
        else:
            base = self.rng.choice(WORDS).capitalize() + self.rng.choice(["", "s", "Info", "Rec"])
        return self._fresh(base)


def _text(rng: random.Random) -> str:
    return rng.choice(ODD_TEXT)


def _doc(rng: random.Random, chance: float = 0.3) -> str:
    return f' "{_text(rng)}"' if rng.random() < chance else ""


class SpecWriter:
    def __init__(self, seed: int):
        self.rng = random.Random(f"envscale-oddspecs:{seed}")
        self.names = _Names(self.rng)
        self.plan = Plan()
        self.out: list[str] = []
        self.tools: list[tuple[str, bool]] = []  # (name, writes)

    # ---- the plan

    def write(self) -> str:
        rng = self.rng
        clock = rng.choice(
            [
                "",
                ' clock "2024-05-15T15:00:00"',
                ' clock "2030-12-31T23:59:59"',
                ' clock "2000-02-29T00:00:00"',
            ]
        )
        policy = rng.choice(
            ["", "", f' policy "{_text(rng)}"', ' policy """Line one.\nLine "two"."""']
        )
        self.out.append(f'domain {self.names.lower()} "{_text(rng)}"{clock}{policy}')
        for _ in range(rng.choice([0, 0, 1, 2, 3])):
            self._enum()
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            self._struct()
        count = rng.choice([1, 1, 2, 2, 3, 3, 4, 5, 7, rng.randint(10, 16)])
        names = [self.names.upper() for _ in range(count)]
        for name in names:
            self.plan.entities[name] = Entity(name, doc=_doc(rng))
        for name in names:
            self._key(self.plan.entities[name], names)
        if rng.random() < 0.4:  # a struct holding references, once every key is known
            self._ref_struct(names)
        for name in names:  # after every key, so that a field may refer to a later entity
            self._fields(self.plan.entities[name], names)
        for entity in self.plan.entities.values():
            self.out.append(self._entity_text(entity))
        self._invariants()
        self._transitions()
        for entity in self.plan.entities.values():
            self._tools_for(entity)
        self._misc_tools()
        self._policies()
        return "\n\n".join(self.out) + "\n"

    def _enum(self) -> None:
        rng = self.rng
        name = self.names.upper()
        members = []
        for _ in range(rng.choice([1, 2, 3, 5, 8])):
            if rng.random() < 0.2:
                tail = rng.choice(["x", "on time", "\u00e9t\u00e9", "a,b"])
                members.append(f'"{self.names.lower()} {tail}"')
            else:
                members.append(self.names.lower())
        self.plan.enums[name] = members
        trailing = "," if rng.random() < 0.3 else ""
        self.out.append(f"enum {name}{_doc(rng)} {{ {', '.join(members)}{trailing} }}")

    def _plain_members(self, enum: str) -> list[str]:
        return [m for m in self.plan.enums[enum] if not m.startswith('"')]

    def _struct(self) -> None:
        rng = self.rng
        name = self.names.upper()
        fields = []
        for _ in range(rng.choice([0, 1, 2, 3, 4])):
            ftype = self._value_type(in_struct=True, depth=1)
            f = Field(self.names.lower(), ftype, doc=_doc(rng, 0.2))
            if ftype.optional and rng.random() < 0.3:
                f.attrs.append("@sparse")
            elif rng.random() < 0.25 and (d := self._default(ftype)) is not None:
                f.attrs.append(f"@default({d})")
            if rng.random() < 0.12:
                f.attrs.append("@hidden")
            fields.append(f)
        self.plan.structs[name] = fields
        body = "  ".join(self._field_text(f) for f in fields)
        self.out.append(f"struct {name}{_doc(rng)} {{ {body} }}")

    def _ref_struct(self, names: list[str]) -> None:
        """A struct whose fields refer to entities: one optional reference (a required one
        could close a cycle of required references) or a list of them, and a scalar."""
        rng = self.rng
        single = [n for n in names if len(self._key_fields(n)) == 1]
        if not single:
            return
        name = self.names.upper()
        target = rng.choice(single)
        ref = (
            Type("ref", target, optional=True)
            if rng.random() < 0.6
            else Type("list", item=Type("ref", target))
        )
        fields = [Field(self.names.lower(), ref)]
        if rng.random() < 0.7:
            fields.append(Field(self.names.lower(), Type(rng.choice(SCALARS))))
        if rng.random() < 0.2:
            fields[-1].attrs.append("@hidden")
        self.plan.structs[name] = fields
        body = "  ".join(self._field_text(f) for f in fields)
        self.out.append(f"struct {name}{_doc(rng)} {{ {body} }}")

    def _value_type(self, in_struct: bool, depth: int, entities: list[str] | None = None) -> Type:
        rng = self.rng
        r = rng.random()
        optional = rng.random() < 0.25
        if r < 0.45 or depth > 2:
            t = Type(rng.choice(SCALARS))
        elif r < 0.6 and self.plan.enums:
            t = Type("enum", rng.choice(list(self.plan.enums)))
        elif r < 0.7 and self.plan.structs:
            t = Type("struct", rng.choice(list(self.plan.structs)))
        elif r < 0.85:
            t = Type("list", item=self._value_type(in_struct, depth + 1).required())
        else:
            keys = [Type("str")] + [Type("enum", e) for e in self.plan.enums]
            t = Type("map", key=rng.choice(keys), item=self._value_type(in_struct, depth + 1))
            t.item.optional = False  # type: ignore[union-attr]
        t.optional = optional
        return t

    def _key(self, entity: Entity, names: list[str]) -> None:
        rng = self.rng
        index = names.index(entity.name)
        earlier = [n for n in names[:index] if len(self._key_fields(n)) == 1]
        shape = rng.random()
        if shape < 0.12 and earlier:
            target = rng.choice(earlier)
            entity.fields.append(Field(self.names.lower(), Type("ref", target), key=True))
        elif shape < 0.22:
            entity.fields.append(Field(self.names.lower(), Type("str"), key=True))
            entity.fields.append(Field(self.names.lower(), Type("int"), key=True))
        elif shape < 0.35:
            entity.fields.append(Field(self.names.lower(), Type("int"), key=True))
        elif shape < 0.4 and self.plan.enums:
            entity.fields.append(
                Field(self.names.lower(), Type("enum", rng.choice(list(self.plan.enums))), key=True)
            )
        elif shape < 0.44:
            entity.fields.append(
                Field(self.names.lower(), Type(rng.choice(["date", "datetime"])), key=True)
            )
        else:
            entity.fields.append(Field(self.names.lower(), Type("str"), key=True))
        for f in entity.keys:
            f.attrs.append("@key")
            if f.type.kind == "str" and rng.random() < 0.2:
                f.attrs.append("@external")

    def _fields(self, entity: Entity, names: list[str]) -> None:
        rng = self.rng
        index = names.index(entity.name)
        for _ in range(rng.choice([0, 1, 2, 3, 4, 6, 9])):
            entity.fields.append(self._entity_field(entity, names, index))
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            self._derived(entity)
        # a check relating two numeric fields of the row
        numbers = [f for f in entity.fields if f.type.kind == "int" and not f.type.optional]
        if len(numbers) >= 2 and rng.random() < 0.4:
            a, b = rng.sample(numbers, 2)
            if not a.key:
                a.attrs.append(f"@check({a.name} >= {b.name} or {a.name} < {b.name})")

    def _key_fields(self, name: str) -> list[Field]:
        return self.plan.entities[name].keys

    def _entity_field(self, entity: Entity, names: list[str], index: int) -> Field:
        rng = self.rng
        r = rng.random()
        single = [n for n in names if len(self._key_fields(n)) == 1]  # others can't be referred to
        if r < 0.2 and single:
            target = rng.choice(single)
            # A reference to a later entity closes a cycle: it is optional, since a cycle of
            # required references between entities admits no first record. One to the entity
            # itself may be required (the first record refers to itself).
            optional = names.index(target) > index or rng.random() < 0.5
            ftype = Type("ref", target, optional=optional)
        elif r < 0.3 and single:
            # References held in JSON: a list or a map of them (an empty one breaks a cycle).
            item = Type("ref", rng.choice(single), optional=rng.random() < 0.15)
            if rng.random() < 0.7:
                ftype = Type("list", item=item)
            else:
                ftype = Type("map", key=Type("str"), item=item.required())
        elif r < 0.33:
            ftype = Type("list", item=Type("str"))  # keys as plain strings, as old specs had
        else:
            ftype = self._value_type(in_struct=False, depth=1)
        f = Field(self.names.lower(), ftype, doc=_doc(rng, 0.25))
        self._field_attrs(entity, f)
        return f

    def _field_attrs(self, entity: Entity, f: Field) -> None:
        rng = self.rng
        t = f.type
        if (
            t.kind in ("str", "int", "date", "datetime", "enum", "float", "bool")
            and rng.random() < 0.2
        ):
            f.attrs.append("@unique")
            f.unique = True
        if rng.random() < 0.15:
            f.attrs.append("@index")
        if t.optional and rng.random() < 0.25:
            f.attrs.append("@sparse")
        if rng.random() < 0.25 and (d := self._default(t)) is not None:
            f.attrs.append(f"@default({d})")
        if rng.random() < 0.35 and (c := self._check(f)) is not None:
            f.attrs.append(f"@check({c})")
        if rng.random() < 0.1:
            f.attrs.append("@hidden")

    def _derived(self, entity: Entity) -> None:
        """A field computed from its record's other fields."""
        rng = self.rng
        plain = [f for f in entity.fields if not f.type.optional and not f.key]
        ints = [f.name for f in plain if f.type.kind == "int"]
        numbers = [f.name for f in plain if f.type.kind in ("int", "float")]
        floats = [f.name for f in plain if f.type.kind == "float"]
        strs = [f.name for f in plain if f.type.kind == "str"]
        times = [f.name for f in plain if f.type.kind == "datetime"]
        lists = [f.name for f in plain if f.type.kind == "list"]
        maps = [f.name for f in plain if f.type.kind == "map"]
        options: list[tuple[str, str]] = [("int", "1 + 2"), ("str", 'format("{:,.2f}", 1234.5)')]
        if numbers:
            a, b = rng.choice(numbers), rng.choice(numbers)
            options += [
                ("float", f"round({a} * 1.5 + {b}, 2)"),
                ("float", f"float({a}) / 4.0 + self.{b}"),
                ("bool", f"{a} >= {b}"),
                ("str", f"money({a})"),
                ("str", f'format("{{:,.2f}} and {{:.1f}}", {a}, {b})'),
            ]
        if ints:
            a, b = rng.choice(ints), rng.choice(ints)
            options += [("int", f"abs({a}) + {b} % 7"), ("int", f"max({a}, {b}, 0)")]
        if floats:
            options.append(("str", f'format("{{:12,.3f}}", {rng.choice(floats)})'))
        if strs:
            s = rng.choice(strs)
            options += [("int", f"len({s})"), ("str", f'upper({s}) + "!"')]
        if times:
            a, b = rng.choice(times), rng.choice(times)
            options += [
                ("int", f"hours_between({a}, {b})"),
                ("int", f"minutes_between({a}, {b}) % 60"),
                ("datetime", f"add_minutes({a}, 90)"),
                ("datetime", f"add_hours(self.{a}, -3)"),
                ("bool", f"{a} <= add_hours({b}, 1)"),
            ]
        if lists:
            options.append(("int", f"count({rng.choice(lists)})"))
        if maps:
            options.append(("int", f"len(keys({rng.choice(maps)}))"))
        derived = [f for f in entity.fields if f.derived]
        if derived and rng.random() < 0.5:  # one derived field read by another
            d = rng.choice(derived)
            options.append(("str", f'format("{{}} / {{}}", {d.name}, 1)'))
        kind, expr = rng.choice(options)
        f = Field(self.names.lower(), Type(kind), [f"@derived({expr})"], derived=True)
        if rng.random() < 0.15:
            f.attrs.append("@hidden")
        if rng.random() < 0.15:
            f.attrs.append("@index")
        entity.fields.append(f)

    def _default(self, t: Type) -> str | None:
        rng = self.rng
        if t.optional and rng.random() < 0.3:
            return "none"
        match t.kind:
            case "str":
                return self._str_literal()
            case "int":
                return rng.choice(["0", "1", "-7", "42", "1000000000000"])
            case "float":
                return rng.choice(["0.0", "2.5", "-0.5", "100.0", "1.5e3"])
            case "bool":
                return rng.choice(["true", "false"])
            case "date":
                return "today()"
            case "datetime":
                return "now()"
            case "enum":
                plain = self._plain_members(t.name)
                if plain:
                    return rng.choice(plain)
                return self.plan.enums[t.name][0]
            case "list":
                return "[]"
            case "map":
                return "{}"
        return None

    def _str_literal(self) -> str:
        return '"' + self.rng.choice(STR_LITERALS) + '"'

    def _check(self, f: Field) -> str | None:
        rng = self.rng
        n = f.name
        match f.type.kind:
            case "int":
                return rng.choice(
                    [
                        f"{n} >= 0",
                        f"{n} > -100 and {n} <= 100000",
                        f"{n} != 13",
                        f"{n} >= 0 and {n} < 1000000",
                    ]
                )
            case "float":
                return rng.choice([f"{n} >= 0", f"{n} > -1.5", f"{n} <= 1000000.0"])
            case "str":
                if f.key:
                    return None
                return rng.choice(
                    [
                        f"len({n}) > 0",
                        f"len({n}) <= 40",
                        f"len({n}) == 6",
                        f'{n} != ""',
                        f"len({n}) >= 2 and len({n}) <= 30",
                    ]
                )
            case "enum":
                members = self._plain_members(f.type.name)
                if len(members) >= 2:
                    return f"{n} != {members[-1]}"
        return None

    def _field_text(self, f: Field) -> str:
        attrs = "".join(f" {a}" for a in f.attrs)
        return f"{f.name}: {f.type.text()}{attrs}{f.doc or ''}"

    def _entity_text(self, entity: Entity) -> str:
        sep = "\n  " if self.rng.random() < 0.7 else "  "
        body = sep.join(self._field_text(f) for f in entity.fields)
        return f"entity {entity.name}{entity.doc or ''} {{{sep}{body}\n}}"

    # ---- invariants

    def _invariants(self) -> None:
        rng = self.rng
        for entity in self.plan.entities.values():
            if rng.random() < 0.5:
                continue
            plain = [f for f in entity.fields if not f.key and not f.type.optional]
            ints = [f for f in plain if f.type.kind == "int"]
            strs = [f for f in plain if f.type.kind == "str"]
            lists = [f for f in plain if f.type.kind == "list"]
            options = []
            if ints:
                f = rng.choice(ints)
                options.append(f"{f.name} >= -1000000000")
                options.append(f"self.{f.name} < 1000000000000 or self.{f.name} >= 0")
            if strs:
                f = rng.choice(strs)
                options.append(f"len({f.name}) <= 500")
            if lists:
                f = rng.choice(lists)
                options.append(f"len({f.name}) <= 50")
                options.append(f"count(self.{f.name}) >= 0")
            if not options:
                continue
            name = self.names.lower()
            cond = rng.choice(options)
            self.out.append(f'invariant {name} on {entity.name}: {cond} else "{_text(rng)}"')
        for entity in self.plan.entities.values():
            if rng.random() < 0.7:
                continue
            name = self.names.lower()
            cross = [
                f"count({entity.name}.all()) <= 1000",
                f"count({entity.name}.all()) <= 2",
                f"all([count([y for y in {entity.name}.all() if y == x]) == 1 "
                f"for x in {entity.name}.all()])",
                f"len({entity.name}.all()) >= 0",
            ]
            uniq = [
                f
                for f in entity.fields
                if f.type.kind in ("str", "int") and not f.key and not f.type.optional
            ]
            if uniq:
                u = rng.choice(uniq)
                cross.append(
                    f"all([count({entity.name}.where({u.name}: x.{u.name})) <= 3 "
                    f"for x in {entity.name}.all()])"
                )
            msg = rng.choice(
                [f'"{_text(rng)}"', f'format("{{}} rows", count({entity.name}.all()))']
            )
            self.out.append(f"invariant {name}: {rng.choice(cross)} else {msg}")

    def _transitions(self) -> None:
        """Allowed moves of required enum fields: a chain, sometimes a group into one more
        state or a way back, and the states left over alone."""
        rng = self.rng
        for entity in self.plan.entities.values():
            for f in entity.fields:
                t = f.type
                if t.kind != "enum" or t.optional or f.key or f.derived or rng.random() < 0.5:
                    continue
                states = list(dict.fromkeys(self.plan.enums[t.name]))
                rng.shuffle(states)
                k = rng.randint(1, len(states))
                chain, rest = states[:k], states[k:]
                lines = [" -> ".join(chain)]
                if rest and rng.random() < 0.6:
                    group = rng.sample(chain, min(len(chain), rng.choice([1, 2, 3])))
                    lines.append(f"{', '.join(group)} -> {rest.pop(0)}")
                if len(chain) > 2 and rng.random() < 0.3:
                    lines.append(f"{chain[-1]} -> {chain[0]}")  # a way back
                lines += rest  # states no write enters or leaves
                sep = rng.choice(["; ", "\n  ", " "])
                self.out.append(f"transitions {entity.name}.{f.name} {{ {sep.join(lines)} }}")

    # ---- tools

    def _tool(
        self,
        params: list[str],
        returns: str | None,
        body: list[str],
        writes: bool,
        effects: str = "",
    ) -> None:
        rng = self.rng
        name = self.names.lower()
        doc = f'"{_text(rng)}" ' if rng.random() < 0.6 else ""
        head = f"tool {name}({', '.join(params)})"
        if returns:
            head += f" -> {returns}"
        if effects:
            head += f" {effects}"
        sep = "\n  " if rng.random() < 0.8 else " "
        self.out.append(f"{head} {{{sep}{doc}{sep.join(body)}\n}}")
        self.tools.append((name, writes))

    def _param(self, name: str, t: Type, default: str | None = None) -> str:
        doc = _doc(self.rng, 0.3)
        if default is not None:
            return f"{name}: {t.text()} = {default}{doc}"
        return f"{name}: {t.text()}{doc}"

    def _key_params(self, entity: Entity, reuse: bool = False) -> tuple[list[str], list[str]]:
        """Parameters naming one record of the entity, and the lookup's key expressions; with
        `reuse`, often named as the key fields, so that calls can be drawn from the data."""
        params, exprs = [], []
        for f in entity.keys:
            t = f.type
            if t.kind == "ref":
                t = self._key_fields(t.name)[0].type
                while t.kind == "ref":
                    t = self._key_fields(t.name)[0].type
            pname = f.name if reuse and self.rng.random() < 0.6 else self.names.lower()
            if t.kind == "str" and self.rng.random() < 0.2:  # an id format datagen may follow
                example = self.rng.choice(["K-0001", "X9", "\u00e9A01", "ab_12"])
                params.append(f"{pname}: str \"The id, e.g. '{example}'\"")
            else:
                params.append(self._param(pname, t.required()))
            exprs.append(pname)
        return params, exprs

    def _tools_for(self, entity: Entity) -> None:
        rng = self.rng
        e = entity.name
        kp, kx = self._key_params(entity, reuse=True)
        look = f"{e}[{', '.join(kx)}]"
        # a lookup
        if rng.random() < 0.8:
            effects = f"reads {e}" if rng.random() < 0.3 else ""
            self._tool(kp, e, [f"return {look}"], False, effects)
        # a lookup that may find nothing
        if rng.random() < 0.4 and len(kx) == 1:
            r = self.names.lower()
            self._tool(
                kp,
                f"{e}?",
                [f"let {r} = {e}.get({kx[0]})", f"if {r} == none {{ return none }}", f"return {r}"],
                False,
            )
        # everything, sorted, with no parameters
        if rng.random() < 0.5:
            by = rng.choice(
                [f for f in entity.fields if f.type.kind in [*SCALARS, "enum"]] or [None]
            )
            if by is not None:
                desc = rng.choice(["", ", desc: true", ", desc: false"])
                self._tool(
                    [], f"list<{e}>", [f'return sorted({e}.all(), by: "{by.name}"{desc})'], False
                )
            else:
                self._tool([], f"list<{e}>", [f"return {e}.all()"], False)
        if rng.random() < 0.3:
            self._tool([], "int", [f"return count({e}.all())"], False)
        # a query by one field
        plain = [
            f
            for f in entity.fields
            if f.type.kind in ("str", "int", "bool", "enum", "date") and not f.type.optional
        ]
        if plain and rng.random() < 0.6:
            f = rng.choice(plain)
            p = self.names.lower()
            self._tool(
                [self._param(p, f.type)], f"list<{e}>", [f"return {e}.where({f.name}: {p})"], False
            )
        # a comprehension over a field
        if plain and rng.random() < 0.4:
            f = rng.choice(plain)
            x = self.names.lower()
            cond = self._bool_over(f"{x}.{f.name}", f.type)
            self._tool(
                [],
                f"list<{f.type.text()}>",
                [f"return [{x}.{f.name} for {x} in {e}.all() if {cond}]"],
                False,
            )
        # writes
        settable = [f for f in entity.fields if not f.key and not f.derived]
        for f in rng.sample(settable, min(len(settable), rng.choice([0, 1, 1, 2, 3]))):
            self._setter(entity, f, kp, look)
        if rng.random() < 0.5:
            self._inserter(entity)
        if rng.random() < 0.3:
            r = self.names.lower()
            returns = rng.choice([None, "str"])
            end = 'return "deleted"' if returns else "return"
            self._tool(kp, returns, [f"let {r} = {look}", f"delete {r}", end], True)
        if settable and rng.random() < 0.3:
            self._loop_writer(entity)

    def _bool_over(self, subject: str, t: Type) -> str:
        rng = self.rng
        match t.kind:
            case "str":
                return rng.choice(
                    [
                        f"len({subject}) > 0",
                        f'startswith({subject}, "A")',
                        f'"a" in lower({subject})',
                        f'{subject} != ""',
                    ]
                )
            case "int":
                return rng.choice(
                    [f"{subject} > 0", f"{subject} % 2 == 0", f"abs({subject}) < 100"]
                )
            case "bool":
                return rng.choice([subject, f"not {subject}"])
            case "enum":
                plain = self._plain_members(t.name)
                return f"{subject} != {plain[0]}" if plain else "true"
            case "date":
                return rng.choice(
                    [f"{subject} <= today()", f"days_between({subject}, today()) >= 0"]
                )
        return "true"

    def _setter(self, entity: Entity, f: Field, kp: list[str], look: str) -> None:
        rng = self.rng
        r = self.names.lower()
        body = [f"let {r} = {look}"]
        params = list(kp)
        t = f.type
        base = t.required()
        if t.kind == "ref":
            target = self.plan.entities[t.name]
            tp, tx = self._key_params(target, reuse=target is not entity)
            params += tp
            value = f"{t.name}[{tx[0]}]"
            if t.optional and rng.random() < 0.3:
                value = "none"
            body.append(f"set {r}.{f.name} = {value}")
        elif t.kind == "list" and base.item is not None and base.item.kind == "ref":
            target = self.plan.entities[base.item.name]
            tp, tx = self._key_params(target)
            params += tp
            body.append(f'require count({r}.{f.name}) < 40 else "full"')
            body.append(f"set {r}.{f.name} = {r}.{f.name} + [{tx[0]}]")
            if rng.random() < 0.5:  # what it holds, followed to the records' keys
                x = self.names.lower()
                body.append(f"return [str({x}) for {x} in {r}.{f.name}]")
                self._tool(params, "list<str>", body, True)
                return
        elif t.kind == "list" and base.item is not None and base.item.kind in [*SCALARS, "enum"]:
            p = self.names.lower()
            params.append(self._param(p, base.item))
            if t.optional:
                body.append(f"set {r}.{f.name} = [{p}]")
            else:
                body.append(f'require count({r}.{f.name}) < 40 else "full"')
                body.append(f"set {r}.{f.name} = {r}.{f.name} + [{p}]")
        elif (
            t.kind == "map"
            and not t.optional
            and base.item is not None
            and base.item.kind in [*SCALARS, "enum"]
        ):
            k, v = self.names.lower(), self.names.lower()
            params += [self._param(k, base.key), self._param(v, base.item)]  # type: ignore[arg-type]
            if rng.random() < 0.5:
                body.append(f"set {r}.{f.name}[{k}] = {v}")
            else:
                body.append(f'require {k} in {r}.{f.name} else format("no {{}}", {k})')
                body.append(f"delete {r}.{f.name}[{k}]")
        elif t.kind in [*SCALARS, "enum"]:
            p = self.names.lower()
            ptype = Type(t.kind, t.name, optional=t.optional)
            default = "none" if t.optional and rng.random() < 0.5 else None
            params.append(self._param(p, ptype, default))
            value = p
            if t.kind == "int" and not t.optional and rng.random() < 0.5:
                value = rng.choice(
                    [f"{r}.{f.name} + {p}", f"max({p}, 0)", f"abs({p})", f"{p} * 2 - {p}"]
                )
            elif t.kind == "str" and not t.optional and rng.random() < 0.5:
                value = rng.choice(
                    [
                        f"strip({p})",
                        f"lower({p})",
                        f'format("{{}}", {p})',
                        f'replace({p}, " ", "_")',
                    ]
                )
            elif t.kind == "float" and not t.optional and rng.random() < 0.5:
                value = rng.choice([f"round({p}, 2)", f"{r}.{f.name} + {p}", f"{p} / 4"])
            if rng.random() < 0.5:
                body.append(self._require(p, ptype))
            body.append(f"set {r}.{f.name} = {value}")
        else:
            return
        body.append(rng.choice([f"return {r}", f"return {r}.{f.name}", "return"]))
        returns = {f"return {r}": entity.name, f"return {r}.{f.name}": None, "return": None}[
            body[-1]
        ]
        if body[-1] == f"return {r}.{f.name}":
            # A reference held in a list or map is no record of it: `-> list<E>` is E201.
            held = t.item is not None and t.item.kind == "ref"
            returns = t.text() if t.kind != "ref" and not held else None
            if returns is None:
                body[-1] = f"return {r}"
                returns = entity.name
        self._tool(params, returns, body, True)

    def _require(self, p: str, t: Type) -> str:
        rng = self.rng
        msg = rng.choice([f'"{_text(rng)}"', f'format("bad value {{}}", {p})'])
        if t.optional:
            return f"require {p} == none or {p} != none else {msg}"
        cond = {
            "str": f"len({p}) < 1000",
            "int": f"{p} >= -1000000000000",
            "float": f"{p} == {p} or {p} != {p}",
            "bool": f"{p} or not {p}",
            "date": f'{p} >= date("0001-01-01")',
            "datetime": rng.choice(
                [f"{p} <= add_days(now(), 100000) or true", f"minutes_between({p}, {p}) == 0"]
            ),
            "enum": "true",
        }[t.kind]
        return f"require {cond} else {msg}"

    def _value_for(self, t: Type, depth: int = 0) -> str | None:
        """An expression of type t built from literals and built-ins, for inserts."""
        rng = self.rng
        if t.optional and rng.random() < 0.3:
            return "none"
        match t.kind:
            case "str":
                return rng.choice(
                    [
                        self._str_literal(),
                        'format("{}-{}", 1, "x")',
                        "money(12.5)",
                        'format("{:,.2f}", 1234.567)',
                        'upper("abc")',
                        'join(["a", "b"], "/")',
                    ]
                )
            case "int":
                return rng.choice(
                    ["0", "7", 'len("abc")', "min(3, 9)", 'int("12")', "count([1, 2])"]
                )
            case "float":
                return rng.choice(
                    ["1.5", "round(2.345, 2)", "float(3)", 'evaluate("2 * (3 + 4)")', "abs(-2.5)"]
                )
            case "bool":
                return rng.choice(["true", "false", '"a" in ["a"]', "any([true, false])"])
            case "date":
                return rng.choice(
                    ["today()", "add_days(today(), 3)", 'date("2024-02-29")', "date(now())"]
                )
            case "datetime":
                return rng.choice(
                    [
                        "now()",
                        "add_days(now(), -2)",
                        'datetime("2024-01-01T00:00:00")',
                        "add_hours(now(), 5)",
                        "add_minutes(now(), -45)",
                    ]
                )
            case "enum":
                plain = self._plain_members(t.name)
                return rng.choice(plain) if plain else None
            case "list":
                assert t.item is not None
                if depth > 1 or rng.random() < 0.4:
                    return "[]"
                item = self._value_for(t.item.required(), depth + 1)
                return f"[{item}]" if item is not None else "[]"
            case "map":
                return "{}"
            case "struct":
                args = []
                for f in self.plan.structs[t.name]:
                    if (
                        f.attrs
                        and any(a.startswith("@default") for a in f.attrs)
                        and rng.random() < 0.5
                    ):
                        continue
                    if f.type.optional and rng.random() < 0.5:
                        continue
                    v = self._value_for(f.type, depth + 1)
                    if v is None:
                        return None
                    args.append(f"{f.name}: {v}")
                return f"{t.name}({', '.join(args)})"
        return None

    def _inserter(self, entity: Entity) -> None:
        rng = self.rng
        params: list[str] = []
        args: list[str] = []
        lets: list[str] = []
        for f in entity.fields:
            if f.derived:
                continue  # computed on insert; giving it is E710
            has_default = any(a.startswith("@default") for a in f.attrs)
            if (has_default or f.type.optional) and not f.key and rng.random() < 0.6:
                continue
            t = f.type
            if f.key and t.kind == "str" and len(entity.keys) == 1 and rng.random() < 0.7:
                prefix = rng.choice(["X", "K-", "\u00e9", "ID", ""]) or "Z"
                fn = rng.choice(
                    [
                        f'free_key({entity.name}, "{prefix}A0")',
                        f'next_key({entity.name}, "{prefix}", 3)',
                        f'next_key({entity.name}, "{prefix}")',
                    ]
                )
                if not self._has_str_checks(f):
                    args.append(f"{f.name}: {fn}")
                    continue
            if t.kind == "ref":
                target = self.plan.entities[t.name]
                if len(target.keys) != 1:
                    return
                tp, tx = self._key_params(target)
                if target is entity:
                    if f.key:
                        return
                    params += tp
                    row = self.names.lower()
                    lets.append(f"let {row} = {t.name}.get({tx[0]})")
                    args.append(
                        f"{f.name}: {row}" if t.optional else f"{f.name}: {t.name}[{tx[0]}]"
                    )
                    continue
                params += tp
                args.append(f"{f.name}: {t.name}[{tx[0]}]")
                continue
            if t.kind in [*SCALARS, "enum"] and rng.random() < 0.7:
                p = self.names.lower()
                params.append(self._param(p, t))
                args.append(f"{f.name}: {p}")
                continue
            if t.kind == "list" and t.item is not None and t.item.kind == "ref":
                args.append(f"{f.name}: []")
                continue
            v = self._value_for(t)
            if v is None:
                return
            args.append(f"{f.name}: {v}")
        sep = ", " if rng.random() < 0.5 else ",\n    "
        body = [*lets, f"return insert {entity.name}({sep.join(args)})"]
        if rng.random() < 0.4:
            r = self.names.lower()
            body = [*lets, f"let {r} = insert {entity.name}({sep.join(args)})", f"return {r}"]
        self._tool(params, entity.name, body, True)

    def _has_str_checks(self, f: Field) -> bool:
        return any(a.startswith("@check") for a in f.attrs)

    def _loop_writer(self, entity: Entity) -> None:
        rng = self.rng
        writable = [f for f in entity.fields if not f.key and not f.type.optional and not f.derived]
        ints = [f for f in writable if f.type.kind == "int"]
        bools = [f for f in writable if f.type.kind == "bool"]
        x = self.names.lower()
        n = self.names.lower()
        if ints:
            f = rng.choice(ints)
            v = f"{x}.{f.name}"
            body = [
                f"let {n} = 0",
                f"for {x} in {entity.name}.all() {{",
                f"    if {v} < 0 {{ set {v} = 0 }} else if {v} > 1000000 {{ set {n} = {n} + 1 }}"
                f" else {{ set {n} = {n} }}",
                "  }",
                f"return {n}",
            ]
            self._tool([], "int", body, True)
        elif bools:
            f = rng.choice(bools)
            p = self.names.lower()
            body = [
                f"for {x} in {entity.name}.all() {{ set {x}.{f.name} = {p} }}",
                f"return count({entity.name}.all())",
            ]
            self._tool([self._param(p, Type("bool"))], "int", body, True)

    def _misc_tools(self) -> None:
        """Tools over parameters of every type and the built-ins, touching no entity."""
        rng = self.rng
        for _ in range(rng.choice([0, 1, 2, 3])):
            kind = rng.choice(
                [
                    *("text", "numbers", "dates", "lists", "maps", "struct", "fail", "empty"),
                    *("choices", "times", "money", "times", "money"),
                ]
            )
            getattr(self, f"_misc_{kind}")()

    def _misc_text(self) -> None:
        rng = self.rng
        s, sep, parts = self.names.lower(), self.names.lower(), self.names.lower()
        result = rng.choice(
            [
                f"join(reversed({parts}), {sep})",
                f"upper(join(unique({parts}), {sep}))",
                f'format("{{}} parts: {{}}", len({parts}), strip({s}))',
                f'replace(lower({s}), {sep}, "")',
            ]
        )
        body = [
            f'require len({sep}) > 0 else "the separator is empty"',
            f"let {parts} = split({s}, {sep})",
            f"return {result}",
        ]
        params = [self._param(s, Type("str")), self._param(sep, Type("str"), '","')]
        self._tool(params, "str", body, False)

    def _misc_numbers(self) -> None:
        rng = self.rng
        a, b, c = self.names.lower(), self.names.lower(), self.names.lower()
        expr = rng.choice(
            [
                f"round({a} * {b} + {c}, 2)",
                f"float(max({a}, {b}, 0)) + {c}",
                f"abs({c}) + float({a} % 7)",
                f'evaluate(format("{{}} + {{}}", {a}, {b})) + {c}',
                f"float(sum([{a}, {b}])) / 3.0",
                f"round({c}) + float(min({a}, {b}))",
            ]
        )
        body = [f'require {b} != 0 else "b is zero"', f"return {expr}"]
        self._tool(
            [
                self._param(a, Type("int")),
                self._param(b, Type("int"), "1"),
                self._param(c, Type("float"), "0.5"),
            ],
            "float",
            body,
            False,
        )

    def _misc_dates(self) -> None:
        d, t, n, later = (self.names.lower() for _ in range(4))
        body = [
            f'require {n} >= -3650 and {n} <= 3650 else "too far"',
            f"let {later} = add_days({d}, {n})",
            f"if {later} > today() {{ return days_between(today(), {later}) }}",
            f"return days_between(date({t}), {later})",
        ]
        self._tool(
            [
                self._param(d, Type("date")),
                self._param(t, Type("datetime")),
                self._param(n, Type("int"), "0"),
            ],
            "int",
            body,
            False,
        )

    def _misc_times(self) -> None:
        """Hours and minutes on datetimes, with no bound on the amount: a result out of the
        calendar must fail the call, not the environment."""
        rng = self.rng
        t, u, n = self.names.lower(), self.names.lower(), self.names.lower()
        shift = rng.choice([f"add_hours({t}, {n})", f"add_minutes({t}, {n})"])
        result = rng.choice(
            [
                f"hours_between({t}, {shift})",
                f"minutes_between({shift}, {u})",
                f"hours_between({u}, {t}) + minutes_between({t}, {u})",
            ]
        )
        body = [f"if {shift} > {u} {{ return {result} }}", "return 0"]
        if rng.random() < 0.5:
            body.insert(0, f'require {n} >= -100000 and {n} <= 100000 else "too far"')
        self._tool(
            [
                self._param(t, Type("datetime")),
                self._param(u, Type("datetime"), "now()" if rng.random() < 0.3 else None),
                self._param(n, Type("int"), "0"),
            ],
            "int",
            body,
            False,
        )

    def _misc_money(self) -> None:
        """Number formatting, in results and in failure messages."""
        rng = self.rng
        x, k = self.names.lower(), self.names.lower()
        spec = rng.choice(["{:,.2f}", "{:.0f}", "{:10.3f}", "{:,.1f}", "{:,}", "{:8.2f}", "{:12}"])
        shown = rng.choice(
            [f"money({x})", f'format("{spec}", {x})', f'format("{spec} x {{}}", {x}, {k})']
        )
        body = [
            f"require {x} < 1000000000.0 else "
            f'format("at most {{:,.2f}}, not {{:,.2f}}", 1000000000.0, {x})',
            f'if {k} < 0 {{ fail format("{{}} is below zero: {{}}", {k}, money(float({k}))) }}',
            f"return {shown}",
        ]
        self._tool(
            [self._param(x, Type("float")), self._param(k, Type("int"), "1")], "str", body, False
        )

    def _misc_lists(self) -> None:
        xs, ys, both, y, v = (self.names.lower() for _ in range(5))
        body = [
            f'let {both} = {xs} + [len({y}) for {y} in {ys} if not endswith({y}, "x")]',
            f"for {v} in range(1, 4) {{ if {v} not in {both} {{ set {both} = {both} + [{v}] }} }}",
            f"return sorted(unique([{v} * 2 for {v} in {both} if {v} >= 0]), desc: true)",
        ]
        self._tool(
            [
                self._param(xs, Type("list", item=Type("int"))),
                self._param(ys, Type("list", item=Type("str")), "[]"),
            ],
            "list<int>",
            body,
            False,
        )

    def _misc_maps(self) -> None:
        m, k, total, found = (self.names.lower() for _ in range(4))
        body = [
            f"let {total} = sum(values({m}))",
            f"let {found} = get({m}, {k}, -1)",
            f'return format("{{}} {{}} {{}}", len(keys({m})), {total}, {found})',
        ]
        self._tool(
            [
                self._param(m, Type("map", key=Type("str"), item=Type("int"))),
                self._param(k, Type("str")),
            ],
            "str",
            body,
            False,
        )

    def _misc_struct(self) -> None:
        if not self.plan.structs:
            return self._misc_empty()
        rng = self.rng
        name = rng.choice(list(self.plan.structs))
        p = self.names.lower()
        optional = rng.random() < 0.3
        t = Type("struct", name, optional=optional)
        body = [f"return {p}"]
        self._tool([self._param(p, t, "none" if optional else None)], t.text(), body, False)

    def _misc_fail(self) -> None:
        rng = self.rng
        p = self.names.lower()
        body = [f'if {p} {{ fail "{_text(rng)}" }}', f'return "{_text(rng)}"']
        self._tool([self._param(p, Type("bool"))], "str", body, False)

    def _misc_empty(self) -> None:
        returns = self.rng.choice([None, "str"])
        self._tool([], returns, ['return "ok"'] if returns else ["return"], False)

    def _misc_choices(self) -> None:
        p, q = self.names.lower(), self.names.lower()
        body = [
            f'require {p} in ["one", "tw\u00f6"] else "pick one"',
            f'return format("{{}}{{}}", {p}, {q})',
        ]
        self._tool(
            [f'{p}: str @choices("one", "tw\u00f6", "three")', f"{q}: int @choices(1, 2, 3) = 2"],
            "str",
            body,
            False,
        )

    # ---- policies

    def _policies(self) -> None:
        rng = self.rng
        reads = [n for n, w in self.tools if not w]
        writes = [n for n, w in self.tools if w]
        if not self.tools or rng.random() < 0.5:
            return
        rules = []
        if reads and writes and rng.random() < 0.6:
            rules.append(f"before writes require {'|'.join(rng.sample(reads, min(2, len(reads))))}")
        if writes and rng.random() < 0.5:
            rules.append(f"at most {rng.choice([1, 2, 5, 100])} {rng.choice(writes)}")
        if len(self.tools) >= 2 and rng.random() < 0.4:
            a, b = rng.sample([n for n, _ in self.tools], 2)
            rules.append(f"before {a} require {b}")
        if rng.random() < 0.3:
            rules.append(f"at most {rng.choice([3, 50])} {rng.choice(['any', 'reads', 'writes'])}")
        self.out.append(f"policy {self.names.lower()}{_doc(rng)} {{ {'  '.join(rules)} }}")


def odd_spec(seed: int) -> str:
    """One valid, unusual spec text, the same for the same seed."""
    return SpecWriter(seed).write()
