"""CreativeLoop: intelligent ad creatives on Kafka and gRPC."""

__version__ = "0.1.0"
