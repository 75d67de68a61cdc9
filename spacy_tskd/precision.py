"""The encoder's precision: float32, or bfloat16 autocast where the hardware has it.

thinc's ``PyTorchShim`` (and so spacy-transformers' ``HFShim``) autocasts on CUDA only
and only to float16 (``mixed_precision = true``). This module adds bfloat16 on the CPU
and on CUDA, applied around the encoder's forward (``spacy-tskd.TransformerEncoder.v1``),
so one config value covers every path that runs the encoder: teacher and student
training, rounds, annotation (Ray actors included), evaluation and ``nlp.pipe``.
Only the transformer's matrix products run in bfloat16: its output is cast back to
float32 before spacy-transformers hands it to thinc, so the pooling, the label
softmax, the losses, the optimizer state and the stored weights stay float32.

``mixed_precision`` values (``[components.*.model.encoder]``):

- ``"fp32"`` (or ``false``): float32 everywhere.
- ``"bf16"``: bfloat16 autocast. A CPU without native bfloat16 (``avx512_bf16`` /
  AMX on x86, ``bf16`` on ARM) would run it emulated and slower, so it falls back to
  float32 with one warning.
- ``"auto"``: bfloat16 where the CPU (or GPU) has it, float32 elsewhere, silently.
- ``true`` / ``"fp16"``: spacy-transformers' own CUDA float16 autocast with gradient
  scaling (unchanged; float32 on the CPU).

The environment variable ``SPACY_TSKD_CPU_BF16=0`` (or ``1``) overrides the CPU
detection, e.g. to compare both precisions on one machine or to test the fallback.
"""

from __future__ import annotations

import contextlib
import os
import platform
import warnings
from functools import lru_cache
from typing import Iterator, Optional, Union

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
    flags = _cpu_flags()
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


def autocast_dtype(precision: str, device_type: str):
    """The autocast dtype for ``precision`` on ``device_type`` ("cpu"/"cuda"), or None
    (float32, or spacy-transformers' own float16). Warns once when bf16 falls back."""
    import torch

    if precision == "fp32" or precision == "fp16":
        return None
    if device_type == "cuda":
        supported = torch.cuda.is_bf16_supported()
    elif device_type == "cpu":
        supported = cpu_has_bf16()
    else:
        supported = False
    if supported:
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
def encoder_autocast(precision: str, device) -> Iterator[Optional[object]]:
    """Autocast to bfloat16 on ``device`` (a torch device) when ``precision`` asks for it
    and the hardware has it; yields the dtype (None: float32)."""
    import torch

    dtype = autocast_dtype(precision, device.type)
    if dtype is None:
        yield None
        return
    with torch.autocast(device.type, dtype=dtype):
        yield dtype


def to_float32_hook(module, args, output):
    """Forward hook: floating tensors of a Hugging Face model's output back to float32
    (numpy, and so thinc, has no bfloat16)."""
    import torch

    if not torch.is_autocast_enabled(output_device(output)):
        return output
    for key, value in output.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            output[key] = value.float()
        elif isinstance(value, tuple):
            output[key] = tuple(v.float() if isinstance(v, torch.Tensor) else v for v in value)
    return output


def output_device(output) -> str:
    for value in output.values():
        if hasattr(value, "device"):
            return value.device.type
    return "cpu"


__all__ = [
    "ENV_CPU_BF16", "PRECISIONS", "autocast_dtype", "check_precision", "cpu_has_bf16",
    "encoder_autocast", "to_float32_hook"
]  # fmt: skip
