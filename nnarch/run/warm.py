"""Warm: what every topic's worker needs, imported once, by the fork server the workers are forked
from (run/executor.py), so that no worker imports it again.

The imports make some 370,000 objects that live as long as the process; the collections their
allocations trigger would walk them again and again (a second of the imports). So the cyclic
collector is paused while they are made, and they are frozen afterwards: no later collection walks
them, and a forked worker does not copy their pages by touching them.
"""

import contextlib
import gc

gc.disable()
try:
    import torch._dynamo  # noqa: F401 - the first optimizer imports torch's compiler front end

    import nnarch.run.figures  # matplotlib, on its Agg backend
    import nnarch.run.runner
    import nnarch.source.load  # noqa: F401

    with contextlib.suppress(ImportError):  # a course without a graph network has no PyG
        import torch_geometric  # noqa: F401
finally:
    gc.enable()
gc.freeze()
