"""`Neuron`, `Layer` and `MLP`: the models, built from engine Values.

A neuron's pre-activation is one engine node, `linear(w, x, b)`, which adds
`b + w1*x1 + w2*x2 + ...` in that order: the same float micrograd computes
with `sum((wi*xi for ...), b)`, from one node instead of 2n. The activation
is then one more node (or none for "linear").

Initialisation is seeded, so two models built with the same seed are equal.
Every parameter is labelled with its dotted name, so drawn graphs say which
weight is which.
"""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Sequence
from typing import Any

from autograd_core.engine import Value, linear
from autograd_core.errors import as_float, describe, is_number
from nn.module import Module

__all__ = ["ACTIVATIONS", "INITS", "MLP", "Layer", "Neuron", "make_rng"]

ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
INITS = ("uniform", "xavier", "he")

Number = int | float


def make_rng(seed: int | random.Random | None) -> random.Random:
    """A `random.Random` from an int seed (None means 0), or the generator itself."""
    if seed is None:
        return random.Random(0)
    if isinstance(seed, random.Random):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int or a random.Random, got {describe(seed)}")
    return random.Random(int(seed))


def _check_activation(activation: str | None) -> str:
    if activation is None:
        return "linear"
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
    return activation


def positive_int(n: object, what: str) -> int:
    """`n` as an int >= 1: any integer type (numpy's too) but a bool.

    TypeError for what is not a number, ValueError for a number that is not a
    positive integer (0, 3.5, True).
    """
    if not is_number(n):
        raise TypeError(f"{what} must be a positive int, got {describe(n)}")
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"{what} must be a positive int, got {describe(n)}")
    return int(n)


def _weight_bound(init: str, fan_in: int, fan_out: int) -> float:
    """Half-width of the uniform distribution weights are drawn from."""
    if init == "uniform":
        return 1.0  # micrograd: uniform(-1, 1)
    if init == "xavier":
        return math.sqrt(6.0 / (fan_in + fan_out))  # Glorot & Bengio: variance 2/(in+out)
    if init == "he":
        return math.sqrt(6.0 / fan_in)  # He et al.: variance 2/in, for relu
    raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")


def _inputs(x: Any, nin: int, owner: str) -> list[Any]:
    """The input as a list of Values; numbers become leaves labelled x[i].

    Converting once here costs two objects per input and lets every neuron's
    `linear` node take the all-Values fast path; the labels name the inputs
    in drawn graphs.
    """
    if (isinstance(x, Value) or is_number(x)) and nin == 1:
        x = [x]  # a one-input model accepts a bare number
    if isinstance(x, (str, bytes)) or not isinstance(x, Sequence):
        raise TypeError(f"{owner} expected a sequence of {nin} input(s), got {describe(x)}")
    if len(x) != nin:
        raise ValueError(f"{owner} expected {nin} input(s), got {len(x)}")
    out = []
    for i, xi in enumerate(x):
        if xi.__class__ is Value:
            out.append(xi)
        elif is_number(xi):
            out.append(Value(as_float(xi, f"{owner} input {i}"), f"x[{i}]"))
        else:
            raise TypeError(f"{owner} input {i} must be a number or a Value, got {describe(xi)}")
    return out


# ---------------------------------------------------------------------------


class Neuron(Module):
    """`activation(b + sum(w_i * x_i))`: one unit, the smallest trainable model."""

    def __init__(
        self,
        nin: int,
        activation: str | None = "relu",
        bias: bool = True,
        *,
        init: str = "uniform",
        seed: int | random.Random | None = 0,
        fan_out: int = 1,
        _label: bool = True,
    ) -> None:
        self.nin = positive_int(nin, "nin")
        self.activation = _check_activation(activation)
        self.bias = bool(bias)
        self.init = init
        bound = _weight_bound(init, nin, positive_int(fan_out, "fan_out"))
        rng = make_rng(seed)
        self.w = [Value(rng.uniform(-bound, bound)) for _ in range(nin)]
        self.b = Value(0.0) if self.bias else None
        if _label:
            self._label_parameters()

    def named_parameters(self) -> list[tuple[str, Value]]:
        """`w[0]`, `w[1]`, ..., then `b` (when the neuron has a bias)."""
        pairs = [(f"w[{k}]", w) for k, w in enumerate(self.w)]
        if self.b is not None:
            pairs.append(("b", self.b))
        return pairs

    def architecture(self) -> dict[str, Any]:
        """Type, inputs, activation, bias."""
        return {
            "type": "Neuron",
            "nin": self.nin,
            "activation": self.activation,
            "bias": self.bias,
        }

    def __call__(self, x: Sequence[Value | Number] | Value | Number) -> Value:
        """The neuron's output on one input of `nin` numbers or Values."""
        return self._forward(_inputs(x, self.nin, "Neuron"))

    def _forward(self, x: list[Value]) -> Value:
        z = linear(self.w, x, self.b if self.b is not None else 0.0)
        act = self.activation
        if act == "relu":
            return z.relu()
        if act == "tanh":
            return z.tanh()
        if act == "sigmoid":
            return z.sigmoid()
        return z

    def __repr__(self) -> str:
        return f"Neuron({self.nin}, activation={self.activation!r}, bias={self.bias})"


