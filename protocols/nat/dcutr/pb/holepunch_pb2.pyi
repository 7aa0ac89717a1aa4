# mypy: disable-error-code="mutable-override"
"""
Typing stub for holepunch_pb2 (the DCUtR message of libp2p/specs relay/DCUtR.md).
"""

from collections import abc as _abc
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
import builtins as _builtins
import typing as _typing
from typing import TypeAlias as _TypeAlias

DESCRIPTOR: _descriptor.FileDescriptor

@_typing.final
class HolePunch(_message.Message):
    DESCRIPTOR: _descriptor.Descriptor

    class _Type:
        ValueType = _typing.NewType("ValueType", _builtins.int)
        V: _TypeAlias = ValueType  # noqa: Y015

    class _TypeEnumTypeWrapper(_enum_type_wrapper._EnumTypeWrapper[HolePunch._Type.ValueType], _builtins.type):
        DESCRIPTOR: _descriptor.EnumDescriptor
        CONNECT: HolePunch._Type.ValueType  # 100
        SYNC: HolePunch._Type.ValueType  # 300

    class Type(_Type, metaclass=_TypeEnumTypeWrapper): ...
    CONNECT: HolePunch.Type.ValueType  # 100
    SYNC: HolePunch.Type.ValueType  # 300

    TYPE_FIELD_NUMBER: _builtins.int
    OBSADDRS_FIELD_NUMBER: _builtins.int
    type: HolePunch.Type.ValueType
    @_builtins.property
    def ObsAddrs(self) -> _containers.RepeatedScalarFieldContainer[_builtins.bytes]: ...
    def __init__(
        self,
        *,
        type: HolePunch.Type.ValueType | None = ...,
        ObsAddrs: _abc.Iterable[_builtins.bytes] | None = ...,
    ) -> None: ...
    def HasField(self, field_name: _typing.Literal["type", b"type"]) -> _builtins.bool: ...
    def ClearField(self, field_name: _typing.Literal["ObsAddrs", b"ObsAddrs", "type", b"type"]) -> None: ...
