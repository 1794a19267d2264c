"""Spec-text fuzzing: mutants of the shipped specs, checked, and when they check clean, run.

Each mutant starts from a shipped spec (`specs/*.domain`) or, a share `GENERATED_SHARE`, from
a generated one (`specgen.odd_spec`, which holds the newer language: derived and hidden
fields, transitions, references in lists, maps and structs, the time and number built-ins),
whole or a slice of it (a few tools and the declarations they need, so that most mutants are
small and fast), and gets one to three mutations of its attack's class:

- bytes: bits flipped, bytes inserted (NUL, \\v, \\f, bytes of no UTF-8), spans deleted or
  repeated; text that is no UTF-8 goes through the file reader.
- tokens: tokens swapped, repeated or deleted; a name replaced everywhere by a reserved or
  clashing one (Python keywords and built-ins, pydantic's and SQLite's names, leading
  underscores, a case variant); numbers replaced by huge or odd literals; odd characters
  put into strings or anywhere (NUL, \\v, \\u2028, a lone surrogate).
- structure: declarations repeated, dropped or reordered; bodies and expressions nested
  deeper; entities widened; the newer language put where it may or may not belong (`@derived`
  and `@hidden` on any field, a `transitions` declaration over any field with states named
  or made up, values wrapped in `money`, `format` with a specification, `add_hours`).

For each mutant, in-process: `check` (analysis) must not raise (ESCAPED_EXCEPTION otherwise);
every diagnostic must point inside the text, at a line the text itself has when split at its
newlines, shown as that line (WRONG_POSITION); a mutant that checks clean must compile all
its artifacts, load as a domain, build an environment from generated data and take one call
of each tool without an internal error (FAILED_LATER). The end-to-end part runs on every
clean mutant whose generated code is new to the run (mutants that differ in layout, comments
or unused text compile to the same code and are run once); `E2E_LIMIT` caps how many a run of
one attack takes, so a long run stays within its time: end to end is a sample, at most 40 of
each 1,000 mutants (a chunk of benchmarks/fuzz.py), while every mutant is checked and every
clean one compiled.

Rebuild a reported mutant with `mutant(attack, seed, index)`; the reproducer names them.
"""

from __future__ import annotations

import hashlib
import linecache
import random
import re
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import NamedTuple

from envscale.compiler.build import compile_file, spec_hash
from envscale.compiler.codegen import generate
from envscale.compiler.pipeline import analyze
from envscale.dsl.diagnostics import Diagnostic, render_all, visible_line
from envscale.fuzz.report import (
    ESCAPED_EXCEPTION,
    FAILED_LATER,
    WRONG_POSITION,
    Attack,
    Problem,
    Tally,
    shorten,
)
from envscale.fuzz.specgen import odd_spec
from envscale.runtime.domain import Domain
from envscale.tasks.datagen import generate_data
from envscale.tasks.toolgraph import ToolGraph
from envscale.tasks.walk import Walker

SPECS = Path(__file__).resolve().parents[2] / "specs"
BASES = ("clinic", "retail", "airline", "delivery")
GENERATED_SHARE = 0.25  # of mutants made from a generated spec rather than a shipped one
SLICE_SHARE = 0.9  # of mutants made from a slice rather than a whole spec
E2E_LIMIT = 40  # end-to-end runs per `run` call at most (a chunk of benchmarks/fuzz.py)
DATA_SIZE = 3

# ---- the texts


_TOKEN = re.compile(
    r'(?P<S>(?s:""".*?""")|"(?:[^"\\\n]|\\.)*")'
    r"|(?P<C>#[^\n]*)"
    r"|(?P<N>[A-Za-z_]\w*)"
    r"|(?P<F>[0-9]+\.[0-9]+(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<I>[0-9]+)"
    r"|(?P<W>\s+)"
    r"|(?P<P>->|[=!<>]=|.)",
    re.ASCII | re.DOTALL,
)
_DECLS = frozenset(
    {"domain", "enum", "struct", "entity", "invariant", "tool", "policy", "transitions"}
)


class Token(NamedTuple):
    kind: str  # S string, C comment, N name, F float, I int, W space, P punctuation
    start: int
    text: str


