"""importer: a file-drop importer for retail data feeds."""

__version__ = "0.1.0"
