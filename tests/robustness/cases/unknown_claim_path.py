from nnarch.topic import Recipe, Topic, above

from ._base import Tiny, make_data

TOPIC = Topic(name="case", model=Tiny, data=make_data, recipe=Recipe(epochs=2),
              metrics={"accuracy": lambda run: 1.0},
              claims=[above("metrics.acuracy", 0.5)])
