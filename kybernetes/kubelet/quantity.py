"""Resource quantities ("100m", "64Mi", "1.5G", "2e3") as exact fractions, for limits, env and downward API values."""

from __future__ import annotations

import math
import re
from fractions import Fraction

_SUFFIX = {
    "": Fraction(1),
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
    "Pi": Fraction(2**50),
    "Ei": Fraction(2**60),
}
_RE = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|[a-zA-Z]*)$")


def parse_quantity(value: object) -> Fraction:
    """The value of a quantity; raises ValueError when it does not parse."""
    if isinstance(value, int | float):
        return Fraction(value)
    s = str(value).strip()
    m = _RE.match(s)
    if not m:
        raise ValueError(f"quantity {s!r} does not parse")
    num, suffix = m.groups()
    base = Fraction(num)
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return base * Fraction(10) ** int(suffix[1:])
    if suffix not in _SUFFIX:
        raise ValueError(f"quantity {s!r} has an unknown suffix")
    return base * _SUFFIX[suffix]


def ceil_int(q: Fraction) -> int:
    return math.ceil(q)


def millicores(value: object) -> int:
    return math.ceil(parse_quantity(value) * 1000)


def bytes_of(value: object) -> int:
    return math.ceil(parse_quantity(value))
