"""Fixtures for the delivery tests (the outbox rig lives in ``tests.delivery.rig``)."""

from tests.delivery.rig import rig

__all__ = ["rig"]
