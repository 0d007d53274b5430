"""Reference for `make bench`: the advection GNN trained by a plain PyTorch script, no nnarch loop,
at the recipe's seed, or with BENCH_SEEDS=all at every seed the topic declares."""

import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lectures.nn_architectures.gnn import TOPIC, AdvectionGNN, make_data

start = time.perf_counter()
for seed in TOPIC.all_seeds() if os.environ.get("BENCH_SEEDS") == "all" else [TOPIC.recipe.seed]:
    data = make_data(seed)
    (x, y), (x_test, y_test) = data.train, data.test
    torch.manual_seed(seed)
    model = AdvectionGNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(seed)
    for _epoch in range(60):
        for idx in torch.randperm(len(x), generator=g).split(32):
            loss = torch.nn.functional.mse_loss(model(x[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            test_loss = torch.nn.functional.mse_loss(model(x_test), y_test)
print(f"train_seconds={time.perf_counter() - start:.3f}")
