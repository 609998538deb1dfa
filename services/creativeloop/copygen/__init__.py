"""Ad copy generation: ranked, explained, compliant copy candidates from a content profile.

Two generators behind the one `GenerateCopy` contract (each candidate names its `generator`):
the project's conditional Transformer VAE (`vae`, English, trained on review titles; served as
two ONNX models through the ModelClient) and templates (`template`, English and Chinese, the
fallback). `compose.py` ranks selling points, filters by ad law and slot length, dedupes and
diversifies (MMR).
"""
