"""Quantity.String() canonical forms used in capacity and quota cells."""

from __future__ import annotations

import pytest

from kybernetes.apiserver.printers._quantity import canonical_quantity


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10Gi", "10Gi"),
        ("1024Mi", "1Gi"),
        ("1536Mi", "1536Mi"),
        ("1.5Gi", "1536Mi"),
        ("0.5Ki", "512"),
        ("1000Ki", "1000Ki"),
        ("100Mi", "100Mi"),
        ("500m", "500m"),
        ("1000m", "1"),
        ("1500m", "1500m"),
        ("0.5", "500m"),
        ("1.5", "1500m"),
        ("0.1", "100m"),
        ("1000", "1k"),
        ("1500", "1500"),
        ("120000", "120k"),
        ("1G", "1G"),
        ("1000M", "1G"),
        ("5", "5"),
        ("0", "0"),
        ("0Gi", "0"),
        ("-1Gi", "-1Gi"),
        ("-500m", "-500m"),
        ("1e3", "1e3"),
        ("1e4", "10e3"),
        ("1.0000000001", "1000000001n"),
        ("0.0000000001", "1n"),
        (5, "5"),
        (0.25, "250m"),
        (2048, "2048"),
        ("  3Gi ", "3Gi"),
    ],
)
def test_canonical(raw: object, expected: str) -> None:
    assert canonical_quantity(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "1.2.3", "Gi", "", "1Zi"])
def test_unparseable_is_returned_as_text(raw: str) -> None:
    assert canonical_quantity(raw) == raw.strip()


def test_nil_quantity_prints_like_go() -> None:
    assert canonical_quantity(None) == "<nil>"
