"""The inbox on disk: the folder a file sits in is its state, and every move is one rename.

``incoming/<partner>/<file>`` -> ``processing/<partner>/<job>-<file>`` ->
``done|failed/<partner>/<YYYY-MM-DD>/<file>`` with the reports beside it.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from importer.partner_ids import check_partner_id
from importer.stability import markers_of

TEMPORARY_SUFFIXES = (".part", ".tmp", ".filepart", "~")
REPORT_SUFFIXES = (".report.json", ".errors.csv")


def is_temporary(name: str) -> bool:
    """Names that mean "still being written" or are not partner data at all."""
    return name.startswith(".") or name.lower().endswith(TEMPORARY_SUFFIXES)


@dataclass(frozen=True)
class Inbox:
    root: Path
    host: str = field(default_factory=socket.gethostname)
    """names this inbox among the daemons sharing a database (``inbox.host``)"""

    @property
    def incoming(self) -> Path:
        return self.root / "incoming"

    @property
    def processing(self) -> Path:
        return self.root / "processing"

    def ensure(self) -> None:
        for folder in (self.incoming, self.processing, self.root / "done", self.root / "failed"):
            folder.mkdir(parents=True, exist_ok=True)

    def partner_of(self, path: Path) -> str | None:
        """The partner folder a path lies in under ``incoming/``, if it does."""
        try:
            relative = path.resolve().relative_to(self.incoming.resolve())
        except ValueError:
            return None
        return relative.parts[0] if len(relative.parts) == 2 else None

    def deliver(self, source: Path, partner_id: str) -> Path:
        """Copy a file from elsewhere into ``incoming/<partner>/`` (temp name, then rename)."""
        folder = self.incoming / check_partner_id(partner_id)
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".part")
        os.close(handle)
        shutil.copyfile(source, temporary)
        target = folder / source.name
        os.replace(temporary, target)
        return target

    def claim(self, path: Path, partner_id: str, job_id: int) -> Path:
        """Move a file into ``processing/``; FileNotFoundError means someone else took it.

        Within one filesystem the rename is the claim. A source on another filesystem is copied
        under a temporary name first and removed only once the copy is in place.
        """
        folder = self.processing / check_partner_id(partner_id)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{job_id}-{path.name}"
        try:
            os.rename(path, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            temporary = target.with_name(f".{target.name}.part")
            shutil.copyfile(path, temporary)
            os.replace(temporary, target)
            path.unlink()
        for marker in markers_of(path):
            marker.unlink(missing_ok=True)
        return target

    def destination(
        self, outcome: str, partner_id: str, file_name: str, job_id: int, day: date
    ) -> Path:
        """Where a finished file goes; a name already used that day gets the job id in front."""
        folder = self.root / outcome / check_partner_id(partner_id) / day.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / file_name
        if target.exists() or any(folder.joinpath(file_name + s).exists() for s in REPORT_SUFFIXES):
            target = folder / f"{job_id}-{file_name}"
        return target

    def put_back(self, path: Path, partner_id: str, file_name: str) -> Path:
        """Return a claimed file to ``incoming/`` after a transient fault, for a later attempt."""
        target = self.incoming / check_partner_id(partner_id) / file_name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(path, target)
        return target
