from nnarch.topic import Recipe, Topic

from ._base import Tiny

TOPIC = Topic(name="case", model=Tiny, recipe=Recipe(epochs=2))
