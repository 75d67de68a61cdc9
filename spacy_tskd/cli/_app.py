"""The typer application that every command module registers itself on, and the one
place where a user's mistake becomes an error message."""

import functools
from typing import Callable

import typer

app = typer.Typer(
    name="spacy_tskd",
    help="Cross-lingual NER by teacher-student distillation (spacy-tskd).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# What a user can cause and fix: a missing or wrong file, a bad value, a missing extra.
# The library's messages name the file (and line) and what to do; anything else is a bug
# and keeps its traceback.
USER_ERRORS = (
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
    ValueError,
    KeyError,
    ImportError,
)


def command(group: typer.Typer, name: str, **kwargs) -> Callable:
    """``group.command(name)`` whose user errors print one line and exit with code 1."""

    def decorate(func: Callable) -> Callable:
        @functools.wraps(func)
        def run(*args, **kw):
            try:
                return func(*args, **kw)
            except USER_ERRORS as err:
                from wasabi import msg

                text = err.args[0] if isinstance(err, KeyError) and err.args else err
                msg.fail(str(text))
                raise typer.Exit(code=1) from None

        return group.command(name, **kwargs)(run)

    return decorate
