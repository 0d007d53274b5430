"""Graph neural networks: learn one step of advection on a periodic ring with PyTorch Geometric.

Each of the N ring nodes holds one scalar. The target is the field one step later under the
first-order upwind scheme with Courant number c, so the right answer is local and directional:
a node needs its left neighbour, and the edges carry which side a message comes from.
"""

import math

import matplotlib.pyplot as plt
import torch
from torch import nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import dense_to_sparse, to_dense_adj, to_undirected

from nnarch.topic import FigureSpec, Recipe, Splits, Topic, loss_decreases, within

N_NODES = 40       # points on the periodic ring
COURANT = 0.5      # c = u·Δt/Δx; upwind is stable for 0 < c ≤ 1
FAST = 0.8         # the faster flow of the exercises
ROLLOUT_STEPS = 100
DAMPED_WAVES = 3   # the wave whose damping by the scheme the slides show
TRUST = 0.1        # the relative error up to which a rollout is trusted


def ring_graph(n):
    """Edges i→i+1 (attribute +1, from the left) and i+1→i (attribute −1, from the right)."""
    i = torch.arange(n)
    j = (i + 1) % n
    edge_index = torch.cat([torch.stack([i, j]), torch.stack([j, i])], dim=1)
    side = torch.cat([torch.ones(n), -torch.ones(n)]).unsqueeze(1)
    return edge_index, side


def upwind_step(z, c=COURANT):
    """The true scheme: z_i ← z_i − c (z_i − z_{i−1}), periodic."""
    return z - c * (z - torch.roll(z, shifts=1, dims=-1))


class AdvectionConv(MessagePassing):
    def __init__(self, hidden_size=16):
        super().__init__(aggr="add")
        self.mlp = nn.Sequential(
            nn.Linear(3, hidden_size), nn.Tanh(),
            nn.Linear(hidden_size, 1))

    def forward(self, x, edge_index, edge_attr):
        return self.propagate(edge_index, x=x,
                              edge_attr=edge_attr)

    def message(self, x_i, x_j, edge_attr):
        side = edge_attr.expand_as(x_j)  # +1 or -1
        m = torch.cat([x_i, x_j, side], dim=-1)
        return self.mlp(m)


class AdvectionGNN(nn.Module):
    def __init__(self, n_nodes=N_NODES, hidden_size=16):
        super().__init__()
        edge_index, side = ring_graph(n_nodes)
        self.register_buffer("edge_index", edge_index)
        self.register_buffer("edge_attr", side)
        self.conv = AdvectionConv(hidden_size)

    def forward(self, z):                    # z: (B, N), one value per node
        h = z.unsqueeze(-1)                  # (B, N, 1) node features
        dz = self.conv(h, self.edge_index, self.edge_attr)
        return z + dz.squeeze(-1)            # z^{t+1} = z^t + Δz


def smooth_fields(n, g):
    """Random periodic fields: three Fourier modes with decaying random amplitudes and phases."""
    x = torch.arange(N_NODES) * 2 * math.pi / N_NODES
    k = torch.arange(1, 4, dtype=torch.float32).view(1, 3, 1)
    amplitude = torch.randn(n, 3, 1, generator=g) / k
    phase = 2 * math.pi * torch.rand(n, 3, 1, generator=g)
    return (amplitude * torch.sin(k * x + phase)).sum(dim=1)


def make_data(seed, c=COURANT):
    """512 training and 128 test fields, each paired with its state one upwind step later."""
    g = torch.Generator().manual_seed(seed)
    train, test = smooth_fields(512, g), smooth_fields(128, g)
    return Splits(train=(train, upwind_step(train, c)), test=(test, upwind_step(test, c)))


def rollout(model, z, steps=ROLLOUT_STEPS):
    """Apply the learned step and the true scheme side by side; after each step, the RMS error of
    the learned fields relative to the RMS of the true ones."""
    learned, true, errors = z, z, []
    with torch.no_grad():
        for _ in range(steps):
            learned, true = model(learned), upwind_step(true)
            errors.append(((learned - true).pow(2).mean().sqrt() / true.pow(2).mean().sqrt()).item())
    return errors, learned, true


