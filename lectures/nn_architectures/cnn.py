"""Convolutional networks: classify noisy sampled 1-D functions into four shape classes.

Four outputs, four classes: sine-like, Gaussian, polynomial and step. Training uses noise 0.1; the
test set is new functions with noise 0.3, so a few ambiguous ones fail. What the slides say is in
cnn.md.
"""

import math

import matplotlib.pyplot as plt
import torch
from torch import nn

from nnarch.topic import FigureSpec, Recipe, Splits, Topic, above, loss_decreases, within

CLASS_NAMES = ("sine-like", "Gaussian", "polynomial", "step")
GRID_POINTS = 50
TRAIN_NOISE, TEST_NOISE = 0.1, 0.3
BATCH_SIZE = 64
PATIENCE = 2  # early stopping: epochs without a better validation loss
SHIFT = 10  # grid points, for the equivariance figure


class FunctionClassifierCNN(nn.Module):
    def __init__(self, n_classes=4):
        super().__init__()
        self.conv1 = nn.Conv1d(1, 16, 5, padding=2)
        self.conv2 = nn.Conv1d(16, 32, 5, padding=2)
        self.fc1 = nn.Linear(32 * GRID_POINTS, 128)
        self.fc2 = nn.Linear(128, n_classes)

    def forward(self, x):              # (B, 1, 50)
        x = torch.relu(self.conv1(x))  # (B, 16, 50)
        x = torch.relu(self.conv2(x))  # (B, 32, 50)
        x = x.flatten(start_dim=1)     # (B, 1600)
        x = torch.relu(self.fc1(x))    # (B, 128)
        return self.fc2(x)             # (B, 4)


def sample_functions(n, noise, g):
    """n random functions on a 50-point grid over [-1, 1], with labels 0..3 (CLASS_NAMES)."""
    x = torch.linspace(-1, 1, GRID_POINTS)
    u = lambda *shape: torch.rand(*shape, generator=g)  # noqa: E731
    labels = torch.randint(0, len(CLASS_NAMES), (n,), generator=g)
    sine = torch.sin(math.pi * (1 + 1.5 * u(n, 1)) * x + 2 * math.pi * u(n, 1))
    centre, width = 1.2 * u(n, 1) - 0.6, 0.1 + 0.3 * u(n, 1)
    gaussian = torch.exp(-((x - centre) ** 2) / (2 * width**2))
    c = 2 * u(n, 4) - 1
    cubic = c[:, :1] + c[:, 1:2] * x + c[:, 2:3] * x**2 + c[:, 3:4] * x**3
    polynomial = cubic / cubic.abs().amax(dim=1, keepdim=True)
    edge, sign = 1.2 * u(n, 1) - 0.6, torch.where(u(n, 1) < 0.5, -1.0, 1.0)
    step = sign * torch.tanh((x - edge) / 0.03)  # a slightly softened jump
    shapes = torch.stack([sine, gaussian, polynomial, step], dim=1)[torch.arange(n), labels]
    amplitude = 0.6 + 0.8 * u(n, 1)
    signal = amplitude * shapes + noise * torch.randn(n, GRID_POINTS, generator=g)
    return signal.unsqueeze(1), labels


def make_data(seed, budget="full"):
    """2700 training functions at noise 0.1 (540 for a quick preview) and 300 more held out to
    choose the number of epochs; 1000 unseen test functions at noise 0.3."""
    g = torch.Generator().manual_seed(seed)
    x, y = sample_functions(3000 if budget == "full" else 600, TRAIN_NOISE, g)
    test = sample_functions(1000, TEST_NOISE, g)
    n = len(x) * 9 // 10
    return Splits(train=(x[:n], y[:n]), test=test,
                  extras={"grid": torch.linspace(-1, 1, GRID_POINTS), "validation": (x[n:], y[n:])})


def train(model, x, y, epochs, lr,
          seed=0, stop=None):
    """The recipe in plain PyTorch."""
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr)
    torch.manual_seed(seed)  # the batch order
    for epoch in range(epochs):
        model.train()
        idx = torch.randperm(len(x))
        for batch in idx.split(BATCH_SIZE):
            opt.zero_grad()
            out = model(x[batch])
            loss = loss_fn(out, y[batch])  # error
            loss.backward()  # its gradients
            opt.step()  # a step against them
        if stop and stop(model):
            break  # early stopping
    return model


def held_out_curve(run, most=12):
    """Early stopping on the validation split: train a fresh CNN and stop once the held-out loss
    has not improved for PATIENCE epochs. The held-out loss after each epoch."""
    x_val, y_val = run.extras["validation"]
    curve = []

    def held_out(model):
        model.eval()
        with torch.no_grad():
            curve.append(nn.functional.cross_entropy(model(x_val), y_val).item())
        return len(curve) - 1 - curve.index(min(curve)) >= PATIENCE

    torch.manual_seed(run.recipe.seed)
    train(FunctionClassifierCNN(), *run.data.train, most, run.recipe.lr, run.recipe.seed, held_out)
    return curve


