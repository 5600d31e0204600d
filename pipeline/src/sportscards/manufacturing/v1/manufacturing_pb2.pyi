from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class BatchStarted(_message.Message):
    __slots__ = ("batch_id", "sku", "facility", "planned_units")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    FACILITY_FIELD_NUMBER: _ClassVar[int]
    PLANNED_UNITS_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    sku: str
    facility: str
    planned_units: int
    def __init__(self, batch_id: _Optional[str] = ..., sku: _Optional[str] = ..., facility: _Optional[str] = ..., planned_units: _Optional[int] = ...) -> None: ...

class BatchCompleted(_message.Message):
    __slots__ = ("batch_id", "sku", "facility", "planned_units", "produced_units", "defective_units")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    FACILITY_FIELD_NUMBER: _ClassVar[int]
    PLANNED_UNITS_FIELD_NUMBER: _ClassVar[int]
    PRODUCED_UNITS_FIELD_NUMBER: _ClassVar[int]
    DEFECTIVE_UNITS_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    sku: str
    facility: str
    planned_units: int
    produced_units: int
    defective_units: int
    def __init__(self, batch_id: _Optional[str] = ..., sku: _Optional[str] = ..., facility: _Optional[str] = ..., planned_units: _Optional[int] = ..., produced_units: _Optional[int] = ..., defective_units: _Optional[int] = ...) -> None: ...
