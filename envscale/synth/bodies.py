"""Tool bodies by kind, in the spec language.

    lookup      let r = E[key]; the references it names must match; return r
    many        [E[k] for k in keys]
    collection  the records of X that refer to the given ones: X.where(ref: k, ...)
    search      X's records whose fields equal the given filters, a query matched as text
    external    a table keyed by the arguments: the same arguments, the same answer
    create      insert X(key: next_key(X, "PFX", 4), fields...) after its requirements
    update      set the fields given; delete: delete the record; status: a declared move

Every body starts with what its parameters require: amounts positive, numbers within the
schema's minimum and maximum, numbers among their allowed values.
"""

from __future__ import annotations

from envscale.synth.model import POSITIVE_WORDS, DomainModel, EntityPlan, ToolPlan, article
from envscale.synth.nouns import Namer, phrase, snake, words
from envscale.synth.params import Param, SpecType, quote

INDENT = "  "


def body(plan: ToolPlan, model: DomainModel) -> tuple[str, list[str]]:
    """The tool's return type and the lines of its body."""
    return _Body(plan, model).write()


def nullable(p: Param) -> bool:
    return not p.required and p.default is None


def _number(value: float, base: str) -> str:
    if base == "int":
        return str(int(value)) if value == int(value) else str(value)
    return repr(float(value))


