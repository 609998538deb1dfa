"""Generated protobuf and gRPC stubs for the creativeloop.v1 contract (built from protos/)."""