def best_epoch(run):
    """The epoch whose held-out loss was lowest: the recipe trains that many."""
    curve = held_out_curve(run)
    return curve.index(min(curve)) + 1


def predict(model, x):
    model.eval()
    with torch.no_grad():
        logits = model(x)
    return torch.argmax(logits, dim=1)


def dense_share(run):
    """The share of the parameters in fc1, the one layer that sees every position at once."""
    total = sum(p.numel() for p in run.model.parameters())
    return sum(p.numel() for p in run.model.fc1.parameters()) / total


def test_accuracy(run):
    """Share of unseen, noisier test functions whose class is predicted correctly."""
    x, y = run.data.test
    return (predict(run.model, x) == y).float().mean()


def accuracy_at_noise_05(run):
    """Make 1000 new test functions with noise 0.5 (seed 1) and return the trained CNN's accuracy."""
    x, y = sample_functions(1000, 0.5, torch.Generator().manual_seed(1))
    return (predict(run.model, x) == y).float().mean().item()


def check_accuracy_at_noise_05(answer, run):
    assert 0 <= answer <= 1, "an accuracy is a share of the functions, between 0 and 1"
    assert answer > 0.2, "that is below chance (0.25 for four classes): count the functions classified right"


def draw_examples(run):
    """One panel per class with three training inputs each."""
    (x, y), grid = run.data.train, run.extras["grid"]
    fig, axes = plt.subplots(1, 4, sharey=True)
    for label, ax in enumerate(axes):
        for sample in x[y == label][:3]:
            ax.plot(grid, sample[0], linewidth=1)
        ax.set_title(CLASS_NAMES[label])
        ax.set(xlabel="$x$", xticks=[-0.5, 0, 0.5])  # none at the edges, where the panels' labels would meet
    return fig


def draw_equivariance(run):
    """A Gaussian test function and the same function shifted by SHIFT points (top), and what one trained
    kernel of conv1 makes of each (bottom): the feature map shifts with the input."""
    (x, y), grid = run.data.test, run.extras["grid"]
    signal = x[y == CLASS_NAMES.index("Gaussian")][0, 0]  # one bump: its shift is easy to follow
    shifted = torch.roll(signal, SHIFT)
    shifted[:SHIFT] = signal[0]  # extend the left edge, do not wrap around
    with torch.no_grad():
        maps = torch.relu(run.model.conv1(torch.stack([signal, shifted]).unsqueeze(1)))
    kernel = int(maps[0].amax(dim=-1).argmax())  # the one that responds most to this bump
    maps = maps[:, kernel]
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True)
    for row, (ax, pair) in enumerate(((top, (signal, shifted)), (bottom, maps))):
        ax.plot(grid, pair[0], color="#1f5fa8", linewidth=1, label="input" if row == 0 else None)
        ax.plot(grid, pair[1], color="#c0392b", linestyle="--", linewidth=1,
                label=f"shifted by {SHIFT} grid points" if row == 0 else None)
    top.set_ylabel("input")
    bottom.set_ylabel(f"conv1 map {kernel}")
    bottom.set_xlabel("$x$")
    fig.legend(loc="outside upper center", ncols=2)
    return fig


def draw_loss(run):
    """The recipe's run (training and test loss) and the early-stopping run's held-out loss, whose
    lowest point chose the recipe's epochs."""
    curve = held_out_curve(run)
    fig, ax = plt.subplots()
    epochs = range(1, len(run.history.train_loss) + 1)
    ax.semilogy(epochs, run.history.train_loss, color="#1f5fa8", label="train")
    ax.semilogy(epochs, run.history.test_loss, color="#c0392b", linestyle="--", label="test")
    ax.semilogy(range(1, len(curve) + 1), curve, color="#222222", linestyle=":", label="held out")
    best = curve.index(min(curve))
    ax.plot(best + 1, curve[best], "o", color="#222222", markersize=4)
    highest = max(*run.history.train_loss, *run.history.test_loss, *curve)
    ax.set(xlabel="epoch", ylabel="cross-entropy", ylim=(None, 20 * highest))  # room above for the legend
    ax.legend(loc="upper right")
    return fig


def draw_kernels(run):
    """The trained first-layer kernels, one small bar chart each: the local patterns it looks for."""
    weights = run.model.conv1.weight.detach()[:, 0]  # (16, 5)
    fig, axes = plt.subplots(2, 8, sharex=True, sharey=True)
    for ax, kernel in zip(axes.flat, weights):
        ax.bar(range(len(kernel)), kernel, color=["#1f5fa8" if w >= 0 else "#c0392b" for w in kernel.tolist()])
        ax.axhline(0, color="#8c8c8c", linewidth=0.5)
        ax.set(xticks=[], yticks=[], facecolor="#f0f0f0")  # a tile per kernel: 16 kernels, not one row of bars
        for spine in ax.spines.values():
            spine.set_visible(False)
    return fig