class _Body:
    def __init__(self, plan: ToolPlan, model: DomainModel):
        self.plan = plan
        self.model = model
        self.params = {p.name: p for p in plan.params}
        self.locals = Namer({p.name for p in plan.params})
        self.lines: list[str] = []

    def line(self, text: str, depth: int = 0) -> None:
        self.lines.append(INDENT * (depth + 1) + text)

    def entity(self, name: str) -> EntityPlan:
        return self.model.entities[name]

    def write(self) -> tuple[str, list[str]]:
        self.requirements()
        action = self.plan.action
        returns = getattr(self, f"_{action}")()
        return returns, self.lines

    # ---- requirements of the parameters

    def requirements(self) -> None:
        for p in self.plan.params:
            checks: list[tuple[str, str]] = []
            if p.type.numeric and POSITIVE_WORDS & set(p.words):
                checks.append((f"{p.name} > 0", f"The {phrase(p.words)} must be positive"))
            positive = bool(checks)
            if p.type.numeric and p.minimum is not None and not (positive and p.minimum <= 0):
                low = _number(p.minimum, p.type.base)
                checks.append(
                    (f"{p.name} >= {low}", f"The {phrase(p.words)} must be at least {low}")
                )
            if p.type.numeric and p.maximum is not None:
                high = _number(p.maximum, p.type.base)
                checks.append(
                    (f"{p.name} <= {high}", f"The {phrase(p.words)} must be at most {high}")
                )
            if p.choices:
                listed = ", ".join(_number(v, p.type.base) for v in p.choices)
                checks.append(
                    (f"{p.name} in [{listed}]", f"The {phrase(p.words)} must be one of {listed}")
                )
            if not checks:
                continue
            if nullable(p):
                self.line(f"if {p.name} != none {{")
                for cond, message in checks:
                    self.line(f"require {cond} else {quote(message)}", 1)
                self.line("}")
            else:
                for cond, message in checks:
                    self.line(f"require {cond} else {quote(message)}")

    # ---- helpers

    def key_expr(self, entity: str, p: Param, value: str | None = None) -> str:
        """The parameter (or `value`) converted to the entity's key type."""
        key_type = self.entity(entity).key_type.base
        given = p.type.base if p.type.base != "list" else p.type.text[5:-1]
        value = value or p.name
        if given == key_type:
            return value
        return f"{key_type}({value})"

    def fetch(self, entity: str, p: Param, wanted: str) -> str:
        """`let x = E[p]`, the local's name."""
        name = self.locals.fresh(wanted)
        self.line(f"let {name} = {entity}[{self.key_expr(entity, p)}]")
        return name

    def converted(self, field_type: SpecType, p: Param) -> str | None:
        """The parameter as the field's type, or None when it cannot be."""
        if field_type.text == p.type.text or (field_type.base == "float" and p.type.base == "int"):
            return p.name
        if field_type.base == "str" and p.type.scalar:
            return f"str({p.name})"
        if field_type.base == "float" and p.type.base == "str":
            return None
        return None

    def compared(self, item: str, field_name: str, field_type: SpecType, p: Param) -> str | None:
        """A condition that the record's field equals the parameter, or None."""
        value = self.converted(field_type, p)
        if value is not None:
            return f"{item}.{field_name} == {value}"
        if p.type.base == "str" and field_type.scalar:
            return f"str({item}.{field_name}) == {p.name}"
        if field_type.numeric and p.type.numeric:
            return f"{item}.{field_name} == {p.name}"
        return None

    def refs_match(self, record: str, subject: str) -> None:
        """The references the tool names must be the record's own."""
        e = self.entity(subject)
        for pname, fname in self.plan.refs.items():
            p = self.params[pname]
            target = e.fields[fname].ref or ""
            value = self.key_expr(target, p)
            message = quote(
                f"That {phrase(e.words)} does not belong to the {phrase(words(fname))} given"
            )
            if nullable(p):
                self.line(f"if {p.name} != none {{")
                self.line(f"require {record}.{fname} == {value} else {message}", 1)
                self.line("}")
            else:
                self.line(f"require {record}.{fname} == {value} else {message}")

    def narrow(self, found: str, subject: str, required_in_where: bool) -> list[str]:
        """Filters and the text query, as statements over `found`; returns the arguments of
        the first `where` (required filters whose types agree)."""
        e = self.entity(subject)
        where: list[str] = []
        later: list[tuple[Param, str]] = []
        for pname, fname in self.plan.filters.items():
            p = self.params[pname]
            ftype = e.key_type if fname == e.key else e.fields[fname].type
            if required_in_where and not nullable(p) and ftype.text == p.type.text:
                where.append(f"{fname}: {p.name}")
            else:
                later.append((p, fname))
        return where, later

    def apply_filters(self, found: str, subject: str, later: list[tuple[Param, str]]) -> None:
        e = self.entity(subject)
        item = self.locals.fresh("r")
        for p, fname in later:
            ftype = e.key_type if fname == e.key else e.fields[fname].type
            cond = self.compared(item, fname, ftype, p)
            if cond is None:
                continue
            depth = 0
            if nullable(p):
                self.line(f"if {p.name} != none {{")
                depth = 1
            self.line(f"set {found} = [{item} for {item} in {found} if {cond}]", depth)
            if depth:
                self.line("}")
        if self.plan.query is not None:
            p = self.params[self.plan.query]
            text = self.plan.text_field or "name"
            f = e.fields.get(text)
            field_text = (
                f"{item}.{text}" if f is not None and not f.optional else f"str({item}.{text})"
            )
            depth = 0
            if nullable(p):
                self.line(f"if {p.name} != none {{")
                depth = 1
            self.line(
                f"set {found} = [{item} for {item} in {found} "
                f"if lower(strip({p.name})) in lower({field_text})]",
                depth,
            )
            if depth:
                self.line("}")

    def one_of(self, found: str, subject: str) -> None:
        e = self.entity(subject)
        what = phrase(e.words)
        self.line(f"require len({found}) > 0 else {quote(f'No {what} matches what was given')}")
        self.line(f"return {found}[0]")

    # ---- reads

    def _lookup(self) -> str:
        p = self.plan.key
        assert p is not None
        subject = self.plan.subject
        if not self.plan.refs:
            self.line(f"return {subject}[{self.key_expr(subject, p)}]")
            return subject
        record = self.fetch(subject, p, snake(self.entity(subject).words[-1:]) or "record")
        self.refs_match(record, subject)
        self.line(f"return {record}")
        return subject

    def _many(self) -> str:
        p = self.plan.key
        assert p is not None
        subject = self.plan.subject
        item = self.locals.fresh("k")
        if nullable(p):
            self.line(f"require {p.name} != none else {quote(f'Give the {phrase(p.words)}')}")
        self.line(f"return [{subject}[{self.key_expr(subject, p, item)}] for {item} in {p.name}]")
        return f"list<{subject}>"

    def _collection(self) -> str:
        subject = self.plan.subject
        e = self.entity(subject)
        where: list[str] = []
        optional_refs: list[tuple[Param, str]] = []
        for pname, fname in self.plan.refs.items():
            p = self.params[pname]
            target = e.fields[fname].ref or ""
            if nullable(p):
                optional_refs.append((p, fname))
                continue
            local = self.fetch(target, p, snake(words(fname)) or "ref")
            where.append(f"{fname}: {local}")
        found = self.locals.fresh("found")
        plain, later = self.narrow(found, subject, True)
        args = ", ".join(where + plain)
        self.line(
            f"let {found} = {subject}.where({args})" if args else f"let {found} = {subject}.all()"
        )
        item = self.locals.fresh("r")
        for p, fname in optional_refs:
            target = e.fields[fname].ref or ""
            self.line(f"if {p.name} != none {{")
            value = self.key_expr(target, p)
            self.line(
                f"set {found} = [{item} for {item} in {found} if {item}.{fname} == {value}]", 1
            )
            self.line("}")
        self.apply_filters(found, subject, later)
        if self.plan.single:
            self.one_of(found, subject)
            return subject
        self.line(f"return {found}")
        return f"list<{subject}>"

    def _search(self) -> str:
        subject = self.plan.subject
        found = self.locals.fresh("found")
        plain, later = self.narrow(found, subject, True)
        args = ", ".join(plain)
        self.line(
            f"let {found} = {subject}.where({args})" if args else f"let {found} = {subject}.all()"
        )
        self.apply_filters(found, subject, later)
        self.line(f"return {found}")
        return f"list<{subject}>"

    def _external(self) -> str:
        subject = self.plan.subject
        found = self.locals.fresh("found")
        plain, later = self.narrow(found, subject, True)
        args = ", ".join(plain)
        self.line(
            f"let {found} = {subject}.where({args})" if args else f"let {found} = {subject}.all()"
        )
        self.apply_filters(found, subject, later)
        if self.plan.single:
            self.one_of(found, subject)
            return subject
        self.line(f"return {found}")
        return f"list<{subject}>"

    # ---- writes

    def _create(self) -> str:
        subject = self.plan.subject
        e = self.entity(subject)
        args: list[str] = []
        after: list[tuple[Param, str, str]] = []
        for pname, fname in self.plan.refs.items():
            p = self.params[pname]
            target = e.fields[fname].ref or ""
            if nullable(p):
                self.line(f"if {p.name} != none {{")
                self.line(
                    f"require {target}.get({self.key_expr(target, p)}) != none else "
                    f"{quote(f'No {phrase(self.entity(target).words)} has that id')}",
                    1,
                )
                self.line("}")
                args.append(f"{fname}: {p.name}")
            else:
                local = self.fetch(target, p, snake(words(fname)) or "ref")
                args.append(f"{fname}: {local}")
        if self.plan.given_key:
            p = self.plan.key
            assert p is not None
            key = self.key_expr(subject, p)
            what = phrase(e.words)
            self.line(
                f"require {subject}.get({key}) == none else {quote(f'That {what} already exists')}"
            )
            args.insert(0, f"{e.key}: {key}")
        elif e.key_type.base == "int":
            item = self.locals.fresh("x")
            args.insert(
                0, f"{e.key}: max([{item}.{e.key} for {item} in {subject}.all()] + [0]) + 1"
            )
        else:
            args.insert(0, f'{e.key}: next_key({subject}, "{e.prefix}", 4)')
        for pname, fname in self.plan.sets.items():
            p = self.params[pname]
            f = e.fields[fname]
            value = self.converted(f.type, p)
            if value == p.name or (value is not None and not nullable(p)):
                args.append(f"{fname}: {value}")
            elif value is not None:
                after.append((p, fname, value))
        if "created_at" in e.fields and "created_at" not in self.plan.sets.values():
            f = e.fields["created_at"]
            if f.type.base == "datetime":
                args.append("created_at: now()")
        if not after:
            self.line(f"return insert {subject}({', '.join(args)})")
            return subject
        record = self.locals.fresh("record")
        self.line(f"let {record} = insert {subject}({', '.join(args)})")
        self.set_values(record, after)
        self.line(f"return {record}")
        return subject

    def set_values(self, record: str, values: list[tuple[Param, str, str]]) -> None:
        for p, fname, value in values:
            if nullable(p):
                self.line(f"if {p.name} != none {{")
                self.line(f"set {record}.{fname} = {value}", 1)
                self.line("}")
            else:
                self.line(f"set {record}.{fname} = {value}")

    def changed_record(self) -> str:
        p = self.plan.key
        assert p is not None
        subject = self.plan.subject
        record = self.fetch(subject, p, snake(self.entity(subject).words[-1:]) or "record")
        self.refs_match(record, subject)
        return record

    def field_values(self) -> list[tuple[Param, str, str]]:
        e = self.entity(self.plan.subject)
        out = []
        for pname, fname in self.plan.sets.items():
            if pname == "@touch":
                continue
            p = self.params[pname]
            value = self.converted(e.fields[fname].type, p)
            if value is not None:
                out.append((p, fname, value))
        return out

    def _update(self) -> str:
        record = self.changed_record()
        values = self.field_values()
        self.set_values(record, values)
        touched = self.plan.sets.get("@touch")
        if touched:
            self.line(f"set {record}.{touched} = now()")
        self.line(f"return {record}")
        return self.plan.subject

    def _delete(self) -> str:
        record = self.changed_record()
        self.line(f"delete {record}")
        self.line(f"return {record}")
        return self.plan.subject

    def _status(self) -> str:
        e = self.entity(self.plan.subject)
        machine = e.machine
        assert machine is not None
        record = self.changed_record()
        target = self.plan.verb.state
        sources = machine.moves.get(target, [])
        listed = ", ".join(sources)
        what = phrase(e.words)
        allowed = " or ".join(sources)
        done = target.replace("_", " ")
        message = quote(f"Only {article(allowed)} {what} can be {done}; this one is {{}}")
        self.line(f"require {record}.status in [{listed}] else format({message}, {record}.status)")
        self.line(f"set {record}.status = {target}")
        self.set_values(record, self.field_values())
        self.line(f"return {record}")
        return self.plan.subject
