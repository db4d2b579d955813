"""Filesystem events as hints: any change under a watched folder wakes the scanner early.

Events are never trusted to be complete (bursts and network filesystems lose them); the periodic
rescan finds everything, the events only make it sooner.
"""

from __future__ import annotations

import threading
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver


class _WakeOnChange(FileSystemEventHandler):
    def __init__(self, wake: threading.Event) -> None:
        self.wake = wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        self.wake.set()


def watch(folders: list[Path], wake: threading.Event) -> BaseObserver:
    observer = Observer()
    handler = _WakeOnChange(wake)
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        observer.schedule(handler, str(folder), recursive=True)
    observer.daemon = True
    observer.start()
    return observer
