"""The indexed evaluator: NEAR finds exactly the pairwise answer (its speed: test_size_limits)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.pipeline.match import compile_query
from bot.query.ast import Near
from bot.query.evaluate import DocView, near_hits
from bot.query.reference import reference_occurrences


def _pairwise(node: Near, text: str) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """Occurrences with a partner within reach, by trying every pair (the definition)."""
    lefts, rights = set(), set()
    for a0, a1 in reference_occurrences(node.left, text):
        for b0, b1 in reference_occurrences(node.right, text):
            if max(b0 - a1, a0 - b1) - 1 <= node.distance:
                lefts.add((a0, a1))
                rights.add((b0, b1))
    return lefts, rights


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(["tariffs", "china", "rare", "earths", "x", "y", ".", "-"]),
             max_size=40),
    st.sampled_from(["tariffs NEAR/{} china", '"rare earths" NEAR/{} china',
                     "tariffs NEAR/{} tariffs", "china NEAR/{} \"earths x\""]),
    st.integers(0, 4),
)
def test_near_hits_equal_the_pairwise_definition(words: list[str], query: str, n: int) -> None:
    text = " ".join(words)
    node = compile_query(query.format(n)).node
    assert isinstance(node, Near)
    index = DocView({"content": text}).index("content")
    lefts, rights = near_hits(node, index)
    expected = _pairwise(node, text)
    assert (set(lefts), set(rights)) == expected
    first, _ = near_hits(node, index, first_only=True)
    assert bool(first) == bool(expected[0])
