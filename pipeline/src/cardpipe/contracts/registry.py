"""The registered event types: the one place that maps an event_type to its payload message."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import Message
from sportscards.catalog.v1 import catalog_pb2
from sportscards.manufacturing.v1 import manufacturing_pb2
from sportscards.orders.v1 import orders_pb2

TYPE_URL_PREFIX = "type.googleapis.com/"


@dataclass(frozen=True)
class EventSpec:
    event_type: str
    message: type[Message]
    producer: str
    schema_version: int

    @property
    def type_url(self) -> str:
        return TYPE_URL_PREFIX + self.message.DESCRIPTOR.full_name


_SPECS = (
    EventSpec("card_created", catalog_pb2.CardCreated, "card-catalog-service", 1),
    EventSpec("card_updated", catalog_pb2.CardUpdated, "card-catalog-service", 1),
    EventSpec("order_placed", orders_pb2.OrderPlaced, "orders-service", 1),
    EventSpec("order_status_changed", orders_pb2.OrderStatusChanged, "orders-service", 1),
    EventSpec("batch_started", manufacturing_pb2.BatchStarted, "manufacturing-service", 1),
    EventSpec("batch_completed", manufacturing_pb2.BatchCompleted, "manufacturing-service", 1),
)

EVENT_TYPES: dict[str, EventSpec] = {spec.event_type: spec for spec in _SPECS}
EVENT_TYPE_NAMES: tuple[str, ...] = tuple(EVENT_TYPES)


def spec_for(event_type: str) -> EventSpec | None:
    return EVENT_TYPES.get(event_type)
