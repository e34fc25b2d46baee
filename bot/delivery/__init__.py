"""Delivery: the outbox sender and its targets (Discord channel, Discord webhook, console)."""
