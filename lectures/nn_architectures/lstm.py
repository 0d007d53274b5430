"""LSTMs: an autoencoder trained on normal sensor sequences flags anomalies by reconstruction error.
What the slides say is in lstm.md.

Normal sequences are noisy sine waves. Anomalous ones carry a spike, a level shift or a sudden change
of frequency. The model never sees an anomaly in training; the threshold on the error comes from the
training errors alone.
"""

import math

import matplotlib.pyplot as plt
import torch
from torch import nn

from nnarch.topic import FigureSpec, Recipe, Splits, Topic, above, below, loss_decreases, within

SEQ_LEN = 60
ANOMALY_KINDS = ("spike", "level shift", "frequency change")
THRESHOLD_QUANTILE = 0.99  # flag what is rarer than 1 in 100 normal training sequences
RARE = 0.01  # an anomaly rate of the field, where the precision is shown again
SHOWN_JUMP, SHOWN_SHIFT = 30, 0.4  # the level shift of the first figure: where, and how much


class LSTMAutoencoder(nn.Module):
    def __init__(self, hidden_size=32, num_layers=2):
        super().__init__()
        H, L = hidden_size, num_layers
        self.encoder = nn.LSTM(1, H, L, batch_first=True)
        self.decoder = nn.LSTM(1, H, L, batch_first=True)
        self.out = nn.Linear(H, 1)

    def forward(self, x):               # x: (B, T, 1)
        _, (h, c) = self.encoder(x)     # (L, B, H)
        z = torch.zeros_like(x)         # decoder input
        y, _ = self.decoder(z, (h, c))  # (B, T, H)
        return self.out(y)              # (B, T, 1)


def normal_sequences(n, g):
    """Sine waves with random period (18–24 steps), phase and amplitude, plus sensor noise."""
    t = torch.arange(SEQ_LEN, dtype=torch.float32)
    period = 18 + 6 * torch.rand(n, 1, generator=g)
    phase = 2 * math.pi * torch.rand(n, 1, generator=g)
    amplitude = 0.8 + 0.4 * torch.rand(n, 1, generator=g)
    noise = 0.05 * torch.randn(n, SEQ_LEN, generator=g)
    return amplitude * torch.sin(2 * math.pi * t / period + phase) + noise


def anomalous_sequences(n, g):
    """Normal sequences, each broken at a random time by one of ANOMALY_KINDS."""
    x = normal_sequences(n, g)
    kinds = torch.randint(0, len(ANOMALY_KINDS), (n,), generator=g)
    start = torch.randint(10, 50, (n,), generator=g)
    size = torch.rand(n, generator=g)
    sign = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
    t = torch.arange(SEQ_LEN, dtype=torch.float32)
    for i in range(n):
        s = int(start[i])
        if kinds[i] == 0:
            x[i, s] += sign[i] * (0.8 + 0.7 * size[i])
        elif kinds[i] == 1:
            x[i, s:] += sign[i] * (0.3 + 0.4 * size[i])
        else:
            x[i, s:] = 0.9 * torch.sin(2 * math.pi * t[s:] / (9 + 4 * size[i]) + 1.0)
    return x, kinds, start


def make_data(seed, budget="full"):
    """800 normal training sequences (200 for a quick preview); unseen test sets of 200 normal
    and 200 anomalous ones."""
    g = torch.Generator().manual_seed(seed)
    train = normal_sequences(800 if budget == "full" else 200, g).unsqueeze(-1)
    normal = normal_sequences(200, g).unsqueeze(-1)
    anomalous, kinds, starts = anomalous_sequences(200, g)
    # An autoencoder's target is its input; the test loss is measured on unseen normal data.
    return Splits(train=(train, train), test=(normal, normal),
                  extras={"anomalous": anomalous.unsqueeze(-1), "kinds": kinds, "starts": starts})


def reconstruction_error(model, x):
    """Mean squared error per sequence."""
    model.eval()
    with torch.no_grad():
        return (model(x) - x).pow(2).mean(dim=(1, 2))


def threshold(run):
    return torch.quantile(reconstruction_error(run.model, run.data.train[0]), THRESHOLD_QUANTILE)


def labelled_errors(run):
    """Errors of the unseen normal and anomalous sequences, with labels 0 (normal) / 1."""
    normal = reconstruction_error(run.model, run.data.test[0])
    anomalous = reconstruction_error(run.model, run.extras["anomalous"])
    labels = torch.cat([torch.zeros(len(normal)), torch.ones(len(anomalous))])
    return torch.cat([normal, anomalous]), labels