@lru_cache(maxsize=512)
def tokens(text: str) -> tuple[Token, ...]:
    return tuple(Token(m.lastgroup or "P", m.start(), m.group()) for m in _TOKEN.finditer(text))


@dataclass(frozen=True)
class Chunk:
    """One top-level declaration's text (with what follows it up to the next one)."""

    keyword: str
    name: str
    text: str
    names: frozenset[str]  # every name it mentions


def chunks(text: str) -> list[Chunk]:
    toks = [t for t in tokens(text) if t.kind not in "WC"]
    starts: list[int] = []
    depth = 0
    for i, tok in enumerate(toks):
        if tok.text in "({[" and tok.kind == "P":
            depth += 1
        elif tok.text in ")}]" and tok.kind == "P":
            depth -= 1
        elif depth == 0 and tok.kind == "N" and tok.text in _DECLS:
            after = toks[i + 1 : i + 3]
            if tok.text == "policy" and not (
                len(after) == 2 and after[0].kind == "N" and after[0].text != "from"
            ):
                continue  # `policy "..."` / `policy from` inside the domain declaration
            starts.append(i)
    out = []
    for n, i in enumerate(starts):
        begin = toks[i].start
        end = toks[starts[n + 1]].start if n + 1 < len(starts) else len(text)
        inside = toks[i : starts[n + 1] if n + 1 < len(starts) else len(toks)]
        name = inside[1].text if len(inside) > 1 else ""
        out.append(
            Chunk(
                toks[i].text,
                name,
                text[begin:end],
                frozenset(t.text for t in inside if t.kind == "N"),
            )
        )
    return out


@cache
def base_texts() -> dict[str, str]:
    return {name: (SPECS / f"{name}.domain").read_text(encoding="utf-8") for name in BASES}


@lru_cache(maxsize=64)
def _generated(label: str) -> str:
    return odd_spec(int(label.removeprefix("odd_spec(").removesuffix(")")))


@cache
def base_chunks(name: str) -> tuple[Chunk, ...]:
    return tuple(chunks(base_texts()[name]))


def spec_slice(name: str, rng: random.Random, parts: tuple[Chunk, ...] | None = None) -> str:
    """The domain declaration, a few tools, and every declaration they name, transitively;
    invariants, transitions and policies only when what they name is all there. `parts`, the
    declarations of a text that is no shipped spec."""
    parts = base_chunks(name) if parts is None else parts
    tools = [c for c in parts if c.keyword == "tool"]
    chosen = {c.name for c in rng.sample(tools, k=min(len(tools), rng.choice((1, 1, 2, 3))))}
    defined = {c.name: c for c in parts if c.keyword in ("enum", "struct", "entity", "tool")}
    todo = list(chosen)
    while todo:
        for mentioned in defined[todo.pop()].names:
            if (
                mentioned in defined
                and mentioned not in chosen
                and (defined[mentioned].keyword != "tool")
            ):
                chosen.add(mentioned)
                todo.append(mentioned)
    kept = []
    for c in parts:
        if c.keyword == "domain" or c.name in chosen:
            kept.append(c.text)
        elif c.keyword in ("invariant", "policy", "transitions"):
            named = {n for n in c.names if n in defined}
            if named <= chosen:
                kept.append(c.text)
    return "".join(kept)


# ---- mutations