def test_mse(run):
    x, y = run.data.test
    with torch.no_grad():
        return nn.functional.mse_loss(run.model(x), y)


def persistence_mse(run):
    """The baseline to beat: predict that nothing moves, z^{t+1} = z^t."""
    x, y = run.data.test
    return nn.functional.mse_loss(x, y)


def trust_steps(run, tolerance=TRUST):
    """Steps of rollout, over the whole test set, before the learned fields' relative RMS error
    against the scheme first exceeds `tolerance`."""
    errors, _, _ = rollout(run.model, run.data.test[0])
    return next((step for step, error in enumerate(errors) if error > tolerance), ROLLOUT_STEPS)


def rollout_error(run):
    """Relative RMS error of the learned fields after 100 steps, over the whole test set."""
    errors, _, _ = rollout(run.model, run.data.test[0])
    return errors[-1]


def upwind_damping(run):
    """What the scheme itself does to a pure wave: the amplitude of a wave of DAMPED_WAVES periods
    around the ring after ROLLOUT_STEPS upwind steps (exact advection would keep all of it;
    numerical diffusion takes the rest)."""
    x = torch.arange(N_NODES) * 2 * math.pi / N_NODES
    z = torch.sin(DAMPED_WAVES * x)
    for _ in range(ROLLOUT_STEPS):
        z = upwind_step(z)
    return (z.abs().max() / 1.0).item()


def scheme_error(run):
    """For scale: the upwind scheme's own relative RMS error against exact advection after
    ROLLOUT_STEPS steps, over the test set. Exact advection moves each field c·steps nodes round
    the ring (a whole number here), so it is a roll of the field."""
    shift = COURANT * ROLLOUT_STEPS
    assert shift == int(shift), "exact advection is a roll only for a whole number of nodes"
    z = run.data.test[0]
    exact, scheme = torch.roll(z, shifts=int(shift), dims=-1), z
    for _ in range(ROLLOUT_STEPS):
        scheme = upwind_step(scheme)
    return ((scheme - exact).pow(2).mean().sqrt() / exact.pow(2).mean().sqrt()).item()


def pmatrix(rows):
    """A LaTeX pmatrix typeset from a 2-D integer tensor."""
    body = r" \\ ".join(" & ".join(str(int(v)) for v in row) for row in rows)
    return r"\begin{pmatrix} " + body + r" \end{pmatrix}"


def square_graph():
    """A 4-cycle 0–1–2–3–0: its adjacency matrix and the edge_index PyG derives from it."""
    adjacency = torch.tensor([[0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0]])
    edge_index, _ = dense_to_sparse(adjacency)
    assert torch.equal(to_dense_adj(edge_index)[0].long(), adjacency)  # the two views agree
    return adjacency, edge_index


def icosahedron():
    """The 12 vertices (0, ±1, ±φ) and cyclic permutations; edges join vertices 2 apart."""
    phi = (1 + 5**0.5) / 2
    base = [(0, a, b * phi) for a in (-1, 1) for b in (-1, 1)]
    points = torch.tensor([p[k:] + p[:k] for p in base for k in range(3)], dtype=torch.float32)
    distance = torch.cdist(points, points)
    pairs = torch.nonzero(torch.isclose(distance, torch.tensor(2.0))).T
    return points, to_undirected(pairs)


def draw_icosahedron(run):
    """The 12 vertices seen from a direction where none hides another: front edges solid, back
    edges faint and dashed, on the disc of the sphere's outline."""
    points, edge_index = icosahedron()
    points = points / points.norm(dim=1, keepdim=True)
    view = _rotation(elevation=0.45, azimuth=0.3)
    x, y, depth = (points @ view.T).T  # depth > 0: towards the viewer
    screen = torch.stack([x, y], dim=1)
    nearest = torch.cdist(screen, screen).fill_diagonal_(9).min()
    assert nearest > 0.15, "two vertices overlap in this view: change the view"
    fig, ax = plt.subplots()
    ax.add_patch(plt.Circle((0, 0), 1, color="#eef2f7", zorder=0))
    for a, b in edge_index.T.tolist():
        if a < b:
            front = depth[a] + depth[b] > 0
            ax.plot(x[[a, b]], y[[a, b]], color="#1f5fa8", linewidth=1 if front else 0.6,
                    linestyle="-" if front else (0, (2, 2)), alpha=1 if front else 0.45, zorder=2 if front else 1)
    ax.scatter(x, y, color="#c0392b", s=16, zorder=3, alpha=[1 if d > 0 else 0.45 for d in depth.tolist()])
    ax.set_aspect("equal")
    ax.set_axis_off()
    return fig


