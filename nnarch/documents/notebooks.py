"""Notebooks: one runnable Jupyter notebook per topic, generated with nbformat from its module.

A notebook holds the topic's own code (its classes, data and metric functions, constants) first,
then trains, measures, draws and asks its exercises. What nnarch adds (the types the topic's code
uses, the training loop of runtime.py, the answer checks and the plots) is one small module beside
the notebooks, `nnarch_lab.py`, made from those sources: a student needs torch, matplotlib (and
torch_geometric for the GNN) but not nnarch. Trained with the same seed on one thread, the
notebooks reproduce the build's numbers.
"""

from __future__ import annotations

import ast
import functools
import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from nnarch.documents.answers import TOLERANCE, answer_form, digest
from nnarch.documents.render import Context, Target
from nnarch.source import markdown as md
from nnarch.source.outline import read
from nnarch.source.validate import LAB_NAMES
from nnarch.source.values import SCIENTIFIC_BELOW, format_value

NNARCH = Path(__file__).resolve().parents[1]
RUNTIME, ANSWERS, TYPES = NNARCH / "runtime.py", NNARCH / "documents" / "answers.py", NNARCH / "topic.py"
FIGURES = NNARCH / "run" / "figures.py"  # the computational graph's walk, as the slides' figure takes it
IMPORT = ("import ", "from ")
LAB_MODULE = "nnarch_lab"  # notebooks/nnarch_lab.py
VALUES = NNARCH / "source" / "values.py"  # how the documents write a number, as the notebooks print it

PLOTS = '''\
def plot_loss(history):
    """Training and test loss per epoch, as the lecture's figure."""
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.semilogy(history.train_loss, label="train (mean over the epoch)")
    ax.semilogy(history.test_loss, label="test (after the epoch)", linestyle="--")
    ax.set(xlabel="epoch", ylabel="loss")
    ax.legend()
    return fig


def plot_prediction(run):
    """1-D regression, as the lecture's figure: the truth, the training samples and the model."""
    x, y = run.data.extras["x_dense"], run.data.extras["y_dense"]
    with torch.no_grad():
        predicted = run.model(x)
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(x[:, 0], y[:, 0], color="black", label="truth")
    ax.scatter(run.data.train[0][:, 0], run.data.train[1][:, 0], s=8, color="grey", label="samples")
    ax.plot(x[:, 0], predicted[:, 0], linestyle="--", color="red", label="network")
    ax.set(xlabel="x", ylabel="y")
    ax.legend()
    return fig


def print_backward(run, loss_fn):
    """The computational graph of the lecture's figure, as text: the autograd nodes backpropagation
    visits from the loss, each with the parameters it gives a gradient for."""
    x, y = run.data.train[:2]
    with torch.enable_grad():
        loss = loss_fn(run.model(x[:4]), y[:4])
    names = {id(p): n for n, p in run.model.named_parameters()}
    for node, grads in _backward_chain(loss.grad_fn, names):
        print(node + (f"  ->  dL/d {', '.join(grads)}" if grads else ""))'''


@functools.lru_cache(maxsize=1)
def lab_module() -> str:
    """notebooks/nnarch_lab.py: the nnarch types the topics' code uses and the answer checks (from
    topic.py and answers.py), the training loop (runtime.py) and the plots, copied from their source."""
    types, answers, figures, values = read(TYPES), read(ANSWERS), read(FIGURES), read(VALUES)
    runtime = RUNTIME.read_text()
    loop = runtime.splitlines()[ast.parse(runtime).body[1].lineno - 1 :]  # after its docstring
    return (
        "\n\n\n".join(
            [
                '"""What nnarch adds to the lab\'s notebooks, so that they run without it: the types the\n'
                "topics' code uses, the training loop that made the lecture's numbers, the answer checks and\n"
                'the plots. Made by nnarch from its own source; the notebooks import it from this folder."""\n\n'
                "import warnings\nfrom collections.abc import Callable\nfrom dataclasses import dataclass, field\n"
                "from types import SimpleNamespace\nfrom typing import Any\n\nimport matplotlib.pyplot as plt\n"
                "import torch\n\n"
                "# as the lecture draws its figures: a legend outside the axes takes room of its own\n"
                'plt.rcParams["figure.constrained_layout.use"] = True\n'
                "# PyG imports tqdm's notebook bars, which want ipywidgets; the lab shows no progress bars\n"
                'warnings.filterwarnings("ignore", message="IProgress not found")',
                types.listing("Splits"),
                types.listing("Recipe"),
                types.listing("Run"),
                f"TOLERANCE = {TOLERANCE:.0e}  # relative, for the answer checks",
                answers.listing("step_ratio"),
                answers.listing("answer_key"),
                answers.listing("answer_form"),
                answers.listing("check_answer"),
                f"SCIENTIFIC_BELOW = {SCIENTIFIC_BELOW!r}  # as the slides write numbers",
                values.listing("number_text"),
                values.listing("_scientific"),
                *(figures.listing(name) for name in ("_backward_chain", "_leaf_param", "_depth")),
                "\n".join(line for line in loop if not line.startswith(IMPORT)).strip(),
                PLOTS,
            ]
        )
        + "\n"
    )


