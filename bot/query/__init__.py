"""The watch-list query language: lexer, parser, syntax tree, evaluators and fast matcher."""
