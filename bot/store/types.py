"""Column types that map one meaning to each database's own type.

Times are Unix seconds as floats (REAL / DOUBLE PRECISION: exact round trip), Discord
snowflakes 64-bit integers, flags 0/1 on SQLite and BOOLEAN on PostgreSQL. JSON documents stay
TEXT: the store only reads them back whole, and JSONB would reject \\u0000 and reorder keys.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import REAL, BigInteger, Boolean, Double, Integer, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


def pg_text(value: str) -> str:
    """``value`` as PostgreSQL ``text`` can hold it: NUL becomes U+FFFD, lone surrogates ``?``.

    PostgreSQL refuses the whole statement over either (SQLite takes NUL), so one odd character
    in a feed would otherwise fail every poll of that feed.
    """
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    if value.isascii():
        return value
    return value.encode("utf-8", "replace").decode("utf-8")


class _PgText(TypeDecorator[str]):
    """TEXT that cleans what PostgreSQL refuses (only used on PostgreSQL)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return pg_text(value) if value is not None else None


class NameList(TypeDecorator[Sequence[str]]):
    """A list of names: TEXT[] on PostgreSQL, a JSON list in TEXT on SQLite."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(Text))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Sequence[str] | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return [pg_text(name) for name in value]
        return json.dumps(list(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> Sequence[str] | None:
        if value is None:
            return None
        return list(value) if dialect.name == "postgresql" else list(json.loads(value))


StoredText = Text().with_variant(_PgText(), "postgresql")
Id = BigInteger().with_variant(Integer(), "sqlite")
Snowflake = BigInteger().with_variant(Integer(), "sqlite")
Time: TypeEngine[float] = Double().with_variant(REAL(), "sqlite")
Flag = Boolean().with_variant(Integer(), "sqlite")
