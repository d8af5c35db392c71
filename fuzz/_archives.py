"""Archive inputs in two shapes: raw bytes (zip-level damage: cut files,
broken directories, bad CRCs) and members (b"M" + records of a 1-byte name
length, the name, a 4-byte little-endian data length and the data), which
are zipped here with correct CRCs, so mutations reach the JSON config, the
.npy headers and the arrays instead of stopping at the zip checksum."""
from __future__ import annotations

import io
import struct
import zipfile


def zip_of(data: bytes) -> bytes:
    """`data` itself, or the zip of its members when it starts with b"M"."""
    if not data.startswith(b"M"):
        return data
    out = io.BytesIO()
    at = 1
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        while at < len(data):
            length = data[at]
            name = data[at + 1:at + 1 + length].decode("utf-8", "replace") or "_"
            at += 1 + length
            (size,) = struct.unpack("<I", data[at:at + 4].ljust(4, b"\0"))
            at += 4
            body = data[at:at + size]
            at += size
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            z.writestr(info, body)
    return out.getvalue()
