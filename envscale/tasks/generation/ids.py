"""Id formats of generated keys: those of sample data, else the prefixes the tools pass to
`next_key` or the first keys they give `free_key` (manifest `key_formats`), else (for a key
whose checks shape it) an example quoted in the tools' parameter docs, else the entity's
initials."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from envscale.tasks import fakes
from envscale.tasks.generation.facts import length_range, meets

_ID_SHAPE = re.compile(r"^(\D*)(\d+)$")
_EXAMPLE = re.compile(r"(?:such as|e\.g\.,?)\s+'([^']+)'((?:\s*(?:,|or)\s*'[^']+')*)")
_QUOTED = re.compile(r"'([^']+)'")
# An id given unquoted: "e.g. P001", "e.g. #W0000000" (a word holding a digit).
_BARE_EXAMPLE = re.compile(r"(?:such as|e\.g\.,?)\s+([#A-Za-z_-]*\d[#A-Za-z0-9_-]*)\b")
_USERNAME = re.compile(r"^[a-z]+_[a-z]+_\d+$")
ISSUED_WIDTH = 7  # keys of this many digits or more look issued: spread, not counted


@dataclass(frozen=True)
class IdFormat:
    """Ids `prefix` + a number padded to `width`; or, with `first`, ids of `first`'s shape
    (`free_key`'s first key), spread over that shape's keys as issued codes are."""

    prefix: str
    width: int
    first: str = ""
    username: bool = False  # made from the record's person (`sara_doe_496`), not counted

    def make(self, number: int) -> str:
        if self.first:
            return spread(self.first, number - 1)
        if self.width >= ISSUED_WIDTH:  # a long number is issued, not counted (#W4820913)
            return self.prefix + spread("1".zfill(self.width), number - 1)
        return f"{self.prefix}{str(number).zfill(self.width)}"

    def fitted(self, low: int, high: int | None) -> IdFormat:
        """The format with its width changed so that its ids are `low` to `high` long."""
        if self.first or self.username:
            return self
        length = len(self.prefix) + self.width
        if length >= low and (high is None or length <= high):
            return self
        target = low if length < low else high
        assert target is not None
        prefix = self.prefix[: max(0, target - 1)]
        return IdFormat(prefix, target - len(prefix))


def counted(first: str, steps: int) -> str:
    """The key `steps` after `first`, counting its last run of letters and digits like an
    odometer, each position within its own kind (what `free_key` walks through)."""
    head, run = _split_run(first)
    digits = list(run)
    carry = steps
    for i in range(len(digits) - 1, -1, -1):
        if not carry:
            break
        zero, base = _kind(digits[i])
        total = ord(digits[i]) - ord(zero) + carry
        digits[i], carry = chr(ord(zero) + total % base), total // base
    return head + (str(carry) if carry else "") + "".join(digits)


def spread(first: str, steps: int) -> str:
    """The `steps`-th key of `first`'s shape (its last run of letters and digits, each
    position within its own kind), taken through a fixed permutation of that shape's keys:
    distinct steps give distinct keys, and neighbouring steps look unrelated, as issued
    booking codes do."""
    head, run = _split_run(first)
    kinds = [_kind(ch) for ch in run]
    space = 1
    rank = 0
    for ch, (zero, base) in zip(run, kinds, strict=True):
        space *= base
        rank = rank * base + ord(ch) - ord(zero)
    value = _permuted((rank + steps) % space, space)
    out = []
    for zero, base in reversed(kinds):
        value, digit = divmod(value, base)
        out.append(chr(ord(zero) + digit))
    return head + "".join(reversed(out))


def _permuted(index: int, space: int) -> int:
    """`index` through a bijection of range(space): xor-shifts and odd multipliers permute
    the integers of `bits` bits, and a result past `space` is permuted again until it falls
    inside (cycle walking), which keeps the map one-to-one on range(space)."""
    bits = max(space - 1, 1).bit_length()
    mask = (1 << bits) - 1
    shift = bits // 2 + 1
    value = index
    while True:
        for multiplier in (0x9E3779B1, 0x85EBCA77):
            value ^= value >> shift
            value = (value * multiplier) & mask
        value ^= value >> shift
        if value < space:
            return value


def _split_run(key: str) -> tuple[str, str]:
    start = len(key)
    while start > 0 and key[start - 1].isascii() and key[start - 1].isalnum():
        start -= 1
    return key[:start], key[start:]


def _kind(ch: str) -> tuple[str, int]:
    return ("0", 10) if ch.isdigit() else (("A", 26) if ch.isupper() else ("a", 26))


def id_formats(domain: Any, like: dict[str, list[dict]] | None = None) -> dict[str, IdFormat]:
    """The id format of each entity keyed by one string field."""
    manifest = domain.manifest
    from_tools = {
        entity: IdFormat(fmt.prefix, fmt.width, fmt.first)
        for entity, fmt in manifest.key_formats.items()
    }
    examples = doc_examples(domain)
    formats: dict[str, IdFormat] = {}
    taken: set[str] = set()
    pending = []
    for entity, spec in manifest.entities.items():
        if len(spec.key) != 1:
            continue
        key = next(f for f in spec.fields if f.name == spec.key[0])
        if key.kind != "str":
            continue
        facts = [fact for fact in spec.facts if fact.field == key.name]
        learned = _learn_format((like or {}).get(entity) or [], key.name)
        fmt = learned or from_tools.get(entity)
        if fmt is None:
            # Follow the examples of the docs that meet the key's checks: user names made
            # from the person's name ('sara_doe_496'), else a prefix and a number ('P001').
            meeting = [
                x
                for x in examples.get(key.name, [])
                if all(meets(fact, {key.name: x}) for fact in facts)
            ]
            if meeting and all(_USERNAME.match(x) for x in meeting):
                fmt = IdFormat("", 0, username=True)
            else:
                fmt = _learn_format([{key.name: x} for x in meeting], key.name)
                if fmt is not None and any(c.islower() for c in fmt.prefix):
                    fmt = None
        if fmt is None:
            pending.append(entity)
            continue
        formats[entity] = fmt.fitted(*length_range(facts))
        taken.add(fmt.prefix)
    for entity in pending:
        initials = "".join(w[0] for w in fakes.words(entity)).upper()
        prefix = initials if initials not in taken else entity[:3].upper()
        while prefix in taken:
            prefix += "X"
        taken.add(prefix)
        key_name = manifest.entities[entity].key[0]
        facts = [fact for fact in manifest.entities[entity].facts if fact.field == key_name]
        formats[entity] = IdFormat(prefix, 4).fitted(*length_range(facts))
    return formats


def doc_examples(domain: Any) -> dict[str, list[str]]:
    """Values the tools' parameter docs quote as examples ("such as 'HAT001'"), by parameter
    or field name, in first-seen order."""
    found: dict[str, list[str]] = {}

    def visit(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item)
            return
        if not isinstance(node, dict):
            return
        for name, prop in (node.get("properties") or {}).items():
            if isinstance(prop, dict) and isinstance(prop.get("description"), str):
                doc = prop["description"]
                quoted = [
                    value
                    for match in _EXAMPLE.finditer(doc)
                    for value in [match.group(1), *_QUOTED.findall(match.group(2))]
                ]
                for value in quoted + _BARE_EXAMPLE.findall(doc):
                    if value not in found.setdefault(name, []):
                        found[name].append(value)
        for value in node.values():
            visit(value)

    visit(domain.tool_schemas)
    return found


def _learn_format(records: list[dict], key: str) -> IdFormat | None:
    shapes = []
    for record in records if isinstance(records, list) else list(records.values()):
        match = _ID_SHAPE.match(str(record.get(key, "")))
        if match is None:
            return None
        shapes.append((match.group(1), len(match.group(2))))
    if not shapes or len({p for p, _ in shapes}) != 1:
        return None
    return IdFormat(shapes[0][0], max(w for _, w in shapes))
