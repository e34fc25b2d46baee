"""The feed pipeline, one module per step: fetch → parse → store → match → render → deliver."""
