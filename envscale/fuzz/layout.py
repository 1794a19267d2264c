"""Formatter fuzzing: specs in random layouts, formatted; the artifacts must not change.

Each input is a valid spec, generated (`specgen.odd_spec`) or a slice of a shipped one, half of
them re-laid out at random (`scramble`: the same tokens and comments, other whitespace). Its
formatted text must compile to byte-identical artifacts and format to itself again; a
FormatError (the formatter's own check that only whitespace changed) is a problem too.
"""

from __future__ import annotations

import random
from pathlib import Path

from envscale.compiler.build import compile_source
from envscale.dsl.format import FormatError, format_spec
from envscale.dsl.tokens import scan
from envscale.fuzz.report import FORMAT_CHANGED, Attack, Problem, Tally, shorten
from envscale.fuzz.specgen import odd_spec
from envscale.fuzz.spectext import BASES, SPECS, spec_slice

_GAPS = (" ", "  ", "\t", "\n", "\n  ", " \n\n")


def scramble(text: str, rng: random.Random) -> str:
    """The same tokens and comments in another layout: each run of whitespace between tokens
    replaced by spaces, tabs or newlines, some tokens written without the space between them
    where the source had none (a comment still ends its line)."""
    tokens, comments = scan(text)
    pieces = sorted(tokens + comments, key=lambda t: t.start)
    out: list[str] = []
    for i, tok in enumerate(pieces):
        if i:
            before = pieces[i - 1]
            if before.kind == "comment":
                out.append(rng.choice(["\n", "\n\n", "\n    "]))
            elif tok.kind == "comment" or text[before.end : tok.start] or rng.random() < 0.5:
                out.append(rng.choice(_GAPS))
        out.append(tok.text)
    return "".join(out) + "\n"


def _artifacts(text: str, path: Path) -> dict[str, str] | None:
    return compile_source(text, str(path), path)[0]


def check_layout(text: str, path: Path) -> str | None:
    """What is wrong with formatting this valid spec, or None."""
    before = _artifacts(text, path)
    if before is None:
        return None  # not a valid spec: nothing to compare
    try:
        formatted, diagnostics = format_spec(text, str(path))
    except FormatError as error:
        return str(error)
    if formatted is None:
        return f"a spec that compiles was refused: {diagnostics[0].message}"
    if format_spec(formatted, str(path))[0] != formatted:
        return "formatting the formatted text changed it again"
    after = _artifacts(formatted, path)
    if after != before:
        changed = sorted(n for n in before if after is None or after.get(n) != before[n])
        return f"the formatted spec compiles to other artifacts: {', '.join(changed)}"
    return None


def run(count: int, seed: int) -> Tally:
    tally = Tally("layout.fmt")
    for i in range(seed, seed + count):
        rng = random.Random(i)
        if i % 2:
            name = BASES[(i // 2) % len(BASES)]
            text, path = spec_slice(name, rng), SPECS / f"{name}.domain"
        else:
            text, path = odd_spec(i), SPECS / "generated.domain"
        if rng.random() < 0.5:
            text = scramble(text, rng)
        tally.tried += 1
        try:
            problem = check_layout(text, path)
        except Exception as error:  # a crash is what the fuzzer looks for
            problem = f"{type(error).__name__}: {error}"
        if problem is not None:
            tally.add(Problem(FORMAT_CHANGED, problem, shorten(text)))
    return tally


ATTACKS = [Attack("layout.fmt", "specs", run, share=0.3)]
