"""Checks of viz's numeric options, one helper per kind so every message names the function, option and value alike."""

from __future__ import annotations

import math
import numbers


def positive_integer(function: str, option: str, value) -> int:
    """Return ``value`` as an int if it is an integer of at least 1; else raise naming ``function`` and ``option``.

    Raises:
        TypeError: ``value`` is not a number (booleans included: ``max_nodes=True`` is a slip, not 1).
        ValueError: ``value`` is a number but not an integer of at least 1.

    >>> positive_integer("draw_graph", "max_nodes", 500)
    500
    >>> positive_integer("draw_graph", "max_nodes", 0)
    Traceback (most recent call last):
    ValueError: draw_graph: max_nodes must be a positive integer, got 0
    """
    _require_number(function, option, value, "a positive integer")
    if not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{function}: {option} must be a positive integer, got {value!r}")
    return int(value)


def positive_number(function: str, option: str, value, maximum: float) -> float:
    """Return ``value`` as a float if it is finite, above 0 and at most ``maximum``; else raise naming the option.

    Raises:
        TypeError: ``value`` is not a number (booleans included).
        ValueError: ``value`` is NaN, infinite, 0 or less, or above ``maximum``.

    >>> positive_number("render", "dpi", 96, maximum=2400)
    96.0
    >>> positive_number("render", "dpi", -5, maximum=2400)
    Traceback (most recent call last):
    ValueError: render: dpi must be a positive finite number at most 2400, got -5
    """
    _require_number(function, option, value, f"a positive finite number at most {maximum:g}")
    number = float(value)
    if not (math.isfinite(number) and 0 < number <= maximum):
        raise ValueError(f"{function}: {option} must be a positive finite number at most {maximum:g}, got {value!r}")
    return number


def _require_number(function: str, option: str, value, expected: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{function}: {option} must be {expected}, got {value!r} of type {type(value).__name__}")
