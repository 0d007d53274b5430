from nnarch.topic import Fig, FigureSpec, Frame, Recipe, Topic

from ._base import Tiny, make_data

TOPIC = Topic(name="case", title="Figure", model=Tiny, data=make_data, recipe=Recipe(epochs=2),
              figures=[FigureSpec("loss", "loss_curve", caption="Loss", alt="Loss per epoch")],
              frames=[Frame("x", [Fig("los")])])
