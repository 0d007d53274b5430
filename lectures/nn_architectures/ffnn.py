"""Feed-forward networks: a tanh network with two hidden layers learns an unknown smooth function from samples.

What runs: the network, its data, a shallow-wide and a deep-narrow variant of equal size, and the
exercises' solutions. What the slides say is in ffnn.md.
"""

import matplotlib.pyplot as plt
from matplotlib.collections import LineCollection
import torch
from torch import nn

from nnarch.topic import FigureSpec, Recipe, Splits, Topic, below, loss_decreases, within

WIDTH = 16  # units in each of the lecture network's two hidden layers
# Equal budgets of 169 parameters: one wide hidden layer against three narrow ones.
SHALLOW_WIDE, DEEP_NARROW = (56,), (8, 8, 8)


class MLP(nn.Module):
    """Linear layers with tanh between them."""

    def __init__(self, hidden_sizes=(WIDTH, WIDTH)):
        super().__init__()
        sizes = [1, *hidden_sizes, 1]
        layers = []
        for n_in, n_out in zip(sizes, sizes[1:]):
            layers += [nn.Linear(n_in, n_out)]
            layers += [nn.Tanh()]
        # regression: no tanh at the end
        self.net = nn.Sequential(*layers[:-1])

    def forward(self, x):
        return self.net(x)


def target_function(x):
    """The function the network must discover: smooth, with a fast wiggle near the origin."""
    return torch.sin(2 * x) + 0.5 * torch.cos(5 * x) * torch.exp(-x**2)


def make_data(seed):
    """64 noise-free training samples, one at a random place in each of 64 equal bins of [-2, 2] (so
    no seed leaves a gap that the test points fall into), and 256 test samples drawn uniformly."""
    g = torch.Generator().manual_seed(seed)
    x_train = -2 + 4 * (torch.arange(64.0).unsqueeze(1) + torch.rand(64, 1, generator=g)) / 64
    x_test = 4 * torch.rand(256, 1, generator=g) - 2
    x_dense = torch.linspace(-2, 2, 400).unsqueeze(1)
    return Splits(train=(x_train, target_function(x_train)), test=(x_test, target_function(x_test)),
                  extras={"x_dense": x_dense, "y_dense": target_function(x_dense)})


def test_mse(run):
    """Mean squared error on the test samples the network never saw."""
    x, y = run.data.test
    with torch.no_grad():
        return nn.functional.mse_loss(run.model(x), y)


FALL_WINDOW = 50  # epochs, over which the steepest fall of the loss is measured


def fastest_fall(run, window=FALL_WINDOW):
    """The epoch from which the training loss falls the most (by its logarithm) in `window` epochs."""
    log = torch.tensor(run.history.train_loss).log10()
    window = min(window, len(log) - 1)
    return int((log[:-window] - log[window:]).argmax()) + 1 if window > 0 else 1


def flat_from(run):
    """The first epoch from which the training loss stays within a factor of 2 of its final value."""
    loss = torch.tensor(run.history.train_loss)
    above = torch.nonzero(loss > 2 * loss[-1]).flatten()
    return int(above[-1]) + 2 if len(above) else 1


def draw_layers(run):
    """The trained network's units, layer by layer, every connection a line."""
    linears = [m for m in run.model.modules() if isinstance(m, nn.Linear)]
    sizes = [linears[0].in_features] + [m.out_features for m in linears]
    fig, ax = plt.subplots()
    ax.set_axis_off()
    ys = [torch.linspace(-1, 1, n) if n > 1 else torch.zeros(1) for n in sizes]
    # Every connection in one collection: a line artist each took longer than the rest of the figure.
    ax.add_collection(LineCollection([[(i, ya), (i + 1, yb)] for i, (a, b) in enumerate(zip(ys, ys[1:]))
                                      for ya in a.tolist() for yb in b.tolist()],
                                     color="#8c8c8c", linewidth=0.3, zorder=1))
    for i, y in enumerate(ys):
        ax.scatter([i] * len(y), y, s=14, color="#1f5fa8", zorder=2)
        ax.text(i, -1.3, str(sizes[i]), ha="center", va="top")
    ax.text(-0.1, 1.25, "input", ha="left", va="bottom")
    ax.text(len(sizes) - 0.9, 1.25, "output", ha="right", va="bottom")
    ax.set(xlim=(-0.3, len(sizes) - 0.7), ylim=(-1.65, 1.55))
    return fig


