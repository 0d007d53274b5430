"""Notebooks: one runnable Jupyter notebook per topic, generated with nbformat from its module.

Notebooks are self-contained: they hold the topic's own code (its classes, data and metric functions,
constants), a short training loop equivalent to nnarch's, and the exercises, so a student needs
torch, matplotlib (and torch_geometric for the GNN) but not nnarch or this repository. Trained with
the same seed on one thread, they reproduce the build's numbers.
"""

from __future__ import annotations

import ast
import inspect
import textwrap

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from .discover import TopicSource
from .render import Context, fill

SHIM = '''\
# The one nnarch type the topic's code uses, so that this notebook runs on its own.
from dataclasses import dataclass, field
from types import SimpleNamespace


@dataclass(frozen=True)
class Splits:
    train: tuple
    test: tuple
    extras: dict = field(default_factory=dict)'''

FIT = '''\
OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}


def fit(model, data, loss_fn, optimizer, lr, epochs, batch_size, seed, step=supervised_step):
    """nnarch's training loop: seeded batch order, per-epoch train and test loss."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    optimizer = OPTIMIZERS[optimizer](model.parameters(), lr=lr)
    history = SimpleNamespace(train_loss=[], test_loss=[])
    for epoch in range(epochs):
        order = torch.randperm(len(data.train[0]), generator=generator)
        batches = (tuple(x[idx] for x in data.train) for idx in order.split(batch_size))
        history.train_loss.append(train_epoch(model, batches, loss_fn, optimizer, step))
        model.eval()
        with torch.no_grad():
            history.test_loss.append(float(step(model, data.test, loss_fn)))
    return history'''


def topic_notebook(source: TopicSource, results: dict, solution: bool) -> str:
    """The notebook of one topic as JSON text: the student version, or the complete solution."""
    from . import train
    topic = source.topic
    module_source = source.path.read_text()
    docstring = ast.get_docstring(ast.parse(module_source)) or ""
    solutions = {e.solution.__name__ for e in topic.exercises}
    recipe = topic.recipe
    losses = {"mse": "nn.MSELoss()", "cross_entropy": "nn.CrossEntropyLoss()"}
    loss = losses.get(recipe.loss) or recipe.loss.__name__
    numbers = ", ".join(f"{name} = {value:.4g}" for name, value in results["metrics"].items())
    cells = [
        new_markdown_cell(f"# {topic.title}\n\n{docstring}\n\n"
                          "Run the cells in order. The lecture's build measured "
                          f"**{results['params']['total']:,} parameters** and {numbers}; with the "
                          "same seed you should get the same "
                          f"numbers.{'' if solution else ' Exercises are at the end.'}"),
        new_code_cell(_imports(module_source) + "\n\ntorch.set_num_threads(1)  # the build's numbers "
                      "were computed on one thread"),
        new_code_cell(SHIM),
        new_code_cell(_definitions(module_source, skip=solutions)),
        new_markdown_cell("## Training\n\nThe loop nnarch ran: one epoch, the default step, and the fit."),
        new_code_cell("\n\n\n".join([_source(train.train_epoch), _source(train.supervised_step), FIT])),
        new_code_cell(f"SEED = {recipe.seed}\n"
                      f"data = {topic.data.__name__}(SEED)\n"
                      f"torch.manual_seed(SEED)\n"
                      f"model = {_factory_call(topic.model)}\n"
                      f"history = fit(model, data, {loss}, {recipe.optimizer!r}, lr={recipe.lr!r}, "
                      f"epochs={recipe.epochs}, batch_size={recipe.batch_size}, seed=SEED"
                      + (f", step={recipe.step.__name__})" if recipe.step else ")") + "\n"
                      "print('parameters:', sum(p.numel() for p in model.parameters()))\n"
                      "print('final train / test loss:', history.train_loss[-1], history.test_loss[-1])"),
        new_markdown_cell("## Results\n\nThe metrics of the lecture, computed by the topic's own functions."),
        _tagged(new_code_cell(
            "import json\n\n"
            "run = SimpleNamespace(model=model.eval(), data=data, extras=data.extras, history=history)\n"
            "results = {'params': sum(p.numel() for p in model.parameters()), 'metrics': {\n"
            + "".join(f"    {name!r}: float({fn.__name__}(run)),\n" for name, fn in topic.metrics.items())
            + "}}\nprint(json.dumps(results))"), "results"),
    ]
    figures = [spec for spec in topic.figures if spec.kind == "custom"]
    if figures:
        cells.append(new_code_cell("\n".join(f"{spec.draw.__name__}(run).show()" for spec in figures)))
    cells += _exercise_cells(topic, Context(source.name, results, {}), solution)
    for number, cell in enumerate(cells):
        cell["id"] = f"{topic.name}-{number}"  # nbformat's default ids are random; builds must repeat
    notebook = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}, "nnarch": {"topic": topic.name, "solution": solution}})
    return nbformat.writes(notebook)


