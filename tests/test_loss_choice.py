"""scripts/loss_choice.py: the overrides it passes and the table it computes."""

import pytest
import typer

from scripts.loss_choice import epoch_scores, loss_overrides, schedule_overrides, summarise


def test_loss_overrides():
    assert loss_overrides("mse") == ["--components.tskd_ner.distill_loss", "mse"]
    assert loss_overrides("kl:2") == [
        "--components.tskd_ner.distill_loss", "kl",
        "--components.tskd_ner.distill_temperature", "2",
    ]  # fmt: skip


def test_schedule_overrides():
    assert schedule_overrides("") == []
    assert schedule_overrides("32/4e-4") == [
        "--distillation.batch_size", "32",
        "--distillation.optimizer.learn_rate.initial_rate", "4e-4",
    ]  # fmt: skip
    with pytest.raises(typer.BadParameter, match="'4e-4' is not BATCH/LR"):
        schedule_overrides("4e-4")


def _run(loss, seed, f1s):
    log = [{"step": 5, "epoch": 0, "loss": 0.1}]  # a plain log line has no dev score
    log += [{"step": 10 * (e + 1), "epoch": e, "loss": 0.1, "dev_ents_f": f / 100,
             "monitor": {"agreement": 0.9}} for e, f in enumerate(f1s)]  # fmt: skip
    return {"loss": loss, "seed": seed, "epochs": epoch_scores({"tskd": {"log": log}})}


def test_summarise_means_over_seeds_and_picks_the_best():
    runs = {"mse/0": _run("mse", 0, [60, 62]), "mse/1": _run("mse", 1, [62, 66]),
            "hard/0": _run("hard", 0, [63, 61]), "hard/1": _run("hard", 1, [63, 61]),
            "kl:2/0": _run("kl:2", 0, [90, 90])}  # fmt: skip
    out = summarise(runs)
    cell = out["cells"]["mse/epoch2"]
    assert cell["n"] == 2 and cell["mean_f1"] == pytest.approx(64.0)
    assert cell["sd_f1"] == pytest.approx(2**1.5)
    assert out["cells"]["kl:2/epoch1"]["sd_f1"] is None
    # kl:2 has one seed only: the best is chosen among the cells with every seed
    assert out["best"] == "mse/epoch2"
