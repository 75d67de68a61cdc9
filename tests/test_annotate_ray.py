"""Annotation on a Ray Data actor pool: the one-process output, on a local 2-CPU
cluster that the tests start and stop (skipped without the ``ray`` extra)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("ray.data")

from typer.testing import CliRunner  # noqa: E402

from spacy_tskd.cli import app  # noqa: E402
from spacy_tskd.distill.annotate import annotate  # noqa: E402
from spacy_tskd.distill.annotate_ray import annotate_on_ray  # noqa: E402
from spacy_tskd.distill.annotations import shard_file  # noqa: E402

from conftest import read_annotations  # noqa: E402


@pytest.fixture(scope="module")
def local_cluster():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture
def one_thread():
    """The one-process reference at the actors' thread count: Ray starts each 1-CPU actor
    with OMP_NUM_THREADS=1, and a matrix product's rounding may depend on how many
    threads split it, so float16 outputs agree bit for bit only at the same count."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _same_output(a, b):
    docs_a, probs_a = read_annotations(a)
    docs_b, probs_b = read_annotations(b)
    assert [d.text for d in docs_a] == [d.text for d in docs_b]
    assert all((p == q).all() for p, q in zip(probs_a, probs_b))  # float16, bit for bit
    index_a, index_b = (json.loads((d / "index.json").read_text()) for d in (a, b))
    for key in ("teacher", "labels", "input", "n_docs", "n_tokens", "shard_size"):
        assert index_a[key] == index_b[key]
    shards = [{k: v for k, v in s.items() if k != "seconds"} for s in index_a["shards"]]
    assert shards == [{k: v for k, v in s.items() if k != "seconds"} for s in index_b["shards"]]


def test_ray_output_is_the_one_process_output_and_resumes(
    local_cluster, one_thread, teacher_dir, text_path, tmp_path, monkeypatch
):
    import spacy_tskd.distill.annotate as one_process

    one, out = tmp_path / "one", tmp_path / "ray"
    annotate(teacher_path=teacher_dir, input_path=text_path, lang="en", output_dir=one, shard_size=3,
             progress=False)  # fmt: skip

    def no_model_in_the_driver(**kwargs):
        raise AssertionError("the driver loaded the teacher's model; only actors should")

    monkeypatch.setattr(one_process, "load_teacher", no_model_in_the_driver)
    kwargs = dict(address="auto", teacher_path=teacher_dir, input_path=text_path, lang="en",
                  output_dir=out, shard_size=3, actors=2, progress=False)  # fmt: skip
    first = annotate_on_ray(**kwargs)
    assert first["complete"] and first["written"] == list(range(first["n_shards"]))
    _same_output(one, out)
    for path in (shard_file(out, 1), shard_file(out, 1, ".json"), out / "index.json"):
        path.unlink()  # as if the run had been killed while shard 1 was written
    again = annotate_on_ray(**kwargs)
    assert again["written"] == [1] and len(again["skipped"]) == first["n_shards"] - 1
    _same_output(one, out)


def test_cli_ray_on_a_docbin(local_cluster, one_thread, teacher_dir, docs_path, tmp_path):
    annotate(teacher_path=teacher_dir, input_path=docs_path, output_dir=tmp_path / "one",
             shard_size=4, progress=False)  # fmt: skip
    args = ["annotate", str(teacher_dir), str(docs_path), str(tmp_path / "o"), "--shard-size"]
    result = CliRunner().invoke(app, args + ["4", "--ray", "auto", "--ray-actors", "1"])
    assert result.exit_code == 0, result.output
    _same_output(tmp_path / "one", tmp_path / "o")
    result = CliRunner().invoke(app, args + ["4", "--ray", "auto", "--part", "0/2"])
    assert result.exit_code == 1 and "--part and --ray do not go together" in result.output
