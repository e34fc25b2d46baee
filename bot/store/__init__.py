"""Persistent state behind one storage interface (SQLite by default)."""