RESERVED_NAMES = (
    # Python keywords and built-ins
    "class", "def", "from", "None", "True", "lambda", "import", "yield", "match", "case",
    "type", "str", "int", "float", "bool", "list", "dict", "tuple", "object", "len", "print",
    "range", "sorted", "isinstance", "Exception", "self", "cls", "super", "id", "input",
    # names generated code and pydantic use
    "model_config", "model_fields", "model_dump", "Model", "BaseModel", "Field", "Literal",
    "Annotated", "Date", "DateTime", "ConfigDict", "StringConstraints", "db", "Db", "lib",
    "row", "every_row", "ToolError", "TOOLS", "INVARIANTS", "ENTITIES", "STRUCTS",
    "ARGUMENTS", "annotations", "copy", "json", "schema", "validate", "dict_", "Args",
    "__builtins__", "__class__", "__init__", "__dict__", "_x", "_", "__", "x_",
    # SQLite
    "sqlite_master", "sqlite_x", "SQLITE_TEMP", "rowid", "oid", "_rowid_", "select",
    "order", "group", "table", "index", "key", "check", "default", "primary", "references",
    # the language's own words
    "domain", "entity", "tool", "let", "set", "for", "in", "not", "and", "or", "if", "else",
    "return", "true", "false", "none", "map", "date", "datetime", "reads", "writes", "any",
)  # fmt: skip
HUGE_NUMBERS = (
    "9223372036854775807", "9223372036854775808", "18446744073709551616",
    "9" * 5000, "1" + "0" * 20, "0", "00000000000000000000001", "1.0e999", "1.0e308",
    "1.0e-400", "0.0", "123456789.123456789e300", "4294967296",
)  # fmt: skip
ODD_IN_STRINGS = (
    "\\x00", "\\0", "\\u0000", "\\ud800", "\\udfff", "\\U0010ffff", "\\N{NULL}", "\x0b",
    "\x0c", "\x1c", "\x85", "\u2028", "\u2029", "\ufeff", "\r", "\\r\\n", "'", "''", "\\\\",
    '\\"', '"""', "{{ x }}", "{% if %}", "%s", "{0}", "*/", "--", ";", "'); DROP TABLE x; --",
    "\x7f", "\u202e", "\U0001f600", "\\", "é", "\t",
)  # fmt: skip
ODD_BYTES = (
    b"\x00", b"\x0b", b"\x0c", b"\x1c", b"\x85", b"\xc2\x85", b"\xe2\x80\xa8", b"\xff",
    b"\xc0\x80", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\r", b"\n", b"\t", b'"', b"{", b"}",
    b"#", b"\\", b"(", b")",
)  # fmt: skip
# Characters put anywhere in the text, as text (a lone surrogate cannot come from a file).
RAW_CHARACTERS = ("\x00", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\ufeff", "\ud800", "\r", "\t")
TYPE_NAMES = ("str", "int", "float", "bool", "date", "datetime", "list<str>", "map<str, int>")


def _replace_token(text: str, tok: Token, new: str) -> str:
    return text[: tok.start] + new + text[tok.start + len(tok.text) :]


def mutate_bytes(text: str, rng: random.Random) -> tuple[bytes, str]:
    data = bytearray(text.encode("utf-8"))
    done = []
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(data) + 1)
        op = rng.randrange(5)
        if op == 0 and at < len(data):
            data[at] ^= 1 << rng.randrange(8)
            done.append(f"flip a bit at {at}")
        elif op == 1:
            piece = rng.choice(ODD_BYTES)
            data[at:at] = piece
            done.append(f"insert {piece!r} at {at}")
        elif op == 2:
            n = rng.choice((1, 1, 2, 8, 64))
            del data[at : at + n]
            done.append(f"delete {n} at {at}")
        elif op == 3:
            n = rng.choice((1, 4, 32, 256))
            data[at:at] = data[at : at + n] * rng.choice((1, 2, 50))
            done.append(f"repeat {n} at {at}")
        else:
            data[at:at] = bytes([rng.randrange(256)])
            done.append(f"insert a random byte at {at}")
    return bytes(data), ", ".join(done)


