"""The domain model a community of tools implies: entities, their fields and references, and
what each tool does to them.

Entities come from identifier-like parameters (`order_id`, `orderId`, `isbn`, `symbol`), from
the records writes leave (`book_flight` leaves a Booking), and from the nouns of tool names
(`getPovertyRate` reads a PovertyRate table). Fields come from the parameters that travel
with an entity's key and from what its reads return. Reads about no entity's key fetch
outside information: a table keyed by their arguments (see `bodies.py`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from envscale.synth.classify import (
    OBJECT_ACTS,
    READ_NOMINALS,
    STOP_WORDS,
    UNDOES,
    Verb,
    classify,
)
from envscale.synth.nouns import (
    Namer,
    camel,
    is_plural,
    phrase,
    singular,
    snake,
    valid_name,
    words,
    wordset,
)
from envscale.synth.params import (
    BOOL,
    DATETIME,
    FLOAT,
    INT,
    STR,
    Param,
    SpecType,
    Types,
    clean,
    read_params,
)
from envscale.synth.records import ApiTool, Community

# Identifiers by themselves: the parameter name -> the entity it names.
SPECIAL_KEYS = {
    "isbn": "book",
    "isbn13": "book",
    "isbn10": "book",
    "symbol": "stock",
    "ticker": "stock",
    "stock_symbol": "stock",
    "sku": "product",
    "asin": "product",
    "upc": "product",
    "username": "user",
    "user_name": "user",
    "screen_name": "user",
    "iata": "airport",
    "iata_code": "airport",
    "icao": "airport",
    "vin": "vehicle",
    "imdb_id": "movie",
    "tmdb_id": "movie",
    "tracking_number": "shipment",
}
# A `<stem>_number` or `<stem>_code` that names a record.
NUMBERED = wordset(
    """
    order invoice booking reservation flight account ticket confirmation policy case
    employee member customer product serial part room promo coupon voucher discount license
    membership student patient badge course receipt claim shipment parcel package table
    """
)
# Stems of `<stem>_id` that name no record of the domain.
NOT_ENTITIES = wordset(
    "api access secret client_secret idempotency correlation trace nonce x request_trace"
)
ROLES = wordset(
    """
    new old source target from to sender receiver recipient src dst dest origin other
    primary secondary parent child current previous next original
    """
)
# Parameters that say how to answer, not what: never fields or filters.
NOISE = wordset(
    """
    api_key apikey key token access_token auth authorization callback jsonp format pretty
    output response_format x_rapidapi_key rapidapi_key user_agent x_user_agent accept
    content_type page offset limit per_page page_size size cursor skip start_cursor
    max_results num_results count_only fields sort sort_by order_by sortby orderby
    sort_order direction order_direction
    """
)
QUERY_WORDS = wordset("query q keyword keywords term search searchterm search_term text")
# Lookup nouns that are a view of the record, not a record of their own.
VIEW_WORDS = wordset(
    """
    detail details info information data status summary profile overview stat stats metadata
    meta record by
    """
)
FLOAT_WORDS = wordset(
    """
    rate price amount score temperature percentage percent ratio level distance speed
    balance cost probability latitude longitude lat lng lon humidity weight height rating
    value total fee tax salary revenue income budget area volume
    """
)
INT_WORDS = wordset("count number population year age rank ranking quantity qty")
BOOL_PREFIXES = ("is", "has", "can", "should", "allow", "enable")
POSITIVE_WORDS = wordset(
    "amount price quantity qty cost fee total payment deposit withdrawal donation"
)
ACK_FIELDS = wordset("status success message msg error result code ok response")


@dataclass
class FieldPlan:
    name: str
    type: SpecType
    doc: str = ""
    optional: bool = False
    ref: str | None = None  # the entity it refers to
    hidden: bool = False
    default: str | None = None


@dataclass
class Machine:
    """A status field's states and moves."""

    enum: str
    initial: str
    moves: dict[str, list[str]] = field(default_factory=dict)  # target -> sources

    @property
    def states(self) -> list[str]:
        out = [self.initial]
        for target, sources in self.moves.items():
            out += [*sources, target]
        return list(dict.fromkeys(out))


