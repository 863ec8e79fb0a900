"""Canonical formatting of resource.Quantity values, as printed by upstream's Quantity.String().

Upstream decodes every quantity and prints its canonical form, so a PersistentVolume created with
"1024Mi" shows CAPACITY "1Gi", and a quota "1000m" of cpu shows "1". Printers here receive the raw
JSON string, so they canonicalize before printing to produce the same cells.

Rules (apimachinery/pkg/api/resource): binary-suffixed values stay binary when they are integral and
at least 1024 in magnitude, otherwise print in decimal SI; decimal values print as an integer
mantissa with an exponent that is a multiple of three (n, u, m, "", k, M, G, T, P, E); values are
rounded up to the nanounit. An unparseable value is returned unchanged rather than raising.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

_BIN = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DEC = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DEC_SUFFIX = {v: k for k, v in _DEC.items()}
_BIN_SUFFIX = {v: k for k, v in _BIN.items()} | {0: ""}

_QTY_RE = re.compile(r"^([+-]?)(\d*)(?:\.(\d*))?(?:(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE]([+-]?\d+))?$")
_NANO = Fraction(1, 10**9)


def canonical_quantity(value: Any) -> str:
    """Quantity.String() of a JSON quantity (string or number); the input as text if it does not parse."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        text = repr(value) if isinstance(value, float) else str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        return str(value)
    parsed = _parse(text)
    if parsed is None:
        return text
    amount, fmt = parsed
    return _format(amount, fmt)


def _parse(text: str) -> tuple[Fraction, str] | None:
    m = _QTY_RE.match(text)
    if m is None:
        return None
    sign, whole, frac, suffix, exp = m.groups()
    if not whole and not frac:
        return None
    amount = Fraction(int(whole or "0")) + (Fraction(int(frac), 10 ** len(frac)) if frac else 0)
    if exp is not None:
        amount *= Fraction(10) ** int(exp)
        fmt = "DecimalExponent"
    elif suffix in _BIN:
        amount *= 2 ** _BIN[suffix]
        fmt = "BinarySI"
    else:
        amount *= Fraction(10) ** _DEC[suffix or ""]
        fmt = "DecimalSI"
    # round non-zero values up (away from zero) to the nanounit, as ParseQuantity does
    nanos = amount / _NANO
    if nanos.denominator != 1:
        amount = Fraction(-(-nanos.numerator // nanos.denominator)) * _NANO
    if sign == "-":
        amount = -amount
    return amount, fmt


def _format(amount: Fraction, fmt: str) -> str:
    if amount == 0:
        return "0"
    sign = "-" if amount < 0 else ""
    mag = abs(amount)
    if fmt == "BinarySI" and (mag < 1024 or mag.denominator != 1):
        fmt = "DecimalSI"
    if fmt == "BinarySI":
        n = mag.numerator
        power = 0
        while n % 1024 == 0 and power < 60:
            n //= 1024
            power += 10
        return f"{sign}{n}{_BIN_SUFFIX[power]}"
    # decimal: integer mantissa times 10**e with e a multiple of three
    n = int(mag / _NANO)
    e = -9
    while n % 10 == 0:
        n //= 10
        e += 1
    r = e % 3
    if r:
        n *= 10**r
        e -= r
    if fmt == "DecimalExponent":
        return f"{sign}{n}" + (f"e{e}" if e else "")
    if e in _DEC_SUFFIX:
        return f"{sign}{n}{_DEC_SUFFIX[e]}"
    while e > 18:
        n *= 1000
        e -= 3
    return f"{sign}{n}{_DEC_SUFFIX[e]}"
