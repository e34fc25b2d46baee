"""The ``wirewatch`` command line: ``main`` parses it and runs a subcommand.

Subcommands beyond ``run``/``once``: ``match`` (try a query on items), ``stories`` (story
grouping on items), ``export``/``import`` (``portability``: backups, ``opml``, ``watchfile``).
"""
