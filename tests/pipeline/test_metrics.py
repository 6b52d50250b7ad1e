"""pipeline.metrics.WeightedMean: weights count (torchmetrics#3434 drops them), NaN shows."""

from __future__ import annotations

import math

import torch
from torchmetrics import MeanMetric

from pipeline.metrics import WeightedMean


def test_batch_means_are_weighted_by_their_counts() -> None:
    metric = WeightedMean()
    metric.update(torch.tensor(1.0), 4)  # a full batch of 4 tokens with mean loss 1
    metric.update(torch.tensor(0.0), torch.tensor(2))  # a short last batch of 2 with mean 0
    assert math.isclose(float(metric.compute()), 4 / 6, rel_tol=1e-6)


def test_torchmetrics_disable_strategy_still_drops_weights() -> None:
    # The reason WeightedMean exists: delete it when this fails (torchmetrics fixed #3434).
    metric = MeanMetric(nan_strategy="disable")
    metric.update(torch.tensor(1.0), 4)
    metric.update(torch.tensor(0.0), 2)
    assert math.isclose(float(metric.compute()), 0.5, rel_tol=1e-6)


def test_values_of_any_shape_and_a_nan_makes_the_mean_nan() -> None:
    metric = WeightedMean()
    metric.update(torch.tensor([1.0, 3.0]))
    assert float(metric.compute()) == 2.0
    metric.update(torch.tensor(float("nan")), 1)
    assert math.isnan(float(metric.compute()))