def roc_auc(run):
    """Probability that a random anomaly scores higher than a random normal sequence."""
    scores, labels = labelled_errors(run)
    ranks = torch.empty_like(scores)
    ranks[scores.argsort()] = torch.arange(1, len(scores) + 1, dtype=scores.dtype)
    n_pos, n_neg = labels.sum(), (1 - labels).sum()
    return (ranks[labels == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def precision(run):
    scores, labels = labelled_errors(run)
    flagged = scores > threshold(run)
    return (flagged & (labels == 1)).sum() / flagged.sum().clamp(min=1)


def recall(run):
    scores, labels = labelled_errors(run)
    flagged = scores > threshold(run)
    return (flagged & (labels == 1)).sum() / (labels == 1).sum()


def spike_recall(run):
    """Share of the unseen one-step spikes that the threshold flags."""
    errors = reconstruction_error(run.model, run.extras["anomalous"])
    spikes = run.extras["kinds"] == ANOMALY_KINDS.index("spike")
    return (errors[spikes] > threshold(run)).float().mean()


def false_alarm_rate(run):
    """Share of the unseen normal sequences that the threshold flags."""
    normal = reconstruction_error(run.model, run.data.test[0])
    return (normal > threshold(run)).float().mean()


def false_alarms(run):
    """How many of the unseen normal sequences lie above the threshold."""
    normal = reconstruction_error(run.model, run.data.test[0])
    return int((normal > threshold(run)).sum())


def precision_at_rate(run, rate):
    """The precision the same threshold would have where a share `rate` of sequences are
    anomalies (the test set has one half): recall and false alarms weighted by the base rate."""
    hits, alarms = recall(run) * rate, false_alarm_rate(run) * (1 - rate)
    return hits / (hits + alarms)


def precision_at_1_percent(run):
    return precision_at_rate(run, RARE)


def encoder_parameters(run):
    return sum(p.numel() for p in run.model.encoder.parameters())


def second_biases(run):
    """PyTorch's LSTM has two bias vectors per gate and layer (b_ih and b_hh), the equations one:
    the parameters of the encoder's b_hh vectors."""
    return sum(p.numel() for name, p in run.model.encoder.named_parameters() if name.startswith("bias_hh"))


def precision_recall_at_90th(run):
    """Lower the threshold to the 90th percentile of training errors; return (precision, recall)."""
    scores, labels = labelled_errors(run)
    threshold_90 = torch.quantile(reconstruction_error(run.model, run.data.train[0]), 0.90)
    flagged = scores > threshold_90
    hits = (flagged & (labels == 1)).sum()
    return (hits / flagged.sum()).item(), (hits / (labels == 1).sum()).item()


def check_precision_recall_at_90th(answer, run):
    p, r = (float(value) for value in answer)  # numbers or one-element tensors
    assert 0 <= p <= 1 and 0 <= r <= 1, "precision and recall are shares between 0 and 1"
    at_99th = round(float(precision(run)), 6), round(float(recall(run)), 6)
    assert (round(p, 6), round(r, 6)) != at_99th, (
        f"these are the values at the {100 * THRESHOLD_QUANTILE:.0f}th percentile: lower the threshold")
    # both count sequences: recall is the caught anomalies over all of them, precision the same
    # caught anomalies over all flagged, so each must give a whole number of sequences
    anomalies = len(run.extras["anomalous"])
    caught = round(r * anomalies)
    whole = caught > 0 and p > 0 and abs(r * anomalies - caught) < 1e-3 and abs(caught / p - round(caught / p)) < 1e-3
    assert whole, (f"{p:.4f} and {r:.4f} do not count whole sequences: precision divides the anomalies "
                   f"caught by all flagged sequences, recall by all {anomalies} anomalies; "
                   "and the answer is (precision, recall), in that order")


def hidden_shape(run):
    """The encoder's final hidden state for a batch of 2, as (L, B, H)."""
    _, (h, _) = run.model.encoder(run.data.test[0][:2])
    # no-break spaces: a shape is never split across lines
    return "(" + ",\u00a0".join(["B" if i == 1 else str(d) for i, d in enumerate(h.shape)]) + ")"


def state_numbers(run):
    """How many numbers the encoder's final state (h, c) holds, for one sequence."""
    return 2 * run.model.encoder.num_layers * run.model.encoder.hidden_size


def draw_inconsistency(run):
    """A level shift as the test set's anomalies have them, made in the calmest normal test
    sequence and drawn over it (dotted): each value stays within the range of the training
    sequences; only the change gives it away."""
    normal = run.data.test[0][:, :, 0]
    x = normal[normal.abs().amax(dim=1).argmin()]
    shifted = x.clone()
    shifted[SHOWN_JUMP:] += SHOWN_SHIFT
    train = run.data.train[0]
    assert train.min() <= shifted.min() and shifted.max() <= train.max(), "the shifted values must stay plausible"
    fig, ax = plt.subplots()
    steps = range(SHOWN_JUMP, SEQ_LEN)
    ax.plot(steps, x[SHOWN_JUMP:], color="#8c8c8c", linewidth=1, linestyle=":")
    ax.plot(shifted, color="#c0392b", linewidth=1.2)
    ax.axvspan(SHOWN_JUMP - 0.5, SEQ_LEN - 0.5, color="#c0392b", alpha=0.1, linewidth=0)
    ax.set(xlabel="time step", ylabel="sensor", yticks=[-1, 0, 1])
    return fig


def draw_examples(run):
    normal, anomalous, kinds = run.data.test[0], run.extras["anomalous"], run.extras["kinds"]
    fig, axes = plt.subplots(2, 1, sharex=True, sharey=True)
    for x in normal[:3]:
        axes[0].plot(x[:, 0], color="#1f5fa8", linewidth=1)
    for k in range(len(ANOMALY_KINDS)):
        x = anomalous[kinds == k][0]
        axes[1].plot(x[:, 0], color="#c0392b", linewidth=1, alpha=0.5 + 0.25 * k)
    axes[0].set_title("normal")
    axes[1].set_title("anomalous")
    axes[1].set_xlabel("time step")
    return fig


def draw_reconstructions(run):
    """Input (solid) and reconstruction (dashed): one normal sequence and one of each anomaly kind."""
    normal, anomalous, kinds = run.data.test[0], run.extras["anomalous"], run.extras["kinds"]
    picks = [(normal[0], "normal", "#1f5fa8")]
    picks += [(anomalous[kinds == k][0], ANOMALY_KINDS[k], "#c0392b") for k in range(3)]
    fig, axes = plt.subplots(2, 2, sharex=True, sharey=True)
    with torch.no_grad():
        for ax, (x, name, colour) in zip(axes.flat, picks):
            ax.plot(x[:, 0], color=colour, linewidth=1)
            ax.plot(run.model(x.unsqueeze(0))[0, :, 0], color=colour, linestyle="--", linewidth=1)
            ax.set_title(name, color=colour)
    return fig


def draw_histogram(run):
    scores, labels = labelled_errors(run)
    fig, ax = plt.subplots()
    bins = torch.logspace(math.log10(scores.min()), math.log10(scores.max()), 40)
    for kind, colour in ((1, "#c0392b"), (0, "#1f5fa8")):  # outlines over the fills: neither hides the other
        ax.hist(scores[labels == kind], bins=bins, color=colour, alpha=0.35)
        ax.hist(scores[labels == kind], bins=bins, color=colour, histtype="step", linewidth=1.2,
                label="anomalous" if kind else "normal")
    ax.axvline(float(threshold(run)), color="#222222", linestyle="--", label="threshold")
    ax.set_xscale("log")
    ax.set(xlabel="reconstruction error (MSE)", ylabel="sequences")
    fig.legend(loc="outside upper center", ncols=3)
    return fig


TOPIC = Topic(
    name="lstm",
    model=LSTMAutoencoder,
    data=make_data,
    recipe=Recipe(loss="mse", optimizer="adam", lr=5e-3, epochs=15, batch_size=32, seed=0),
    quick=Recipe(loss="mse", optimizer="adam", lr=5e-3, epochs=4, batch_size=32, seed=0),
    metrics={"roc_auc": roc_auc, "precision": precision, "recall": recall, "threshold": threshold,
             "false_alarm_rate": false_alarm_rate, "precision_at_1_percent": precision_at_1_percent,
             "spike_recall": spike_recall},
    facts={"hidden_shape": hidden_shape, "state_numbers": state_numbers, "percentile": round(100 * THRESHOLD_QUANTILE),
           "encoder_parameters": encoder_parameters, "second_biases": second_biases,
           "false_alarms": false_alarms, "rare": RARE, "steps": SEQ_LEN,
           "normal_test": lambda run: len(run.data.test[0])},
    headline="metrics.roc_auc",
    seeds=range(5),
    claims=[loss_decreases("train"), above("metrics.roc_auc", 0.95, "ROC-AUC at least 0.95"),
            # what the slides say of the threshold: rare anomalies make most alarms false, and
            # a lower threshold buys recall with precision
            below("metrics.precision_at_1_percent", 0.5, f"at {RARE:.0%} anomalies, most alarms are false"),
            # a spike is one step of SEQ_LEN: it weighs little in the mean error
            within("metrics.spike_recall", of="metrics.recall", factor=1.0,
                   text="one-step spikes are caught less often than anomalies as a whole"),
            within("answers.precision_recall_at_90th.0", of="metrics.precision", factor=1.0,
                   text="the 90th percentile threshold has the lower precision"),
            within("metrics.recall", of="answers.precision_recall_at_90th.1", factor=1.0,
                   text="the 90th percentile threshold has the higher recall")],
    figures=[
        FigureSpec("inconsistency", "custom", draw=draw_inconsistency, size="small"),
        FigureSpec("examples", "custom", draw=draw_examples, size="tall"),
        FigureSpec("reconstructions", "custom", draw=draw_reconstructions, size="column"),
        FigureSpec("histogram", "custom", draw=draw_histogram, size="column"),
        FigureSpec("loss", "loss_curve", size="column"),
    ],
)
