"""Words of identifiers and the names a spec may use.

`words("getUserOrders")` is ['get', 'user', 'orders']; `singular("categories")` is 'category';
`camel(["order", "line"])` is 'OrderLine'. `Namer` hands out names that the spec language
accepts (its NAME token, no Python keyword, nothing the generated code or SQLite keeps, no
built-in a body calls), unique among those already given.
"""

from __future__ import annotations

import keyword
import re
import unicodedata

from envscale.compiler.builtins import BUILTINS
from envscale.compiler.check_names import MODULE_NAMES, PYDANTIC_NAMES


def wordset(text: str) -> frozenset[str]:
    """The words of a text, as a set: the lexicons are written as prose-like lists."""
    return frozenset(text.split())


_SPLIT = re.compile(r"[^A-Za-z0-9]+")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])|([A-Z])([A-Z][a-z])")
_DIGITS = re.compile(r"([A-Za-z])([0-9])|([0-9])([A-Za-z])")
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

# Words of the spec language: accepted as names by its parsers, but kept clear of so that a
# synthesised spec reads plainly.
LANGUAGE_WORDS = wordset(
    "domain enum struct entity invariant tool policy transitions let require fail set insert "
    "delete for if else return in not and or true false none reads writes on from clock "
    "before at most list map self"
)
# A parameter or field named like a built-in would hide it from the body (`format(...)` of a
# parameter called format is no call).
BUILTIN_NAMES = frozenset(BUILTINS)
TYPE_NAMES = wordset("str int float bool date datetime list map")

_IRREGULAR = {
    "people": "person",
    "children": "child",
    "men": "man",
    "women": "woman",
    "feet": "foot",
    "teeth": "tooth",
    "mice": "mouse",
    "geese": "goose",
    "data": "data",
    "media": "media",
    "criteria": "criterion",
    "indices": "index",
    "matrices": "matrix",
    "analyses": "analysis",
    "statuses": "status",
    "aliases": "alias",
    "series": "series",
    "species": "species",
    "news": "news",
}
_KEEP_S = (
    "ss",
    "us",
    "is",
    "news",
    "sms",
    "gps",
    "dns",
    "os",
    "ios",
    "aws",
    "css",
    "rss",
    "stats",
    "plus",
    "bus",
    "gas",
    "lens",
    "bonus",
    "status",
    "address",
    "canvas",
    "atlas",
    "analysis",
    "basis",
    "physics",
    "economics",
    "politics",
    "mathematics",
    "athletics",
    "genesis",
)


def words(name: str) -> list[str]:
    """Lower-case words of an identifier or phrase: snake, camel and kebab case, digits apart."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    text = _CAMEL.sub(lambda m: f"{m[1] or m[3]}_{m[2] or m[4]}", text)
    text = _DIGITS.sub(lambda m: f"{m[1] or m[3]}_{m[2] or m[4]}", text)
    return [w.lower() for w in _SPLIT.split(text) if w]


def singular(word: str) -> str:
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 3 or not word.endswith("s") or word.endswith(_KEEP_S):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "zes", "sses")):
        return word[:-2]
    if word.endswith("ves") and word[:-3] in ("lea", "hal", "shel", "kni", "wol", "cal"):
        return word[:-3] + ("fe" if word[:-3] == "kni" else "f")
    return word[:-1]


def is_plural(word: str) -> bool:
    return singular(word) != word


def camel(parts: list[str]) -> str:
    return "".join(p[:1].upper() + p[1:] for p in parts if p)


def snake(parts: list[str]) -> str:
    return "_".join(p for p in parts if p)


def phrase(parts: list[str]) -> str:
    return " ".join(p for p in parts if p)


class Namer:
    """Names that are valid in the spec and unique within one scope (case-insensitively, as
    SQLite compares table and column names)."""

    def __init__(self, reserved: frozenset[str] | set[str] = frozenset()):
        self.taken: set[str] = {r.lower() for r in reserved}

    def take(self, name: str) -> str:
        self.taken.add(name.lower())
        return name

    def has(self, name: str) -> bool:
        return name.lower() in self.taken

    def fresh(self, wanted: str, kind: str = "value") -> str:
        """`wanted` made valid (`kind` is "type", "tool" or "value") and not yet taken."""
        base = valid_name(wanted, kind)
        name, n = base, 2
        while name.lower() in self.taken:
            name = f"{base}{n}"
            n += 1
        return self.take(name)


def valid_name(wanted: str, kind: str = "value") -> str:
    """A name the language accepts for a type, a tool or a value (field, parameter, local)."""
    text = unicodedata.normalize("NFKD", wanted).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_")
    text = re.sub(r"__+", "_", text)
    if not text:
        text = "x"
    if not text[0].isalpha():
        text = ("T" if kind == "type" else "n") + ("" if text[0] == "_" else "_") + text
        text = text.replace("__", "_")
    if kind == "type":
        text = text[0].upper() + text[1:]
    if text.startswith("model_") or text.lower().startswith("sqlite_"):
        text = "x_" + text  # pydantic and SQLite keep these prefixes, with any suffix
    if clashes(text, kind):
        text += "_"
    return text


def clashes(name: str, kind: str) -> bool:
    if keyword.iskeyword(name) or name in LANGUAGE_WORDS:
        return True
    if name in PYDANTIC_NAMES or name.startswith("model_") or name.lower().startswith("sqlite_"):
        return True
    if kind in ("type", "tool") and (name in MODULE_NAMES or name in TYPE_NAMES):
        return True
    if kind == "tool" and name.startswith(("check_", "derive_")):
        return True
    return kind == "value" and (name in BUILTIN_NAMES or name in TYPE_NAMES)
