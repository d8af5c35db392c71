"""Error-message helpers shared by the file readers: every malformed input is
a ValueError naming the file, the line or offset, and the offending value."""
from __future__ import annotations

import json
import os
from typing import Any, Union

__all__ = ["show", "decode_line", "parse_json"]


def show(value: object, limit: int = 60) -> str:
    """repr() of an offending value, shortened for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_HINT = "; pass unicode_errors='replace' or 'ignore' to load such words anyway"


def decode_line(raw: bytes, path: Union[str, "os.PathLike[str]"], line_no: int, encoding: str,
                unicode_errors: str, hint: str = _HINT) -> str:
    """`raw` decoded; invalid bytes (with ``unicode_errors="strict"``) are a
    ValueError naming the file, line and column, followed by `hint`."""
    try:
        return raw.decode(encoding, unicode_errors)
    except UnicodeDecodeError as error:
        bad = raw[error.start:error.end]
        raise ValueError(
            f"{path}: line {line_no}: bytes {bad!r} at column {error.start + 1} are not valid "
            f"{encoding} ({error.reason}){hint}") from None


def parse_json(raw: bytes, where: str) -> Any:
    """The JSON value of the UTF-8 bytes `raw`. Anything else is a ValueError
    starting with `where`: invalid UTF-8 or JSON, and also nesting deeper than
    the interpreter's recursion limit (json raises RecursionError for
    ``[[[[...`` a few thousand deep, a file of a few kilobytes)."""
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"{where} ({error})") from None
    except RecursionError:
        raise ValueError(f"{where} (nested too deeply)") from None
