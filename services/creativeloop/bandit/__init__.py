"""Bandit statistics: decayed impressions and clicks per creative and context bucket, as a faust app.

`stats` holds the rules (dedupe, the attribution window on event time, held, late and orphaned
clicks, per-bucket and per-creative counts with time decay) free of faust; `streams` wires them to
topics and tables; `service` runs the faust app next to the standard gRPC health service and
`/metrics`.
"""
