"""The Triton model repository: how every model the services call is built, checked and described."""
