"""One step of a task's goal as a request a person makes, its facts woven into the sentence.

The verb phrase comes from the tool's name turned into what the user wants: a read as what
they want to know ("know which appointments I have, past ones included", "find out about
the product Headphones (in-ear, wireless)"), a check of who they are as "confirm who I am"
with the facts they give for it, a change by what it changes ("move my appointment A0016
to the slot starting at 10:30 on 14 June 2024"), anything else as the verb and its object
("book a new patient visit ..."). The arguments become phrases by their kind and name: a
date as "on 12 June 2024", an enum member of a `*_type` parameter as "as a new patient
visit", a reason as "the reason being ...", a record the agent must find by its
description, a payment as "paying with ...", a pair `x`, `new_x` as "swapping x for new x".
No field is listed as "name: value".
"""

from __future__ import annotations

import random
import re

from envscale.tasks.goals import Detail, Step, past
from envscale.tasks.phrasing import article, listed, plural

CHANGE = ("update", "modify", "change", "edit", "set", "reschedule", "move")
END = ("cancel", "void", "discontinue", "archive", "delete", "remove", "close")
READ = ("get", "list", "find", "search", "show", "lookup", "view", "read")
VERIFY = ("verify", "authenticate", "validate", "confirm")
GIVE = ("send", "give", "issue", "offer", "grant")
PARTICLES = ("in", "out", "up", "off", "on", "over")
PREPOSITIONS = ("from", "to", "into", "for", "on", "onto")
ADDRESS = ("address1", "address2", "street", "city", "state", "zip", "postcode", "country")
# Phrases that follow what they qualify without a comma ("book an appointment for the slot").
BOUND = ("from ", "to ", "on ", "for ", "with ", "as ", "by ", "paying ", "using ", "swapping ")
_MOVE = ("transfer", "connect", "forward", "put")
_NOT_OBJECT = {"id", "ids", "details", "detail", "info", "all", "by"}
_TYPE_WORDS = ("type", "kind", "class", "category", "tier", "level")
_MONEY = ("amount", "price", "total", "cost", "fee", "value", "sum", "balance")
_FREE_TEXT = ("summary", "notes", "note", "message", "comment", "description", "thought")

WHO_AM_I = ("confirm who I am", "verify my identity", "check that it's really me")
MY_RECORD = ("look up my account", "find my record", "pull up my details")
MY_DETAILS = ("go over my details", "see my account details", "check my details")
KNOW = ("know", "find out", "hear")


