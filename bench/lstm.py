"""Reference for `make bench`: the LSTM autoencoder trained by a plain PyTorch script, at the
recipe's seed, or with BENCH_SEEDS=all at every seed the topic declares."""

import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lectures.nn_architectures.lstm import TOPIC, LSTMAutoencoder, make_data

start = time.perf_counter()
for seed in TOPIC.all_seeds() if os.environ.get("BENCH_SEEDS") == "all" else [TOPIC.recipe.seed]:
    data = make_data(seed)
    x, x_test = data.train[0], data.test[0]
    torch.manual_seed(seed)
    model = LSTMAutoencoder()
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    g = torch.Generator().manual_seed(seed)
    for _epoch in range(15):
        model.train()
        for idx in torch.randperm(len(x), generator=g).split(32):
            loss = torch.nn.functional.mse_loss(model(x[idx]), x[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            test_loss = torch.nn.functional.mse_loss(model(x_test), x_test)
print(f"train_seconds={time.perf_counter() - start:.3f}")
