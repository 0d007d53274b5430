"""Parameter counting and shape tracing against independent references."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from nnarch.run.measure import count_parameters, trace_shapes


@pytest.mark.parametrize("sizes", [(1, 16, 16, 1), (3, 7, 2), (5, 1)])
def test_linear_stack_count_matches_numel_and_the_formula(sizes):
    layers = []
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    counted = count_parameters(model)
    assert counted["total"] == sum(p.numel() for p in model.parameters())
    assert counted["total"] == sum(a * b + b for a, b in itertools.pairwise(sizes))
    assert counted["formula"].endswith(f"= {counted['total']}")
    assert counted["formula"].count("\\cdot") == len(sizes) - 1
    assert [layer["count"] for layer in counted["layers"]] == [a * b + b for a, b in itertools.pairwise(sizes)]


def test_no_formula_for_layers_that_are_not_linear():
    model = nn.Sequential(nn.Conv1d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 8, 2))
    counted = count_parameters(model)
    assert counted["formula"] is None
    assert counted["total"] == (4 * 1 * 3 + 4) + (32 * 2 + 2)


def test_frozen_parameters_are_not_counted():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    model[0].weight.requires_grad_(False)
    assert count_parameters(model)["total"] == 3 + 4


def test_shapes_are_traced_through_every_leaf_with_batch_axis_named():
    model = nn.Sequential(nn.Conv1d(1, 16, 5, padding=2), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 50, 4))
    rows = trace_shapes(model, torch.zeros(2, 1, 50))
    assert [r["output"] for r in rows] == [["B", 16, 50], ["B", 16, 50], ["B", 800], ["B", 4]]
    assert rows[0]["input"] == ["B", 1, 50]
