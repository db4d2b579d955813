"""Filesystem events as hints: what may bring a file wakes the scanner early.

Events are never trusted to be complete (bursts and network filesystems lose them); the periodic
rescan finds everything, the events only make it sooner. A rename into a watched folder tells the
stability gate that the file is complete; a write after it takes that back. Files leaving (a claim
moves each one out) wake nothing: a burst of files would otherwise rescan the inbox for every
file taken.
"""

from __future__ import annotations

import threading
from pathlib import Path

from watchdog.events import (
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers.api import BaseObserver
from watchdog.observers.inotify import InotifyObserver

from importer.stability import StabilityGate


class _Arrivals(FileSystemEventHandler):
    def __init__(self, wake: threading.Event, gate: StabilityGate) -> None:
        self.wake = wake
        self.gate = gate

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type == EVENT_TYPE_MOVED:
            if not event.dest_path:  # moved out of the watched folders
                return
            self.gate.renamed_in(Path(_text(event.dest_path)))
        elif event.is_directory:
            return
        elif event.event_type in (EVENT_TYPE_MODIFIED, EVENT_TYPE_CLOSED):
            self.gate.written(Path(_text(event.src_path)))
            if event.event_type == EVENT_TYPE_MODIFIED:
                return
        elif event.event_type != EVENT_TYPE_CREATED:
            return
        self.wake.set()


def _text(path: bytes | str) -> str:
    return path.decode(errors="surrogateescape") if isinstance(path, bytes) else path


def watch(folders: list[Path], wake: threading.Event, gate: StabilityGate) -> BaseObserver:
    """inotify with full events: a file moved in from outside is reported as a move (not as a
    creation), which is what tells the gate that it arrived complete."""
    observer = InotifyObserver(generate_full_events=True)
    handler = _Arrivals(wake, gate)
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        observer.schedule(handler, str(folder), recursive=True)
    observer.daemon = True
    observer.start()
    return observer
