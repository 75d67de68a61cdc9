"""Checkpoints of a running distillation, so that a killed run resumes where it stopped.

A checkpoint is a directory written atomically (``OUTPUT/checkpoint``) every
``distillation.checkpoint_every`` steps: the student pipeline (``nlp.to_disk``), the thinc
optimizer's moments and update counts, the global random states (Python, NumPy,
torch: the dropout masks) and ``state.json`` (the step, the log so far). ``distill
--resume`` rebuilds the student from the same config, loads the checkpoint and replays
the data order up to its step without training (the order comes from a seeded
generator), so the resumed run ends with the same model as one never interrupted.

Why by hand: spaCy's trainer has no resume, and thinc's optimizer keys its state by
runtime node ids, which differ in a new process; here they are saved under the node's
position in the component's model (``walk()`` order), which the same config rebuilds.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Dict, Tuple

import numpy as np

from ..util import PathLike, atomic_path

ARRAYS = ("mom1", "mom2", "averages")  # optimizer tables of arrays
COUNTS = ("nr_update", "last_seen")  # optimizer tables of ints
STATE_FILE = "state.json"


def save_checkpoint(
    path: PathLike, nlp: Any, optimizer: Any, *, component: str, state: Dict[str, Any]
) -> Path:
    """Write the checkpoint directory ``path`` atomically; ``state`` must hold ``step``."""
    keys = _portable_keys(nlp, component)
    arrays: Dict[str, np.ndarray] = {}
    counts: Dict[str, Dict[str, int]] = {}
    for name in ARRAYS + COUNTS:
        for key, value in (getattr(optimizer, name, None) or {}).items():
            if key not in keys:
                continue
            if name in ARRAYS:
                arrays[f"{name}|{keys[key]}"] = _to_numpy(value)
            else:
                counts.setdefault(name, {})[keys[key]] = int(value)
    rng, rng_arrays = _rng_states()
    with atomic_path(path) as tmp:
        tmp.mkdir()
        nlp.to_disk(tmp / "model")
        np.savez(tmp / "optimizer.npz", **arrays)
        np.savez(tmp / "rng.npz", **rng_arrays)
        payload = {**state, "optimizer_counts": counts, "rng": rng}
        (tmp / STATE_FILE).write_text(json.dumps(payload) + "\n", encoding="utf8")
    return Path(path)


def load_checkpoint(path: PathLike, nlp: Any, optimizer: Any, *, component: str) -> Dict:
    """Load a checkpoint into a student built from the same config and its optimizer
    (call after ``nlp.initialize``); returns its ``state``. The global random states
    are restored too: call this last, right before training goes on."""
    path = Path(path)
    if not (path / STATE_FILE).is_file():
        raise FileNotFoundError(
            f"No checkpoint in {path} ({STATE_FILE} missing): the run stopped before its "
            "first checkpoint (distillation.checkpoint_every steps). Run it again without --resume."
        )
    ops = nlp.get_pipe(component).model.ops
    nlp.get_pipe(component).from_disk(path / "model" / component, exclude=["vocab"])
    by_key = {v: k for k, v in _portable_keys(nlp, component).items()}
    state = json.loads((path / STATE_FILE).read_text(encoding="utf8"))

    def node_key(portable: str):
        if portable not in by_key:
            raise ValueError(
                f"{path}: the optimizer state names the parameter {portable}, which this "
                "student does not have: resume with the config the run started with."
            )
        return by_key[portable]

    with np.load(path / "optimizer.npz") as saved:
        tables: Dict[str, Dict] = {}
        for entry in saved.files:
            name, portable = entry.split("|", 1)
            tables.setdefault(name, {})[node_key(portable)] = ops.asarray(saved[entry])
    tables.update(
        {name: {node_key(k): v for k, v in table.items()}
         for name, table in state.pop("optimizer_counts").items()}
    )  # fmt: skip
    for name in ARRAYS + COUNTS:
        current = getattr(optimizer, name, None)
        if current is not None:
            current.clear()
            current.update(tables.get(name, {}))
    with np.load(path / "rng.npz") as rng_arrays:
        _set_rng_states(state.pop("rng"), rng_arrays)
    return state


def _portable_keys(nlp: Any, component: str) -> Dict[Tuple[int, str], str]:
    """thinc optimizer key (node or shim id, param name) -> "node/shim/param" (the
    node's index in ``walk()``, the shim's index or -1), the same in a new process."""
    keys = {}
    for i, node in enumerate(nlp.get_pipe(component).model.walk()):
        for name in node.param_names:
            keys[(node.id, name)] = f"{i}/-1/{name}"
        for j, shim in enumerate(node.shims):
            model = getattr(shim, "_model", None)
            for name, _ in model.named_parameters() if hasattr(model, "named_parameters") else []:
                keys[(shim.id, name)] = f"{i}/{j}/{name}"
    return keys


def _to_numpy(value: Any) -> Any:
    if hasattr(value, "shape"):
        return np.asarray(value.get() if hasattr(value, "get") else value)
    return value


def _rng_states() -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    """The global random states: JSON-able values and arrays."""
    import torch

    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    values = {"python": [version, list(internal), gauss], "numpy": [name, pos, has_gauss, cached]}
    arrays = {"numpy_keys": keys, "torch": torch.get_rng_state().numpy()}
    if torch.cuda.is_available():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            arrays[f"cuda{i}"] = state.numpy()
    return values, arrays


def _set_rng_states(values: Dict[str, Any], arrays: Any) -> None:
    import torch

    version, internal, gauss = values["python"]
    random.setstate((version, tuple(internal), gauss))
    name, pos, has_gauss, cached = values["numpy"]
    np.random.set_state((name, arrays["numpy_keys"], pos, has_gauss, cached))
    torch.set_rng_state(torch.from_numpy(arrays["torch"].copy()))
    cuda = sorted(k for k in arrays.files if k.startswith("cuda"))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.from_numpy(arrays[k].copy()) for k in cuda])


__all__ = ["load_checkpoint", "save_checkpoint"]
