"""Metrics written from the reactor thread alone, without prometheus_client's locks.

Why: the FastAGI layer times every AGI command. prometheus_client's Histogram takes a lock
twice and walks its buckets in Python for each observation, which came to about 5 % of the
layer's CPU per call in a burst (bench/ivr_calls.py under cProfile); here an observation is a
bisect and two additions. Only code on the reactor thread may observe; `/metrics` is served
on the reactor thread too, so every scrape sees a consistent histogram. The exposition is an
ordinary Prometheus histogram (`_bucket`, `_count`, `_sum`).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from itertools import accumulate

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString


class _Series:
    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, amount: float) -> None:
        self.counts[bisect_left(self.bounds, amount)] += 1
        self.sum += amount


class LoopHistogram:
    """A histogram with one label whose values are all known up front (they are bounded, as
    every label here is); `observer(value)` is the function to call per observation."""

    def __init__(self, name: str, documentation: str, label: str, values: Iterable[str], buckets: Iterable[float], registry: CollectorRegistry) -> None:
        self.name, self.documentation, self.label = name, documentation, label
        bounds = tuple(sorted(float(b) for b in buckets if b != float("inf")))
        if not bounds:
            raise ValueError("a histogram needs at least one finite bucket")
        self._le = [floatToGoString(b) for b in bounds] + ["+Inf"]  # type: ignore[no-untyped-call]  # prometheus_client leaves it unannotated
        self._series = {value: _Series(bounds) for value in values}
        registry.register(self)

    def observer(self, value: str) -> Callable[[float], None]:
        return self._series[value].observe

    def describe(self) -> Iterator[Metric]:
        yield HistogramMetricFamily(self.name, self.documentation, labels=[self.label])

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=[self.label])
        for value, series in self._series.items():
            family.add_metric([value], list(zip(self._le, accumulate(series.counts), strict=False)), series.sum)
        yield family
