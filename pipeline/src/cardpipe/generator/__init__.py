"""Synthetic sports-card events: a deterministic world, `history`/`live` streams, an oracle of gold numbers.

Pure (no I/O): the journal writer and the publisher feed these events to PostgreSQL and RabbitMQ.
"""

from cardpipe.generator.malformed import MALFORMED_REASONS
from cardpipe.generator.stream import ANCHOR, GeneratedEvent, Rates, Stream, generate
from cardpipe.generator.world import World, build_world

__all__ = [
    "ANCHOR",
    "MALFORMED_REASONS",
    "GeneratedEvent",
    "Rates",
    "Stream",
    "World",
    "build_world",
    "generate",
]