def draw_features(run):
    """What the hidden layers of the trained network compute: each unit's output over x."""
    x = run.extras["x_dense"]
    layers = list(run.model.net)
    fig, axes = plt.subplots(1, 2, sharex=True, sharey=True)
    h = x
    with torch.no_grad():
        for ax, title in zip(axes, ["hidden layer 1", "hidden layer 2"]):
            while layers:
                h = layers.pop(0)(h)
                if isinstance(h, torch.Tensor) and (not layers or isinstance(layers[0], nn.Linear)):
                    break
            ax.plot(x[:, 0], h, linewidth=0.8)
            ax.set_title(title)
            ax.set(xlabel="$x$", xticks=[-1, 0, 1])  # none at the edges, where the panels' labels would meet
    return fig


def train(model, data, epochs, lr):
    """The recipe in plain PyTorch: all 64 samples in one batch, Adam, mean squared error."""
    x, y = data.train
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for epoch in range(epochs):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
    return model


def wider_network_params(run):
    """How many parameters does a 1–32–32–1 network have? Use the formula, not the model."""
    return (1 * 32 + 32) + (32 * 32 + 32) + (32 * 1 + 1)


def deeper_network(run):
    """Build the lecture's network with a third hidden layer of WIDTH units and count its
    parameters; train it with the lecture's recipe and measure its test MSE. Return (parameters,
    test MSE)."""
    torch.manual_seed(run.recipe.seed)
    model = MLP(hidden_sizes=(WIDTH, WIDTH, WIDTH))
    params = sum(p.numel() for p in model.parameters())
    train(model, run.data, run.recipe.epochs, run.recipe.lr)
    x, y = run.data.test
    with torch.no_grad():
        return params, nn.functional.mse_loss(model(x), y).item()


def check_deeper_network(answer, run):
    params, mse = (float(value) for value in answer)  # numbers or one-element tensors
    assert params.is_integer(), (
        "the first value counts parameters, a whole number: the answer is (parameters, test MSE)")
    lecture = sum(p.numel() for p in run.model.parameters())
    assert params > lecture, "the deeper network has the lecture's layers and one more: count all its parameters"
    assert 0 < mse < 1, "the test MSE of a trained network is small and positive: train it before measuring"


TOPIC = Topic(
    name="ffnn",
    model=MLP,
    data=make_data,
    # 64 samples fit in one batch. Full-batch Adam at 3e-3 converges smoothly; at 1e-2 the loss
    # spikes once it is tiny, which makes the training history hard to read.
    recipe=Recipe(loss="mse", optimizer="adam", lr=3e-3, epochs=1500, batch_size=64, seed=0),
    quick=Recipe(loss="mse", optimizer="adam", lr=3e-3, epochs=200, batch_size=64, seed=0),
    metrics={"test_mse": test_mse},
    facts={"fastest_fall": fastest_fall, "flat_from": flat_from, "fall_window": FALL_WINDOW, "width": WIDTH,
           "shallow_wide": f"MLP({SHALLOW_WIDE})", "deep_narrow": f"MLP({DEEP_NARROW})"},
    variants={"shallow_wide": lambda: MLP(hidden_sizes=SHALLOW_WIDE),
              "deep_narrow": lambda: MLP(hidden_sizes=DEEP_NARROW)},
    headline="metrics.test_mse",
    # One seed is one draw of the samples and the initial weights (one batch of all samples): every number
    # the slides compare is measured at five.
    seeds=range(5),
    claims=[
        loss_decreases("train"),
        below("history.final_train", 1e-3, "final training loss below 1e-3"),
        # The test points cover [-2, 2] more densely than 64 samples do, so a small gap is expected.
        within("metrics.test_mse", of="history.final_train", factor=3.0,
               text="test loss within 3x the training loss"),
        # What the depth slides say: the lecture's larger network ends lowest at every seed; at equal
        # budgets, neither shape wins at every seed.
        within("history.final_test", of="variants.shallow_wide.final_test", factor=1.0,
               text=f"the 1-{WIDTH}-{WIDTH}-1 net ends lower than the shallow-wide one"),
        within("history.final_test", of="variants.deep_narrow.final_test", factor=1.0,
               text=f"the 1-{WIDTH}-{WIDTH}-1 net ends lower than the deep-narrow one"),
        within("variants.deep_narrow.final_test", of="variants.shallow_wide.final_test", factor=1.0,
               text="the deep-narrow net ends lower at 2 of 5 seeds or more", share=0.4),
        within("variants.shallow_wide.final_test", of="variants.deep_narrow.final_test", factor=1.0,
               text="the shallow-wide net ends lower at 2 of 5 seeds or more", share=0.4),
    ],
    figures=[
        FigureSpec("fit", "prediction", size="column"),
        FigureSpec("loss", "loss_curve", size="column"),
        FigureSpec("graph", "compute_graph"),
        FigureSpec("layers", "custom", draw=draw_layers, size="column"),
        FigureSpec("features", "custom", draw=draw_features, size="column"),
        FigureSpec("seeds", "seeds", size="column"),
    ],
)
