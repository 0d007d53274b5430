from nnarch.topic import Recipe, Topic

from ._base import Tiny, make_data


def accuracy(run):
    return 1.0


TOPIC = Topic(
    name="case",
    model=Tiny,
    data=make_data,
    recipe=Recipe(epochs=2),
    metrics={"accuracy": accuracy},
    tolerances={"acuracy": 0.1, "accuracy": -1},
)
