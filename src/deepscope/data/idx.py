"""Reader for the IDX format of MNIST and Fashion-MNIST, plain or gzip-compressed.

Layout (all integers big-endian): two zero bytes, a type code byte, a byte with the number of
dimensions d, then d uint32 sizes, then the values in C order. Type codes: 0x08 uint8, 0x09 int8,
0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64.
"""
from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from deepscope.errors import DeepscopeError

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: Path) -> np.ndarray:
    """The array stored in IDX file ``path`` (gzip is detected from the content, not the name).

    Raises :class:`DeepscopeError` for a bad magic number, an unknown type code, a truncated file
    or trailing bytes, naming the file.
    """
    raw = Path(path).read_bytes()
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DeepscopeError(f"{path} is a damaged gzip file ({exc}); download it again.") from exc
    return parse_idx(raw, str(path))


def parse_idx(raw: bytes, where: str) -> np.ndarray:
    """Decode the bytes of an IDX file; ``where`` names the file in error messages."""
    if len(raw) < 4:
        raise DeepscopeError(f"{where} is not an IDX file: it has only {len(raw)} bytes (the header alone is 4+); "
                             f"download it again.")
    zero, code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or code not in IDX_TYPES:
        raise DeepscopeError(f"{where} is not an IDX file: magic number 0x{raw[:4].hex()} should be 0x0000TTDD "
                             f"with type code TT in {{{', '.join(f'{c:02x}' for c in IDX_TYPES)}}}. "
                             f"Check that it is an uncompressed or .gz MNIST-style file and not an HTML page "
                             f"or another format.")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DeepscopeError(f"{where} is truncated: its header declares {ndim} dimensions but the file ends "
                             f"after {len(raw)} bytes; download it again.")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(IDX_TYPES[code])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "longer than its header says"
        raise DeepscopeError(f"{where} is {problem}: shape {shape} of {dtype.name} needs {expected} bytes but the "
                             f"file has {len(raw)}; download it again.")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))
