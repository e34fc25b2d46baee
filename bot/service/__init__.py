"""The running service: what turns the pipeline into a long-lived bot.

The composition root (the only modules that may import everything, and that nothing below
imports): ``app`` (``build_app``: settings → store → fetcher, parser, senders → dispatcher;
``run_once``), ``runner`` (``run_forever``: jobs, HTTP, gateway, signals) and ``gateway``
(starts the Discord client for each shard this process holds).

The parts it wires: ``runtime`` (``App``, the running parts handed to cogs and endpoints),
``dispatcher`` (starts polls as feeds fall due, from the database's schedule), ``jobs``
(APScheduler's cron-like jobs: digests, pruning, the watchdog), ``membership`` (process rows,
leases, gateway election), ``roles``, ``http`` (/healthz, /metrics), ``reporting`` (console
lines for ``wirewatch once``/``run``) and ``logs``.
"""
