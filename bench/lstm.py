"""Reference for `make bench`: the LSTM autoencoder trained by a plain PyTorch script."""

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lectures.nn_architectures.lstm import LSTMAutoencoder, make_data

start = time.perf_counter()
data = make_data(0)
x, x_test = data.train[0], data.test[0]
torch.manual_seed(0)
model = LSTMAutoencoder()
optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
g = torch.Generator().manual_seed(0)
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
