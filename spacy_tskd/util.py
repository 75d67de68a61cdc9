"""Small helpers shared by every step: atomic writes and friendly errors."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, Sequence, Union

PathLike = Union[str, os.PathLike]


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    Readers never see a half-written file: on any error the temporary file (or
    directory) is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.unlink(tmp_name)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, path) if not (tmp.is_dir() and path.is_dir()) else _replace_dir(tmp, path)
    finally:
        if tmp.exists():
            _remove(tmp)


def _replace_dir(tmp: Path, path: Path) -> None:
    old = path.with_name(f".{path.name}.old")
    if old.exists():
        _remove(old)
    os.replace(path, old)
    os.replace(tmp, path)
    _remove(old)


def _remove(path: Path) -> None:
    import shutil

    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf8"))


def check_pipeline_dir(path: Path, what: str = "Pipeline") -> None:
    """Raise FileNotFoundError unless ``path`` is a saved spaCy pipeline directory."""
    if not path.is_dir():
        raise FileNotFoundError(f"{what} directory not found: {path}")
    if not (path / "config.cfg").is_file():
        raise FileNotFoundError(f"{path} is not a saved spaCy pipeline (no config.cfg in it).")


def sha256_file(path: PathLike) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_path(path: PathLike) -> str:
    """SHA-256 of a file, or of a directory's files (their relative names and contents)."""
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    if not path.is_dir():
        raise FileNotFoundError(f"Not found: {path}")
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(path).as_posix()}\0{sha256_file(file)}\n".encode())
    return digest.hexdigest()


def config_block(
    path: PathLike, block: str, keys: Sequence[str], **overrides: Any
) -> Dict[str, Any]:
    """The values ``keys`` of the ``[block]`` of a config file (e.g. ``configs/weights.cfg``),
    with the ``overrides`` that are not None replacing them: a step's recipe, whose
    defaults live in the config only."""
    from spacy.util import load_config

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Config not found: {path}. Run from the project directory (its configs/ hold "
            "the defaults) or give --config."
        )
    values = load_config(path, interpolate=True).get(block, {})
    missing = [k for k in keys if k not in values]
    if missing:
        raise ValueError(f"{path}: the [{block}] block lacks {', '.join(missing)}.")
    recipe = {k: values[k] for k in keys}
    recipe.update({k: v for k, v in overrides.items() if v is not None})
    return recipe
