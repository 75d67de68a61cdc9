"""``spacy-tskd.batch_by_length_buckets.v1``: fixed-size batches of similar length.

Padding each batch to its longest sentence is cheap only when the sentences in
a batch have similar lengths. This batcher reads the (already shuffled) stream
in buffers of ``size * buffer_batches`` items, sorts each buffer by length,
cuts it into batches of ``size`` and yields those batches in random order.
Every item is yielded exactly once; batch *composition* changes every epoch
because the trainer shuffles the stream first.
"""

from __future__ import annotations

import random
from typing import Callable, Iterable, Iterator, List, Optional, TypeVar

from spacy.util import registry

T = TypeVar("T")


def _default_length(item) -> int:
    doc = getattr(item, "predicted", item)
    return len(doc)


def bucket_batches(
    items: Iterable[T],
    *,
    size: int,
    buffer_batches: int = 50,
    get_length: Optional[Callable[[T], int]] = None,
    rng: Optional[random.Random] = None,
) -> Iterator[List[T]]:
    """Yield lists of ``size`` items (the last one may be smaller), length-bucketed."""
    if size < 1:
        raise ValueError(f"Batch size must be >= 1, got {size}.")
    get_length = get_length or _default_length
    rng = rng or random
    buffer: List[T] = []
    for item in items:
        buffer.append(item)
        if len(buffer) >= size * buffer_batches:
            yield from _flush(buffer, size, get_length, rng)
            buffer = []
    if buffer:
        yield from _flush(buffer, size, get_length, rng)


def _flush(buffer, size, get_length, rng):
    buffer = sorted(buffer, key=get_length)
    batches = [buffer[i : i + size] for i in range(0, len(buffer), size)]
    rng.shuffle(batches)
    yield from batches


@registry.batchers("spacy-tskd.batch_by_length_buckets.v1")
def configure_bucket_batcher(size: int = 32, buffer_batches: int = 50):
    """Batcher for spaCy's trainer: batches of ``size`` sequences with similar lengths."""

    def batcher(items):
        return bucket_batches(items, size=size, buffer_batches=buffer_batches)

    return batcher
