"""The embedding wire format, what is embedded, and a model that cannot run (issue 23).

These run without the optional model: a missing or unknown model must leave a poll with
no vectors, never an exception.
"""

from __future__ import annotations

import math

import pytest

from bot.core.metrics import EMBED_FAILURES, EMBED_QUEUE
from bot.core.model import Entry
from bot.pipeline.embedding import (
    MAX_TEXT_CHARS,
    decode_vector,
    decode_vectors,
    encode_vector,
    encode_vectors,
    item_text,
)
from bot.pipeline.isolation import IsolatedParser
from bot.pipeline.meaning import Meanings, item_meanings, stored_meanings, text_meaning


@pytest.mark.parametrize("vector", [(), (1.0,), (0.5, -0.25, 0.125),
                                    tuple(i / 7 for i in range(384))])
def test_vectors_round_trip_as_float32(vector: tuple[float, ...]) -> None:
    back = decode_vector(encode_vector(vector))
    assert len(back) == len(vector)
    assert all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(back, vector, strict=True))
    assert decode_vectors(encode_vectors([vector, vector])) == [back, back]


@pytest.mark.parametrize(("entry", "text"), [
    (Entry(key="a", title="  China   curbs\nexports ", summary="<p>lead</p>"),
     "China curbs exports"),
    (Entry(key="b", summary="<p>Only a <b>lead</b></p>"), "Only a lead"),
    (Entry(key="c", title="x" * 1000), "x" * MAX_TEXT_CHARS),
    (Entry(key="d"), ""),
])
def test_item_text_is_the_headline_else_the_lead(entry: Entry, text: str) -> None:
    assert item_text(entry) == text


async def test_an_unknown_model_gives_no_vectors_and_counts_a_failure() -> None:
    pool = IsolatedParser(workers=1, timeout_s=10)
    try:
        meanings = Meanings(pool, model="no-such-model")
        failures, queued = EMBED_FAILURES._value.get(), EMBED_QUEUE._value.get()
        found = await item_meanings(meanings, ["rare earths"], [Entry(key="a", title="Gallium")])
        assert found == ({}, {})
        assert await text_meaning(meanings, ["rare earths"], "Gallium") is None
        assert await stored_meanings(meanings, ["rare earths"], [None, "AAAA"]) == [None, None]
        assert EMBED_QUEUE._value.get() == queued  # nothing left counted as waiting
        assert EMBED_FAILURES._value.get() == failures  # topics failed first: items not tried
    finally:
        await pool.close()


async def test_a_model_failure_on_items_counts_and_empties_the_queue() -> None:
    pool = IsolatedParser(workers=1, timeout_s=10)
    try:
        meanings = Meanings(pool, model="no-such-model")
        failures, queued = EMBED_FAILURES._value.get(), EMBED_QUEUE._value.get()
        assert await meanings.vectors([Entry(key=str(i), title=f"t{i}") for i in range(40)]) == {}
        assert EMBED_FAILURES._value.get() == failures + 1
        assert EMBED_QUEUE._value.get() == queued
    finally:
        await pool.close()
