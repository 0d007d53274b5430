from nnarch.topic import Recipe, Topic

from ._base import Tiny, make_data

# A learning rate this large makes the loss overflow within a few epochs.
TOPIC = Topic(name="case", model=Tiny, data=make_data, recipe=Recipe(optimizer="sgd", lr=1e25, epochs=50))
