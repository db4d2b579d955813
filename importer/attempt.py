"""One attempt at one file: everything its load needs, worked out once and handed down.

The lifecycle builds it when the file is claimed and routed (the dry run builds one for a file
it only checks); the load reads it and never goes back to the settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from importer.config import FeedSettings, LimitSettings, LoggingSettings, Settings
from importer.db.ledger import ImportJob, LoadedBytes
from importer.feeds import FeedSpec
from importer.guards import Guards
from importer.raw import ReadOptions
from importer.slots import SMALL_FILE_BYTES
from importer.validation import ValidationContext

Checksum = Future[tuple[str, int]]
"""a file's SHA-256 and size, being taken while its load starts"""


@dataclass(frozen=True, kw_only=True)
class LoadOptions:
    """The settings of one partner's feed, partner settings winning over feed settings."""

    read: ReadOptions
    validation: ValidationContext
    aliases: Mapping[str, str]
    feed: FeedSettings
    limits: LimitSettings
    logging: LoggingSettings
    """how far a big file has come is reported (``progress_rows``)"""
    guards: Guards

    @classmethod
    def of(cls, settings: Settings, spec: FeedSpec, partner_id: str) -> LoadOptions:
        feed, partner = settings.feed(spec.name), settings.partner(partner_id)
        limits = settings.limits
        read = ReadOptions(
            encoding=partner.encoding or feed.encoding or "utf-8",
            delimiter=partner.delimiter or feed.delimiter,
            batch_rows=settings.database.batch_rows,
            max_file_bytes=limits.max_file_bytes,
            max_decompressed_bytes=limits.max_decompressed_bytes,
            max_json_bytes=limits.max_json_bytes,
            max_record_bytes=limits.max_record_bytes,
            max_columns=limits.max_columns,
            nested_lists=frozenset(name for link in spec.children for name in link.list_fields),
        )
        validation = ValidationContext(
            partner_id=partner_id,
            date_formats=(*spec.date_formats, *(partner.date_formats or feed.date_formats)),
            timezone=partner.timezone or feed.timezone or "UTC",
        )
        aliases = {**feed.aliases, **partner.aliases}
        return cls(
            read=read,
            validation=validation,
            aliases=aliases,
            feed=feed,
            limits=limits,
            logging=settings.logging,
            guards=Guards.of(feed, partner),
        )


@dataclass(frozen=True, kw_only=True)
class FileAttempt:
    """A routed file and its job. A dry run's job is never saved: it has no id, and its load is
    rolled back."""

    job: ImportJob
    path: Path
    """where the file lies while it is worked on (``processing/`` for a claimed file)"""
    spec: FeedSpec
    options: LoadOptions
    checksum: Checksum | None = None
    latest: LoadedBytes | None = None
    """the latest load of the tables the feed writes, read when the job opened"""

    @classmethod
    def plan(
        cls,
        settings: Settings,
        *,
        job: ImportJob,
        path: Path,
        spec: FeedSpec,
    ) -> FileAttempt:
        """The file's settings worked out; the lifecycle adds what it learnt while it opened the
        job (the ``checksum`` being taken, the ``latest`` load), which a dry run has not."""
        assert job.started_at is not None
        options = LoadOptions.of(settings, spec, job.partner_id)
        return cls(job=job, path=path, spec=spec, options=options)

    @property
    def partner_id(self) -> str:
        return self.job.partner_id

    @property
    def small(self) -> bool:
        size = self.job.size_bytes
        return size is not None and size < SMALL_FILE_BYTES

    @property
    def loaded_at(self) -> datetime:
        """The load's time, stamped on the rows it writes: when its job started."""
        assert self.job.started_at is not None
        return self.job.started_at

    def log_fields(self) -> dict[str, object]:
        """What a log line about this file carries as fields, for filtering JSON logs."""
        return {
            "partner": self.partner_id,
            "feed": self.spec.name,
            "job_id": self.job.id,
            "file": self.job.file_name,
        }
