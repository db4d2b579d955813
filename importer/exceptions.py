"""Every error importer raises on purpose, grouped by what happens next.

Terminal errors end a file in ``failed/`` with a report; transient errors leave the file where it
is so a later attempt can succeed; configuration and schema errors stop the program with exit
code 2 (a schema error leaves the file where it is too); a load's own signals never leave the
load. Library errors become these at one boundary each (the
database's is :mod:`importer.db.faults`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importer.problems import Problem


class ImporterError(Exception):
    """Base class of all importer errors."""


class ConfigError(ImporterError):
    """The configuration is invalid; the message names the offending key."""


class SchemaError(ImporterError):
    """The database's tables do not fit this release (older, newer, or changed by hand): the
    command stops with exit code 2 and every file stays where it is."""


class TerminalError(ImporterError):
    """The file itself is unusable; retrying the same bytes cannot succeed."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


class UnreadableFileError(TerminalError):
    """The bytes cannot be parsed as the expected format."""


class HeaderError(TerminalError):
    """Required columns are missing or headers are duplicated."""


class UnroutableFileError(TerminalError):
    """No feed pattern matches the file name, or the partner is unknown or invalid."""


class ThresholdExceededError(TerminalError):
    """Too many rows failed validation; nothing of the file is loaded."""


class UntakeableFileError(ImporterError):
    """A waiting file cannot be taken (its folder cannot be written): it stays where it is,
    nothing is recorded, and the operator is told once."""


class WorkerLostError(ImporterError):
    """A worker process died, or failed beyond recording a file's outcome: its file stays in
    ``processing/`` (or ``incoming/``), where recovery settles it by the ledger."""


class TransientError(ImporterError):
    """A fault outside the file (database down, disk full); the same file may succeed later."""


class DatabaseUnavailableError(TransientError):
    """The database could not be reached or was locked."""


class LoadSignalError(ImporterError):
    """Raised and caught inside one file's load; it never reaches the file's outcome."""


class DuplicateKeyError(LoadSignalError):
    """Rows copied into a table repeat a key it already holds (or repeat one among themselves)."""


class RetryCarefullyError(LoadSignalError):
    """A fast path met a repeated key after rows were written: redo the file the careful way,
    staging every batch and merging once at the end."""