def topic_notebook(run, solution: bool, setup: str = "") -> str:
    """The notebook of one topic as JSON text: the student version, or the complete solution;
    `setup` is its first code cell (launch.setup_cell: what a hosted kernel installs first)."""
    source, manifest, results = run.source, run.manifest, run.results
    doc, module_source = source.doc, source.outline.source
    solutions = {e.solution for e in doc.exercises}
    recipe = manifest["recipe"]
    losses = {"mse": "nn.MSELoss()", "cross_entropy": "nn.CrossEntropyLoss()"}
    loss = recipe["loss"] if recipe["custom_loss"] else losses[recipe["loss"]]
    numbers = ", ".join(f"{name} = {format_value(value)}" for name, value in results["metrics"].items())
    ctx = Context(doc, results, run.figures)
    cells = [
        new_markdown_cell(
            f"# {doc.title}\n\n{to_markdown(doc.lab, ctx)}\n\n"
            "Run the cells in order. The lecture's build measured "
            f"**{results['params']['total']:,} parameters** and {numbers}; with the "
            "same seed you should get the same "
            "numbers."
            + (
                ""
                if solution
                else " Exercises are at the end: each is a function that raises `NotImplementedError` until you "
                "fill it in, so *Run All* stops at the first one. That is expected: solve it, run its check, go on."
            )
        ),
        *([_tagged(new_code_cell(setup), "setup")] if setup else []),
        new_code_cell(
            f"from {LAB_MODULE} import {', '.join(LAB_NAMES)}  # first: it sets plots up, quiets library warnings\n\n"
            + _imports(module_source)
            + "\nfrom types import SimpleNamespace"
            + "\n\ntorch.set_num_threads(1)  # the build's numbers were computed on one thread"
        ),
        new_markdown_cell("## The topic's code\n\nThe model, the data and the measures, as the lecture ran them."),
        new_code_cell(_definitions(module_source, skip=solutions)),
        new_markdown_cell(
            f"## Training\n\n`fit` is the loop nnarch ran (in `{LAB_MODULE}.py` beside this notebook): a seeded "
            "batch order, one optimizer step per batch, the training and test loss per epoch."
        ),
        new_code_cell(
            f"SEED = {recipe['seed']}\n"
            f"data = {manifest['data']}(SEED)\n"
            f"torch.manual_seed(SEED)\n"
            f"model = {manifest['model_call']}\n"
            f"history = fit(model, data.train, data.test, {loss}, {recipe['optimizer']!r}, lr={recipe['lr']!r}, "
            f"epochs={recipe['epochs']}, batch_size={recipe['batch_size']}, seed=SEED"
            + (f", step={recipe['step']})" if recipe["step"] else ")")
            + "\n"
            "print(f'parameters: {sum(p.numel() for p in model.parameters()):,}')\n"
            "print(f'final train / test loss: {history.train_loss[-1]:.3g} / {history.test_loss[-1]:.3g}')"
        ),
        new_markdown_cell("## Results\n\nThe metrics of the lecture, computed by the topic's own functions."),
        _tagged(
            new_code_cell(
                f"recipe = SimpleNamespace(loss={recipe['loss']!r}, optimizer={recipe['optimizer']!r}, "
                f"lr={recipe['lr']!r}, "
                f"epochs={recipe['epochs']}, batch_size={recipe['batch_size']}, seed={recipe['seed']})\n"
                "run = Run(model=model.eval(), data=data, history=history, recipe=recipe)\n"
                "results = {'params': sum(p.numel() for p in model.parameters()), 'metrics': {\n"
                + "".join(f"    {name!r}: float({fn}(run)),\n" for name, fn in manifest["metrics"].items())
                + "}}\n"
                "print(f\"parameters: {results['params']:,}\")\n"
                "for metric, value in results['metrics'].items():\n"
                "    print(f'{metric}: {number_text(value)}')  # as the slides write numbers"
            ),
            "results",
        ),
    ]
    cells.append(new_markdown_cell("## Figures\n\nThe loss curve and the lecture's own figures, drawn from your run."))
    plots = {"prediction": "plot_prediction(run)", "compute_graph": f"print_backward(run, {loss})"}
    drawn = ["plot_loss(history)"] + [plots[kind] for kind in manifest["plots"]]
    drawn += [f"{draw}(run)" for draw in manifest["custom_figures"]]
    cells.append(new_code_cell("import matplotlib.pyplot as plt\n\n" + "\n".join(drawn) + "\nplt.show()"))
    cells += _exercise_cells(doc, source.outline, ctx, solution)
    for number, cell in enumerate(cells):
        cell["id"] = f"{source.name}-{number}"  # nbformat's default ids are random; builds must repeat
    notebook = new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            "nnarch": {"topic": source.name, "solution": solution},
        },
    )
    return nbformat.writes(notebook)


