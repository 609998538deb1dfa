"""The Triton model repository: how every model is built, checked and described."""
