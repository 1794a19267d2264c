"""The loss-mask audit: checks a rendered sample's supervised tokens against its messages.

The check is independent of how the mask was made. Each message's payload (text content,
tool-call names and string arguments) is located in the rendered text, in order. Then:
every token of an assistant payload must be supervised; no token touching a system, user
or tool payload may be; a supervised token must lie between the end of the message before
an assistant turn and the start of the message after it (so tool listings and earlier turns
stay unsupervised); and a sample must supervise something. An assistant turn left out of
the loss on purpose (`unsupervised`, such as one whose tool call failed) is checked like a
user turn: none of its tokens may be supervised. Template text between two
payloads, such as the header of the turn after an assistant's, is not told apart: the
audit cannot know, without knowing the template, which turn it belongs to.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any


class AuditError(ValueError):
    pass


@dataclass
class _Located:
    role: str
    pieces: list[tuple[int, int]]  # char ranges of the payload pieces, in order
    start: int  # first payload char (or where it would be, when there is none)
    end: int


def message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def _leaf_strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _leaf_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _leaf_strings(v)]
    if isinstance(value, str) and value.strip():
        return [value]
    return []


def _payload(message: dict[str, Any]) -> list[str]:
    pieces = []
    text = message_text(message.get("content")).strip()
    if text:
        pieces.append(text)
    for call in message.get("tool_calls") or []:
        fn = call.get("function", call)
        pieces.append(fn["name"])
        pieces.extend(_leaf_strings(fn.get("arguments")))
    return pieces


def _find(text: str, piece: str, cursor: int) -> tuple[int, int] | None:
    # A template may print a string raw or JSON-escaped (tojson), ASCII-escaped or not.
    for form in (piece, json.dumps(piece, ensure_ascii=False)[1:-1], json.dumps(piece)[1:-1]):
        at = text.find(form, cursor)
        if at >= 0:
            return at, at + len(form)
    return None


def locate_messages(
    messages: Sequence[dict[str, Any]], text: str, spans: Sequence[tuple[int, int]]
) -> list[_Located]:
    """Find each message's payload in `text`, scanning forward; raise if one is missing."""
    located = []
    cursor = 0
    for index, message in enumerate(messages):
        role = message["role"]
        ranges = []
        for piece in _payload(message):
            found = _find(text, piece, cursor)
            if found is None:
                raise AuditError(
                    f"message {index} ({role}): the rendering does not contain {piece[:60]!r}"
                )
            ranges.append(found)
            cursor = found[1]
        if role == "assistant":
            # Skip the rest of this turn's generation block, so that a short payload of the
            # next message is not found inside it.
            for start, end in spans:
                if start < cursor <= end:
                    cursor = max(cursor, end)
        start = ranges[0][0] if ranges else cursor
        end = ranges[-1][1] if ranges else cursor
        located.append(_Located(role, ranges, start, end))
    return located


@dataclass
class AuditResult:
    turn_ends: list[int]  # per assistant turn: index after its last supervised token
    supervised: int


def audit_sample(
    messages: Sequence[dict[str, Any]],
    text: str,
    spans: Sequence[tuple[int, int]],
    offsets: Sequence[tuple[int, int]],
    mask: Sequence[bool],
    unsupervised: Collection[int] = (),
) -> AuditResult:
    located = locate_messages(messages, text, spans)
    if not any(m.role == "assistant" for m in located):
        raise AuditError("the sample has no assistant message, so nothing to learn")
    supervised = [i for i, m in enumerate(mask) if m]
    if not supervised:
        raise AuditError(
            "no token is supervised: the chat template's generation blocks cover nothing"
        )
    if mask[0]:
        raise AuditError(
            "the first token is supervised, but nothing precedes it to predict it from"
        )

    starts = [s for s, _ in offsets]
    problems: list[str] = []

    def tokens_in(lo: int, hi: int) -> range:
        # Tokens whose char span overlaps [lo, hi).
        first = max(0, bisect.bisect_right(starts, lo) - 1)
        while first < len(offsets) and offsets[first][1] <= lo:
            first += 1
        last = bisect.bisect_left(starts, hi)
        return range(first, last)

    regions = []
    turn_ends = []
    for index, msg in enumerate(located):
        if msg.role == "assistant" and index not in unsupervised:
            lo = located[index - 1].end if index else 0
            hi = located[index + 1].start if index + 1 < len(located) else len(text)
            regions.append((lo, hi))
            in_turn = [t for t in tokens_in(lo, hi) if mask[t]]
            if not in_turn:
                problems.append(f"message {index} (assistant): no token of this turn is supervised")
            else:
                turn_ends.append(in_turn[-1] + 1)
            for lo_p, hi_p in msg.pieces:
                missed = [t for t in tokens_in(lo_p, hi_p) if not mask[t]]
                if missed:
                    problems.append(
                        f"message {index} (assistant): {text[lo_p:hi_p][:60]!r} is not fully "
                        "supervised"
                    )
        else:
            for lo_p, hi_p in msg.pieces:
                if any(mask[t] for t in tokens_in(lo_p, hi_p)):
                    problems.append(
                        f"message {index} ({msg.role}): supervised tokens in "
                        f"{text[lo_p:hi_p][:60]!r}"
                    )
    for t in supervised:
        s, e = offsets[t]
        if not any(lo <= s and e <= hi for lo, hi in regions):
            problems.append(
                f"token {t} {text[s:e]!r} at char {s} is supervised outside any assistant turn"
            )
            break
    if problems:
        raise AuditError(
            "; ".join(problems[:5])
            + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
        )
    return AuditResult(turn_ends=turn_ends, supervised=len(supervised))


def mark_supervised(
    text: str, offsets: Sequence[tuple[int, int]], mask: Sequence[bool], color: bool
) -> str:
    """The rendered text with supervised runs wrapped in markers (or coloured green)."""
    open_, close = ("\x1b[42;30m", "\x1b[0m") if color else ("⟦", "⟧")
    out = []
    pos = 0
    t = 0
    while t < len(mask):
        if not mask[t]:
            t += 1
            continue
        run_start = t
        while t < len(mask) and mask[t]:
            t += 1
        lo, hi = offsets[run_start][0], offsets[t - 1][1]
        out += [text[pos:lo], open_, text[lo:hi], close]
        pos = hi
    out.append(text[pos:])
    return "".join(out)
