"""The training loop every topic runs through, as a student's notebook runs it too.

The build imports this module (run/train.py wraps it with its checks and limits), and every
notebook carries its source below its imports (documents/notebooks.py), so the loop a student runs
is the loop that made the lecture's numbers: the same seed on one thread gives the same numbers.
"""

from types import SimpleNamespace

import torch

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
FUSED = ("adam", "adamw")  # optimizers with a fused kernel on the CPU and CUDA


def make_optimizer(name, params, lr):
    """The recipe's optimizer. Adam and AdamW run fused (one kernel for all tensors, not a Python
    loop over them): a third of a step of these small models went there."""
    params = list(params)
    fused = name in FUSED and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
    return OPTIMIZERS[name](params, lr=lr, **({"fused": True} if fused else {}))


def supervised_step(model, batch, loss_fn):
    """Predict from the inputs, compare with targets."""
    inputs, targets = batch
    return loss_fn(model(inputs), targets)


def train_epoch(model, batches, loss_fn, optimizer, step):
    """One pass over the batches, in training mode; the mean loss."""
    model.train()
    total, count = 0.0, 0
    for batch in batches:
        optimizer.zero_grad()
        loss = step(model, batch, loss_fn)  # forward
        loss.backward()  # backward
        optimizer.step()  # update
        total += loss.item() * len(batch[0])
        count += len(batch[0])
    return total / count


@torch.no_grad()
def evaluate(model, split, loss_fn, step):
    """The mean loss over a whole split, in eval mode."""
    model.eval()
    return float(step(model, split, loss_fn))


def fit(model, train, test, loss_fn, optimizer, lr, epochs, batch_size, seed, step=supervised_step, on_epoch=None):
    """Train `model` on the `train` tuple: a seeded batch order, the train and test loss per epoch.
    `on_epoch(epoch, history)` is called after each epoch."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    optimizer = make_optimizer(optimizer, model.parameters(), lr)
    history = SimpleNamespace(train_loss=[], test_loss=[])
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(train[0]), generator=generator).to(getattr(train[0], "device", "cpu"))
        batches = (tuple(x[idx] for x in train) for idx in order.split(batch_size))
        history.train_loss.append(train_epoch(model, batches, loss_fn, optimizer, step))
        history.test_loss.append(evaluate(model, test, loss_fn, step))
        if on_epoch:
            on_epoch(epoch, history)
    return history
