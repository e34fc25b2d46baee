"""A clock the test moves by hand: pass it where the bot takes ``clock`` (a callable)."""

from __future__ import annotations

from dataclasses import dataclass

START = 1_800_000_000.0


@dataclass
class ManualClock:
    """Unix time ``now``, changed only by the test (``clock.now = …``)."""

    now: float = START

    def __call__(self) -> float:
        return self.now
