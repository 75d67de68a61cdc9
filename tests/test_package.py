"""Packaging: entry points resolve, the plugin import is light, the CLI lists its commands."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import spacy
from spacy.util import registry
from typer.testing import CliRunner

from spacy_tskd.cli import app

GROUPS = {
    "spacy_factories": {"tskd_ner"},
    "spacy_architectures": {
        "spacy-tskd.TokenSoftmax.v1",
        "spacy-tskd.TokenSoftmax.v2",
        "spacy-tskd.FirstPieceEncoder.v1",
    },
    "spacy_batchers": {"spacy-tskd.batch_by_length_buckets.v1"},
    "spacy_scorers": {"spacy-tskd.seqeval_scorer.v1"},
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
    assert registry.architectures.get("spacy-tskd.FirstPieceEncoder.v1")
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
