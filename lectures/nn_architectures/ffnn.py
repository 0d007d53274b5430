"""Feed-forward networks: a 1–16–16–1 tanh network learns an unknown smooth function from samples.

The slides count its parameters from the model, compare a shallow-wide and a deep-narrow network of
equal size on the same data, and draw the autograd graph that backpropagation walks.
"""

import torch
from torch import nn

from nnarch.topic import (Bullets, Columns, Exercise, Fig, FigureSpec, Frame, Listing, Math, ParamTable,
                          Recipe, Splits, Text, Topic, VariantTable, below, loss_decreases, within)


class MLP(nn.Module):
    """Linear layers, tanh between them, linear output."""

    def __init__(self, hidden_sizes=(16, 16)):
        super().__init__()
        sizes = [1, *hidden_sizes, 1]
        layers = []
        for n_in, n_out in zip(sizes, sizes[1:]):
            layers += [nn.Linear(n_in, n_out), nn.Tanh()]
        # regression: no activation after the last layer
        self.net = nn.Sequential(*layers[:-1])

    def forward(self, x):
        return self.net(x)


def target_function(x):
    """The function the network must discover: smooth, with a fast wiggle near the origin."""
    return torch.sin(2 * x) + 0.5 * torch.cos(5 * x) * torch.exp(-x**2)


def make_data(seed):
    """64 noise-free training samples and 256 test samples drawn uniformly from [-2, 2]."""
    g = torch.Generator().manual_seed(seed)
    x_train = 4 * torch.rand(64, 1, generator=g) - 2
    x_test = 4 * torch.rand(256, 1, generator=g) - 2
    x_dense = torch.linspace(-2, 2, 400).unsqueeze(1)
    return Splits(train=(x_train, target_function(x_train)), test=(x_test, target_function(x_test)),
                  extras={"x_dense": x_dense, "y_dense": target_function(x_dense)})


def test_mse(run):
    """Mean squared error on the test samples the network never saw."""
    x, y = run.data.test
    with torch.no_grad():
        return nn.functional.mse_loss(run.model(x), y)


def wider_network_params(run):
    """How many parameters does a 1–32–32–1 network have? Use the formula, not the model."""
    return (1 * 32 + 32) + (32 * 32 + 32) + (32 * 1 + 1)


def check_wider_network_params(answer, run):
    expected = sum(p.numel() for p in MLP(hidden_sizes=(32, 32)).parameters())
    assert answer == expected, f"{answer} is not right; count weights and biases layer by layer"


def deeper_network_params(run):
    """Add a third hidden layer of 16 units: how many parameters does 1–16–16–16–1 have?"""
    return (1 * 16 + 16) + (16 * 16 + 16) + (16 * 16 + 16) + (16 * 1 + 1)


def check_deeper_network_params(answer, run):
    expected = sum(p.numel() for p in MLP(hidden_sizes=(16, 16, 16)).parameters())
    assert answer == expected, f"{answer} is not right; which layer did you add, and what does it hold?"