def mutate_tokens(text: str, rng: random.Random) -> tuple[str, str]:
    done = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        toks = [t for t in tokens(text) if t.kind not in "WC"]
        if len(toks) < 2:
            break
        op = rng.randrange(9)
        names = [t for t in toks if t.kind == "N"]
        if op == 0:
            a, b = sorted(rng.sample(range(len(toks)), 2))
            ta, tb = toks[a], toks[b]
            text = (
                text[: ta.start]
                + tb.text
                + text[ta.start + len(ta.text) : tb.start]
                + (ta.text + text[tb.start + len(tb.text) :])
            )
            done.append(f"swap {ta.text[:20]!r} and {tb.text[:20]!r}")
        elif op == 1:
            tok = rng.choice(toks)
            text = _replace_token(text, tok, tok.text + " " + tok.text)
            done.append(f"repeat {tok.text[:20]!r}")
        elif op == 2:
            tok = rng.choice(toks)
            text = _replace_token(text, tok, "")
            done.append(f"delete {tok.text[:20]!r}")
        elif op in (3, 4) and names:
            old = rng.choice(names).text
            new = rng.choice(RESERVED_NAMES)
            if rng.random() < 0.3:
                new = rng.choice((old.upper(), old.lower(), old.capitalize(), "_" + old))
            text = re.sub(rf"\b{re.escape(old)}\b", new, text)
            done.append(f"rename {old!r} to {new!r} everywhere")
        elif op == 5:
            numbers = [t for t in toks if t.kind in "IF"]
            tok = rng.choice(numbers or toks)
            new = rng.choice(HUGE_NUMBERS)
            text = _replace_token(text, tok, new if rng.random() < 0.8 else "-" + new)
            done.append(f"number {tok.text[:20]!r} to {new[:24]!r}")
        elif op == 6:
            strings = [t for t in toks if t.kind == "S" and not t.text.startswith('"""')]
            if not strings:
                continue
            tok = rng.choice(strings)
            odd = rng.choice(ODD_IN_STRINGS)
            at = rng.randint(1, len(tok.text) - 1)
            text = _replace_token(text, tok, tok.text[:at] + odd + tok.text[at:])
            done.append(f"put {odd!r} into {tok.text[:30]!r}")
        elif op == 7:
            odd = rng.choice(RAW_CHARACTERS)
            at = rng.randrange(len(text) + 1)
            text = text[:at] + odd + text[at:]
            done.append(f"insert {odd!r} at {at}")
        else:
            types = [t for t in toks if t.kind == "N" and t.text in TYPE_NAMES]
            if not types:
                continue
            tok = rng.choice(types)
            new = rng.choice((*TYPE_NAMES, tok.text + "?", f"list<{tok.text}>"))
            text = _replace_token(text, tok, new)
            done.append(f"type {tok.text!r} to {new!r}")
    return text, ", ".join(done) or "none"


def mutate_structure(text: str, rng: random.Random) -> tuple[str, str]:
    parts = [c.text for c in chunks(text)]
    done = []
    for _ in range(rng.randint(1, 2)):
        if len(parts) < 2:
            break
        op = rng.randrange(8)
        i = rng.randrange(len(parts))
        if op == 0:
            parts.insert(rng.randrange(len(parts) + 1), parts[i])
            done.append(f"repeat declaration {i}")
        elif op == 1:
            del parts[i]
            done.append(f"drop declaration {i}")
        elif op == 2:
            j = rng.randrange(len(parts))
            parts[i], parts[j] = parts[j], parts[i]
            done.append(f"swap declarations {i} and {j}")
        elif op == 3:
            parts[i], n = _nest_body(parts[i], rng)
            done.append(f"nest the body of declaration {i} {n} deep")
        elif op == 4:
            parts[i], n = _nest_expression(parts[i], rng)
            done.append(f"nest an expression of declaration {i} {n} deep")
        elif op == 5:
            parts[i], n = _widen(parts[i], rng)
            done.append(f"add {n} fields to declaration {i}")
        elif op == 6:
            parts, what = _newer_language(parts, rng)
            done.append(what)
        else:
            rng.shuffle(parts)
            done.append("shuffle the declarations")
    return "".join(parts), ", ".join(done) or "none"


def _nest_body(part: str, rng: random.Random) -> tuple[str, int]:
    """Wrap a tool's body (after its doc string) in loops and ifs."""
    n = rng.choice((1, 5, 15, 16, 17, 20, 21, 40, 70))
    match = re.search(r'\{\s*("(?:[^"\\\n]|\\.)*"|"""(?s:.*?)""")?', part)
    end = part.rfind("}")
    if match is None or end <= match.end():
        return part, 0
    opening, closing = [], []
    for k in range(n):
        opening.append(f"for q{k} in range(2) {{ " if rng.random() < 0.6 else "if true { ")
        closing.append("} ")
    body = part[match.end() : end]
    return part[: match.end()] + " " + "".join(opening) + body + "".join(closing) + part[end:], n


