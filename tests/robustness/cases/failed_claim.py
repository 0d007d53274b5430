from nnarch.topic import Recipe, Topic, below

from ._base import Tiny, make_data

TOPIC = Topic(name="case", model=Tiny, data=make_data, recipe=Recipe(epochs=2),
              claims=[below("history.final_train", 1e-12, "training loss below 1e-12")])