@dataclass
class EntityPlan:
    name: str
    words: list[str]
    key: str
    key_type: SpecType
    doc: str = ""
    fields: dict[str, FieldPlan] = field(default_factory=dict)
    external: bool = False
    prefix: str = ""
    machine: Machine | None = None
    creators: list[str] = field(default_factory=list)  # tool names
    # field name -> creator tools setting it from a required parameter
    set_by: dict[str, set[str]] = field(default_factory=dict)

    def field_for(self, name: str) -> FieldPlan | None:
        return self.fields.get(name) or next(
            (f for f in self.fields.values() if f.name.lower() == name.lower()), None
        )


@dataclass
class ToolPlan:
    name: str
    tool: ApiTool
    verb: Verb
    action: str  # lookup many collection search external create update delete status act
    params: list[Param]
    subject: str = ""  # the entity it reads or writes
    key: Param | None = None  # the subject's key
    refs: dict[str, str] = field(default_factory=dict)  # parameter -> reference field of subject
    sets: dict[str, str] = field(default_factory=dict)  # parameter -> field of subject it sets
    filters: dict[str, str] = field(default_factory=dict)  # parameter -> field compared
    query: str | None = None  # parameter matched as text
    text_field: str | None = None
    single: bool = True  # returns one record
    doc: str = ""
    given_key: bool = False  # a create whose key is a parameter


@dataclass
class DomainModel:
    name: str
    doc: str
    entities: dict[str, EntityPlan]
    tools: list[ToolPlan]
    types: Types


def infer(community: Community) -> DomainModel:
    return _Inference(community).run()