class MarkdownText(Target):
    """Inline spans back to Markdown, with the run's values filled in: notebooks' text cells."""

    name = "markdown"

    def text(self, s):
        return s.replace("*", "\\*").replace("$", "\\$")

    def math(self, s):
        return f"${s}$"

    def code(self, s):
        return f"`{s}`"

    def emph(self, s):
        return f"*{s}*"

    def strong(self, s):
        return f"**{s}**"

    def link(self, href, s):
        return f"[{s}]({href})"

    def linebreak(self):
        return "  \n"


def to_markdown(blocks, ctx: Context) -> str:
    """Paragraphs, lists, math and code of the topic's Markdown, as notebook Markdown."""
    target, parts = MarkdownText(), list[str]()
    for block in blocks:
        if isinstance(block, (md.Para, md.Heading)):
            parts.append(
                ("#### " if isinstance(block, md.Heading) else "") + target.inline(block.spans, ctx, block.line)
            )
        elif isinstance(block, md.ListBlock):
            items = [to_markdown(item, ctx).replace("\n", "\n   ") for item in block.items]
            parts.append(
                "\n".join(f"{f'{n}.' if block.ordered else '-'} {item}" for n, item in enumerate(items, start=1))
            )
        elif isinstance(block, md.MathBlock):
            parts.append(f"$$\n{ctx.fill(block.latex, block.line, math=True)}\n$$")
        elif isinstance(block, md.Code):
            parts.append(f"```\n{block.source}\n```")
    return "\n\n".join(parts)


def _exercise_cells(doc, outline, ctx: Context, solution: bool) -> list:
    if not doc.exercises:
        return []
    cells = [new_markdown_cell("## Exercises")]
    for number, exercise in enumerate(doc.exercises, start=1):
        hints = to_markdown(exercise.hints, ctx)
        cells.append(
            new_markdown_cell(
                f"### Exercise {number}: {exercise.title}\n\n"
                f"{to_markdown(exercise.prompt, ctx)}" + (f"\n\n**Hints**\n\n{hints}" if hints else "")
            )
        )
        code = outline.listing(exercise.solution)
        starter = _starter(code, number, exercise.solution)
        cells.append(_tagged(new_code_cell(code), "solution") if solution else new_code_cell(starter))
        built = ctx.results["answers"][exercise.solution]
        call = f"answer = {exercise.solution}(run)\nprint(answer)\n"
        more = f", tolerance={exercise.tolerance!r}" if exercise.tolerance else ""
        if exercise.check:  # the topic's own test of the answer, once its form is right: it says what is off
            call = f"{outline.listing(exercise.check)}\n\n\n{call}"
            more = f", own=lambda answer: {exercise.check}(answer, run){more}"
        call += f"check_answer(answer, {digest(built, exercise.tolerance)!r}, {number}, {answer_form(built)!r}{more})"
        check = _tagged(new_code_cell(call), "check")
        check.metadata["nnarch"] = {"exercise": number, "title": exercise.title}  # what nnarch grade reads
        cells.append(check)
    return cells


def _starter(source: str, number: int, name: str) -> str:
    """The solution's signature and docstring, with the body left to the student."""
    node = ast.parse(source).body[0]
    assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)), f"{name}: not a function"
    doc = ast.get_docstring(node)
    lines = source.splitlines()
    header = "\n".join(lines[: node.body[0].lineno - 1])  # a signature may span lines
    body = f'    """{textwrap.indent(doc, "    ").lstrip()}"""\n' if doc else ""  # its lines indented as the source's
    return (
        f"{header}\n{body}    # your code here\n"
        f'    raise NotImplementedError("Exercise {number}: fill in {name} above")'
    )


def _imports(module_source: str) -> str:
    """The module's own imports, without nnarch's and without relative ones."""
    lines = []
    for node in ast.parse(module_source).body:
        ours = isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("nnarch"))
        if isinstance(node, (ast.Import, ast.ImportFrom)) and not ours:
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
            continue  # the module docstring is not for students
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "TOPIC" for t in node.targets):
            continue
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in skip:
            continue
        decorators = getattr(node, "decorator_list", None)
        start = decorators[0].lineno if decorators else node.lineno
        parts.append("\n".join(module_source.splitlines()[start - 1 : node.end_lineno]))
    return "\n\n\n".join(parts)


def _tagged(cell, tag: str):
    cell.metadata["tags"] = [tag]
    return cell
