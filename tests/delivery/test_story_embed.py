"""The story parts of an alert's rendering: "Also reported by" and the "updated" marker."""

from __future__ import annotations

import pytest

from bot.core.model import Snippet, Source
from bot.delivery.embed import alert_to_message, also_reported_field
from tests.delivery.test_embed import embed_of, make_alert
from tests.fakes.discord_validate import check_message


def _sources(count: int, name: str = "Outlet", link: str = "https://n{i}.example/a") -> tuple[
        Source, ...]:
    return tuple(Source(f"{name} {i}", link.format(i=i)) for i in range(1, count + 1))


@pytest.mark.parametrize(("count", "listed", "more"), [
    (1, 1, None), (2, 2, None), (10, 10, None), (11, 10, "and 1 more"), (37, 10, "and 27 more"),
])
def test_first_ten_linked_then_and_n_more(count: int, listed: int, more: str | None) -> None:
    field = also_reported_field(_sources(count))
    assert field is not None
    name, value = field
    assert name == f"Also reported by ({count})"
    assert value.count("](https://") == listed
    assert value.startswith("[Outlet 1](https://n1.example/a)")
    assert value.endswith(more) if more else "more" not in value


def test_no_sources_no_field() -> None:
    assert also_reported_field(()) is None
    assert "fields" not in embed_of(alert_to_message(make_alert()))


def test_field_always_fits_even_with_huge_names() -> None:
    sources = _sources(10, name="N" * 500, link="https://x.example/" + "p" * 250 + "{i}")
    _, value = also_reported_field(sources) or ("", "")
    assert len(value) <= 1024 and "more" in value


def test_unsafe_links_are_shown_as_plain_names() -> None:
    sources = (Source("Evil", "javascript:alert(1)"), Source("Paren", "https://x.example/a)b"),
               Source("Star*Tribune", ""))
    _, value = also_reported_field(sources) or ("", "")
    assert value == "Evil · Paren · Star\\*Tribune"


def test_message_with_sources_and_update_is_valid_for_discord() -> None:
    alert = make_alert(also_reported=_sources(40, name="S" * 70), updated=True,
                       snippet=Snippet("x " * 3000, ()))
    message = alert_to_message(alert)
    embed = embed_of(message)
    assert embed["title"] == "Updated: China limits rare earths exports"
    assert embed["fields"][0]["name"] == "Also reported by (40)"
    assert embed["fields"][0]["inline"] is False
    assert check_message(message) is None
