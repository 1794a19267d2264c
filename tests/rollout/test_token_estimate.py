"""The word-and-mark count of scripted turns, against the plain per-character loop it
replaces, over any text (letters and digits of every script, marks, spaces, underscores)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from envscale.rollout.dialogue import estimate_tokens


def counted_by_hand(text: str) -> int:
    count = 0
    in_word = False
    for ch in text:
        if ch.isalnum():
            count += not in_word
            in_word = True
        else:
            in_word = False
            count += not ch.isspace()
    return count


@given(st.text())
def test_the_count_is_the_loops(text: str) -> None:
    assert estimate_tokens(text) == counted_by_hand(text)


def test_examples() -> None:
    assert estimate_tokens(None) == estimate_tokens("") == 0
    assert estimate_tokens("Order #W0000014, item ids: 76-423753") == 10
    assert estimate_tokens("snake_case ²³ ١٢ 漢字 e\u0301") == counted_by_hand(
        "snake_case ²³ ١٢ 漢字 e\u0301"
    )
