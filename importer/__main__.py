"""Allow ``python -m importer``."""

from importer.cli import program

raise SystemExit(program())
