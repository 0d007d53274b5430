from nnarch.topic import FigureSpec, Recipe, Topic

from ._base import Tiny, make_data

TOPIC = Topic(name="case", model=Tiny, data=make_data, recipe=Recipe(epochs=2),
              figures=[FigureSpec("loss", "loss_curve")])
