"""A request body read within limits: its size on the wire, and once decompressed.

A gzip (or deflate) body is inflated a block at a time and refused as soon
as it grows past the limit, so a small "gzip bomb" never takes more memory
than the limit.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

__all__ = ["BadBody", "TooLarge", "decompress", "read_limited"]

_BLOCK = 1 << 16


class TooLarge(ValueError):
    """The body (or what it inflates to) is over the limit."""


class BadBody(ValueError):
    """The body cannot be read as its headers say (a broken gzip stream, an unknown encoding)."""


async def read_limited(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """The whole body from ``chunks``; `TooLarge` past ``limit`` bytes."""
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"the request body is over {limit} bytes")
    return bytes(body)


def decompress(body: bytes, encoding: str, limit: int) -> bytes:
    """``body`` decoded per its ``Content-Encoding``; `TooLarge` once it inflates past
    ``limit`` bytes, `BadBody` when it is not what the encoding says."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif encoding == "deflate":
        wbits = zlib.MAX_WBITS
    else:
        raise BadBody(f"unsupported Content-Encoding {encoding!r} (use gzip, deflate or none)")
    inflater = zlib.decompressobj(wbits)
    out = bytearray()
    pending = body
    try:
        while pending:
            out += inflater.decompress(pending, _BLOCK)
            if len(out) > limit:
                raise TooLarge(f"the request body inflates to over {limit} bytes")
            pending = inflater.unconsumed_tail
            if inflater.eof:
                break
        out += inflater.flush()
    except zlib.error as exc:
        raise BadBody(f"the {encoding} body cannot be decompressed: {exc}") from None
    if len(out) > limit:
        raise TooLarge(f"the request body inflates to over {limit} bytes")
    if not inflater.eof:
        raise BadBody(f"the {encoding} body is cut off")
    return bytes(out)
