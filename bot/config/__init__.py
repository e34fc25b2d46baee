"""The config file (``config/wirewatch.toml``) and a watch's delivery settings, validated once.

``file`` is the pydantic model of the file and its loader; ``cadence`` says when a watch's
matches go out (instant, digests, quiet hours). Both check watch queries with the query
language below them (``bot.query``).
"""
