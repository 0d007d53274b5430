from nnarch.topic import Recipe, Topic

from ._base import Tiny, make_data

TOPIC = Topic(name="case", model=lambda: Tiny(out_features=3), data=make_data, recipe=Recipe(epochs=2))
