"""The service kit: what every CreativeLoop service shares (settings, topics, codec, gRPC, metrics)."""
