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


def test_a_listing_comment_that_contradicts_the_traced_shapes_names_its_line(tmp_path):
    from nnarch.source.outline import read
    from nnarch.source.validate import shape_comment_problems

    module = tmp_path / "net.py"
    module.write_text(
        "import torch\nfrom torch import nn\n\n\nclass Net(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.conv1 = nn.Conv1d(1, 24, 5, padding=2)\n        self.fc = nn.Linear(24 * 50, 4)\n\n"
        "    def forward(self, x):              # (B, 1, 50)\n"
        "        x = torch.relu(self.conv1(x))  # (B, 16, 50)\n"  # line 12: the channels were 16 once
        "        x = x.flatten(start_dim=1)     # (B, 800)\n"  # line 13: no layer has this shape
        "        return self.fc(x)              # (B, T)\n"  # symbolic: not checked
    )
    namespace: dict = {}
    exec(compile(module.read_text(), str(module), "exec"), namespace)
    shapes = trace_shapes(namespace["Net"](), torch.zeros(2, 1, 50))
    problems = shape_comment_problems(read(module), "Net", shapes)
    assert [line for line, _ in problems] == [12, 13]
    assert "says (B, 16, 50), but conv1's output was traced as (B, 24, 50)" in problems[0][1]
    assert "(B, 800), a shape no layer had" in problems[1][1]

    module.write_text(module.read_text().replace("(B, 16, 50)", "(B, 24, 50)").replace("(B, 800)", "(B, 1200)"))
    assert shape_comment_problems(read(module), "Net", shapes) == []
