"""The typer application that every command module registers itself on, and the one
place where a user's mistake becomes an error message."""

import functools
from typing import Callable

import typer


def make_app(name: str, help: str) -> typer.Typer:
    """A typer app as every spacy-tskd command line has it (also the project's scripts)."""
    return typer.Typer(
        name=name, help=help, no_args_is_help=True, add_completion=False,
        pretty_exceptions_enable=False,
    )  # fmt: skip


app = make_app("spacy_tskd", "Cross-lingual NER by teacher-student distillation (spacy-tskd).")

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
