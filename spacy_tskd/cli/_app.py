"""The typer application that every command module registers itself on."""

import typer

app = typer.Typer(
    name="spacy_tskd",
    help="Cross-lingual NER by teacher-student distillation (spacy-tskd).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
