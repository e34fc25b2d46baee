"""Local fakes of external services (real servers on 127.0.0.1, not mocks).

``discord_server.FakeDiscord`` imports no discord.py, so it can also run as its own process;
``discord_client`` holds the helpers that point a real discord.py client at it.
"""