def _exercise_cells(topic, ctx: Context, solution: bool) -> list:
    if not topic.exercises:
        return []
    cells = [new_markdown_cell("## Exercises")]
    for number, exercise in enumerate(topic.exercises, start=1):
        hints = "".join(f"\n- {fill(hint, ctx)}" for hint in exercise.hints)
        cells.append(new_markdown_cell(f"### Exercise {number}: {fill(exercise.title, ctx)}\n\n"
                                       f"{fill(exercise.prompt, ctx)}"
                                       + (f"\n\n**Hints**{hints}" if hints else "")))
        if solution:
            cells.append(_tagged(new_code_cell(_source(exercise.solution)), "solution"))
        else:
            cells.append(new_code_cell(_starter(exercise.solution)))
        call = f"answer = {exercise.solution.__name__}(run)\nprint(answer)"
        if exercise.check:
            call = (f"{_source(exercise.check)}\n\n\n{call}\n"
                    f"{exercise.check.__name__}(answer, run)\nprint('correct')")
        cells.append(new_code_cell(call))
    return cells


def _starter(fn) -> str:
    """The solution's signature and docstring, with the body left to the student."""
    node = ast.parse(_source(fn)).body[0]
    doc = ast.get_docstring(node)
    header = _source(fn).splitlines()[0]
    body = f'    """{doc}"""\n' if doc else ""
    return f"{header}\n{body}    # your code here\n    return None"


def _imports(module_source: str) -> str:
    """The module's own imports, without nnarch's and without relative ones."""
    lines = []
    for node in ast.parse(module_source).body:
        if isinstance(node, ast.Import):
            lines.append(ast.unparse(node))
        elif (isinstance(node, ast.ImportFrom) and node.level == 0
              and not (node.module or "").startswith("nnarch")):
            lines.append(ast.unparse(node))
    return "\n".join(lines)


def _definitions(module_source: str, skip: set[str]) -> str:
    """Every top-level statement of the module but its imports, TOPIC and the exercise solutions."""
    tree = ast.parse(module_source)
    parts = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the module docstring is the notebook's introduction
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "TOPIC" for t in node.targets):
            continue
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in skip:
            continue
        start = node.decorator_list[0].lineno if getattr(node, "decorator_list", None) else node.lineno
        parts.append("\n".join(module_source.splitlines()[start - 1:node.end_lineno]))
    return "\n\n\n".join(parts)


def _factory_call(factory) -> str:
    """Source text that builds the model: `Class()`, `function()`, or a lambda's body."""
    if getattr(factory, "__name__", "") != "<lambda>":
        return f"{factory.__name__}()"
    text = inspect.getsource(factory)
    text = text[text.index("lambda"):]
    for end in range(len(text), 0, -1):  # the shortest tail that leaves a parseable lambda
        try:
            node = ast.parse(text[:end].strip().rstrip(","), mode="eval").body
        except SyntaxError:
            continue
        if isinstance(node, ast.Lambda):
            return ast.unparse(node.body)
    raise ValueError(f"cannot read the model factory's source: {text[:60]!r}")


def _source(obj) -> str:
    return textwrap.dedent(inspect.getsource(obj)).rstrip()


def _tagged(cell, tag: str):
    cell.metadata["tags"] = [tag]
    return cell