def _rotation(elevation, azimuth):
    """Turn about the vertical axis by `azimuth`, then tilt by `elevation` (radians)."""
    ca, sa, ce, se = math.cos(azimuth), math.sin(azimuth), math.cos(elevation), math.sin(elevation)
    turn = torch.tensor([[ca, 0.0, sa], [0.0, 1.0, 0.0], [-sa, 0.0, ca]])
    tilt = torch.tensor([[1.0, 0.0, 0.0], [0.0, ce, -se], [0.0, se, ce]])
    return tilt @ turn


def draw_square(run):
    """The 4-node graph of the adjacency slide, drawn from the same edge_index."""
    _, edge_index = square_graph()
    xy = torch.tensor([[0.0, 1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 0.0]])
    fig, ax = plt.subplots()
    for a, b in edge_index.T.tolist():
        ax.annotate("", xy=xy[b], xytext=xy[a],
                    arrowprops={"arrowstyle": "-", "color": "#1f5fa8", "lw": 1.2, "shrinkA": 9, "shrinkB": 9})
    for i, (x, y) in enumerate(xy.tolist()):
        ax.text(x, y, str(i), ha="center", va="center", color="white",
                bbox={"boxstyle": "circle,pad=0.3", "facecolor": "#c0392b", "edgecolor": "none"})
    ax.set(xlim=(-0.3, 1.3), ylim=(-0.3, 1.3), aspect="equal")
    ax.set_axis_off()
    return fig


def draw_sensors(run):
    """Twelve sensor stations joined to the ones within reach (one connected network): data on
    nodes, relations on edges."""
    g = torch.Generator().manual_seed(3)
    xy = torch.rand(12, 2, generator=g)
    near = (torch.cdist(xy, xy) < 0.5) & ~torch.eye(12, dtype=torch.bool)
    fig, ax = plt.subplots()
    for a, b in torch.nonzero(torch.triu(near)).tolist():
        ax.plot(*xy[[a, b]].T, color="#8c8c8c", linewidth=1, zorder=1)
    ax.scatter(*xy.T, c=torch.sin(4 * xy[:, 0]) + xy[:, 1], cmap="coolwarm", s=40, zorder=2,
               edgecolors="#222222", linewidths=0.5)
    ax.set(aspect="equal")
    ax.set_axis_off()
    return fig


def draw_ring(run):
    """The ring graph with a test field as node colour."""
    edge_index, _ = ring_graph(N_NODES)
    angle = torch.arange(N_NODES) * 2 * math.pi / N_NODES
    xy = torch.stack([angle.cos(), angle.sin()], dim=1)
    fig, ax = plt.subplots()
    for a, b in edge_index.T.tolist():
        ax.plot(*xy[[a, b]].T, color="#8c8c8c", linewidth=0.8, zorder=1)
    nodes = ax.scatter(*xy.T, c=run.data.test[0][0], cmap="coolwarm", s=30, zorder=2,
                       edgecolors="#222222", linewidths=0.4)
    fig.colorbar(nodes, ax=ax, shrink=0.7, label="value $z$")
    ax.set_aspect("equal")
    ax.set_axis_off()
    return fig


def draw_rollout(run):
    """Left: the relative error over the test set, step by step. Right: one field at the end."""
    errors, learned, true = rollout(run.model, run.data.test[0])
    fig, (left, right) = plt.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
    left.semilogy(range(1, len(errors) + 1), errors, color="#1f5fa8")
    left.axhline(TRUST, color="#8c8c8c", linestyle=":", linewidth=0.8)  # where the lab stops trusting it
    left.set(xlabel="steps rolled out", ylabel="relative RMS error", title="vs. upwind, test set")
    right.plot(true[0], color="#222222", label="upwind")
    right.plot(learned[0], color="#c0392b", linestyle="--", label="GNN")
    right.set(xlabel="node", title=f"after {len(errors)} steps")
    fig.legend(loc="outside lower center", ncols=2)
    return fig


