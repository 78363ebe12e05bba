"""`train()`: the training loop, with progress, history and early stopping.

The loop itself is `train_step`: zero_grad, forward, loss, backward, step,
the five lines any user can write by hand. `train()` wraps it with the
bookkeeping: batches, the learning-rate schedule, a tqdm progress bar, the
history of loss and accuracy, and stopping when the loss stops changing.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from autograd_core.engine import Value, collector_paused, no_grad
from autograd_core.errors import as_float, describe, is_number
from autograd_core.optional import MissingOptionalDependency, require
from nn.layers import make_rng, positive_int
from nn.losses import LOSSES, l2_penalty
from nn.measures import (
    _check_finite,
    _first_not_finite,
    _not_finite_message,
    _NotFinite,
    accuracy,
)
from nn.module import Module
from nn.optim import SGD, LearningRate

__all__ = ["History", "accuracy", "evaluate", "train", "train_step"]

LossFn = Callable[[list[Any], list[Any]], Value]


@dataclass
class History:
    """Loss and accuracy at every step, and of the trained model on all the data.

    `loss[k]` and `accuracy[k]` are measured in step k's forward pass, before
    its update (what micrograd's demo prints). `final_loss` and
    `final_accuracy` are measured after the last update, on the whole data
    set. Accuracy is None where it means nothing (regression).
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float | None] = field(default_factory=list)
    final_loss: float = math.nan
    final_accuracy: float | None = None
    stopped_early: bool = False
    # With held-out data (`train(..., test=(X, y))`): its accuracy at every
    # step, at the same parameters as `accuracy[k]`, and after the last update.
    test_accuracy: list[float | None] = field(default_factory=list)
    final_test_loss: float | None = None
    final_test_accuracy: float | None = None

    @property
    def steps(self) -> int:
        """How many steps were taken."""
        return len(self.loss)


# ---------------------------------------------------------------------------
# Accuracy: how a prediction is read as a class depends on the loss.


# ---------------------------------------------------------------------------
# The loop.


def _penalised_loss(
    loss_fn: LossFn,
    predictions: list[Any],
    y: Sequence[Any],
    l2: float,
    parameters: Sequence[Value] | None,
) -> Value:
    """`loss_fn(predictions, y)`, plus l2 * sum(p*p) over `parameters` when l2 is not 0."""
    loss = loss_fn(predictions, list(y))
    if l2 and parameters:
        loss = loss + l2_penalty(parameters, l2)
    return loss


def train_step(
    model: Callable[[Any], Any],
    optimizer: SGD,
    loss_fn: LossFn,
    X: Sequence[Sequence[float]],
    y: Sequence[Any],
    l2: float = 0.0,
    parameters: Sequence[Value] | None = None,
) -> tuple[float, list[Any]]:
    """One step of gradient descent on the examples X, y; returns the loss and the predictions.

    A NaN or infinite loss or gradient raises FloatingPointError before the
    update, so the weights stay those of the previous step.
    """
    # zero_grad: backward() adds to .grad, so clear the last step's gradients
    optimizer.zero_grad()
    # forward: the model's output on every example
    predictions = [model(x) for x in X]
    # loss: how wrong those outputs are, plus the weight penalty
    loss = _penalised_loss(
        loss_fn, predictions, y, l2, optimizer.params if parameters is None else parameters
    )
    if not math.isfinite(loss.data):  # before backward: nothing to propagate
        raise _NotFinite("the loss", loss.data)
    # backward: d loss / d parameter into every parameter's .grad
    loss.backward()
    _check_finite(loss.data, optimizer.params)
    # step: move each parameter against its gradient
    optimizer.step()
    return loss.data, predictions


