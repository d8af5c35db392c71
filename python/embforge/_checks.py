"""Validation of numeric parameters, shared by the trainers.

Every trainer argument is checked in Python before any native call, so a bad
value is a ValueError that names the parameter and the value it got.
"""
from __future__ import annotations

import numpy as np

__all__ = ["check_number"]


def check_number(name: str, value, low, high=None, *, integer: bool = False,
                 low_open: bool = False):
    """Returns `value` if it is a number (an integer if `integer`) in
    [low, high] (or (low, high] with `low_open`); else raises ValueError."""
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, bool) or not isinstance(value, kinds) or value != value:
        raise ValueError(f"{name} must be a{'n integer' if integer else ' number'}, got {value!r}")
    too_low = value <= low if low_open else value < low
    if too_low or (high is not None and value > high):
        bound = (f"> {low}" if low_open else f">= {low}") + (f" and <= {high}" if high is not None else "")
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return value
