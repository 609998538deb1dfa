"""Bandit statistics: impressions and clicks per creative, as a faust stream application.

`stats` holds the counting rules (dedupe, click-before-impression, per-creative counts) free of
faust; `streams` wires them to topics and tables; `service` runs the faust app next to the
standard gRPC health service and `/metrics`.
"""