def _compiled_step(
    model: Callable[[Any], Any],
    optimizer: SGD,
    loss_fn: LossFn,
    X: Sequence[Sequence[float]],
    y: Sequence[Any],
    l2: float,
    parameters: Sequence[Value],
) -> Callable[[], tuple[float, list[Any]]]:
    """`train_step` on the full batch, with forward and backward traced once and replayed."""
    from autograd_core.compiled import compile_function

    shapes: list[int | None] = []  # outputs per prediction (None: a bare Value)

    def full_batch_loss() -> tuple[Value, list[Value]]:
        predictions = [model(x) for x in X]
        loss = _penalised_loss(loss_fn, predictions, y, l2, parameters)
        flat: list[Value] = []
        shapes.clear()
        for p in predictions:
            if isinstance(p, (list, tuple)):
                shapes.append(len(p))
                flat.extend(p)
            else:
                shapes.append(None)
                flat.append(p)
        return loss, flat  # the predictions come back as numbers, for accuracy

    traced = compile_function(full_batch_loss, (), parameters)

    def step() -> tuple[float, list[Any]]:
        # zero_grad: the gradients below are added to .grad, as backward() adds them
        optimizer.zero_grad()
        # forward, loss and backward: the traced code, at the parameters' current data
        value, _, grads, flat = traced()
        for p, g in zip(parameters, grads):
            p.grad += g
        _check_finite(value, optimizer.params)
        # step: move each parameter against its gradient
        optimizer.step()
        predictions: list[Any] = []
        i = 0
        for size in shapes:
            if size is None:
                predictions.append(flat[i])
                i += 1
            else:
                predictions.append(list(flat[i : i + size]))
                i += size
        return value, predictions

    return step


def evaluate(
    model: Callable[[Any], Any],
    X: Sequence[Sequence[float]],
    y: Sequence[Any],
    loss: str | LossFn = "hinge",
    l2: float = 0.0,
    parameters: Sequence[Value] | None = None,
) -> tuple[float, float | None]:
    """Loss and accuracy of `model` on X, y without building a graph to keep."""
    loss_fn, name = _loss_function(loss)
    with no_grad():
        predictions = [model(x) for x in X]
        value = _penalised_loss(loss_fn, predictions, y, l2, parameters)
    return value.data, (accuracy(name, predictions, y) if name else None)


def _loss_function(loss: str | LossFn) -> tuple[LossFn, str | None]:
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)} or a function, got {loss!r}")
        return LOSSES[loss], loss
    if callable(loss):

        def checked(predictions: list[Any], targets: list[Any]) -> Value:
            value = loss(predictions, targets)
            if not isinstance(value, Value):
                raise TypeError(
                    f"the loss function must return a Value to differentiate, got {describe(value)}"
                )
            return value

        return checked, None
    raise TypeError(
        f"loss must be a name or a function(predictions, targets), got {describe(loss)}"
    )


def _check_data(X: Any, y: Any) -> tuple[list, list]:
    if not isinstance(X, Sequence) or not isinstance(y, Sequence):
        raise TypeError("X and y must be sequences (lists of examples and of targets)")
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
    if not X:
        raise ValueError("training needs at least one example")
    return list(X), list(y)


