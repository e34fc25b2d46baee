"""The Discord gateway client and its slash commands: the only package that imports discord.py."""
