"""Wirewatch: watch news feeds and post keyword alerts into Discord."""

__version__ = "0.1.0"
