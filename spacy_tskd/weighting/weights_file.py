"""Weights files: ``weights.json`` (α, τ, method, sources, target, encoder identity) and,
for ``sim``, ``weights.safetensors`` with the similarity model; written by
:func:`spacy_tskd.weighting.similarity.fit_weights`, read and checked here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from ..util import PathLike, atomic_path, config_block, sha256_file
from .embeddings import encoder_identity
from .language_model import build_model
from .mixture import check_weights

METHODS = ("avg", "sim", "cosine", "l2")
FORMAT_VERSION = 2


def load_weights(
    path: PathLike,
    *,
    sources: Optional[Sequence[str]] = None,
    encoder: Optional[PathLike] = None,
    target: Optional[PathLike] = None,
) -> Dict[str, Any]:
    """Read a weights JSON written by :func:`fit_weights` and check it.

    sources: the teacher languages, in teacher order. Each must have an α and
        the file must hold no other language; α (and ``sources``) are returned
        reordered to this order.
    encoder: the encoder in use; if the file records an encoder, its identity
        (sha256 when both are known, else the name) must match.
    target: the target DocBin; must have the ``target_sha256`` recorded.
    Every error is a ValueError (FileNotFoundError for a missing file) whose
    message starts with the file's path.
    """
    path = Path(path)
    data = read_json(path)
    for key in ("method", "sources", "alpha"):
        if key not in data:
            raise ValueError(
                f"{path}: no {key!r} field; is this a weights file from `weights fit`?"
            )
    if int(data.get("format", FORMAT_VERSION)) != FORMAT_VERSION:
        raise ValueError(
            f"{path}: weights format {data.get('format')} is not {FORMAT_VERSION}, the one "
            "this version reads. Re-run `weights fit`."
        )
    file_sources = [str(s) for s in data["sources"]]
    if not file_sources or len(set(file_sources)) != len(file_sources):
        raise ValueError(f"{path}: 'sources' must list distinct languages, got {file_sources}.")
    alpha = check_weights(data["alpha"], len(file_sources), source=str(path))
    if "sentence_level" in data and bool(data["sentence_level"]) != (alpha.ndim == 2):
        raise ValueError(
            f"{path}: sentence_level is {data['sentence_level']} but alpha has shape {alpha.shape}."
        )
    if sources is not None:
        wanted = [str(s) for s in sources]
        missing = [s for s in wanted if s not in file_sources]
        extra = [s for s in file_sources if s not in wanted]
        if missing:
            raise ValueError(
                f"{path}: no weight for the source language(s) {', '.join(missing)}; the "
                f"weights cover {', '.join(file_sources)}. Re-run `weights fit` with one "
                "source docs file per teacher language."
            )
        if extra or len(wanted) != len(file_sources):
            raise ValueError(
                f"{path}: the weights cover {', '.join(file_sources)} but the teachers are "
                f"{', '.join(wanted)}. Re-run `weights fit` with exactly the teachers' languages."
            )
        order = [file_sources.index(s) for s in wanted]
        alpha = alpha[..., order]
        file_sources = wanted
    stored = data.get("encoder")
    if encoder is not None and stored:
        given = encoder_identity(encoder)
        if stored.get("sha256") and given["sha256"]:
            same = stored["sha256"] == given["sha256"]
        else:
            same = same_name(stored.get("name"), given["name"])
        if not same:
            raise ValueError(
                f"{path}: the weights were computed with the encoder {stored.get('name')!r} "
                f"(sha256 {str(stored.get('sha256'))[:12]}) but the encoder given is "
                f"{given['name']!r} (sha256 {str(given['sha256'])[:12]}). Re-run `weights fit` "
                "with this encoder."
            )
    if target is not None and data.get("target_sha256"):
        if sha256_file(Path(target)) != data["target_sha256"]:
            raise ValueError(
                f"{path}: the weights were computed for the target docs {data.get('target')} "
                f"but {target} has other contents. Re-run `weights fit` on {target}."
            )
    data["sources"] = file_sources
    data["alpha"] = alpha.tolist()
    data["alpha_mean"] = (alpha.mean(axis=0) if alpha.ndim == 2 else alpha).tolist()
    data["path"] = str(path)
    return data


def load_similarity_model(weights_json: PathLike):
    """Reload the ``sim`` model saved beside a weights JSON (safetensors, no pickle).

    The model is in eval mode; ``model.encoder_name`` is the recorded encoder, so
    ``model.score(texts)`` embeds and scores new sentences.
    """
    from safetensors.torch import load_file

    path = Path(weights_json)
    data = read_json(path)
    info = data.get("similarity_model")
    if data.get("method") != "sim" or not info:
        raise ValueError(
            f"{path}: method {data.get('method')!r} has no similarity model (only 'sim' has one)."
        )
    model_path = path.parent / info["file"]
    if not model_path.is_file():
        raise FileNotFoundError(f"{path}: its similarity model {model_path} is missing.")
    if info.get("sha256") and sha256_file(model_path) != info["sha256"]:
        raise ValueError(
            f"{path}: {model_path} does not match the sha256 recorded in the JSON; it was "
            "overwritten or is corrupt. Re-run `weights fit`."
        )
    cfg = info["config"]
    model = build_model(cfg)
    try:
        model.load_state_dict(load_file(str(model_path)), strict=True)
    except RuntimeError as err:
        raise ValueError(f"{path}: {model_path} does not match its config: {err}") from None
    model.encoder_name = (data.get("encoder") or {}).get("name")
    model.max_length = (data.get("params") or {}).get("max_length")
    model.train_stats = dict((data.get("params") or {}).get("train") or {})
    model.eval()
    return model


def save_model(model, path: Path) -> Dict[str, Any]:
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"config": json.dumps(model.config())})
    return {"file": path.name, "sha256": sha256_file(path), "config": model.config()}


def source_languages(paths: Sequence[PathLike], langs: Optional[str]) -> List[str]:
    """One language per source file: from ``--langs`` or the parent directory names."""
    if langs:
        codes = [c.strip() for c in langs.split(",") if c.strip()]
        if len(codes) != len(paths):
            raise ValueError(
                f"--langs gives {len(codes)} language(s) ({', '.join(codes)}) for "
                f"{len(paths)} source docs file(s): give one code per file, in order."
            )
    else:
        codes = [Path(p).parent.name or Path(p).resolve().parent.name for p in paths]
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        raise ValueError(
            f"Source language(s) {', '.join(dupes)} given more than once (from "
            f"{'--langs' if langs else 'the parent directory names'}: {', '.join(codes)}). "
            "Use one file per language, in directories named after it "
            "(corpus/en/train.spacy), or name them with --langs en,de,nl."
        )
    return codes


RECIPE_KEYS = ("rank", "gamma", "epochs", "lr", "batch_size", "max_length")


def load_recipe(path: PathLike, **overrides: Any) -> Dict[str, Any]:
    """The ``[weights]`` block of a weights config (``configs/weights.cfg``), with the
    values in ``overrides`` that are not None replacing the file's."""
    return config_block(path, "weights", RECIPE_KEYS, **overrides)


def read_json(path: Path) -> Dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"Weights file not found: {path}. Run `weights fit` first.")
    try:
        data = json.loads(path.read_text(encoding="utf8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a valid weights JSON file: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}.")
    return data


def same_name(a: Optional[str], b: Optional[str]) -> bool:
    if a is None or b is None:
        return True
    pa, pb = Path(a), Path(b)
    if pa.exists() and pb.exists():
        return pa.resolve() == pb.resolve()
    return a == b
