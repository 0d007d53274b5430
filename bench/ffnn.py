"""Reference for `make bench`: the FFNN example trained by a plain PyTorch script, no nnarch loop.

Same model classes, data and epochs as lectures/nn_architectures/ffnn.py (imported from there so the
numbers are comparable); the 1-16-16-1 network and the two depth-vs-width variants are trained, at
the recipe's seed, or with BENCH_SEEDS=all at every seed the topic declares (as nnarch trains them).
"""

import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lectures.nn_architectures.ffnn import MLP, TOPIC, make_data

start = time.perf_counter()
for seed in TOPIC.all_seeds() if os.environ.get("BENCH_SEEDS") == "all" else [TOPIC.recipe.seed]:
    data = make_data(seed)
    (x, y), (x_test, y_test) = data.train, data.test
    for hidden in [(16, 16), (56,), (8, 8, 8)]:
        torch.manual_seed(seed)
        model = MLP(hidden_sizes=hidden)
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        for _epoch in range(1500):
            loss = torch.nn.functional.mse_loss(model(x), y)  # 64 samples: one full batch
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                test_loss = torch.nn.functional.mse_loss(model(x_test), y_test)
print(f"train_seconds={time.perf_counter() - start:.3f}")