def _nest_expression(part: str, rng: random.Random) -> tuple[str, int]:
    toks = [t for t in tokens(part) if t.kind in "NIFS"]
    if not toks:
        return part, 0
    tok = rng.choice(toks)
    n = rng.choice((2, 30, 59, 60, 61, 119, 120, 121, 200, 1000))
    shape = rng.randrange(4)
    if shape == 0:
        new = "(" * n + tok.text + ")" * n
    elif shape == 1:
        new = "not " * n + tok.text
    elif shape == 2:
        new = "-" * n + tok.text
    else:
        new = "[" * n + tok.text + "]" * n
    return _replace_token(part, tok, new), n


_FIELD = re.compile(r"(?m)^(\s*)([A-Za-z_]\w*)(\s*:\s*[^\n\"@]*?)(\s*(?:@|\"|$))")
NEWER_ATTRIBUTES = (
    "@hidden",
    "@derived({x} + 1)",
    "@derived(money({x}))",
    '@derived(format("{{:,.2f}}", {x}))',
    "@derived(len({x}))",
    "@derived(hours_between({x}, {x}))",
    "@derived(self.{x})",
    "@derived({y} * 2)",
    "@derived(Order.all())",
    "@derived(count({y}))",
    "@hidden @hidden",
    "@derived({x}) @key",
    "@derived(add_minutes({x}, 30)) @default(1)",
)
WRAPPERS = (
    "money({})",
    'format("{{:,.2f}}", {})',
    'format("{{:.0f}} and {{:12}}", {}, 1)',
    'format("{{:>3x}}", {})',
    'format("{{:,d}}", {})',
    "add_hours({}, 2)",
    "add_minutes({}, -90)",
    "hours_between({}, now())",
    "minutes_between(now(), {})",
    "money({}, 2)",
)


def _newer_language(parts: list[str], rng: random.Random) -> tuple[list[str], str]:
    """An attribute, a transitions declaration or a built-in of the newer language, where it
    may or may not belong."""
    fields = [
        (i, m)
        for i, part in enumerate(parts)
        if part.startswith(("entity", "struct"))
        for m in _FIELD.finditer(part)
        if m.group(2) not in ("entity", "struct")
    ]
    names = [m.group(2) for _, m in fields] or ["status"]
    shape = rng.randrange(3)
    if shape == 0 and fields:
        i, m = rng.choice(fields)
        x, y = m.group(2) if rng.random() < 0.5 else rng.choice(names), rng.choice(names)
        attribute = rng.choice(NEWER_ATTRIBUTES).format(x=x, y=y)
        at = m.end(3)
        parts[i] = parts[i][:at] + " " + attribute + parts[i][at:]
        return parts, f"put {attribute!r} on field {m.group(2)!r}"
    if shape == 1:
        entities = [re.match(r"entity\s+(\w+)", p) for p in parts]
        owner = rng.choice([e.group(1) for e in entities if e] or ["Nowhere"])
        states = [rng.choice([*names, "placed", "done", "x"]) for _ in range(rng.randint(1, 5))]
        arrows = rng.choice([" -> ", ", ", " -> ", "; "])
        text = f"transitions {owner}.{rng.choice(names)} {{ {arrows.join(states)} }}\n\n"
        parts.insert(rng.randrange(len(parts) + 1), text)
        return parts, f"add {text.strip()!r}"
    i = rng.randrange(len(parts))
    toks = [t for t in tokens(parts[i]) if t.kind in "NIFS" and t.text not in _DECLS]
    if not toks:
        return parts, "none"
    tok = rng.choice(toks)
    wrapped = rng.choice(WRAPPERS).format(tok.text)
    parts[i] = _replace_token(parts[i], tok, wrapped)
    return parts, f"wrap {tok.text[:20]!r} as {wrapped[:40]!r}"


def _widen(part: str, rng: random.Random) -> tuple[str, int]:
    if not part.startswith(("entity", "struct")) or "{" not in part:
        return part, 0
    n = rng.choice((3, 10, 300, 2001)) if rng.random() < 0.9 else rng.choice((1998, 1999, 2000))
    at = part.index("{") + 1
    fields = " ".join(f"w{k}: {rng.choice(TYPE_NAMES)}?" for k in range(n))
    return part[:at] + " " + fields + part[at:], n


