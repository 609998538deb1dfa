"""Model sources and training: how every model the services call is built, trained and described.

- `repository`: build the Triton-layout model repository (`creativeloop models build`), its
  manifest, model cards and the config-vs-ONNX checks;
- `sources`: one source per model (pretrained exports and the project's own trained models);
- `aesthetics`, `scene`, `copy_model`: the project's own trained models;
- `ranker`: the LightGBM CTR model that ranking hot-reloads (`creativeloop ranking train`).
"""
