"""Type aliases the annotations share (a leaf module: typing only)."""
from __future__ import annotations

import os
from typing import Union

__all__ = ["StrPath"]

# a file name as the public functions take it: str or any os.PathLike (pathlib.Path)
StrPath = Union[str, "os.PathLike[str]"]
