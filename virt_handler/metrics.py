"""virt-handler's Prometheus metrics, in the shared `virt_client.metrics.REGISTRY`.

- `kubevirt_vmi_phase_count{node,phase}`: VMIs on this node per phase, read from the informer cache
  at scrape time (a collector, so it can never drift from the cache);
- `kubevirt_virt_handler_sync_duration_seconds`: latency of a sync with a launcher;
- `kubevirt_virt_handler_sync_errors_total{reason}`: failed syncs and launcher commands by reason.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from virt_client.api.views.vmi import VirtualMachineInstanceView
from virt_client.metrics import REGISTRY

SYNC_SECONDS = Histogram(
    "kubevirt_virt_handler_sync_duration_seconds", "Latency of a VMI sync with its launcher.", registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
SYNC_ERRORS = Counter(
    "kubevirt_virt_handler_sync_errors_total", "Failed VMI syncs and launcher commands, by reason.", ["reason"],
    registry=REGISTRY)


class PhaseCollector(Collector):
    """Counts the VMIs of `objects()` per status.phase at scrape time."""

    def __init__(self, node_name: str, objects: Callable[[], Iterable[Mapping[str, object]]]) -> None:
        self.node_name = node_name
        self.objects = objects

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("kubevirt_vmi_phase_count", "VMIs on this node per phase.",
                                   labels=["node", "phase"])
        tally = Tally(str(VirtualMachineInstanceView(vmi).phase) for vmi in self.objects())
        for phase, count in sorted(tally.items()):
            family.add_metric([self.node_name, phase], count)
        yield family

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())
