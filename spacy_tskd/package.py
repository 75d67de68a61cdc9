"""Package a student as an installable wheel with ``spacy package``, its meta naming the
language, labels, sources, teachers, decoder and test scores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional

from .util import PathLike, atomic_write_text, check_pipeline_dir


def package_meta(
    pipeline_path: PathLike, *, name: str, version: str, scores: Optional[PathLike] = None
) -> Dict[str, Any]:
    """The student's ``meta.json`` for its package: name, version, a description of its
    provenance, ``tskd.decoder`` and, from an ``evaluate`` JSON, ``performance``."""
    from spacy.util import load_config

    pipeline_path = Path(pipeline_path)
    check_pipeline_dir(pipeline_path, "Student pipeline")
    meta = json.loads((pipeline_path / "meta.json").read_text(encoding="utf8"))
    config = load_config(pipeline_path / "config.cfg", interpolate=False)
    tskd = meta.setdefault("tskd", {})
    tskd["decoder"] = [
        block.get("decode") for block in config["components"].values() if "decode" in block
    ]
    # tskd["teachers"] (from distill) holds each teacher's path, language and weights hash
    langs = [m.get("teacher", {}).get("lang") or "?" for m in tskd.get("teachers", [])]
    labels = meta.get("labels", {}).get("tskd_ner", [])
    types = sorted({lab.split("-", 1)[-1] for lab in labels if lab != "O"})
    sources = ", ".join(tskd.get("sources") or langs) or "?"
    meta.update(
        name=name, version=version,
        description=f"NER for '{meta['lang']}' ({', '.join(types)}), distilled by spacy-tskd "
        f"from unlabeled text with teachers of {sources}; decoder "
        f"{'/'.join(map(str, tskd['decoder']))}.",
    )  # fmt: skip
    if scores is not None and Path(scores).is_file():  # none without a target test set
        data = json.loads(Path(scores).read_text(encoding="utf8"))
        meta["performance"] = {k: data[k] for k in ("ents_p", "ents_r", "ents_f", "ents_per_type")}
        meta["performance"]["evaluated_on"] = data.get("data")
    return meta


def package_student(
    *,
    pipeline_path: PathLike,
    output_dir: PathLike,
    name: str,
    version: str = "0.1.0",
    scores: Optional[PathLike] = None,
) -> Path:
    """``spacy package`` the student into ``output_dir`` (a wheel); returns
    the wheel. The package's requirements name spacy-tskd and spacy-transformers."""
    from spacy.cli.package import package

    meta = package_meta(pipeline_path, name=name, version=version, scores=scores)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    meta_path = output_dir / f"{meta['lang']}_{name}-{version}.meta.json"
    atomic_write_text(meta_path, json.dumps(meta, indent=2) + "\n")
    package(Path(pipeline_path), output_dir, meta_path=meta_path, name=name, version=version,
            create_sdist=False, create_wheel=True, force=True, silent=False)  # fmt: skip
    model = name if name.startswith(meta["lang"] + "_") else f"{meta['lang']}_{name}"
    wheels = sorted((output_dir / f"{model}-{version}" / "dist").glob("*.whl"))
    if not wheels:
        raise ValueError(f"spacy package wrote no wheel under {output_dir}: see its output above.")
    return wheels[-1]


__all__ = ["package_meta", "package_student"]
