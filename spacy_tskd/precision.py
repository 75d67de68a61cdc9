"""The encoder's precision: float32, or bfloat16 autocast where the hardware has it.

thinc's ``PyTorchShim`` (so spacy-transformers' ``HFShim``) autocasts on CUDA only, to
float16 (``mixed_precision = true``). ``encoder_autocast`` adds bfloat16 on the CPU and
on CUDA around the encoder's forward (``spacy-tskd.TransformerEncoder.v1``), so one
config value covers every path that runs the encoder. The transformer's output is cast
back to float32: pooling, label softmax, losses, optimizer state and weights stay
float32. Values: ``"fp32"`` (false), ``"bf16"`` (float32 with one warning on a CPU
without native bfloat16: ``avx512_bf16``/AMX on x86, ``bf16`` on ARM), ``"auto"``
(bfloat16 where the hardware has it, silently) and ``"fp16"`` (true: spacy-transformers'
CUDA float16 with gradient scaling). ``SPACY_TSKD_CPU_BF16=0|1`` overrides the CPU
detection. Reference: docs/usage.md, "Precision".
"""

from __future__ import annotations

import contextlib
import os
import platform
import warnings
from functools import lru_cache
from typing import Iterator, Union

PRECISIONS = ("fp32", "bf16", "auto", "fp16")
ENV_CPU_BF16 = "SPACY_TSKD_CPU_BF16"
_warned = set()


def check_precision(value: Union[bool, str]) -> str:
    """The canonical name of a ``mixed_precision`` value, or a ValueError saying what to use."""
    if value is True:
        return "fp16"
    if value is False or value is None:
        return "fp32"
    name = str(value).lower().replace("float32", "fp32").replace("bfloat16", "bf16")
    if name not in PRECISIONS:
        raise ValueError(
            f"mixed_precision = {value!r} is not a precision: use one of "
            f"{', '.join(repr(p) for p in PRECISIONS)} (or true / false) in the "
            "[components.*.model.encoder] config block."
        )
    return name


@lru_cache(maxsize=1)
def _cpu_flags() -> frozenset:
    """The CPU's feature flags (Linux /proc/cpuinfo, macOS sysctl); empty if unknown."""
    try:
        with open("/proc/cpuinfo", encoding="utf8") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    if platform.system() == "Darwin":
        import subprocess

        out = subprocess.run(
            ["sysctl", "-n", "hw.optional.arm.FEAT_BF16"], capture_output=True, text=True
        )
        return frozenset({"bf16"} if out.stdout.strip() == "1" else ())
    return frozenset()


def cpu_has_bf16() -> bool:
    """Whether the CPU computes bfloat16 natively (``SPACY_TSKD_CPU_BF16`` overrides)."""
    forced = os.environ.get(ENV_CPU_BF16, "").strip()
    if forced:
        return forced.lower() not in ("0", "false", "no", "off")
    return bool(_cpu_flags() & {"avx512_bf16", "amx_bf16", "bf16"})


def autocast_dtype(precision: str, device_type: str):
    """The autocast dtype for ``precision`` on ``device_type`` ("cpu"/"cuda"), or None
    (float32, or spacy-transformers' own float16). Warns once when bf16 falls back."""
    import torch

    if precision not in ("bf16", "auto"):
        return None
    if device_type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    if device_type == "cpu" and cpu_has_bf16():
        return torch.bfloat16
    if precision == "bf16" and device_type not in _warned:
        _warned.add(device_type)
        warnings.warn(
            f"mixed_precision = 'bf16', but this {device_type.upper()} has no native "
            "bfloat16 (on x86 it needs avx512_bf16 or AMX), where it would be slower: "
            "running in float32. Set mixed_precision = 'auto' to choose silently.",
            stacklevel=3,
        )
    return None


@contextlib.contextmanager
def encoder_autocast(precision: str, hf_model, shim) -> Iterator[None]:
    """Run ``hf_model`` (wrapped by thinc's ``shim``) under bfloat16 autocast when
    ``precision`` asks for it and the hardware has it; float32 otherwise.

    A forward hook (registered once per model) casts the output back to float32. On
    CUDA the shim opens ``torch.autocast("cuda", enabled=mixed_precision)`` inside,
    which would switch this context off: its flag is set for the call, so the inner
    context inherits bfloat16.
    """
    import torch

    if precision not in ("bf16", "auto"):  # before shim.device: it fails uninitialised
        yield
        return
    device = shim.device.type
    dtype = autocast_dtype(precision, device)
    if dtype is None:
        yield
        return
    if getattr(hf_model, "_tskd_float32_hook", None) is None:
        hf_model._tskd_float32_hook = hf_model.register_forward_hook(_to_float32)
    inner = shim._mixed_precision
    shim._mixed_precision = device == "cuda"
    try:
        with torch.autocast(device, dtype=dtype):
            yield
    finally:
        shim._mixed_precision = inner


def _to_float32(module, args, output):
    """Forward hook: a Hugging Face output's tensors as float32 (numpy, and so thinc,
    has no bfloat16; ``.float()`` of a float32 tensor is the tensor itself)."""
    for key, value in output.items():
        if isinstance(value, tuple):  # hidden states or attentions, when asked for
            output[key] = tuple(v.float() for v in value)
        elif value.is_floating_point():
            output[key] = value.float()
    return output


__all__ = [
    "ENV_CPU_BF16", "PRECISIONS", "autocast_dtype", "check_precision", "cpu_has_bf16",
    "encoder_autocast"
]  # fmt: skip
