from nnarch.topic import Frame, Recipe, Topic

from ._base import Tiny, make_data

TOPIC = Topic(name="case", title="Typo", model=Tiny, data=make_data, recipe=Recipe(epoch=2),
              frames=[Frame("x", [])])