def spike_after_one_step(run):
    """A unit spike at node 0; one upwind step with c = 0.8. Return the field."""
    z = torch.zeros(N_NODES)
    z[0] = 1.0
    return upwind_step(z, c=0.8)


def train(model, data, epochs, lr, batch_size):
    """The recipe in plain PyTorch: shuffled mini-batches, Adam, mean squared error."""
    x, y = data.train
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for epoch in range(epochs):
        for batch in torch.randperm(len(x)).split(batch_size):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x[batch]), y[batch])
            loss.backward()
            opt.step()
    return model


def retrained_at_c08(run):
    """Make the training and test pairs with c = 0.8, train a fresh GNN with the lecture's
    recipe, and return its test MSE."""
    data = make_data(run.recipe.seed, c=0.8)
    torch.manual_seed(run.recipe.seed)
    model = train(AdvectionGNN(), data, run.recipe.epochs, run.recipe.lr, run.recipe.batch_size)
    x, y = data.test
    with torch.no_grad():
        return nn.functional.mse_loss(model(x), y).item()


TOPIC = Topic(
    name="gnn",
    model=AdvectionGNN,
    data=make_data,
    recipe=Recipe(loss="mse", optimizer="adam", lr=1e-2, epochs=60, batch_size=32, seed=0),
    quick=Recipe(loss="mse", optimizer="adam", lr=1e-2, epochs=10, batch_size=32, seed=0),
    metrics={"test_mse": test_mse, "persistence_mse": persistence_mse, "rollout_error": rollout_error},
    facts={
        "adjacency": lambda run: pmatrix(square_graph()[0]),
        "edge_index": lambda run: pmatrix(square_graph()[1]),
        "ico_nodes": lambda run: len(icosahedron()[0]),
        "ico_edges": lambda run: icosahedron()[1].shape[1] // 2,
        "nodes": N_NODES,
        "courant": COURANT,
        "rollout_steps": ROLLOUT_STEPS,
        "upwind_damping": upwind_damping,
        "scheme_error": scheme_error,
        "trust_steps": trust_steps,
        "damped_waves": DAMPED_WAVES,
        "trust": TRUST,
        # one step changes the field in proportion to c: persistence's MSE grows with c squared
        "fast_ratio": (FAST / COURANT) ** 2,
    },
    seeds=range(5),
    headline="metrics.test_mse",
    claims=[loss_decreases("train"), loss_decreases("test"),
            within("history.final_test", of="history.final_train", factor=3.0,
                   text="test loss tracks training loss (within 3x)"),
            within("metrics.test_mse", of="metrics.persistence_mse", factor=0.01,
                   text="the learned step beats persistence a hundredfold"),
            within("metrics.test_mse", of="answers.retrained_at_c08", factor=1.0,
                   text=f"the GNN retrained at c = {FAST} has the larger test error"),
            # measured against persistence, whose error grows with c squared, neither flow wins
            within("answers.retrained_at_c08", of="metrics.test_mse", factor=(FAST / COURANT) ** 2, share=0.2,
                   text=f"relative to persistence, c = {FAST} is learned better at some seeds"),
            within("metrics.test_mse", of="answers.retrained_at_c08", factor=(COURANT / FAST) ** 2, share=0.2,
                   text=f"relative to persistence, c = {FAST} is learned worse at some seeds")],
    figures=[
        FigureSpec("sensors", "custom", draw=draw_sensors, size="small"),
        FigureSpec("square", "custom", draw=draw_square, size="small"),
        FigureSpec("icosahedron", "custom", draw=draw_icosahedron, size="column"),
        FigureSpec("ring", "custom", draw=draw_ring, size="column"),
        FigureSpec("loss", "loss_curve", size="column"),
        FigureSpec("rollout", "custom", draw=draw_rollout, size="column"),
    ],
)
