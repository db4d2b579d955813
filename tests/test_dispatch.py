"""Which lane a waiting file is worked in: routed once while it waits, again after a reload."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine

from importer import dispatch
from importer.config import FeedSettings
from importer.dispatch import Dispatcher
from importer.lifecycle import Pipeline
from importer.locks import lane_locks_for
from importer.scanning import Candidate
from tests.conftest import drop_file


def test_a_waiting_file_is_routed_once_and_again_when_the_patterns_change(
    pipeline: Pipeline, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = drop_file(pipeline, "acme", "stock_1.csv", "sku,location_id,quantity_on_hand\n")
    waiting = [Candidate("acme", path, 0.0, 0.0, False)]
    routed: list[str] = []
    route_file = dispatch.lane_of
    monkeypatch.setattr(
        dispatch, "lane_of", lambda *args: routed.append(args[2]) or route_file(*args)
    )
    dispatcher = Dispatcher(pipeline, lane_locks_for(engine), 1, threading.Event())
    first = dispatcher.lanes_of(waiting)
    again = dispatcher.lanes_of(waiting)
    pipeline.settings = pipeline.settings.model_copy(
        update={"feeds": {"products": FeedSettings(patterns=["stock*"])}}
    )
    reloaded = dispatcher.lanes_of(waiting)
    assert first == again == {("acme", "stock_1.csv"): ("acme", "inventory")}
    assert reloaded == {("acme", "stock_1.csv"): ("acme", "products")}
    assert routed == ["stock_1.csv", "stock_1.csv"]
