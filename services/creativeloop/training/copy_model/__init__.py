"""The copy generator: a conditional Transformer VAE trained on reviews and exported to ONNX."""
