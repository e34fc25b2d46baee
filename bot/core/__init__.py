"""The shared vocabulary, at the bottom: everything may import it; it imports nothing above it.

``settings`` (the environment, validated once), ``model`` (plain dataclasses: Entry, Item,
Alert, …), ``errors`` (the one error tree), ``text`` and ``urls`` (pure text and URL helpers),
``durations``, ``quotas`` and ``metrics`` (the Prometheus instruments every layer reports to).
"""
