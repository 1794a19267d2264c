"""What a tool does, from its name, its HTTP method, its description and what it returns.

`classify(name_words, description, method, returns)` gives a `Verb`: the action ("lookup",
"search", "create", "update", "delete", "status", "act"), the verb as found, and for a
status change the state it moves to; for an act (book, pay, send, rate...) the name of the
record it leaves behind. The first word of the name that the lexicon knows decides; then
the description's first words; then the HTTP method; a name without a known verb reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from envscale.synth.nouns import words, wordset

READ_VERBS = wordset(
    """
    get list search find check fetch retrieve show view read query lookup look browse
    describe count calculate compute convert translate detect analyze analyse estimate
    predict recommend suggest validate verify see display explore discover monitor measure
    compare evaluate identify recognize recognise extract parse summarize summarise classify
    scan download autocomplete locate geocode forecast lookup inspect test ping fetch obtain
    filter sort rank match determine assess simulate plan recommend top trending random
    return
    """
)
CREATE_VERBS = wordset(
    """
    create add new make generate insert post upload register signup build open compose draft
    issue setup
    """
)
UPDATE_VERBS = wordset(
    """
    update set change edit modify rename move assign configure customize customise adjust
    replace patch put upgrade downgrade reschedule extend renew mark tag link attach save
    increase decrease increment decrement apply_discount reset toggle
    """
)
DELETE_VERBS = wordset("delete remove destroy erase purge drop clear revoke unlink")
# A status change: the verb, the state it leads to.
STATUS_VERBS = {
    "cancel": "cancelled",
    "approve": "approved",
    "reject": "rejected",
    "decline": "declined",
    "deny": "denied",
    "complete": "completed",
    "finish": "completed",
    "close": "closed",
    "reopen": "open",
    "activate": "active",
    "enable": "active",
    "deactivate": "inactive",
    "disable": "inactive",
    "archive": "archived",
    "unarchive": "active",
    "publish": "published",
    "unpublish": "draft",
    "confirm": "confirmed",
    "ship": "shipped",
    "deliver": "delivered",
    "suspend": "suspended",
    "resume": "active",
    "pause": "paused",
    "start": "started",
    "stop": "stopped",
    "lock": "locked",
    "unlock": "active",
    "block": "blocked",
    "unblock": "active",
    "accept": "accepted",
    "dismiss": "dismissed",
    "resolve": "resolved",
    "escalate": "escalated",
    "void": "void",
    "expire": "expired",
    "terminate": "terminated",
    "reactivate": "active",
    "restore": "active",
}
# Verbs whose state undoes another: the state they leave (resume leaves paused).
UNDOES = {
    "reopen": ("closed",),
    "unarchive": ("archived",),
    "resume": ("paused", "suspended"),
    "unlock": ("locked",),
    "unblock": ("blocked",),
    "activate": ("inactive",),
    "enable": ("inactive",),
    "reactivate": ("inactive", "suspended"),
    "restore": ("archived", "inactive"),
    "unpublish": ("published",),
}
# An act leaves a record of itself: the verb, what the record is called.
ACT_VERBS = {
    "book": "booking",
    "reserve": "reservation",
    "order": "order",
    "pay": "payment",
    "donate": "donation",
    "transfer": "transfer",
    "send": "message",
    "subscribe": "subscription",
    "unsubscribe": "unsubscription",
    "enroll": "enrollment",
    "enrol": "enrollment",
    "apply": "application",
    "vote": "vote",
    "rate": "rating",
    "review": "review",
    "comment": "comment",
    "follow": "follow",
    "unfollow": "unfollow",
    "like": "like",
    "share": "share",
    "submit": "submission",
    "request": "request",
    "report": "report",
    "purchase": "purchase",
    "buy": "purchase",
    "sell": "sale",
    "invite": "invitation",
    "schedule": "appointment",
    "redeem": "redemption",
    "deposit": "deposit",
    "withdraw": "withdrawal",
    "borrow": "loan",
    "rent": "rental",
    "log": "log entry",
    "record": "record",
    "execute": "execution",
    "run": "run",
    "play": "play",
    "bid": "bid",
    "claim": "claim",
    "message": "message",
    "notify": "notification",
    "email": "email",
    "call": "call",
    "reply": "reply",
    "checkout": "checkout",
    "exchange": "exchange",
    "bookmark": "bookmark",
    "favorite": "favorite",
    "deploy": "deployment",
    "install": "installation",
    "backup": "backup",
    "import": "import",
    "sync": "sync",
    "login": "session",
    "logout": "logout",
    "authenticate": "session",
    "refund": "refund",
    "trade": "trade",
    "hire": "hire",
    "train": "training run",
    "print": "print job",
    "translate_text": "translation",
    "upvote": "vote",
    "downvote": "vote",
    "join": "membership",
    "leave": "departure",
    "invest": "investment",
    "checkin": "check in",
    "charge": "charge",
    "track": "tracking",
    "post": "post",
}
# What a read that answers a question leaves as its answer: translate -> a translation.
READ_NOMINALS = {
    "translate": "translation",
    "convert": "conversion",
    "calculate": "calculation",
    "compute": "calculation",
    "predict": "prediction",
    "detect": "detection",
    "recommend": "recommendation",
    "suggest": "suggestion",
    "summarize": "summary",
    "summarise": "summary",
    "analyze": "analysis",
    "analyse": "analysis",
    "estimate": "estimate",
    "forecast": "forecast",
    "verify": "verification",
    "validate": "validation",
    "compare": "comparison",
    "evaluate": "evaluation",
    "classify": "classification",
    "extract": "extraction",
    "recognize": "recognition",
    "recognise": "recognition",
    "identify": "identification",
    "search": "search result",
    "geocode": "location",
    "autocomplete": "suggestion",
    "assess": "assessment",
    "simulate": "simulation",
    "plan": "plan",
}
# Words of a name that say which record, not what is done.
STOP_WORDS = wordset(
    """
    a an the for to of by in on at with from into onto via and or all my new details detail
    info information data by_id using based given specific single multiple one api v1 v2 v3
    id ids
    """
)
# Verbs that take a thing sent as their object ("send email"), so the object names the record.
OBJECT_ACTS = wordset("send post email message log record upload submit schedule")
HTTP = {"GET": "lookup", "HEAD": "lookup", "POST": "create", "PUT": "update", "PATCH": "update"}


@dataclass(frozen=True)
class Verb:
    action: str  # lookup | search | create | update | delete | status | act
    word: str = ""  # the verb as found, "" when none
    state: str = ""  # status: the state it moves to
    record: str = ""  # act: what the record it leaves is called
    index: int = -1  # position of the verb among the name's words

    @property
    def writes(self) -> bool:
        return self.action not in ("lookup", "search")


def verb_of(word: str) -> Verb | None:
    """The verb a word is, if the lexicon knows it (plural and -ing forms included)."""
    for w in dict.fromkeys((word, _base(word))):
        if w in ("list", "search", "find", "query", "browse", "filter", "explore"):
            return Verb("search", w)
        if w in READ_VERBS:
            return Verb("lookup", w)
        if w in STATUS_VERBS:
            return Verb("status", w, state=STATUS_VERBS[w])
        if w in DELETE_VERBS:
            return Verb("delete", w)
        if w in UPDATE_VERBS:
            return Verb("update", w)
        if w in CREATE_VERBS:
            return Verb("create", w)
        if w in ACT_VERBS:
            return Verb("act", w, record=ACT_VERBS[w])
    return None


def _base(word: str) -> str:
    for suffix, repl in (("ing", ""), ("ing", "e"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)] + repl
            if verb_like(stem):
                return stem
    return word


def verb_like(word: str) -> bool:
    return (
        word in READ_VERBS
        or word in CREATE_VERBS
        or word in UPDATE_VERBS
        or word in DELETE_VERBS
        or word in STATUS_VERBS
        or word in ACT_VERBS
    )


# Nouns that are verbs too: as the name's last word they are the record, not the act
# (`get_order`, `list_reviews`, `user_report`).
_NOUNISH = wordset(
    "order orders review reviews report reports comment comments like likes share shares "
    "vote votes post posts record records call calls message messages email emails log logs "
    "return returns run runs play plays bid bids claim claims transfer transfers deposit "
    "deposits trade trades request requests charge charges import exports set sets match "
    "matches test tests plan plans rank ranks sort filter track tracks"
)


def classify(
    name_words: list[str], description: str = "", method: str | None = None, returns: Any = None
) -> Verb:
    found = _first_verb(name_words)
    if found is None and description:
        found = _first_verb(words(description)[:1], description=True)
    if found is None and method:
        action = HTTP.get(method.upper())
        if method.upper() == "DELETE":
            action = "delete"
        if action:
            return Verb(action, method.lower())
    if found is None:
        return Verb("act") if _acknowledges(returns) else Verb("lookup")
    if method and method.upper() in ("GET", "HEAD") and found.writes:
        return Verb("lookup", found.word, index=found.index)
    return found


def _first_verb(ws: list[str], description: bool = False) -> Verb | None:
    for i, w in enumerate(ws):
        if not description and i == len(ws) - 1 and i > 0 and w in _NOUNISH:
            continue
        v = verb_of(w)
        if v is not None:
            return Verb(v.action, v.word, v.state, v.record, i)
    return None


def _acknowledges(returns: Any) -> bool:
    """Whether the output reads as the acknowledgement of a write ("success or failed")."""
    if returns is None:
        return False
    text = json.dumps(returns).lower()
    return "success" in text and "fail" in text
