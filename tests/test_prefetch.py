from collections.abc import Iterator

import pytest

from importer.prefetch import ahead


def test_items_arrive_in_order() -> None:
    assert list(ahead(iter(range(100)), depth=3)) == list(range(100))


def test_a_producer_error_reaches_the_consumer_after_the_good_items() -> None:
    def produce() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("broken batch")

    received = []
    with pytest.raises(ValueError, match="broken batch"):
        for item in ahead(produce()):
            received.append(item)
    assert received == [1, 2]


def test_stopping_early_does_not_hang() -> None:
    for item in ahead(iter(range(1000)), depth=1):
        if item == 3:
            break
