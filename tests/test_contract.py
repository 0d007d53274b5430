"""Every topic in lectures/: a valid declaration, a model that fits its data, figures that draw."""

from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import pytest
import torch

from nnarch.run.figures import draw_figure
from nnarch.run.measure import conclude, measure
from nnarch.run.runner import solve_exercises
from nnarch.run.train import build_model, train_topic
from nnarch.source.discover import discover
from nnarch.source.load import load_topic

from .conftest import LECTURES, topic_of

DISCOVERED = discover(LECTURES)
SOURCES = [s for lec in DISCOVERED.lectures for s in lec.topics]


def test_every_declared_topic_is_valid():
    assert [str(e) for lec in DISCOVERED.lectures for e in lec.errors] == []
    for lec in DISCOVERED.lectures:
        assert [s.name for s in lec.topics] == list(lec.lecture.topics)
    for source in SOURCES:
        topic_of(source)  # imports and validates against its Markdown


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.name)
def test_model_maps_example_input_to_target_shape(source):
    topic = topic_of(source)
    data = topic.data(topic.recipe.seed)
    model = build_model(topic, source.path)
    inputs, targets = data.train[0][:3], data.train[1][:3]
    with torch.no_grad():
        output = model(inputs)
    if topic.recipe.loss == "cross_entropy":
        assert output.shape[0] == targets.shape[0] and output.ndim == 2
    else:
        assert output.shape == targets.shape


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.name)
def test_every_figure_draws_after_one_epoch(source, tmp_path):
    topic = topic_of(source)
    quick = dataclasses.replace(topic, recipe=dataclasses.replace(topic.recipe, epochs=1))
    module = load_topic(source)[1]
    measured = measure(train_topic(quick, source.path, "cpu"))
    answers = solve_exercises(source, module, measured.run)  # claims may compare with them
    others: tuple = ()
    if topic.seeds:  # its figures may draw every seed: one more is enough to draw them
        seed = quick.all_seeds()[1]
        other = measure(train_topic(quick.at_seed(seed), source.path, "cpu"))
        others = ((seed, {**other.results, "answers": solve_exercises(source, module, other.run)}),)
    measured = conclude(measured, answers, others)
    for spec in quick.figures:
        fig = draw_figure(spec, measured.run, source.path)
        assert isinstance(fig, plt.Figure) and fig.axes
        plt.close(fig)


def test_every_figure_kind_a_topic_may_declare_is_one_nnarch_draws():
    """`check` accepts the kinds topic.py lists, without importing torch; run/figures.py draws them."""
    from nnarch.run.figures import KINDS
    from nnarch.topic import FIGURE_KINDS

    assert sorted([*KINDS, "custom"]) == sorted(FIGURE_KINDS)
