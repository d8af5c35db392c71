"""Error-message helpers shared by the file readers: every malformed input is
a ValueError naming the file, the line or offset, and the offending value."""
from __future__ import annotations

__all__ = ["show", "decode_line"]


def show(value, limit: int = 60) -> str:
    """repr() of an offending value, shortened for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_HINT = "; pass unicode_errors='replace' or 'ignore' to load such words anyway"


def decode_line(raw: bytes, path, line_no, encoding, unicode_errors, hint: str = _HINT) -> str:
    """`raw` decoded; invalid bytes (with ``unicode_errors="strict"``) are a
    ValueError naming the file, line and column, followed by `hint`."""
    try:
        return raw.decode(encoding, unicode_errors)
    except UnicodeDecodeError as error:
        bad = raw[error.start:error.end]
        raise ValueError(
            f"{path}: line {line_no}: bytes {bad!r} at column {error.start + 1} are not valid "
            f"{encoding} ({error.reason}){hint}") from None
