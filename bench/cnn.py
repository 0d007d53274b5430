"""Reference for `make bench`: the function-classifier CNN trained by a plain PyTorch script."""

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lectures.nn_architectures.cnn import FunctionClassifierCNN, make_data

start = time.perf_counter()
data = make_data(0)
(x, y), (x_test, y_test) = data.train, data.test
torch.manual_seed(0)
model = FunctionClassifierCNN()
criterion = torch.nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
g = torch.Generator().manual_seed(0)
for _epoch in range(6):
    model.train()
    for idx in torch.randperm(len(x), generator=g).split(64):
        loss = criterion(model(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        test_loss = criterion(model(x_test), y_test)
print(f"train_seconds={time.perf_counter() - start:.3f}")
