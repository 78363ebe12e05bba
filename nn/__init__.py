"""nn: neurons, layers, MLPs, losses, SGD and a training loop on `autograd_core` Values."""

from autograd_core._version import __version__
from nn.data import DATASETS, and_, circles, moons, not_, or_, sleep_study, spirals, xor
from nn.layers import MLP, Layer, Neuron
from nn.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    hinge,
    l2_penalty,
    log_sum_exp,
    mse,
    softmax_cross_entropy,
    sse,
)
from nn.module import Module
from nn.optim import SGD
from nn.saved import load
from nn.train import History, evaluate, train, train_step

__all__ = [
    "__version__",
    "DATASETS",
    "MLP",
    "SGD",
    "History",
    "Layer",
    "Module",
    "Neuron",
    "and_",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "circles",
    "evaluate",
    "hinge",
    "l2_penalty",
    "load",
    "log_sum_exp",
    "moons",
    "mse",
    "not_",
    "or_",
    "sleep_study",
    "softmax_cross_entropy",
    "spirals",
    "sse",
    "train",
    "train_step",
    "xor",
]