class _Inference:
    def __init__(self, community: Community):
        self.community = community
        self.type_names = Namer()
        self.types = Types(self.type_names)
        self.tool_names = Namer()
        self.entities: dict[str, EntityPlan] = {}
        self.by_words: dict[str, str] = {}  # phrase of entity words -> entity name
        self.plans: list[ToolPlan] = []
        self.key_votes: dict[str, set[str]] = {}
        self.key_spellings: dict[str, Counter] = {}
        self.service = _service_words(community)

    # ---- entities

    def entity(self, ws: list[str], key_name: str | None = None, key_type: SpecType = STR) -> str:
        ws = [*ws[:-1], singular(ws[-1])] if ws else ["item"]
        ws = ws[-3:]
        found = self.by_words.get(phrase(ws))
        if found is not None:
            return found
        name = self.type_names.fresh(camel(ws), "type")
        spellings = self.key_spellings.get(phrase(ws))
        if key_name is None and spellings:
            key_name = spellings.most_common(1)[0][0]
        key = key_name or snake([*ws, "id"])
        key = valid_name(key)
        votes = self.key_votes.get(phrase(ws))
        if votes:
            key_type = STR if "str" in votes else INT
        self.entities[name] = EntityPlan(
            name,
            ws,
            key,
            key_type,
            doc=f"{article(phrase(ws)).capitalize()} of {phrase(self.service) or 'the service'}",
        )
        self.by_words[phrase(ws)] = name
        return name

    def add_field(
        self,
        entity: str,
        wanted: str,
        ftype: SpecType,
        doc: str = "",
        ref: str | None = None,
        optional: bool = False,
    ) -> str:
        e = self.entities[entity]
        name = valid_name(wanted)
        if name.lower() == e.key.lower():
            return e.key
        existing = e.field_for(name)
        if existing is not None:
            if e.machine is not None and existing.name == "status":
                return existing.name
            if existing.ref != ref:
                if existing.ref is None and ref is not None:
                    # A plain field named as the reference is: the reference wins.
                    existing.ref, existing.type = ref, ftype
                return existing.name
            existing.type = _unify(existing.type, ftype)
            existing.optional = existing.optional or optional
            if not existing.doc and doc:
                existing.doc = doc
            return existing.name
        # A reference `x` is stored as `x_id`: no other field may be called so.
        columns = {f.name.lower() + ("_id" if f.ref else "") for f in e.fields.values()}
        column = name.lower() + ("_id" if ref else "")
        if column in columns or column == e.key.lower() or (ref and name.lower() in columns):
            return ""
        if any(f.ref and name.lower() == f.name.lower() + "_id" for f in e.fields.values()):
            return ""
        e.fields[name] = FieldPlan(name, ftype, doc, optional, ref)
        return name

    # ---- the run

    def run(self) -> DomainModel:
        prepared = [self.prepare(t) for t in self.community.tools]
        for item in prepared:
            self.vote(item)
        # Writes first: they decide which records the domain keeps.
        for item in prepared:
            if item["verb"].writes:
                self.plan_write(item)
        for item in prepared:
            if not item["verb"].writes:
                self.plan_read(item)
        order = {t.name: i for i, t in enumerate(self.community.tools)}
        self.plans.sort(key=lambda p: order[p.tool.name])
        self.finish()
        name = valid_name(snake(words(self.community.name)) or "service")
        doc = _domain_doc(self.community)
        return DomainModel(name, doc, self.entities, self.plans, self.types)

    def prepare(self, tool: ApiTool) -> dict[str, Any]:
        name = self.tool_names.fresh(valid_name(tool.name, "tool"), "tool")
        ws = _name_words(tool)
        verb = classify(ws, tool.description, tool.method, tool.returns)
        params = read_params(tool.name, tool.parameters, self.types, set())
        before = [w for w in ws[: max(verb.index, 0)] if w not in STOP_WORDS]
        after = [w for w in ws[verb.index + 1 :] if w not in STOP_WORDS]
        if verb.index < 0:
            before, after = [], [w for w in ws if w not in STOP_WORDS]
        obj = after or before
        resource = before if before and after else obj
        keys: list[tuple[Param, list[str]]] = []
        for p in params:
            ws_key = _key_words(p, resource)
            if ws_key is not None:
                keys.append((p, ws_key))
        return {
            "tool": tool,
            "name": name,
            "verb": verb,
            "params": params,
            "object": obj,
            "resource": resource,
            "keys": keys,
            "doc": clean(tool.description or "", 1500),
        }

    def key_entity(self, p: Param, ws: list[str]) -> str:
        stem = self.stem(ws)
        special = SPECIAL_KEYS.get(p.original.lower())
        key_name = p.name if special and not p.original.lower().endswith("_id") else None
        votes = self.key_votes.get(phrase(stem), {"str"})
        return self.entity(stem, key_name, STR if "str" in votes else INT)

    @staticmethod
    def stem(ws: list[str]) -> list[str]:
        stem = [w for w in ws if w not in ROLES] or ws
        return [*stem[:-1], singular(stem[-1])][-3:]

    def vote(self, item: dict[str, Any]) -> None:
        """Key types by entity: a key given as text anywhere is text."""
        for p, ws in item["keys"]:
            base = p.type.base if p.type.base != "list" else p.type.text[5:-1]
            self.key_votes.setdefault(phrase(self.stem(ws)), set()).add(base)
            # The key field is spelled as the tools spell its parameter (`spreadsheetId`),
            # so that values flow by name; a bare `id` or a role's id says nothing of it.
            own = [w for w in p.words if w != "is"]
            special = p.original.lower() in SPECIAL_KEYS and not p.original.lower().endswith("_id")
            if special or (
                len(own) > 1 and not any(w in ROLES for w in own) and p.type.base != "list"
            ):
                spelled = self.key_spellings.setdefault(phrase(self.stem(ws)), Counter())
                spelled[p.name] += 1

    def ref_field(self, subject: str, p: Param, target: str, ws: list[str]) -> str:
        roles = [w for w in ws if w in ROLES]
        base = words(self.entities[target].name)
        wanted = snake([*roles, *base]) if roles else snake(base)
        return self.add_field(subject, wanted, SpecType(target, "ref"), p.doc, ref=target)

    def matches(self, entity: str, ws: list[str]) -> bool:
        ew = self.entities[entity].words
        sing = [singular(w) for w in ws]
        return bool(ew) and all(w in sing for w in ew)

    def plan_write(self, item: dict[str, Any]) -> None:
        verb: Verb = item["verb"]
        params: list[Param] = item["params"]
        keys = [(p, ws) for p, ws in item["keys"] if p.type.base != "list"]
        obj = item["object"]
        plan = ToolPlan(item["name"], item["tool"], verb, verb.action, params, doc=item["doc"])
        subject_key = self.subject_key(keys, obj)
        if verb.action in ("update", "delete", "status") and subject_key is not None:
            p, ws = subject_key
            plan.subject = self.key_entity(p, ws)
            plan.key = p
            self.link_refs(plan, keys, skip=p)
            if verb.action != "delete":
                self.set_fields(plan, params, exclude={p.name})
            if verb.action == "status":
                self.move(plan.subject, verb)
            if verb.action == "update":
                plan.sets["@touch"] = self.add_field(
                    plan.subject, "updated_at", DATETIME, "When it last changed", optional=True
                )
            self.plans.append(plan)
            return
        # A create, an act, or a change without the key of what it changes: a new record.
        record_words = self.record_words(verb, obj, keys)
        given = None
        for p, ws in keys:
            same = [singular(w) for w in ws][-2:] == record_words[-2:]
            if verb.action == "create" and p.required and same:
                given = (p, ws)
        if given is not None:
            plan.subject = self.key_entity(*given)
            plan.key = given[0]
            plan.given_key = True
        else:
            plan.subject = self.entity(record_words)
        plan.action = "create"
        self.link_refs(plan, keys, skip=plan.key)
        self.set_fields(plan, params, exclude={plan.key.name} if plan.key else set())
        e = self.entities[plan.subject]
        e.creators.append(plan.name)
        for param, fname in plan.sets.items():
            p = next(x for x in params if x.name == param)
            if p.required:
                e.set_by.setdefault(fname, set()).add(plan.name)
        for param, fname in plan.refs.items():
            p = next(x for x in params if x.name == param)
            if p.required:
                e.set_by.setdefault(fname, set()).add(plan.name)
        self.plans.append(plan)

    def record_words(
        self, verb: Verb, obj: list[str], keys: list[tuple[Param, list[str]]]
    ) -> list[str]:
        key_entities = [self.key_entity(p, ws) for p, ws in keys]
        obj_names_key = bool(obj) and any(self.matches(k, obj[-2:]) for k in key_entities)
        if (
            verb.action == "act"
            and verb.record
            and (not obj or obj_names_key or verb.word not in OBJECT_ACTS)
        ):
            return verb.record.split()
        if obj and not obj_names_key:
            return obj[-2:]
        if verb.action in ("update", "delete", "status"):
            return [*(obj[-1:] or self.service[-1:] or ["record"]), "change"]
        return obj[-2:] or [*self.service[-1:], "record"]

    def subject_key(
        self, keys: list[tuple[Param, list[str]]], obj: list[str]
    ) -> tuple[Param, list[str]] | None:
        if not keys:
            return None
        for p, ws in keys:
            if (
                p.required
                and self.matches(self.key_entity(p, ws), obj[-2:])
                and not any(w in ROLES for w in ws)
            ):
                return p, ws
        required = [(p, ws) for p, ws in keys if p.required]
        return required[0] if required else None

    def link_refs(
        self, plan: ToolPlan, keys: list[tuple[Param, list[str]]], skip: Param | None
    ) -> None:
        for p, ws in keys:
            if skip is not None and p.name == skip.name:
                continue
            target = self.key_entity(p, ws)
            if target == plan.subject and not any(w in ROLES for w in ws):
                continue
            fname = self.ref_field(plan.subject, p, target, ws)
            if fname:
                plan.refs[p.name] = fname

    def set_fields(self, plan: ToolPlan, params: list[Param], exclude: set[str]) -> None:
        for p in params:
            if p.name in exclude or p.name in plan.refs or _noise(p):
                continue
            ws = p.words[1:] if p.words[0] in ("new", "updated") and len(p.words) > 1 else p.words
            wanted = snake(ws) if ws is not p.words else p.name
            fname = self.add_field(plan.subject, wanted, p.type, p.doc, optional=not p.required)
            if fname and fname != self.entities[plan.subject].key:
                plan.sets[p.name] = fname

    def move(self, entity: str, verb: Verb) -> None:
        e = self.entities[entity]
        if e.machine is None:
            e.machine = Machine(
                self.type_names.fresh(f"{e.name}Status", "type"),
                "active"
                if verb.word
                in (
                    "deactivate",
                    "disable",
                    "suspend",
                    "archive",
                    "block",
                    "lock",
                    "pause",
                    "close",
                )
                else "pending",
            )
            e.fields["status"] = FieldPlan("status", SpecType(e.machine.enum, "enum"))
        m = e.machine
        target = verb.state
        undone = UNDOES.get(verb.word)
        sources = list(undone) if undone else [m.initial]
        sources = [s for s in sources if s != target]
        if not sources:
            sources = [s for s in m.states if s != target][:1] or ["pending"]
        m.moves.setdefault(target, [])
        for s in sources:
            if s not in m.moves[target]:
                m.moves[target].append(s)

    def plan_read(self, item: dict[str, Any]) -> None:
        verb: Verb = item["verb"]
        params: list[Param] = item["params"]
        obj = item["object"]
        keys = [(p, ws) for p, ws in item["keys"] if p.type.base != "list"]
        many = [(p, ws) for p, ws in item["keys"] if p.type.base == "list"]
        plan = ToolPlan(item["name"], item["tool"], verb, "lookup", params, doc=item["doc"])
        noun = [w for w in obj if w not in VIEW_WORDS]
        plural = bool(noun) and is_plural(noun[-1])
        returns = _return_fields(item["tool"].returns)
        subject_key = self.subject_key(keys, noun) if keys else None
        if keys and subject_key is None:
            # Only optional keys: the records they may narrow down to.
            first = self.key_entity(*keys[0])
            plan.action, plan.single = "collection", False
            plan.subject = self.entity(noun[-2:]) if noun else first
            for p, ws in keys:
                if self.key_entity(p, ws) == plan.subject and not any(w in ROLES for w in ws):
                    plan.filters[p.name] = self.entities[plan.subject].key
            self.link_refs(plan, keys, skip=None)
            self.filter_fields(plan, params, exclude=set(plan.refs) | set(plan.filters))
            self.return_fields(plan.subject, returns)
            self.plans.append(plan)
            return
        if subject_key is not None:
            p, ws = subject_key
            key_entity = self.key_entity(p, ws)
            ew = self.entities[key_entity].words
            names_key = not noun or [singular(w) for w in noun][-len(ew) :] == ew
            others = [k for k in keys if k[0].name != p.name]
            if not names_key and (plural or verb.action == "search" or others):
                # Records of another kind that refer to the key's record: a user's orders.
                plan.action = "collection"
                plan.subject = self.entity(noun[-2:])
                plan.single = not plural and verb.action != "search"
                self.link_refs(plan, keys, skip=None)
                self.filter_fields(plan, params, exclude=set(plan.refs))
            else:
                plan.subject, plan.key = key_entity, p
                self.link_refs(plan, keys, skip=p)
                if noun and not names_key:
                    head = singular(noun[-1])
                    self.add_field(plan.subject, head, _typed_by_name([head]), optional=True)
            self.return_fields(plan.subject, returns)
            self.plans.append(plan)
            return
        if many:
            p, ws = many[0]
            plan.action, plan.subject, plan.key, plan.single = (
                "many",
                self.key_entity(p, ws),
                p,
                False,
            )
            self.return_fields(plan.subject, returns)
            self.plans.append(plan)
            return
        internal = self.internal_match(noun)
        if internal is not None:
            plan.action, plan.subject, plan.single = "search", internal, False
            self.filter_fields(plan, params, exclude=set())
            self.return_fields(plan.subject, returns)
            self.plans.append(plan)
            return
        # Outside information: a table keyed by the arguments.
        nominal = READ_NOMINALS.get(verb.word, "").split()
        table = [*noun[-1:], *nominal] if nominal else noun[-2:] or [*self.service[-1:], "result"]
        plan.action = "external"
        plan.subject = self.entity(table)
        e = self.entities[plan.subject]
        if not e.external and not e.creators and not e.fields:
            e.external = True
            e.key = valid_name("entry_id")
            e.doc = f"What {phrase(self.service) or 'the service'} answers about {phrase(table)}"
        plan.single = verb.action != "search" and not plural and any(p.required for p in params)
        for p in params:
            # Text, dates and enums key the table; numbers and flags are options of the
            # question (a task's first call has no record to take a number from).
            if _noise(p) or p.type.base not in ("str", "date", "datetime", "enum"):
                continue
            fname = self.add_field(plan.subject, p.name, p.type, p.doc, optional=not p.required)
            if fname:
                plan.filters[p.name] = fname
        if returns:
            self.return_fields(plan.subject, returns)
        elif not any(n not in plan.filters.values() for n in e.fields):
            head = nominal[-1:] or [w for w in table if w not in self.service][-2:] or table[-2:]
            wanted = snake(head)
            if e.field_for(wanted) is not None:
                wanted = "result"
            self.add_field(plan.subject, wanted, _typed_by_name(head), f"The {phrase(head)} found")
        self.plans.append(plan)

    def internal_match(self, noun: list[str]) -> str | None:
        if not noun:
            return None
        for name, e in self.entities.items():
            if e.external:
                continue
            if self.matches(name, noun[-2:]) or e.words == [singular(w) for w in noun[-2:]]:
                return name
        return None

    def filter_fields(self, plan: ToolPlan, params: list[Param], exclude: set[str]) -> None:
        for p in params:
            if p.name in exclude or _noise(p):
                continue
            if p.original.lower() in QUERY_WORDS and p.type.base == "str" and plan.query is None:
                plan.query = p.name
                plan.text_field = self.text_field(plan.subject)
                continue
            if not p.type.scalar:
                continue
            fname = self.add_field(plan.subject, p.name, p.type, p.doc, optional=True)
            if fname:
                plan.filters[p.name] = fname

    def text_field(self, entity: str) -> str:
        e = self.entities[entity]
        for wanted in ("name", "title", "label", "description"):
            f = e.field_for(wanted)
            if f is not None and f.type.base == "str":
                return f.name
        return self.add_field(entity, "name", STR, f"The {phrase(e.words)}'s name") or "name"

    def return_fields(self, entity: str, returns: list[tuple[str, SpecType, str]]) -> None:
        e = self.entities[entity]
        for name, ftype, doc in returns:
            if name.lower() in ACK_FIELDS and e.machine is not None:
                continue
            if len(e.fields) >= 40:
                break
            self.add_field(entity, name, ftype, doc, optional=True)

    # ---- after every tool

    def finish(self) -> None:
        for e in self.entities.values():
            if (
                not e.external
                and not e.creators
                and not any(f.type.base in ("str",) and f.ref is None for f in e.fields.values())
            ):
                self.add_field(e.name, "name", STR, f"The {phrase(e.words)}'s name")
            if e.creators:
                for f in e.fields.values():
                    if f.name == "status" and e.machine is not None:
                        continue
                    f.optional = set(e.creators) - e.set_by.get(f.name, set()) != set()
            for f in e.fields.values():
                if f.ref is not None and f.ref == e.name:
                    f.optional = True
        self.break_cycles()
        taken: set[str] = set()
        for e in self.entities.values():
            if e.key_type.base == "str":
                e.prefix = _prefix(e.words, taken)

    def break_cycles(self) -> None:
        """Required references that go round in a circle leave no record to make first."""

        def reaches(start: str, goal: str, seen: set[str]) -> bool:
            if start == goal:
                return True
            seen.add(start)
            return any(
                reaches(f.ref, goal, seen)
                for f in self.entities[start].fields.values()
                if f.ref is not None and not f.optional and f.ref not in seen
            )

        for e in self.entities.values():
            for f in e.fields.values():
                if f.ref is not None and not f.optional and reaches(f.ref, e.name, set()):
                    f.optional = True


