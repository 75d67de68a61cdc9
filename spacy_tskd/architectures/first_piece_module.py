"""The PyTorch side of the encoder: frozen bottom, trainable top, first-piece gather."""

from __future__ import annotations

import contextlib

import torch
from torch import nn


class FirstPieceModule(nn.Module):
    """Run a Hugging Face encoder and gather one vector per word.

    The embeddings and the bottom ``frozen_layers`` transformer layers are frozen:
    their parameters get ``requires_grad=False`` and, when everything below the
    first trainable layer is frozen, they run under ``torch.no_grad()`` so no
    autograd graph is built for them (a large saving on CPU).

    transformer (PreTrainedModel): A BERT-like encoder (``embeddings`` +
        ``encoder.layer``). Other architectures fall back to a plain forward pass.
    frozen_layers (int): Number of bottom layers to freeze.
    freeze_embeddings (bool): Freeze the embedding layer.
    """

    def __init__(self, transformer, frozen_layers: int = 3, freeze_embeddings: bool = True):
        super().__init__()
        self.transformer = transformer
        self.frozen_layers = int(frozen_layers)
        self.freeze_embeddings = bool(freeze_embeddings)
        layers = self.layers
        if layers is not None and self.frozen_layers > len(layers):
            raise ValueError(
                f"frozen_layers={self.frozen_layers} but the encoder has only {len(layers)} "
                "layers. Lower frozen_layers in the [components.*.model.encoder] config block."
            )
        self.apply_freezing()

    @property
    def layers(self):
        encoder = getattr(self.transformer, "encoder", None)
        layers = getattr(encoder, "layer", None)
        if layers is None or not hasattr(self.transformer, "embeddings"):
            return None
        return layers

    def apply_freezing(self) -> None:
        """Set ``requires_grad`` from the freezing settings."""
        for p in self.transformer.parameters():
            p.requires_grad_(True)
        if self.freeze_embeddings:
            for p in self.transformer.get_input_embeddings().parameters():
                p.requires_grad_(False)
            embeddings = getattr(self.transformer, "embeddings", None)
            if embeddings is not None:
                for p in embeddings.parameters():
                    p.requires_grad_(False)
        layers = self.layers
        if layers is not None:
            for layer in layers[: self.frozen_layers]:
                for p in layer.parameters():
                    p.requires_grad_(False)
        # The pooler (if any) is never used.
        pooler = getattr(self.transformer, "pooler", None)
        if pooler is not None:
            for p in pooler.parameters():
                p.requires_grad_(False)

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Last hidden states, shape (n_seqs, seq_len, width)."""
        layers = self.layers
        if layers is None:
            out = self.transformer(input_ids=input_ids, attention_mask=attention_mask)
            return out[0]
        no_grad_bottom = self.freeze_embeddings and self.training
        ctx = torch.no_grad() if no_grad_bottom else contextlib.nullcontext()
        ext_mask = self.transformer.get_extended_attention_mask(attention_mask, input_ids.shape)
        with ctx:
            hidden = self.transformer.embeddings(input_ids=input_ids)
            for layer in layers[: self.frozen_layers]:
                hidden = layer(hidden, ext_mask)[0]
        for layer in layers[self.frozen_layers :]:
            hidden = layer(hidden, ext_mask)[0]
        return hidden

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        rows: torch.Tensor,
        cols: torch.Tensor,
    ) -> torch.Tensor:
        """Hidden state at (rows[i], cols[i]) for every word i: shape (n_words, width)."""
        hidden = self.encode(input_ids, attention_mask)
        return hidden[rows, cols]
