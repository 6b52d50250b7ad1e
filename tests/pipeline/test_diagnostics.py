"""diagnostics.gradient_flow in a real training run: metrics per epoch, heatmap, same training."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.config import load_config
from pipeline.plugins import default_registries
from pipeline.tracking import Tracker
from pipeline.train import train

GROUPS = ("embedding", "input", "recurrent", "bias", "output")


def test_gradient_flow_is_logged_per_epoch_and_leaves_training_unchanged(
    lm_config: Path, tmp_path: Path
) -> None:
    registries = default_registries()
    common = ["model.num_layers=2", "model.dropout=0.3", "trainer.limit_train_batches=6"]
    plain = train(load_config(lm_config, common, registries), registries=registries)
    on = ["diagnostics.gradient_flow=true", "diagnostics.every_n_batches=2"]
    diagnosed = train(load_config(lm_config, common + on, registries), registries=registries)

    assert "grad_ratio_l0_first_last" not in plain.metrics  # off by default
    for name in ("val_loss", "train_loss", "test_loss"):  # same weights, same dropout masks
        assert diagnosed.metrics[name] == plain.metrics[name]

    tracker = Tracker(diagnosed.tracking_uri)
    for series in ("l0", "l1"):
        history = tracker.metric_history(diagnosed.run_id, f"grad_ratio_{series}_first_last")
        assert len(history) == 2 and all(value > 0 for value in history)  # one per epoch
    for key in [f"grad_norm_{g}" for g in GROUPS] + ["saturated_tanh", "saturated_sigmoid"]:
        history = tracker.metric_history(diagnosed.run_id, key)
        assert len(history) == 2 and all(value >= 0 for value in history), key

    files = tracker.download(diagnosed.run_id, "diagnostics", tmp_path / "downloaded")
    profiles = json.loads((files / "gradient_flow.json").read_text())
    assert set(profiles) == {"l0", "l1"}
    assert [len(epoch) for epoch in profiles["l0"]] == [10, 10]  # task.bptt steps, 2 epochs
    assert profiles["l0"][0][-1] == 1.0  # relative to the last step
    assert (files / "gradient_flow.png").read_bytes()[:4] == b"\x89PNG"