def article(text: str) -> str:
    return f"{'an' if text[:1] in 'aeio' else 'a'} {text}"


def _unify(a: SpecType, b: SpecType) -> SpecType:
    if a.text == b.text:
        return a
    if a.numeric and b.numeric:
        return FLOAT
    return STR


def _noise(p: Param) -> bool:
    return snake(p.words) in NOISE or p.original.lower() in NOISE


def _key_words(p: Param, resource: list[str]) -> list[str] | None:
    """The words of the entity a parameter is the key of, or None."""
    base = p.type.base
    if base == "list":
        if p.type.text not in ("list<str>", "list<int>"):
            return None
    elif base not in ("str", "int"):
        return None
    ws = [w for w in p.words if w != "is"] or p.words
    special = SPECIAL_KEYS.get(p.original.lower()) or SPECIAL_KEYS.get(snake(ws))
    if special:
        return [special]
    last = ws[-1]
    if last in ("id", "ids", "uuid", "guid"):
        stem = ws[:-1]
        if not stem:
            return [singular(w) for w in resource[-2:]] or None
        if snake(stem) in NOT_ENTITIES or stem[-1] in NOT_ENTITIES:
            return None
        return stem
    if last in ("number", "no", "code", "num") and len(ws) >= 2 and ws[-2] in NUMBERED:
        return ws[:-1]
    return None


