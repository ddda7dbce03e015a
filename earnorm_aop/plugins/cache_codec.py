"""How the ``cache`` plugin's Redis backend writes field values: JSON with typed values.

The cache stores an instance's *field values* (the adapter's snapshot), never
the instance.  An entry is the JSON object ``{"fresh": EPOCH_SECONDS,
"values": {FIELD: VALUE, ...}}`` (``fresh``: until when it is fresh), and
Redis holds it as UTF-8 text: reading an entry builds data, it
never runs code, so write access to the Redis server is not code execution in
the processes that read it (as it would be with ``pickle``).

JSON's own types (``str``, ``int``, ``float``, ``bool``, ``None``, lists) are
written as they are.  Every other value is an object ``{"$": TYPE, "v":
VALUE}``:

==============  ==========================================================
``TYPE``        ``VALUE``
==============  ==========================================================
``datetime``    ISO 8601 text, with its UTC offset when aware
``date``        ISO 8601 text (``2024-01-02``)
``time``        ISO 8601 text, with its offset when aware
``timedelta``   ``[days, seconds, microseconds]``
``decimal``     its text (``"12.50"``: the exponent is kept)
``uuid``        the canonical text
``bytes``       base64 text (``bytes``, ``bytearray`` and ``memoryview``
                read back as ``bytes``)
``tuple``       a list of encoded values
``dict``        an object of encoded values (keys are text)
``float``       ``"nan"``, ``"inf"`` or ``"-inf"``
==============  ==========================================================

Any other type cannot be cached: [`dumps`][earnorm_aop.plugins.cache_codec.dumps] raises
``TypeError`` and the plugin reads the database instead (and logs it once per call site).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
import uuid
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["dumps", "loads"]


def _encode(value: Any) -> Any:
    # bool before int (a bool is an int); exact types so subclasses with
    # behaviour of their own are refused rather than silently flattened.
    if value is None or type(value) in (str, bool, int):
        return value
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else {"$": "float", "v": repr(value)}
    if kind is list:
        return [_encode(v) for v in value]
    if kind is dt.datetime:
        return {"$": "datetime", "v": value.isoformat()}
    if kind is dt.date:
        return {"$": "date", "v": value.isoformat()}
    if kind is dt.time:
        return {"$": "time", "v": value.isoformat()}
    if kind is dt.timedelta:
        return {"$": "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if kind is decimal.Decimal:
        return {"$": "decimal", "v": str(value)}
    if kind is uuid.UUID:
        return {"$": "uuid", "v": str(value)}
    if kind in (bytes, bytearray, memoryview):
        return {"$": "bytes", "v": base64.b64encode(bytes(value)).decode("ascii")}
    if kind is tuple:
        return {"$": "tuple", "v": [_encode(v) for v in value]}
    if kind is dict:
        if not all(type(k) is str for k in value):
            raise TypeError("a cached dict must have text keys")
        return {"$": "dict", "v": {k: _encode(v) for k, v in value.items()}}
    raise TypeError(f"a {kind.__qualname__} value cannot be cached as JSON")


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "datetime": dt.datetime.fromisoformat,
    "date": dt.date.fromisoformat,
    "time": dt.time.fromisoformat,
    "timedelta": lambda v: dt.timedelta(days=v[0], seconds=v[1], microseconds=v[2]),
    "decimal": decimal.Decimal,
    "uuid": uuid.UUID,
    "bytes": lambda v: base64.b64decode(v.encode("ascii")),
    "float": float,
}


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    kind: Any = value.get("$")
    data: Any = value.get("v")
    if kind == "tuple":
        return tuple(_decode(v) for v in data)
    if kind == "dict":
        return {k: _decode(v) for k, v in data.items()}
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise ValueError(f"unknown cached value type {kind!r}")
    return decoder(data)


def dumps(entry: Mapping[str, Any]) -> bytes:
    """An entry (``fresh``, ``values``) as UTF-8 JSON; ``TypeError`` for uncachable values."""
    values = entry["values"]
    document = {
        "fresh": float(entry["fresh"]),
        "values": {str(k): _encode(v) for k, v in values.items()},
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def loads(data: bytes | str) -> dict[str, Any]:
    """The entry [`dumps`][earnorm_aop.plugins.cache_codec.dumps] wrote."""
    raw = json.loads(data)
    if not isinstance(raw, dict) or not isinstance(raw.get("values"), dict):
        raise ValueError("a cached entry is a JSON object with 'fresh' and 'values'")
    return {
        "fresh": float(raw.get("fresh", 0.0)),
        "values": {k: _decode(v) for k, v in raw["values"].items()},
    }