TOPIC = Topic(
    name="ffnn",
    title="Feed Forward Neural Networks (FFNN)",
    model=lambda: MLP(hidden_sizes=(16, 16)),
    data=make_data,
    # 64 samples fit in one batch. Full-batch Adam at 3e-3 converges smoothly; at 1e-2 the loss
    # spikes once it is tiny, which makes the training history hard to read.
    recipe=Recipe(loss="mse", optimizer="adam", lr=3e-3, epochs=1500, batch_size=64, seed=0),
    quick=Recipe(loss="mse", optimizer="adam", lr=3e-3, epochs=200, batch_size=64, seed=0),
    metrics={"test_mse": test_mse},
    # Equal budgets of 169 parameters: one wide hidden layer against three narrow ones.
    variants={"shallow_wide": lambda: MLP(hidden_sizes=(56,)),
              "deep_narrow": lambda: MLP(hidden_sizes=(8, 8, 8))},
    headline="metrics.test_mse",
    exercises=[
        Exercise("Predict a parameter count",
                 "Double the hidden width to 32. Before building the model, predict its number of "
                 "parameters with $\\sum_\\ell (n_{\\ell-1} n_\\ell + n_\\ell)$.",
                 solution=wider_network_params, check=check_wider_network_params,
                 hints=["Three Linear layers: 1→32, 32→32, 32→1.",
                        "Each has $n_{\\text{in}} n_{\\text{out}}$ weights and $n_{\\text{out}}$ biases."],
                 explanation="Doubling the width roughly quadruples the hidden-to-hidden layer: "
                             "64 + 1,056 + 33 = 1,153."),
        Exercise("Add a layer",
                 "Add a third hidden layer of 16 units. How many parameters does the network have "
                 "now? Train it with the same recipe: does the test error improve?",
                 solution=deeper_network_params, check=check_deeper_network_params,
                 hints=["Only one layer is new: a 16→16 Linear layer.",
                        "`MLP(hidden_sizes=(16, 16, 16))` builds it."],
                 explanation="The new layer adds 16·16 + 16 = 272 parameters, 593 in all."),
    ],
    claims=[
        loss_decreases("train"),
        below("history.final_train", 1e-3, "final training loss below 1e-3"),
        # The test points cover [-2, 2] more densely than 64 samples do, so a small gap is expected.
        within("metrics.test_mse", of="history.final_train", factor=3.0,
               text="test loss within 3x the training loss"),
    ],
    figures=[
        FigureSpec("fit", "prediction", size="column",
                   caption="Ground truth, training samples and the trained network",
                   alt="Line plot over x from -2 to 2: the true function, the 64 training samples "
                       "as dots, and the network's curve lying on top of the truth."),
        FigureSpec("loss", "loss_curve", size="column", caption="Training history (log scale)",
                   alt="Training and test loss per epoch on a logarithmic axis, both falling by "
                       "several orders of magnitude."),
        FigureSpec("graph", "compute_graph",
                   caption="Forward modules of the trained 1–16–16–1 network and the autograd "
                           "nodes backpropagation visits",
                   alt="Two rows of boxes. Top, left to right: input, the three Linear layers with "
                       "tanh between them, and the MSE loss. Bottom, right to left: the backward "
                       "functions from the loss to the first layer, each labelled with the "
                       "parameters whose gradients it produces."),
    ],
    frames=[
        Frame("Feed Forward Neural Networks (FFNN)", [
            Columns(left=[
                Bullets(["A directed graph *without cycles*",
                         "Signals travel from input to output only",
                         "*No memory*: each input is handled on its own"], heading="Basic idea"),
            ], right=[
                Bullets(["Regression", "Classification", "Approximating an unknown function"],
                        heading="Where they are used"),
            ]),
            Text("Each layer applies a transformation whose weights are learned from data."),
        ]),
        Frame("FFNN as a Mathematical Mapping", [
            Columns(left=[
                Bullets(["An affine map $W x + b$", "followed by an elementwise nonlinearity",
                         "layers are composed one after another"], heading="Layer by layer"),
                Text("$\\sigma$ is ReLU, tanh or the sigmoid; our example uses tanh."),
            ], right=[
                Math(r"x^{(0)} &= x \\ x^{(1)} &= \sigma(W_1 x^{(0)} + b_1) \\"
                     r"x^{(2)} &= \sigma(W_2 x^{(1)} + b_2) \\ \hat{y} &= W_3 x^{(2)} + b_3"),
                Text("Each extra layer adds expressiveness; the mapping is learned from data alone."),
            ]),
        ]),
        Frame("Model Capacity and Trainable Parameters", [
            Columns(left=[
                Bullets(["number of parameters", "depth (layers)", "width (units per layer)"],
                        heading="Capacity grows with"),
                Bullets(["fits more complicated functions", "but can overfit the samples"],
                        heading="More capacity"),
                Text("A layer $n_{\\text{in}} \\rightarrow n_{\\text{out}}$ holds "
                     "$n_{\\text{in}} n_{\\text{out}} + n_{\\text{out}}$ parameters."),
            ], right=[
                Math(r"N = \sum_{\ell} \left(n_{\ell-1}\, n_{\ell} + n_{\ell}\right)"),
                Text("For our {{params.architecture}} network, term by term:"),
                Math("{{params.formula}}"),
                ParamTable(),
            ]),
        ]),
        Frame("Why Depth Matters", [
            Columns(left=[
                Bullets(["one wide hidden layer can approximate any continuous function",
                         "but the theorem promises existence, not efficiency"],
                        heading="Shallow networks"),
                Bullets(["features built on features, reused downstream",
                         "often fewer parameters for the same accuracy"], heading="Deep networks"),
                Math(r"f(x) = f_L(f_{L-1}(\dots f_1(x)))"),
            ], right=[
                Listing(MLP, caption="One class builds all three networks"),
                Text("Same data and recipe, equal parameter budgets:"),
                VariantTable(),
            ]),
        ]),
        Frame("FFNN as a Function Approximator", [
            Columns(left=[
                Fig("fit"),
                Text("Goal: $f(x) \\approx f_\\theta(x)$ from {{recipe.epochs}} epochs on "
                     "{{data.train}} samples; test MSE {{metrics.test_mse:.1e}}."),
            ], right=[
                Fig("loss"),
                Bullets(["The network spans a family of functions",
                         "its parameters pick one member",
                         "training searches for a good one"]),
            ]),
        ]),
        Frame("Computational Graph and Backpropagation", [
            Fig("graph"),
            Columns(left=[
                Bullets(["*Forward*: input → Linear, tanh → $\\hat{y}$ → loss",
                         "*Backward*: the chain rule, from the loss back"]),
            ], right=[
                Bullets(["Autograd records each operation as it runs",
                         "all {{params.total}} gradients are exact"]),
            ]),
        ]),
    ],
)