def _name_words(tool: ApiTool) -> list[str]:
    ws = words(tool.name)
    groups = [words(p.group or "") for p in tool.provenance]
    if "for" in ws:
        cut = len(ws) - 1 - ws[::-1].index("for")
        tail = ws[cut + 1 :]
        if any(tail == g for g in groups if g) or (cut > 0 and len(tail) <= 4):
            ws = ws[:cut]
    while len(ws) > 1 and (ws[-1].isdigit() or ws[-1] in ("v", "api")):
        ws = ws[:-1]
    ws = [w for w in ws if not w.isdigit()] or ws
    return ws or words(tool.name) or ["tool"]


def _service_words(community: Community) -> list[str]:
    for tool in community.tools:
        for p in tool.provenance:
            if p.group:
                ws = [w for w in words(p.group.split("/")[-1]) if w not in STOP_WORDS]
                if ws:
                    return ws[-3:]
    return [w for w in words(community.name) if not w.isdigit()][-3:]


def _domain_doc(community: Community) -> str:
    groups = list(dict.fromkeys(p.group for t in community.tools for p in t.provenance if p.group))
    categories = list(
        dict.fromkeys(p.category for t in community.tools for p in t.provenance if p.category)
    )
    head = ", ".join(groups[:3]) or community.name
    if categories and categories[0] not in head:
        head += f" ({', '.join(categories[:2])})"
    return clean(f"{head}: {len(community.tools)} tools", 300)


