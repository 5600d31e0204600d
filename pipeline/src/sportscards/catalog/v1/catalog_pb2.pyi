from sportscards.common.v1 import money_pb2 as _money_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Sport(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SPORT_UNSPECIFIED: _ClassVar[Sport]
    SPORT_BASEBALL: _ClassVar[Sport]
    SPORT_BASKETBALL: _ClassVar[Sport]
    SPORT_FOOTBALL: _ClassVar[Sport]
    SPORT_HOCKEY: _ClassVar[Sport]
    SPORT_SOCCER: _ClassVar[Sport]
SPORT_UNSPECIFIED: Sport
SPORT_BASEBALL: Sport
SPORT_BASKETBALL: Sport
SPORT_FOOTBALL: Sport
SPORT_HOCKEY: Sport
SPORT_SOCCER: Sport

class Card(_message.Message):
    __slots__ = ("sku", "player_name", "team", "sport", "set_name", "set_year", "parallel", "print_run", "is_rookie", "list_price")
    SKU_FIELD_NUMBER: _ClassVar[int]
    PLAYER_NAME_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    SPORT_FIELD_NUMBER: _ClassVar[int]
    SET_NAME_FIELD_NUMBER: _ClassVar[int]
    SET_YEAR_FIELD_NUMBER: _ClassVar[int]
    PARALLEL_FIELD_NUMBER: _ClassVar[int]
    PRINT_RUN_FIELD_NUMBER: _ClassVar[int]
    IS_ROOKIE_FIELD_NUMBER: _ClassVar[int]
    LIST_PRICE_FIELD_NUMBER: _ClassVar[int]
    sku: str
    player_name: str
    team: str
    sport: Sport
    set_name: str
    set_year: int
    parallel: str
    print_run: int
    is_rookie: bool
    list_price: _money_pb2.Money
    def __init__(self, sku: _Optional[str] = ..., player_name: _Optional[str] = ..., team: _Optional[str] = ..., sport: _Optional[_Union[Sport, str]] = ..., set_name: _Optional[str] = ..., set_year: _Optional[int] = ..., parallel: _Optional[str] = ..., print_run: _Optional[int] = ..., is_rookie: bool = ..., list_price: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class CardCreated(_message.Message):
    __slots__ = ("card",)
    CARD_FIELD_NUMBER: _ClassVar[int]
    card: Card
    def __init__(self, card: _Optional[_Union[Card, _Mapping]] = ...) -> None: ...

class CardUpdated(_message.Message):
    __slots__ = ("card",)
    CARD_FIELD_NUMBER: _ClassVar[int]
    card: Card
    def __init__(self, card: _Optional[_Union[Card, _Mapping]] = ...) -> None: ...
