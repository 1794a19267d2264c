"""Pass: names that the generated modules and the database can hold.

Spec names become Python identifiers (models.py, tools.py) and SQLite tables and columns.
What cannot be one is refused here, with the reason; what can be accepted by writing the
generated code differently is accepted (see codegen/models.py: a field may be named like a
type). The rules are listed in docs/design.md, "Names, literals and sizes".
"""

from __future__ import annotations

import keyword

from envscale.compiler.check_entities import column_name
from envscale.compiler.context import Compilation
from envscale.compiler.symbols import RecordInfo
from envscale.dsl import ast

# Names that generated Python (models.py, tools.py) binds at module level, the Python types
# its annotations name, or names pydantic keeps for itself: a type or tool named so would
# break the generated module.
MODULE_NAMES = frozenset(
    {
        "Annotated",
        "Literal",
        "BaseModel",
        "ConfigDict",
        "Field",
        "StringConstraints",
        "Date",
        "DateTime",
        "STRUCTS",
        "ENTITIES",
        "ARGUMENTS",
        "TOOLS",
        "INVARIANTS",
        "AFFECTED_BY",
        "DERIVED",
        "annotations",
        "lib",
        "db",
        "Db",
        "ToolError",
        "dict",
        "tuple",
        "object",
    }
)
PYDANTIC_NAMES = frozenset(
    {
        "model_config",
        "model_fields",
        "model_computed_fields",
        "model_extra",
        "model_fields_set",
        "model_construct",
        "model_copy",
        "model_dump",
        "model_dump_json",
        "model_json_schema",
        "model_parametrized_name",
        "model_post_init",
        "model_rebuild",
        "model_validate",
        "model_validate_json",
        "model_validate_strings",
    }
)


def check_names(c: Compilation) -> None:
    invariant_functions = {
        f"check_{d.name}" for d in c.module.declarations if isinstance(d, ast.Invariant)
    } | {
        f"derive_{d.name}_{f.name}"
        for d in c.module.declarations
        if isinstance(d, ast.Entity)
        for f in d.fields
        if any(a.name == "derived" for a in f.attributes)
    }
    tables: dict[str, ast.Entity] = {}
    for decl in c.module.declarations:
        match decl:
            case ast.Enum() | ast.Struct() | ast.Entity():
                what = f"{type(decl).__name__.lower()} name"
                _reserved(c, decl.name, decl.span, what, MODULE_NAMES | PYDANTIC_NAMES)
                for f in getattr(decl, "fields", ()):
                    _reserved(c, f.name, f.span, "field name", PYDANTIC_NAMES)
                if isinstance(decl, ast.Entity):
                    _table_name(c, decl, tables)
            case ast.Tool():
                _reserved(
                    c, decl.name, decl.name_span, "tool name", MODULE_NAMES | invariant_functions
                )
                for p in decl.params:
                    _reserved(c, p.name, p.span, "parameter name", PYDANTIC_NAMES)
            case ast.Invariant() | ast.Policy():
                _underscore(c, decl.name, decl.span, f"{type(decl).__name__.lower()} name")
    for name, record in c.symbols.entities.items():
        if tables.get(name.lower()) is record.decl:
            _column_names(c, record)


def _reserved(c: Compilation, name: str, span: ast.Span, what: str, extra: frozenset[str]) -> None:
    if keyword.iskeyword(name):
        c.error(
            "E110",
            f"{what} '{name}' is a Python keyword",
            span,
            "names become Python identifiers in the generated code; choose another, e.g. "
            f"'{name}_'",
        )
    elif name in extra:
        c.error(
            "E110",
            f"{what} '{name}' clashes with a name the generated code uses",
            span,
            f"choose another name, e.g. '{name}_'",
        )
    else:
        _underscore(c, name, span, what)


def _underscore(c: Compilation, name: str, span: ast.Span, what: str) -> None:
    # pydantic takes a leading underscore for a private attribute, never an argument or a
    # field, and Python gives dunder names meanings of their own (`__builtins__`).
    if name.startswith("_"):
        c.error(
            "E110",
            f"{what} '{name}' begins with an underscore",
            span,
            f"names may not begin with '_'; choose another, e.g. '{name.lstrip('_') or 'x'}'",
        )


def _table_name(c: Compilation, decl: ast.Entity, tables: dict[str, ast.Entity]) -> None:
    folded = decl.name.lower()
    if folded.startswith("sqlite_"):
        c.error(
            "E110",
            f"entity name '{decl.name}' is reserved by SQLite",
            decl.span,
            "SQLite keeps table names beginning with 'sqlite_' for itself; choose another",
        )
    first = tables.get(folded)
    if first is None:
        tables[folded] = decl
    elif first.name != decl.name:
        c.error(
            "E101",
            f"entity '{decl.name}' differs from entity '{first.name}' only in case",
            decl.span,
            f"SQLite table names ignore case; the first is at {first.span}",
        )


def _column_names(c: Compilation, record: RecordInfo) -> None:
    """SQLite column names ignore case, and a reference `x` is stored as the column `x_id`."""
    seen: dict[str, str] = {}
    for info in record.fields.values():
        column = column_name(record, info.name)
        first = seen.setdefault(column.lower(), info.name)
        if first == info.name:
            continue
        c.error(
            "E107",
            f"field '{info.name}' of '{record.name}' is stored in the same column as "
            f"'{first}' ('{column}')",
            info.decl.span,
            "SQLite column names ignore case, and a reference field 'x' is stored as 'x_id'; "
            "rename one of them",
        )