def _typed_by_name(ws: list[str]) -> SpecType:
    if not ws:
        return STR
    if ws[0] in BOOL_PREFIXES and len(ws) > 1:
        return BOOL
    last = singular(ws[-1])
    if last in FLOAT_WORDS:
        return FLOAT
    if last in INT_WORDS:
        return INT
    return STR


_RETURN_TYPES = {
    "str": STR,
    "string": STR,
    "text": STR,
    "int": INT,
    "integer": INT,
    "float": FLOAT,
    "number": FLOAT,
    "double": FLOAT,
    "bool": BOOL,
    "boolean": BOOL,
    "list": SpecType("list<str>", "list"),
    "array": SpecType("list<str>", "list"),
    "dict": SpecType("map<str, str>", "map"),
    "object": SpecType("map<str, str>", "map"),
}


def _return_fields(returns: Any) -> list[tuple[str, SpecType, str]]:
    """Named outputs of a tool: (name, type, doc), from a JSON schema or a name -> spec map."""
    if not isinstance(returns, dict):
        return []
    node: Any = returns
    for _ in range(3):
        if isinstance(node, dict) and isinstance(node.get("anyOf"), list) and node["anyOf"]:
            node = node["anyOf"][0]
        if (
            isinstance(node, dict)
            and node.get("type") == "array"
            and isinstance(node.get("items"), dict)
        ):
            node = node["items"]
    if isinstance(node, dict) and isinstance(node.get("properties"), dict):
        props = node["properties"]
    elif isinstance(node, dict) and "type" not in node:
        props = node
    else:
        return []
    out: list[tuple[str, SpecType, str]] = []
    for name, spec in list(props.items())[:30]:
        if not isinstance(name, str) or not words(name):
            continue
        kind = spec.get("type") if isinstance(spec, dict) else spec
        ftype = _RETURN_TYPES.get(str(kind).lower(), STR) if isinstance(kind, str) else STR
        if isinstance(spec, dict) and spec.get("format") == "date" and ftype is STR:
            ftype = SpecType("date", "date")
        doc = spec.get("description", "") if isinstance(spec, dict) else ""
        out.append((name, ftype, clean(doc, 500) if isinstance(doc, str) else ""))
    return out


def _prefix(ws: list[str], taken: set[str]) -> str:
    letters = "".join(w[0] for w in ws if w[:1].isalpha()).upper()
    first = next((w for w in ws if w[:1].isalpha()), "x")
    prefix = letters if len(letters) >= 2 else first[:2].upper()
    if not prefix.isalpha():
        prefix = "R"
    extra = iter(first[2:].upper() + "XYZQ" * 4)
    while prefix in taken:
        prefix += next(extra, "X")
    taken.add(prefix)
    return prefix


def dumps(model: DomainModel) -> str:
    """The model, for a reader debugging a draft."""
    return json.dumps(
        {
            "entities": {n: [f.name for f in e.fields.values()] for n, e in model.entities.items()},
            "tools": {p.name: [p.action, p.subject] for p in model.tools},
        },
        indent=1,
    )
