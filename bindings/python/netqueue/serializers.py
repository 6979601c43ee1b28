"""Codecs: pickle (the default, as the reference) and raw buffers.

Pickle is Python's own pickle module, not the library's safe pickle codec:
it round-trips everything the reference can send (any picklable object,
UUIDs, numpy arrays...) at C speed with no value-tree conversion, exactly as
the reference does. Like the reference, it trusts the peer by default;
PickleSerializer(allow=...) restricts which globals may be loaded (pass an
empty tuple for plain data only: None, bool, int, float, str, bytes, list,
tuple, dict, set...).

load() of both serializers here takes a memoryview borrowed from the
received message (no copy) and never keeps it; a user-supplied load gets
its own bytes instead.
"""
import io
import pickle
from collections.abc import Collection
from typing import Any


class PickleSerializer:
    def __init__(self, allow: Collection[str] | None = None) -> None:
        self.allow = allow

    def dump(self, data: Any) -> bytes:
        return pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)

    def load(self, data: Any) -> Any:
        if self.allow is None:
            return pickle.loads(data)
        return _Restricted(io.BytesIO(data), self.allow).load()


class _Restricted(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, allow: Collection[str]) -> None:
        super().__init__(file)
        self._allow = allow

    def find_class(self, module: str, name: str) -> Any:
        if module in self._allow or f"{module}.{name}" in self._allow:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")


class BufferSerializer:
    """Raw bytes as they are (the reference's BufferSerializer): dump takes
    any bytes-like object (str is sent as UTF-8), load returns bytes."""

    def dump(self, data: Any) -> Any:
        return data.encode() if isinstance(data, str) else data

    def load(self, data: Any) -> bytes:
        return bytes(data)


# load functions known not to keep the memoryview they are given
BORROWING_LOADS: frozenset[Any] = frozenset({PickleSerializer.load, BufferSerializer.load})
