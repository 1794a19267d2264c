"""The compiler's types. Values of these types are what generated code passes around."""

from __future__ import annotations

from dataclasses import dataclass

PRIMITIVES = ("str", "int", "float", "bool", "date", "datetime")


@dataclass(frozen=True, slots=True)
class Prim:
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class EnumT:
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class StructT:
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class RowT:
    """A record of an entity read from the database."""

    entity: str

    def __str__(self) -> str:
        return self.entity


@dataclass(frozen=True, slots=True)
class RefT:
    """A field that refers to a record of another entity: holds that record's key."""

    entity: str

    def __str__(self) -> str:
        return f"ref {self.entity}"


@dataclass(frozen=True, slots=True)
class ListT:
    item: Type

    def __str__(self) -> str:
        return f"list<{self.item}>"


@dataclass(frozen=True, slots=True)
class MapT:
    key: Type
    value: Type

    def __str__(self) -> str:
        return f"map<{self.key}, {self.value}>"


@dataclass(frozen=True, slots=True)
class OptionalT:
    inner: Type

    def __str__(self) -> str:
        return f"{self.inner}?"


@dataclass(frozen=True, slots=True)
class NoneT:
    def __str__(self) -> str:
        return "none"


@dataclass(frozen=True, slots=True)
class AnyT:
    """The type of an expression that already has an error: accepted everywhere."""

    def __str__(self) -> str:
        return "unknown"


@dataclass(frozen=True, slots=True)
class EntityClass:
    """The type of an entity's name in an expression: `Order[id]`, `Order.where(...)`."""

    entity: str

    def __str__(self) -> str:
        return f"entity {self.entity}"


@dataclass(frozen=True, slots=True)
class EnumClass:
    name: str

    def __str__(self) -> str:
        return f"enum {self.name}"


@dataclass(frozen=True, slots=True)
class StructClass:
    name: str

    def __str__(self) -> str:
        return f"struct {self.name}"


@dataclass(frozen=True, slots=True)
class Method:
    """An entity query method before it is called: `Order.where`."""

    entity: str
    name: str

    def __str__(self) -> str:
        return f"{self.entity}.{self.name}"


@dataclass(frozen=True, slots=True)
class ToolFn:
    """A tool named in another tool's body, before it is called: `search_network()`."""

    name: str

    def __str__(self) -> str:
        return f"tool {self.name}"


Type = (
    Prim
    | EnumT
    | StructT
    | RowT
    | RefT
    | ListT
    | MapT
    | OptionalT
    | NoneT
    | AnyT
    | EntityClass
    | EnumClass
    | StructClass
    | Method
    | ToolFn
)

STR, INT, FLOAT, BOOL = Prim("str"), Prim("int"), Prim("float"), Prim("bool")
DATE, DATETIME = Prim("date"), Prim("datetime")
NONE, ANY = NoneT(), AnyT()
NUMERIC = (INT, FLOAT)


def strip_optional(t: Type) -> Type:
    return t.inner if isinstance(t, OptionalT) else t


def optional(t: Type) -> Type:
    return t if isinstance(t, OptionalT | AnyT | NoneT) else OptionalT(t)


def is_json(t: Type) -> bool:
    """Stored as JSON text in SQLite."""
    return isinstance(strip_optional(t), StructT | ListT | MapT)


def nested_refs(t: Type) -> list[str]:
    """The entities a collection or struct-field type refers to inside it (not a direct
    reference): `list<ref E>` and `map<str, ref E>` refer to E."""
    t = strip_optional(t)
    match t:
        case ListT():
            return all_refs(t.item)
        case MapT():
            return all_refs(t.value)
    return []


def all_refs(t: Type) -> list[str]:
    """The entities a type refers to, directly or inside lists and maps."""
    base = strip_optional(t)
    return [base.entity] if isinstance(base, RefT) else nested_refs(base)


def entity_of(t: Type) -> str | None:
    t = strip_optional(t)
    return t.entity if isinstance(t, RowT | RefT) else None


# The types whose values order with < and >, each among its own kind (numbers together).
COMPARABLE_ORDER = (INT, FLOAT, STR, DATE, DATETIME)


def assignable(src: Type, dst: Type) -> bool:
    """Whether a value of type src may be stored where dst is expected."""
    if src is dst or src == dst or isinstance(src, AnyT) or isinstance(dst, AnyT):
        return True
    if isinstance(dst, OptionalT):
        return isinstance(src, NoneT) or assignable(strip_optional(src), dst.inner)
    if isinstance(src, OptionalT):
        return False
    if src == INT and dst == FLOAT:
        return True
    if isinstance(src, RowT | RefT) and isinstance(dst, RowT | RefT):
        return src.entity == dst.entity and (isinstance(dst, RefT) or isinstance(src, RowT))
    if isinstance(src, ListT) and isinstance(dst, ListT):
        return assignable(src.item, dst.item)
    if isinstance(src, MapT) and isinstance(dst, MapT):
        return assignable(src.key, dst.key) and assignable(src.value, dst.value)
    return False


def unify(a: Type, b: Type) -> Type | None:
    """The common type of two values (list items, branches), or None."""
    if assignable(a, b):
        return b if not isinstance(b, AnyT) else a
    if assignable(b, a):
        return a
    if isinstance(a, NoneT):
        return optional(b)
    if isinstance(b, NoneT):
        return optional(a)
    return None
