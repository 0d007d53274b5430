from nnarch.topic import Frame, Recipe, Topic

from ._base import Tiny, make_data

TOPIC = Topic(name="case", title="Bad type", model=Tiny, data=make_data,
              recipe=Recipe(epochs="many", lr=-1), frames=[Frame("x", [])])
