"""Command-line interface: ``python -m spacy_tskd COMMAND``.

Each command is a thin typer wrapper around a keyword-only library function, so
Python users call the same code. Heavy imports happen inside the commands.
"""

import importlib

from ._app import app

# Command modules register themselves on ``app`` when imported.
for _module in (
    "convert",
    "encoder",
    "train",
    "annotate",
    "denoise",
    "distill",
    "rounds",
    "evaluate",
    "table",
    "report",
    "package",
    "weights",
):
    importlib.import_module(f"{__name__}.{_module}")


def main() -> None:
    app()


__all__ = ["app", "main"]
