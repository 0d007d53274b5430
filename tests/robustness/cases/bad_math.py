from nnarch.topic import Frame, Math, Recipe, Topic

from ._base import Tiny, make_data

TOPIC = Topic(name="case", title="Math", model=Tiny, data=make_data, recipe=Recipe(epochs=2),
              frames=[Frame("Broken Formula", [Math(r"x = \notamacro{1}")])])
