"""A small conditional Transformer VAE for headlines (after JD.com's copy generator).

    source tokens --Transformer encoder--> memory --masked mean--> (mu, logvar)
    z = mu + sigma * eps   (training; at serving: mu, posterior or prior samples for diversity)
    [BOS] prefix + z --Transformer decoder (causal self-attention, cross-attention to
                       [z token] + memory)--> next-token logits (tied with the embedding)

z enters the decoder twice (added to every input position and as an extra memory slot), and the
training loop uses word dropout, KL annealing and free bits, so the decoder cannot simply ignore
it (posterior collapse). The encoder and the decoder step are exported as two ONNX graphs
(`export.py`); `generator.py` runs the decoding loop in Python through the ModelClient.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from creativeloop.copygen.tokenizer import PAD_ID


@dataclass(frozen=True)
class VaeConfig:
    """Architecture; `max_src`/`max_tgt` are token limits including [BOS]/[EOS]."""

    vocab_size: int
    d_model: int = 128
    heads: int = 4
    encoder_layers: int = 2
    decoder_layers: int = 2
    feedforward: int = 256
    latent: int = 32
    max_src: int = 96
    max_tgt: int = 16
    dropout: float = 0.1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


NEG = -1e9  # additive attention bias of a masked position (finite: no NaN on odd rows)


class Attention(nn.Module):
    """Multi-head attention written with shape-free reshapes (unflatten/flatten), so the traced
    ONNX graph keeps batch and sequence dynamic (torch's MultiheadAttention bakes them in)."""

    def __init__(self, d: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, d // heads
        self.query, self.key_value, self.out = nn.Linear(d, d), nn.Linear(d, 2 * d), nn.Linear(d, d)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, context: Tensor, bias: Tensor) -> Tensor:
        q = self.query(x).unflatten(-1, (self.heads, self.head_dim)).transpose(1, 2)
        k, v = (
            t.unflatten(-1, (self.heads, self.head_dim)).transpose(1, 2)
            for t in self.key_value(context).chunk(2, -1)
        )
        weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.head_dim) + bias, dim=-1)
        out: Tensor = self.out((self.dropout(weights) @ v).transpose(1, 2).flatten(2))
        return out


class Block(nn.Module):
    """Pre-norm Transformer layer: self-attention, optional cross-attention, feed-forward."""

    def __init__(self, config: VaeConfig, cross: bool) -> None:
        super().__init__()
        d = config.d_model
        self.self_norm, self.self_attn = nn.LayerNorm(d), Attention(d, config.heads, config.dropout)
        self.cross_norm = nn.LayerNorm(d) if cross else None
        self.cross_attn = Attention(d, config.heads, config.dropout) if cross else None
        self.ff_norm = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, config.feedforward), nn.GELU(), nn.Linear(config.feedforward, d))
        self.dropout = nn.Dropout(config.dropout)

    def forward(
        self, x: Tensor, bias: Tensor, memory: Tensor | None = None, memory_bias: Tensor | None = None
    ) -> Tensor:
        h = self.self_norm(x)
        x = x + self.dropout(self.self_attn(h, h, bias))
        if self.cross_attn is not None and self.cross_norm is not None and memory is not None:
            assert memory_bias is not None
            x = x + self.dropout(self.cross_attn(self.cross_norm(x), memory, memory_bias))
        out: Tensor = x + self.dropout(self.ff(self.ff_norm(x)))
        return out


class CopyVAE(nn.Module):
    def __init__(self, config: VaeConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.embed = nn.Embedding(config.vocab_size, d, padding_idx=PAD_ID)
        self.src_pos = nn.Embedding(config.max_src, d)
        self.tgt_pos = nn.Embedding(config.max_tgt, d)
        self.encoder = nn.ModuleList(Block(config, cross=False) for _ in range(config.encoder_layers))
        self.decoder = nn.ModuleList(Block(config, cross=True) for _ in range(config.decoder_layers))
        self.encoder_norm, self.decoder_norm = nn.LayerNorm(d), nn.LayerNorm(d)
        self.to_latent = nn.Linear(d, 2 * config.latent)
        self.z_input = nn.Linear(config.latent, d)
        self.z_memory = nn.Linear(config.latent, d)
        self.scale = math.sqrt(d)
        # Tied output projection: unit-scale inputs after * sqrt(d), logits of order 1 at start.
        nn.init.normal_(self.embed.weight, std=d**-0.5)
        with torch.no_grad():
            self.embed.weight[PAD_ID].zero_()

    def encode(self, src: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """memory [B, S, D], mu [B, Z], logvar [B, Z] of padded source ids [B, S]."""
        keep = (src != PAD_ID).to(torch.float32)
        bias = ((1.0 - keep) * NEG)[:, None, None, :]
        # Clamped: a longer input (a generic contract test) must not index past the table.
        positions = (torch.cumsum(torch.ones_like(src), dim=1) - 1).clamp(max=self.config.max_src - 1)
        x = self.embed(src) * self.scale + self.src_pos(positions)
        for block in self.encoder:
            x = block(x, bias)
        memory = self.encoder_norm(x)
        pooled = (memory * keep.unsqueeze(-1)).sum(dim=1) / keep.sum(dim=1, keepdim=True).clamp(min=1.0)
        mu, logvar = self.to_latent(pooled).chunk(2, dim=-1)
        return memory, mu, logvar.clamp(-8.0, 8.0)

    def decode(self, memory: Tensor, src_mask: Tensor, z: Tensor, prefix: Tensor) -> Tensor:
        """Logits [B, T, V] for every prefix position; `src_mask` is 1 on real source tokens."""
        steps = torch.cumsum(torch.ones_like(prefix), dim=1) - 1
        positions = steps.clamp(max=self.config.max_tgt - 1)
        x = self.embed(prefix) * self.scale + self.tgt_pos(positions) + self.z_input(z).unsqueeze(1)
        memory = torch.cat([self.z_memory(z).unsqueeze(1), memory], dim=1)
        keep = torch.cat([torch.ones_like(src_mask[:, :1]), src_mask], dim=1).to(torch.float32)
        memory_bias = ((1.0 - keep) * NEG)[:, None, None, :]
        later = (steps.unsqueeze(-1) < steps.unsqueeze(-2)).to(torch.float32)  # [B, T, T]
        bias = (later * NEG).unsqueeze(1)
        for block in self.decoder:
            x = block(x, bias, memory, memory_bias)
        logits: Tensor = self.decoder_norm(x) @ self.embed.weight.T
        return logits

    def forward(self, src: Tensor, prefix: Tensor, sample: bool = True) -> tuple[Tensor, Tensor, Tensor]:
        """Training pass: (logits [B, T, V], mu, logvar)."""
        memory, mu, logvar = self.encode(src)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample else mu
        logits = self.decode(memory, (src != PAD_ID).to(torch.int64), z, prefix)
        return logits, mu, logvar


class EncoderGraph(nn.Module):
    """What `copy_generator_encoder` computes: src_ids -> memory, mu, logvar."""

    def __init__(self, vae: CopyVAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, src_ids: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.vae.encode(src_ids)


class DecoderGraph(nn.Module):
    """What `copy_generator_decoder` computes: the next-token logits after the last prefix token."""

    def __init__(self, vae: CopyVAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, memory: Tensor, src_mask: Tensor, z: Tensor, prefix_ids: Tensor) -> Tensor:
        return self.vae.decode(memory, src_mask, z, prefix_ids)[:, -1, :]


def kl_per_dim(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(q(z|x) || N(0, I)) per latent dimension, averaged over the batch: [Z]."""
    return (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).mean(dim=0)
