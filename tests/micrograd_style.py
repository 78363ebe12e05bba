"""A micrograd-style MLP written one scalar at a time (sum of products, relu), for the tests.

Written the way users write it, without nn's fused `linear`: the passes must
find its dense layers on their own.
"""

import random

from autograd_core import Value


class Neuron:
    def __init__(s, nin, nonlin=True, act="relu"):
        s.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        s.b = Value(0.0)
        s.nonlin = nonlin
        s.act = act

    def __call__(s, x):
        act = sum((wi * xi for wi, xi in zip(s.w, x)), s.b)
        if not s.nonlin:
            return act
        return act.relu() if s.act == "relu" else act.tanh()

    def parameters(s):
        return s.w + [s.b]


class Layer:
    def __init__(s, nin, nout, **kw):
        s.neurons = [Neuron(nin, **kw) for _ in range(nout)]

    def __call__(s, x):
        out = [n(x) for n in s.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(s):
        return [p for n in s.neurons for p in n.parameters()]


class MLP:
    # sizes nin -> nouts[0] -> ... ; relu on every layer but the last
    def __init__(s, nin, nouts, seed=0, act="relu"):
        random.seed(seed)
        sz = [nin] + nouts
        s.layers = [
            Layer(sz[i], sz[i + 1], nonlin=i != len(nouts) - 1, act=act) for i in range(len(nouts))
        ]

    def __call__(s, x):
        for layer in s.layers:
            x = layer(x)
        return x

    def parameters(s):
        return [p for layer in s.layers for p in layer.parameters()]