# ---- one mutant, end to end


@dataclass
class Mutant:
    attack: str
    seed: int
    index: int
    base: str  # the shipped spec it came from
    text: str | None  # None when the bytes are no UTF-8
    data: bytes
    how: str

    @property
    def reproducer(self) -> str:
        return f"mutant({self.attack!r}, {self.seed}, {self.index}) from {self.base}: {self.how}"


_MUTATIONS: dict[str, Callable[[str, random.Random], tuple[str | bytes, str]]] = {
    "bytes": mutate_bytes,
    "tokens": mutate_tokens,
    "structure": mutate_structure,
}


def mutant(attack: str, seed: int, index: int) -> Mutant:
    kind = attack.rsplit(".", 1)[-1]
    rng = random.Random(f"{attack}:{seed}:{index}")
    base = rng.choice(BASES)
    whole = rng.random() >= SLICE_SHARE
    if rng.random() < GENERATED_SHARE:
        base = f"odd_spec({rng.randrange(10**6)})"
        text = _generated(base)
        text = text if whole else spec_slice(base, rng, tuple(chunks(text)))
    else:
        text = base_texts()[base] if whole else spec_slice(base, rng)
    mutated, how = _MUTATIONS[kind](text, rng)
    label = base if whole else f"a slice of {base}"
    if isinstance(mutated, bytes):
        try:
            decoded: str | None = mutated.decode("utf-8")
        except UnicodeDecodeError:
            decoded = None
        return Mutant(attack, seed, index, label, decoded, mutated, how)
    return Mutant(attack, seed, index, label, mutated, mutated.encode("utf-8", "replace"), how)