class Layer(Module):
    """`nout` neurons reading the same inputs."""

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str | None = "relu",
        bias: bool = True,
        *,
        init: str = "uniform",
        seed: int | random.Random | None = 0,
        _label: bool = True,
    ) -> None:
        self.nin = positive_int(nin, "nin")
        self.nout = positive_int(nout, "nout")
        rng = make_rng(seed)
        self.neurons = [
            Neuron(nin, activation, bias, init=init, seed=rng, fan_out=nout, _label=False)
            for _ in range(nout)
        ]
        self.activation = self.neurons[0].activation
        self.bias = self.neurons[0].bias
        self.init = init
        if _label:
            self._label_parameters()

    def named_parameters(self) -> list[tuple[str, Value]]:
        """`neurons.<j>.w[<k>]` and `neurons.<j>.b`, neuron by neuron."""
        return [
            (f"neurons.{j}.{name}", p)
            for j, n in enumerate(self.neurons)
            for name, p in n.named_parameters()
        ]

    def architecture(self) -> dict[str, Any]:
        """Type, inputs, outputs, activation, bias."""
        return {
            "type": "Layer",
            "nin": self.nin,
            "nout": self.nout,
            "activation": self.activation,
            "bias": self.bias,
        }

    def __call__(self, x: Sequence[Value | Number] | Value | Number) -> Value | list[Value]:
        """A Value for a one-neuron layer, else a list of Values."""
        out = self._forward(_inputs(x, self.nin, "Layer"))
        return out[0] if len(out) == 1 else out

    def _forward(self, x: list[Value]) -> list[Value]:
        return [n._forward(x) for n in self.neurons]

    def __repr__(self) -> str:
        return f"Layer({self.nin}, {self.nout}, activation={self.activation!r}, bias={self.bias})"


class MLP(Module):
    """Layers in sequence: `MLP(2, [16, 16, 1])` is micrograd's two-moons model.

    Hidden layers use `activation`; the last layer uses `output_activation`
    (None: linear, as micrograd's output layer).
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str | None = "relu",
        output_activation: str | None = None,
        bias: bool = True,
        *,
        init: str = "uniform",
        seed: int | random.Random | None = 0,
    ) -> None:
        self.nin = positive_int(nin, "nin")
        if isinstance(nouts, (str, bytes)) or not isinstance(nouts, Sequence) or not nouts:
            raise ValueError(f"nouts must be a non-empty list of layer sizes, got {nouts!r}")
        sizes = [positive_int(n, f"layer size {i}") for i, n in enumerate(nouts)]
        self.nouts = sizes
        self.activation = _check_activation(activation)
        self.output_activation = _check_activation(output_activation)
        self.bias = bool(bias)
        self.init = init
        rng = make_rng(seed)
        fan_ins = [nin, *sizes[:-1]]
        last = len(sizes) - 1
        self.layers = [
            Layer(
                fan_ins[i],
                sizes[i],
                self.output_activation if i == last else self.activation,
                bias,
                init=init,
                seed=rng,
                _label=False,
            )
            for i in range(len(sizes))
        ]
        self._label_parameters()

    def named_parameters(self) -> list[tuple[str, Value]]:
        """`layers.<i>.neurons.<j>.w[<k>]` and `layers.<i>.neurons.<j>.b`."""
        return [
            (f"layers.{i}.{name}", p)
            for i, layer in enumerate(self.layers)
            for name, p in layer.named_parameters()
        ]

    def architecture(self) -> dict[str, Any]:
        """Type, inputs, layer sizes, activations, bias."""
        return {
            "type": "MLP",
            "nin": self.nin,
            "nouts": list(self.nouts),
            "activation": self.activation,
            "output_activation": self.output_activation,
            "bias": self.bias,
        }

    def __call__(self, x: Sequence[Value | Number] | Value | Number) -> Value | list[Value]:
        """A Value when the last layer has one neuron, else a list of Values."""
        h = _inputs(x, self.nin, "MLP")
        for layer in self.layers:
            h = layer._forward(h)
        return h[0] if len(h) == 1 else h

    def __repr__(self) -> str:
        out = "" if self.output_activation == "linear" else f", {self.output_activation!r} output"
        return f"MLP({self.nin}, {self.nouts}, {self.activation!r}{out})"
