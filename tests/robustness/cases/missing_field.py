from nnarch.topic import Frame, Recipe, Topic

from ._base import Tiny

TOPIC = Topic(name="case", title="No data", model=Tiny, recipe=Recipe(epochs=2), frames=[Frame("x", [])])
