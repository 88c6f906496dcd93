"""hotline.agi.loopmetrics: a LoopHistogram exposes exactly what prometheus_client's Histogram
would for the same observations (bucket boundaries included), in the text format too."""

from __future__ import annotations

import random

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from hotline.agi.loopmetrics import LoopHistogram

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for metric in registry.collect() for s in metric.samples if not s.name.endswith("_created")}


def test_the_same_exposition_as_prometheus_client():
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    loop = LoopHistogram("x_seconds", "doc", "command", ["a", "b", "never"], BUCKETS, ours)
    reference = Histogram("x_seconds", "doc", ["command"], buckets=BUCKETS, registry=theirs)
    rng = random.Random(7)
    values = [0.0, 0.0005, 0.001, 300.0, 301.0, 1e-9] + [rng.expovariate(3) for _ in range(2000)]
    for value in values:
        label = rng.choice("ab")
        loop.observer(label)(value)
        reference.labels(label).observe(value)
    reference.labels("never")
    expected = samples(theirs)
    got = samples(ours)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value), key
    text = generate_latest(ours).decode()
    assert 'x_seconds_bucket{command="a",le="0.0005"}' in text and 'x_seconds_bucket{command="never",le="+Inf"} 0.0' in text


def test_unknown_label_values_and_empty_buckets_are_refused():
    registry = CollectorRegistry()
    histogram = LoopHistogram("y_seconds", "doc", "command", ["a"], (1.0,), registry)
    with pytest.raises(KeyError):
        histogram.observer("b")
    with pytest.raises(ValueError, match="finite bucket"):
        LoopHistogram("z_seconds", "doc", "command", ["a"], (float("inf"),), registry)
    with pytest.raises(ValueError, match="Duplicated"):
        LoopHistogram("y_seconds", "doc", "command", ["a"], (1.0,), registry)
