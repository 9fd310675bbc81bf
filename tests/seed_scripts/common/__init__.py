"""The book's ``common`` package, as the book's scripts import it, resolved to graphgrad.

The book's ``ch07/simple_convnet.py``, ``ch08/deep_convnet.py`` and ``common/multi_layer_net_extend.py`` start
with ``sys.path.append(os.pardir)`` and ``from common.layers import *``: with this folder as the book's root,
``common.layers`` is `nn.compat` and ``common.gradient`` is `autograd`'s numerical_gradient, so the book's
networks run unchanged with every backward read from graphgrad's recorded graph.
"""