class Request:
    """The wording of one step, seeded by the task's random source."""

    def __init__(self, step: Step, own: str, person: str, said: set[str], rng: random.Random):
        self.step = step
        self.own = own  # the user's record as they name it ("my order #W123"), or ""
        self.person = person  # the user's entity in words ("patient"), or ""
        self.said = said  # what the instruction already says of the user (their email)
        self.rng = rng
        self.left = [d for d in step.details if d.text]
        words = [w for w in step.words if w not in _NOT_OBJECT]
        self.what = " ".join(words)

    # ---- the details

    def _take(self, wanted) -> Detail | None:
        for detail in self.left:
            if wanted(detail):
                self.left.remove(detail)
                return detail
        return None

    def _record(self, noun: str | None = None) -> Detail | None:
        """A detail naming a record the agent finds (of `noun`, when given)."""
        return self._take(
            lambda d: (
                d.kind in ("record", "list")
                and not d.known
                and (noun is None or _same(d.name, noun))
            )
        )

    def facts(self) -> str:
        """The user's own facts still to say: "my last name is Brown and my date of birth
        is 3 December 2019" (a fact already said is named only: "my email")."""
        own = [d for d in self.left if d.own]
        for d in own:
            self.left.remove(d)
        new = [f"my {d.name} is {d.text}" for d in own if d.text not in self.said]
        old = [f"my {d.name}" for d in own if d.text in self.said]
        if new:
            return listed(new)
        return f"by {listed(old)}" if old else ""

    def woven(self, family: str) -> str:
        """The details not yet said, as phrases joined into the sentence."""
        out: list[str] = []
        lines = [d for d in self.left if d.param in ADDRESS and d.kind != "record"]
        if len(lines) >= 2:  # an address given field by field is said as one
            self.left = [d for d in self.left if d not in lines]
            out.append(f"{'to' if family == 'change' else 'at'} {', '.join(d.text for d in lines)}")
        names = {d.param: d for d in self.left}
        for detail in list(self.left):
            if detail not in self.left:
                continue
            newer = names.get(f"new_{detail.param}")
            if newer is not None and newer in self.left:
                self.left.remove(newer)
                noun = re.sub(r" ids?$", "", detail.name)
                many = isinstance(detail.value, list) and len(detail.value) > 1
                out.append(
                    f"swapping the {plural(noun) if many else noun} {detail.text} for {newer.text}"
                )
                continue
            out.append(self._phrase(detail, family))
        self.left = []
        for lead in ("so that ", "with "):  # "with a, with b" -> "with a and b"
            same = [p.removeprefix(lead) for p in out if p.startswith(lead)]
            if len(same) > 1:
                at = next(i for i, p in enumerate(out) if p.startswith(lead))
                out = [p for p in out if not p.startswith(lead)]
                out.insert(at, lead + listed(same))
        out.sort(key=lambda p: not p.startswith("from "))  # the route first
        text = ""
        for phrase in out:
            text += (" " if phrase.startswith(BOUND) or not text else ", ") + phrase
        return text.strip()

    def _phrase(self, d: Detail, family: str) -> str:
        name, text = d.name, d.text
        last = name.split()[-1]
        if "payment" in name or name in ("method", "payment method"):
            return self.rng.choice((f"paying with {text}", f"using {text}"))
        if d.kind in ("record", "list") and not d.known:
            if family == "change":
                return f"to {text}"
            if self.step.verb in GIVE:
                return f"to {text}"
            return f"{'with' if _named_person(text) else 'for'} {text}"
        if name == "reason":
            return self.rng.choice((f"the reason being {text}", f"giving {text} as the reason"))
        if name in ("origin", "from"):
            return f"from {text}"
        if name in ("destination", "to"):
            return f"to {text}"
        if d.kind == "enum" and d.value in ("yes", "no"):
            return f"with {name}" if d.value == "yes" else f"without {name}"
        if d.kind == "enum":
            if last in _TYPE_WORDS:
                stem = name.rsplit(" ", 1)[0] if " " in name else ""
                return f"as {article(f'{text} {stem}'.strip())}"
            if last in ("method", "channel", "via"):
                return f"by {text}"
            return f"with {text} as the {name}"
        if d.kind == "flag":
            first, _, rest = name.partition(" ")
            if first in ("include", "including") and rest:
                return f"{rest} ones included" if d.value else f"leaving out {rest} ones"
            return f"with {name}" if d.value else f"without {name}"
        if d.kind == "number":
            if last in _MONEY:
                return f"for an amount of {text}"
            if name.endswith("s"):
                return f"with {text} {name}"
            return f"with {article(name)} of {text}"
        if d.kind == "date":
            if last in ("date", "day"):
                return f"on {text}"
            return f"with the {name} {text}"
        if d.kind == "id":
            return f"with the {name} {text}"
        if d.kind in ("list", "struct"):
            return f"to {text}" if family == "change" else f"with the {name} {text}"
        if last in _FREE_TEXT or (len(text.split()) > 3 and "address" not in name):
            return f'noting "{text}"'
        if family == "change":
            return f"so that the {name} is {text}"
        return f"with the {name} {text}"

    # ---- the verb phrase

    def head(self) -> tuple[str, str]:
        """The verb phrase and its family (read, end, change, other), details taken out of
        `left` where the phrase says them itself."""
        step, own, rng = self.step, self.own, self.rng
        verb, what = step.verb, self.what
        personal = bool(self.person) and (what in (self.person, "user", "account"))
        if verb in VERIFY and (personal or not what):
            other = self._record()  # someone else's identity: theirs, told by their record
            if other is not None:
                return f"check the identity of {other.text}", "check"
            facts = self.facts()
            head = rng.choice(WHO_AM_I)
            if facts.startswith("by "):
                return f"{head} {facts}", "check"
            return (f"{head} ({facts})" if facts else head), "check"
        first = what.partition(" ")[0]
        if verb in READ or (step.kind == "read" and what and first not in PREPOSITIONS):
            return self._read(personal), "read"
        if verb in END:
            return self._object(rng.choice((verb, f"have {{}} {past(verb)}"))), "end"
        if verb in CHANGE:
            return self._change(), "change"
        if verb == "mark":
            target = own or (d.text if (d := self._record()) else "it")
            state = " ".join(step.tool.split("_")[1:])  # the status words the object drops
            return f"mark {target} as {state}", "other"
        return self._other(), "other"

    def _read(self, personal: bool) -> str:
        own, rng, what = self.own, self.rng, self.what
        if personal:
            facts = self.facts()
            if not facts and not self.step.mine and self.left:
                return "look up the account"
            head = rng.choice(MY_DETAILS if self.step.mine or not facts else MY_RECORD)
            return f"{head} {facts}" if facts.startswith("by ") else _bracket(head, facts)
        what = re.sub(rf"\s*\bfor {re.escape(self.person)}$", "", what) if self.person else what
        know = rng.choice(KNOW)
        if own and _same(what, self.step.noun or ""):
            return rng.choice((f"look at {own}", f"check {own}", f"go over {own}"))
        if own:
            rest = what.removeprefix(f"{self.step.noun} ") if self.step.noun else what
            return f"{know} the {rest} of {own}"
        record = self._record(what)
        if record is not None:
            return rng.choice((f"find out about {record.text}", f"know more about {record.text}"))
        record = self._record()
        if record is not None and what:
            return f"see the {what} of {record.text}"
        if not what:
            record = self._record()
            return (
                f"find out about {record.text}" if record is not None else f"{know} what you have"
            )
        many = self.step.verb in ("list", "search", "find") or what.endswith("s")
        if many:
            whose = "I have" if self.step.mine else "there are"
            return f"{know} which {plural(what)} {whose}"
        return f"{know} {'my' if self.step.mine else 'the'} {what}"

    def _object(self, pattern: str) -> str:
        """`pattern` (a verb, or "have {} cancelled") with the record the step acts on."""
        own, what = self.own, self.what
        first, _, rest = what.partition(" ")
        if first in PREPOSITIONS and rest:
            thing = self._record()
            target = own or (rest if plural(rest) == rest else f"the {rest}")
            if thing is None and first == "to" and pattern in _MOVE:  # transfer me to ...
                return f"be {past(pattern)} to {rest}"
            said = thing.text if thing is not None else "it"
            return _fill(pattern, said) + f" {first} {target}"
        if own:
            return _fill(pattern, own)
        # The record it ends, told by what the user knows of it (a prescription by its drug).
        record = self._record(what) or self._record()
        if record is not None:
            return _fill(pattern, record.text)
        return _fill(pattern, f"the {what}" if what else "it")

    def _change(self) -> str:
        own, noun, what, rng = self.own, self.step.noun or "", self.what, self.rng
        verb = self.step.verb
        verb = verb if verb in ("update", "change", "move", "reschedule") else "change"
        if own and (_same(what, noun) or not what):
            return f"{verb} {own}"
        if own:
            rest = what.removeprefix(f"{noun} ") or what
            return rng.choice((f"change the {rest} of {own}", f"update the {rest} on {own}"))
        record = self._record(what)
        if record is not None:
            return f"{verb} {record.text}"
        whose = self._record(self.person) if self.person else None  # another person's
        if whose is not None and what:
            return f"{verb} the {what} of {whose.text}"
        if self.person and what.startswith(f"{self.person} "):
            what = what.removeprefix(f"{self.person} ")
        mine = "my" if self.step.mine or self.person else "the"
        return f"{verb} {mine} {what}" if what else verb

    def _other(self) -> str:
        own, verb, what = self.own, self.step.verb, self.what
        first, _, rest = what.partition(" ")
        if not what:
            return f"{verb} {own}" if own else verb
        if what in PARTICLES or (first in PARTICLES and not rest):
            return f"{verb} {what}" + (f" for {own}" if own else "")
        if first in PREPOSITIONS and rest:
            return self._object(verb)
        noun = self.step.noun or ""
        if own and _same(what, noun):
            return f"{verb} {own}"
        if own and what.startswith(f"{noun} "):  # return the items of my order
            rest = what.removeprefix(f"{noun} ")
            swapped = {
                d.param.removeprefix("new_") for d in self.left if d.param.startswith("new_")
            }
            these = self._take(
                lambda d: (
                    d.known
                    and d.param not in swapped
                    and _same(re.sub(r" ids?$", "", d.name), rest)
                )
            )
            if these is not None:
                return f"{verb} the {rest} {these.text} from {own}"
            return f"{verb} the {rest} of {own}"
        same = self._take(lambda d: d.known and d.kind in ("text", "enum") and _same(d.name, what))
        if same is not None:
            return f"{verb} {same.text} as {article(what)}" + (f" for {own}" if own else "")
        record = self._record(what)
        if record is not None:
            return f"{verb} {record.text}"
        thing = what if _uncounted(what) else article(what)
        if verb in GIVE and self.step.mine:
            return f"get {thing}" + (f" for {own}" if own else "")  # not "send me"
        return f"{verb} {thing}" + (f" for {own}" if own else "")


def _uncounted(noun: str) -> bool:
    """A noun said without "a": roaming, data, information."""
    last = noun.split()[-1] if noun else ""
    return last.endswith("ing") or last in ("data", "information", "info", "access", "help")


def _fill(pattern: str, thing: str) -> str:
    return pattern.format(thing) if "{}" in pattern else f"{pattern} {thing}"


def _bracket(head: str, facts: str) -> str:
    return f"{head} ({facts})" if facts else head


def _same(a: str, b: str) -> bool:
    """Whether two nouns in words name the same thing ("menu item" and "item", "items")."""
    if not a or not b:
        return False
    a, b = a.removesuffix("s"), b.removesuffix("s")
    return a == b or a.endswith(f" {b}") or b.endswith(f" {a}")


def _named_person(text: str) -> bool:
    """A record told by a person's name ("the clinician Dr. Helen Park")."""
    return bool(re.match(r"the \w+ (Dr|Mr|Ms|Mrs)\. ", text))
