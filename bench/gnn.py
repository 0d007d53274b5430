"""Reference for `make bench`: the advection GNN trained by a plain PyTorch script, no nnarch loop."""

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lectures.nn_architectures.gnn import AdvectionGNN, make_data

start = time.perf_counter()
data = make_data(0)
(x, y), (x_test, y_test) = data.train, data.test
torch.manual_seed(0)
model = AdvectionGNN()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
g = torch.Generator().manual_seed(0)
for _epoch in range(60):
    for idx in torch.randperm(len(x), generator=g).split(32):
        loss = torch.nn.functional.mse_loss(model(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        test_loss = torch.nn.functional.mse_loss(model(x_test), y_test)
print(f"train_seconds={time.perf_counter() - start:.3f}")