def _where(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    last = frames[-1] if frames else None
    at = f" at {Path(last.filename).name}:{last.lineno}" if last else ""
    return f"{type(error).__name__}: {shorten(str(error), 160)}{at}"


def position_problem(text: str, diagnostics: list[Diagnostic], file: str) -> str | None:
    """Why a diagnostic does not point at the text as the text's own lines show it, or None."""
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    for d in diagnostics:
        if d.span.file != file:
            continue
        line, column = d.span.line, d.span.column
        if not 1 <= line <= len(lines):
            return f"{d.code} at line {line}, the text has {len(lines)}"
        own = lines[line - 1]
        if not 1 <= column <= len(own.removesuffix("\r")) + 1:
            return f"{d.code} at {line}:{column}, line {line} has {len(own)} characters"
        shown = d.render(text).split("\n")
        gutter = f"{line} | "
        row = next((r for r in shown if r.startswith(gutter)), None)
        if row is None or row[len(gutter) :] != visible_line(own):
            return f"{d.code} at {line}:{column} shows another line than line {line}"
        quoted = re.match(r"unexpected '(.+)'$", d.message)
        if quoted and not own[column - 1 :].startswith(quoted.group(1).split("\n")[0][:20]):
            return f"{d.code} says {d.message!r} but {line}:{column} holds something else"
    return None


class _Runner:
    def __init__(self, tally: Tally):
        self.tally = tally
        self.seen_code: set[str] = set()
        self.e2e_runs = 0

    def problem(self, kind: str, detail: str, m: Mutant) -> None:
        self.tally.add(Problem(kind, detail, m.reproducer))

    def run(self, m: Mutant) -> None:
        file = str(SPECS / f"{m.base.rsplit(' ', 1)[-1]}.domain")
        if m.text is None:
            self.unreadable(m, file)
            return
        try:
            c = analyze(m.text, file, Path(file))
            diagnostics = list(c.diagnostics)
            render_all(diagnostics, {file: m.text})
        except Exception as error:  # the defect this attack looks for
            self.problem(ESCAPED_EXCEPTION, f"check raised {_where(error)}", m)
            return
        if c.diagnostics.has_errors or c.ir is None:
            if (why := position_problem(m.text, diagnostics, file)) is not None:
                self.problem(WRONG_POSITION, why, m)
            return
        try:
            # What compile_source does after its check, without checking again.
            c.ir.spec_hash = spec_hash(m.text, c.extra_sources)
            files = generate(c.ir)
        except Exception as error:
            self.problem(FAILED_LATER, f"compile raised {_where(error)}", m)
            return
        digest = _code_digest(files)
        if digest in self.seen_code or self.e2e_runs >= E2E_LIMIT:
            return
        self.seen_code.add(digest)
        self.e2e_runs += 1
        if (why := end_to_end(files, m.seed * 7919 + m.index)) is not None:
            self.problem(FAILED_LATER, why, m)

    def unreadable(self, m: Mutant, file: str) -> None:
        with tempfile.NamedTemporaryFile(suffix=".domain") as handle:
            handle.write(m.data)
            handle.flush()
            try:
                files, diagnostics, _ = compile_file(handle.name)
            except Exception as error:
                self.problem(ESCAPED_EXCEPTION, f"reading raised {_where(error)}", m)
                return
        if files is not None or [d.code for d in diagnostics] != ["E004"]:
            self.problem(WRONG_POSITION, "text that is no UTF-8 gave no E004", m)


def judge(text: str, tally: Tally, base: str = "retail", how: str = "a given text") -> None:
    """Check one spec text as the attacks check their mutants (compiled as if it were the
    shipped spec `base`, so that its policy file is found); problems go into `tally`."""
    data = text.encode("utf-8", "surrogatepass")
    _Runner(tally).run(Mutant("judge", 0, 0, base, text, data, how))


def _code_digest(files: dict[str, str]) -> str:
    """The generated code without the lines that name the spec's text (its hash, its path)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        for line in files[name].splitlines():
            if "sha256" not in line and "spec_hash" not in line and "Generated by" not in line:
                digest.update(line.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def end_to_end(files: dict[str, str], seed: int) -> str | None:
    """Load, generate data, build an environment, call each tool once; what failed, or None."""
    domain = None
    step = "load the domain"
    try:
        domain = Domain(files)
        step = "generate data"
        data = generate_data(domain, seed, DATA_SIZE)
        step = "build an environment"
        env = domain.environment(data)
        walker = Walker(domain, ToolGraph.from_manifest(domain.manifest))
        rng = random.Random(seed)
        for tool in domain.tools:
            step = f"draw arguments for {tool}"
            try:
                arguments = walker.draw(env, rng, tool, None, [], [])
            except Exception as error:
                if type(error).__name__ != "_NoValue":  # nothing in the data to draw from
                    raise
                arguments = {}
            step = f"call {tool}"
            result = env.call(tool, arguments)
            if result.internal:
                return f"{step}: {shorten(result.error or '', 200)}"
        env.close()
    except Exception as error:
        return f"{step} raised {_where(error)}"
    finally:
        if domain is not None:
            _forget(domain)
    return None


def _forget(domain: Domain) -> None:
    """Drop the generated modules a run of thousands of domains would otherwise keep."""
    prefix = f"envscale_generated.{domain.name}_{domain.spec_hash[:12]}."
    for name in [n for n in sys.modules if n.startswith(prefix)]:
        del sys.modules[name]
    for filename in (f"<envscale {domain.name}/models.py>", f"<envscale {domain.name}/tools.py>"):
        linecache.cache.pop(filename, None)


def _attack(kind: str) -> Attack:
    name = f"spectext.{kind}"

    def run(count: int, seed: int) -> Tally:
        tally = Tally(name)
        runner = _Runner(tally)
        for index in range(count):
            tally.tried += 1
            try:
                m = mutant(name, seed, index)
            except Exception as error:  # a broken mutator must not end the run unseen
                tally.add(
                    Problem(ESCAPED_EXCEPTION, f"mutator raised {_where(error)}", f"{seed}/{index}")
                )
                continue
            try:
                runner.run(m)
            except Exception as error:
                runner.problem(ESCAPED_EXCEPTION, f"fuzzer raised {_where(error)}", m)
        return tally

    return Attack(name, "specs", run)


ATTACKS = [_attack(kind) for kind in _MUTATIONS]
