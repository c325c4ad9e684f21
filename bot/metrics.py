"""Prometheus metrics, on a registry of their own per application (no process-wide globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.deliveries = Counter("earshot_deliveries_total", "Outbox deliveries by outcome",
                                  ["platform", "kind", "outcome"], registry=self.registry)
        self.outbox_depth = Gauge("earshot_outbox_depth", "Deliveries pending or in flight",
                                  registry=self.registry)
        self.outbox_oldest_seconds = Gauge("earshot_outbox_oldest_seconds", "Age of the oldest pending delivery",
                                           registry=self.registry)
        self.events = Counter("earshot_events_total", "Inbound events by platform, type and outcome",
                              ["platform", "type", "outcome"], registry=self.registry)
        self.ingested = Counter("earshot_ingest_items_total", "Feedback items by outcome", ["outcome"],
                                registry=self.registry)
        self.ack_seconds = Histogram("earshot_ack_seconds", "Time to acknowledge an inbound request",
                                     ["platform"], registry=self.registry,
                                     buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3))
        self.scheduler_runs = Counter("earshot_scheduler_runs_total", "Scheduled jobs fired", ["job", "outcome"],
                                      registry=self.registry)
        self.scheduler_leader = Gauge("earshot_scheduler_leader", "1 while this process runs the scheduler",
                                      registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