def _check_schedule(
    n: int, steps: int | None, epochs: int | None, batch_size: int | None
) -> tuple[int | None, int]:
    """`(batch_size, total steps)`: at most n examples per step, epochs counted in steps."""
    if steps is not None and epochs is not None:
        raise ValueError("give steps or epochs, not both")
    if batch_size is not None:
        batch_size = min(positive_int(batch_size, "batch_size"), n)
    per_epoch = 1 if batch_size is None else -(-n // batch_size)
    if epochs is not None:
        return batch_size, positive_int(epochs, "epochs") * per_epoch
    return batch_size, positive_int(100 if steps is None else steps, "steps")


def _check_tol_and_l2(tol: Any, l2: Any) -> tuple[float | None, float]:
    if tol is not None:
        if not is_number(tol):
            raise TypeError(f"tol must be a number >= 0, got {describe(tol)}")
        if not tol >= 0:
            raise ValueError(f"tol must be a number >= 0, got {describe(tol)}")
    l2 = as_float(l2, "l2")
    if not (math.isfinite(l2) and l2 >= 0):
        raise ValueError(f"l2 must be a finite number >= 0, got {l2!r}")
    return tol, l2


def _progress_bar(progress: bool | None, total: int) -> Any:
    """A tqdm bar on stderr, or None: quiet unless asked or stderr is a terminal."""
    asked = progress
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    try:
        tqdm_auto = require("tqdm.auto", "progress", "train(progress=True)")
    except MissingOptionalDependency:
        if asked:
            raise
        return None  # on a terminal without tqdm: train quietly
    return tqdm_auto.tqdm(total=total, unit="step", leave=True, file=sys.stderr)


def _show_progress(bar: Any, value: float, acc: float | None) -> None:
    if bar is None:
        return
    shown = {"loss": f"{value:.4g}"}
    if acc is not None:
        shown["acc"] = f"{acc:.0%}"
    bar.set_postfix(shown, refresh=False)
    bar.update(1)


def _batches(
    X: list, y: list, batch_size: int | None, rng: random.Random
) -> Iterator[tuple[list, list, list[int] | None]]:
    """`(X, y, indices)` of every step: the full batch (indices None), or seeded mini-batches.

    Mini-batches go through a fresh seeded shuffle each epoch, so every
    example is seen once per epoch; the last batch of an epoch may be smaller.
    """
    if batch_size is None:
        while True:
            yield X, y, None
    order: list[int] = []
    while True:
        if not order:  # a new epoch: a fresh seeded shuffle
            order = list(range(len(X)))
            rng.shuffle(order)
        idx, order = order[:batch_size], order[batch_size:]
        yield [X[i] for i in idx], [y[i] for i in idx], idx


class _Steps:
    """How `train` takes a step and measures the model: the engine, or a compiled/batched replay.

    One object so that the loop and the final evaluation need not ask which
    of the three runs: the batched trainer measures without a graph per example.
    """

    def __init__(
        self,
        model: Module,
        optimizer: SGD,
        loss: tuple[LossFn, str | None],
        data: tuple[list, list],
        l2: float,
        params: list[Value],
        *,
        compiled: bool,
        batched: bool,
        full_batch: bool,
    ) -> None:
        (self.model, self.optimizer, (self.loss_fn, self.loss_name)) = (model, optimizer, loss)
        self.l2, self.params = l2, params
        self.batched: Any = None
        self.compiled: Callable[[], tuple[float, list[Any]]] | None = None
        if compiled and batched:
            raise ValueError("give compiled or batched, not both")
        if batched:
            from nn.batched import BatchedTrainer

            self.batched = BatchedTrainer(
                model, optimizer, self.loss_name or self.loss_fn, *data, l2, params
            )
        if compiled:
            if not full_batch:
                raise ValueError(
                    "compiled=True trains on the full batch only (the data is part of the traced "
                    "graph); drop batch_size or compiled"
                )
            self.compiled = _compiled_step(model, optimizer, self.loss_fn, *data, l2, params)

    def step(self, k: int, X: list, y: list, index: list[int] | None) -> tuple[float, float | None]:
        """Step k on the examples X, y: the loss and accuracy; a NaN or infinity says where."""
        try:
            if self.batched is not None:  # accuracy from the outputs' array
                return self.batched.step_accuracy(X, y, index)
            if self.compiled is not None:
                value, predictions = self.compiled()
            else:
                value, predictions = train_step(
                    self.model, self.optimizer, self.loss_fn, X, y, self.l2, self.params
                )
            name = self.loss_name
            return value, (accuracy(name, predictions, y) if name else None)
        except _NotFinite as e:
            culprit = _first_not_finite(X, y, index)
            raise FloatingPointError(_not_finite_message(e.what, e.value, k, culprit)) from None

    def accuracy(self, X: list, y: list) -> float | None:
        """Accuracy at the current parameters, without a graph to keep."""
        if self.batched is not None:
            return self.batched.accuracy(X, y)
        if not self.loss_name:
            return None
        with no_grad():
            return accuracy(self.loss_name, [self.model(x) for x in X], y)

    def sync(self) -> None:
        """Batched training: write the parameters and SGD's state back into the Values."""
        if self.batched is not None:
            self.batched.sync()

    def reload(self) -> None:
        """Batched training: read the parameters back from the Values."""
        if self.batched is not None:
            self.batched.reload()

    def evaluate(self, X: list, y: list) -> tuple[float, float | None]:
        """Loss and accuracy at the current parameters."""
        if self.batched is not None:  # the same numbers, without a graph per example
            return self.batched.evaluate(X, y)
        loss = self.loss_fn if self.loss_name is None else self.loss_name
        return evaluate(self.model, X, y, loss, self.l2, self.params)


def _blas_limits(threads: int | None) -> Any:
    """Limit NumPy's BLAS to `threads` threads with threadpoolctl; the limiter, or None.

    None when no limit is asked, or threadpoolctl is not installed (then the
    environment decides: OPENBLAS_NUM_THREADS, as `python -m nn` sets it).
    """
    if threads is None:
        return None
    import importlib

    try:
        threadpoolctl = importlib.import_module("threadpoolctl")  # untyped: Any
    except ImportError:
        return None
    importlib.import_module("numpy")  # loaded first, so that its BLAS is found and limited
    return threadpoolctl.threadpool_limits(limits=threads, user_api="blas")


def _converged(history: History, tol: float | None) -> bool:
    """The loss changed by less than `tol` over the last step."""
    return (
        tol is not None and len(history.loss) > 1 and abs(history.loss[-1] - history.loss[-2]) < tol
    )


def train(
    model: Module,
    X: Sequence[Sequence[float]],
    y: Sequence[Any],
    *,
    loss: str | LossFn = "hinge",
    steps: int | None = None,
    epochs: int | None = None,
    lr: LearningRate = 0.1,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    optimizer: SGD | None = None,
    batch_size: int | None = None,
    seed: int | random.Random | None = 0,
    l2: float = 0.0,
    tol: float | None = None,
    progress: bool | None = None,
    callback: Callable[[int, History], bool | None] | None = None,
    compiled: bool = False,
    batched: bool = False,
    test: tuple[Sequence[Sequence[float]], Sequence[Any]] | None = None,
    sync_every: int | None = None,
    blas_threads: int | None = 1,
) -> History:
    """Train `model` on X, y with gradient descent and return the `History`.

    Full batch by default (one step = one epoch, as micrograd's demo);
    `batch_size` draws seeded, shuffled mini-batches and an epoch is then
    ceil(n / batch_size) steps. Give `steps` or `epochs` (default 100
    steps). `lr` is a number or a schedule `lr(step)`. `l2` adds
    l2 * sum(p*p) to the loss. With `tol`, training stops once the loss
    changes by less than `tol` between two steps (the `precision` of
    Brandon Brown's backpropagation tutorial).
    `callback(step, history)` runs after every step; returning True stops.
    A given `optimizer` replaces `lr`, `momentum` and `weight_decay`.
    `compiled=True` traces the full-batch loss once and replays it as float
    code every step (`autograd_core.compiled`): the same losses bit for bit,
    many times faster. Full batch only; a loss that compares Values
    (softmax-ce takes the max logit) raises `TracingError`.
    `batched=True` traces ONE example's loss and replays it over each
    (mini-)batch with NumPy arrays (`autograd_core.compile_batched`): the
    engine's losses and gradients to 1e-12, mini-batches allowed, every
    built-in loss (the l2 term is added once per step, outside the mean).
    `test=(X_test, y_test)` records held-out accuracy in the history.

    With `batched=True` and nn's `SGD` (the default optimizer), the
    parameters and SGD's momentum buffer live in NumPy float64 arrays while
    training runs, so a step has no Python loop over parameters. The Values
    are written back (`p.data`; `p.grad`, the last step's gradient; the
    optimizer's `steps` and momentum buffer), and are then exactly what the
    same steps through `.data` would have left:
    - when `train` returns, or raises (a NaN loss: those of the previous step);
    - with `sync_every=None` (the default), right before every `callback`
      call, so a callback reads current Values, and they are read back
      after it, so what it writes into `p.data` is trained on (two passes
      over the parameters on each step, only when there is a callback);
    - with `sync_every=N`, after every N-th step (before that step's
      callback, and read back after it) only: a callback on other steps sees
      the Values of the last write-back. Pass `sync_every` large to keep a
      timing callback off the parameters.
    Between write-backs the Values keep older numbers, and a number written
    into `p.data` then is not read. Another optimizer (a subclass of SGD, or
    one over other parameters) updates the Values every step as before.
    The losses and gradients equal the engine's to 1e-12 relative; the
    parameters after many steps drift from the engine's by the rounding of
    the regrouped sums (NumPy adds pairwise, the engine in order; within
    1e-9 relative after a dozen steps in the tests), and equal bit for bit
    those of the same replay updating the Values.
    `blas_threads` (batched only): BLAS threads NumPy may use while
    training, 1 by default (the batches are small: more threads cost more
    than they bring on a shared machine); None leaves BLAS as it is. It is
    set with threadpoolctl when that is installed, otherwise left alone
    (`python -m nn` also sets OPENBLAS_NUM_THREADS before NumPy loads).
    """
    X, y = _check_data(X, y)
    loss_fn, loss_name = _loss_function(loss)
    batch_size, total = _check_schedule(len(X), steps, epochs, batch_size)
    tol, l2 = _check_tol_and_l2(tol, l2)
    if sync_every is not None:
        sync_every = positive_int(sync_every, "sync_every")
    if blas_threads is not None:
        blas_threads = positive_int(blas_threads, "blas_threads")
    params = model.parameters()
    if optimizer is None:
        optimizer = SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    batches = _batches(X, y, batch_size, make_rng(seed))
    if test is not None:
        test = _check_data(*test)
    limits = _blas_limits(blas_threads if batched else None)  # tracing and the final one too
    try:
        run = _Steps(
            model,
            optimizer,
            (loss_fn, loss_name),
            (X, y),
            l2,
            params,
            compiled=compiled,
            batched=batched,
            full_batch=batch_size is None,
        )
    except BaseException:
        if limits is not None:
            limits.restore_original_limits()
        raise

    history = History()
    bar = _progress_bar(progress, total)
    try:
        for k in range(total):
            # A step's graph has no reference cycles and dies inside the step: the
            # cyclic collector has nothing to find there (engine.collector_paused).
            with collector_paused():
                Xb, yb, index = next(batches)
                if test is not None:  # before the update: the parameters of this step's forward
                    history.test_accuracy.append(run.accuracy(*test))
                value, acc = run.step(k, Xb, yb, index)
            history.loss.append(value)
            history.accuracy.append(acc)
            _show_progress(bar, value, acc)
            synced = (callback is not None) if sync_every is None else (k + 1) % sync_every == 0
            if synced:
                run.sync()  # batched: the Values, as the steps through them would have left them
            stop = callback is not None and callback(k, history)
            if synced and callback is not None:
                run.reload()  # what the callback wrote into .data is what the next step reads
            if stop or _converged(history, tol):
                history.stopped_early = k + 1 < total
                break
        history.final_loss, history.final_accuracy = run.evaluate(X, y)
        if test is not None:
            history.final_test_loss, history.final_test_accuracy = run.evaluate(*test)
    finally:
        run.sync()  # also when a step raised: the parameters of the last update
        if bar is not None:
            bar.close()
        if limits is not None:
            limits.restore_original_limits()
    return history