def draw_predictions(run):
    """The first four test functions, then the first two the CNN gets wrong: blue right, red wrong."""
    (x, y), grid = run.data.test, run.extras["grid"]
    predicted = predict(run.model, x)
    wrong = torch.nonzero(predicted != y).flatten()[:2]
    shown = torch.cat([torch.arange(4), wrong])
    fig, axes = plt.subplots(3, 2, sharex=True, sharey=True)
    for ax, i in zip(axes.flat, shown):
        ok = bool(predicted[i] == y[i])
        colour = "#1f5fa8" if ok else "#c0392b"
        ax.plot(grid, x[i, 0], color=colour, linewidth=1)
        title = CLASS_NAMES[y[i]] if ok else f"{CLASS_NAMES[y[i]]} → {CLASS_NAMES[predicted[i]]}"
        ax.set_title(title, color=colour)
        ax.set(xticks=[], yticks=[])
    return fig


def confusion(model, x, y):
    """Counts of true class (rows) against predicted class (columns)."""
    n = len(CLASS_NAMES)
    return torch.bincount(y * n + predict(model, x), minlength=n * n).reshape(n, n)


def most_confused(model, x, y):
    """The pair of classes mixed up most often, either way round, and how often."""
    counts = confusion(model, x, y)
    mixed = counts + counts.T
    mixed.fill_diagonal_(0)
    i, j = divmod(int(mixed.argmax()), len(CLASS_NAMES))
    return f"{CLASS_NAMES[i]} and {CLASS_NAMES[j]} ({int(mixed[i, j])} of {len(y)})"


def draw_confusion(run):
    """Counts of true class (rows) against predicted class (columns) on the test set."""
    x, y = run.data.test
    counts = confusion(run.model, x, y)
    n = len(CLASS_NAMES)
    fig, ax = plt.subplots()
    ax.imshow(counts, cmap="Blues")
    for i in range(n):
        for j in range(n):
            ax.text(j, i, int(counts[i, j]), ha="center", va="center",
                    color="white" if counts[i, j] > counts.max() / 2 else "black")
    ax.set_xticks(range(n), CLASS_NAMES, rotation=90)
    ax.set_yticks(range(n), CLASS_NAMES)
    ax.set(xlabel="predicted", ylabel="true")
    ax.grid(False)
    return fig


TOPIC = Topic(
    name="cnn",
    model=FunctionClassifierCNN,
    data=make_data,
    # The source's recipe: cross-entropy and Adam at 1e-3. The epochs come from early stopping on
    # the validation split (held out of training, never the test set); the claims below check that
    # they still do. `train` above is this recipe as plain PyTorch.
    recipe=Recipe(loss="cross_entropy", optimizer="adam", lr=1e-3, epochs=4, batch_size=BATCH_SIZE,
                  seed=0),
    quick=Recipe(loss="cross_entropy", optimizer="adam", lr=1e-3, epochs=2, batch_size=BATCH_SIZE,
                 seed=0),
    metrics={"test_accuracy": test_accuracy, "best_epoch": best_epoch},
    facts={"train_noise": TRAIN_NOISE, "test_noise": TEST_NOISE, "dense_share": dense_share, "points": GRID_POINTS,
           "validation_size": lambda run: len(run.extras["validation"][1]), "patience": PATIENCE,
           "noise_ratio": round(TEST_NOISE / TRAIN_NOISE),
           "most_confused": lambda run: most_confused(run.model, *run.data.test),
           "most_confused_at_05": lambda run: most_confused(
               run.model, *sample_functions(1000, 0.5, torch.Generator().manual_seed(1)))},
    headline="metrics.test_accuracy",
    claims=[loss_decreases("train"),
            # the epochs were chosen on the validation split, never on the test set
            within("recipe.epochs", of="metrics.best_epoch", factor=1.0,
                   text="the recipe trains no longer than the best validation epoch"),
            within("metrics.best_epoch", of="recipe.epochs", factor=1.0,
                   text="the recipe trains no shorter than the best validation epoch"),
            above("metrics.test_accuracy", 0.9, "test accuracy at least 0.9 at noise 0.3")],
    figures=[
        FigureSpec("examples", "custom", draw=draw_examples),
        FigureSpec("equivariance", "custom", draw=draw_equivariance),
        FigureSpec("kernels", "custom", draw=draw_kernels, size="small"),
        FigureSpec("loss", "custom", draw=draw_loss, size="small"),
        FigureSpec("predictions", "custom", draw=draw_predictions, size="tall"),
        FigureSpec("confusion", "custom", draw=draw_confusion, size="tall"),
    ],
)
