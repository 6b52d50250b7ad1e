"""A cell's declared initial values survive initialisation in a real run and match MLflow.

The LSTM's ``forget_bias`` option declares both bias vectors as its own init (Cell.own_init),
so the default ``init.bias=zeros`` must keep them; the run logs the option, and the saved
checkpoint holds the same bias. SGD with a learning rate of 1e-12 trains for real while
leaving the weights where initialisation put them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from cli_json import run_json

pytestmark = pytest.mark.slow
H = 16  # TINY_CONFIG's hidden size
FROZEN = ("trainer.max_epochs=1", "trainer.limit_train_batches=2", "optim.name=sgd")


def trained_biases(result: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """(bias_ih, bias_hh) of the first LSTM layer in the run's best checkpoint."""
    state = torch.load(result["checkpoint"], map_location="cpu", weights_only=True)["state_dict"]
    (ih,) = [v for k, v in state.items() if k.endswith("cells.0.bias_ih")]
    (hh,) = [v for k, v in state.items() if k.endswith("cells.0.bias_hh")]
    return ih, hh


def test_forget_bias_is_trained_with_and_logged(lm_config: Path, capsys) -> None:
    from mlflow.tracking import MlflowClient

    result = run_json(
        capsys, "train", str(lm_config), *FROZEN, "optim.lr=1e-12",
        "model.cell_options.forget_bias=0.5",
    )  # fmt: skip
    params = MlflowClient(result["tracking_uri"]).get_run(result["run_id"]).data.params
    assert params["model.cell_options.forget_bias"] == "0.5"
    assert params["init.bias"] == "zeros"
    assert params["init.bias.kept_own_init"] == "2"
    ih, hh = trained_biases(result)
    forget = (ih + hh)[H : 2 * H]
    torch.testing.assert_close(forget, torch.full((H,), 0.5), rtol=0, atol=1e-6)
    others = torch.cat([(ih + hh)[:H], (ih + hh)[2 * H :]])
    torch.testing.assert_close(others, torch.zeros(3 * H), rtol=0, atol=1e-6)


def test_an_explicit_init_bias_wins_over_the_declared_value(lm_config: Path, capsys) -> None:
    with pytest.warns(UserWarning, match="overwrites the initial values"):
        result = run_json(
            capsys, "train", str(lm_config), *FROZEN, "optim.lr=1e-12",
            "model.cell_options.forget_bias=0.5", "init.bias=uniform",
            "init.options.bias.a=-3.0", "init.options.bias.b=-2.0",
        )  # fmt: skip
    ih, hh = trained_biases(result)
    assert bool(((ih + hh) < -3.9).all())  # two draws from U(-3, -2) each, no 0.5 anywhere
