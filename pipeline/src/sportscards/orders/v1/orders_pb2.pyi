from sportscards.common.v1 import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SalesChannel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SALES_CHANNEL_UNSPECIFIED: _ClassVar[SalesChannel]
    SALES_CHANNEL_WEB: _ClassVar[SalesChannel]
    SALES_CHANNEL_MOBILE_APP: _ClassVar[SalesChannel]
    SALES_CHANNEL_MARKETPLACE: _ClassVar[SalesChannel]
    SALES_CHANNEL_RETAIL: _ClassVar[SalesChannel]

class OrderStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_STATUS_UNSPECIFIED: _ClassVar[OrderStatus]
    ORDER_STATUS_PAID: _ClassVar[OrderStatus]
    ORDER_STATUS_SHIPPED: _ClassVar[OrderStatus]
    ORDER_STATUS_DELIVERED: _ClassVar[OrderStatus]
    ORDER_STATUS_CANCELLED: _ClassVar[OrderStatus]
    ORDER_STATUS_REFUNDED: _ClassVar[OrderStatus]
SALES_CHANNEL_UNSPECIFIED: SalesChannel
SALES_CHANNEL_WEB: SalesChannel
SALES_CHANNEL_MOBILE_APP: SalesChannel
SALES_CHANNEL_MARKETPLACE: SalesChannel
SALES_CHANNEL_RETAIL: SalesChannel
ORDER_STATUS_UNSPECIFIED: OrderStatus
ORDER_STATUS_PAID: OrderStatus
ORDER_STATUS_SHIPPED: OrderStatus
ORDER_STATUS_DELIVERED: OrderStatus
ORDER_STATUS_CANCELLED: OrderStatus
ORDER_STATUS_REFUNDED: OrderStatus

class OrderLine(_message.Message):
    __slots__ = ("line_number", "sku", "quantity", "unit_price")
    LINE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    line_number: int
    sku: str
    quantity: int
    unit_price: _money_pb2.Money
    def __init__(self, line_number: _Optional[int] = ..., sku: _Optional[str] = ..., quantity: _Optional[int] = ..., unit_price: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class OrderPlaced(_message.Message):
    __slots__ = ("order_id", "customer_id", "channel", "currency_code", "lines")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    customer_id: str
    channel: SalesChannel
    currency_code: str
    lines: _containers.RepeatedCompositeFieldContainer[OrderLine]
    def __init__(self, order_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., channel: _Optional[_Union[SalesChannel, str]] = ..., currency_code: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[OrderLine, _Mapping]]] = ...) -> None: ...

class OrderStatusChanged(_message.Message):
    __slots__ = ("order_id", "status", "reason")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    status: OrderStatus
    reason: str
    def __init__(self, order_id: _Optional[str] = ..., status: _Optional[_Union[OrderStatus, str]] = ..., reason: _Optional[str] = ...) -> None: ...
