"""The command line: `python -m nn train` (or `autograd-train`) and `python -m nn predict`.

With no options it reproduces micrograd's demo: two moons (100 points,
noise 0.1), MLP(2, [16, 16, 1]) with relu, hinge loss + 1e-4 * L2, 100 steps
of SGD with learning rate 1.0 - 0.9*k/100. It shows progress, prints the
final loss and accuracy, and writes to `--out`: weights.json, loss.png,
decision_boundary.png (2-D classification only) and network.svg; with --html
also explorer.html, a page to step through training and backpropagation; with
--onnx also model.onnx, the trained model for ONNX Runtime.

Bad options and values end with one line on stderr and exit status 2 (an
unknown option with the nearest known one), and so do an option whose extra
is not installed and a run whose estimated memory exceeds
`cli_checks.MEMORY_LIMIT` (2 GiB) unless `--force` is given; a run that fails
(a loss that overflows, a folder that cannot be written, memory that runs out)
ends with one line and status 1. Never a traceback. Every output is checked
writable before training. The run writes `manifest.json`, the list of the
files it wrote, and removes the files an earlier run listed there that this
run did not write, so that `--out` always describes one run.

`python -m nn predict --weights out/weights.json X1 X2` rebuilds the saved
model with `nn.load` and prints the predicted class (for a classifier, as the
manifest beside the weights says or `--loss` tells) or its outputs.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from nn import cli_checks, explorer_page, plots
from nn.data import DATASETS, train_test_split
from nn.layers import ACTIVATIONS, INITS, MLP
from nn.losses import LOSSES
from nn.train import History, train

__all__ = ["build_parser", "build_train_parser", "main", "train_main"]

CLASSIFICATION_LOSSES = ("hinge", "bce", "bce-logits", "softmax-ce")
TRAIN_DESCRIPTION = (
    "Train an MLP with SGD on a built-in data set. The defaults reproduce micrograd's "
    "demo: two moons, MLP(2, [16, 16, 1]), hinge loss + 1e-4 L2, 100 steps, "
    "learning rate 1.0 - 0.9*k/100. Writes weights.json, loss.png, "
    "decision_boundary.png and network.svg to --out."
)


class UsageError(Exception):
    """A bad option or value: one line on stderr, exit status 2."""


# Options of other tools that people type, and ours that do the same.
SYNONYMS = {
    "--epochs": "--steps",
    "--iterations": "--steps",
    "--iters": "--steps",
    "--dataset": "--data",
    "--learning-rate": "--lr",
    "--learning_rate": "--lr",
    "--batch": "--batch-size",
    "--batch_size": "--batch-size",
    "--hidden": "--layers",
    "--output": "--out",
    "--output-dir": "--out",
    "--weight-decay": "--l2",
    "--test-size": "--test-fraction",
    "--model": "--weights",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}{self._suggestion(message)} (see --help)")

    def _suggestion(self, message: str) -> str:
        """'; did you mean --steps?' for an unknown option close to a known one (or a synonym)."""
        match = re.match(r"unrecognized arguments: (\S+)", message)
        if not match:
            return ""
        typed = match.group(1).split("=", 1)[0]
        known = sorted(_long_options(self))
        guess = SYNONYMS.get(typed)
        if guess not in known:
            close = difflib.get_close_matches(typed, known, n=1, cutoff=0.6)
            guess = close[0] if close else None
        return f"; did you mean {guess}?" if guess else ""


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except where there is none or the help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def _long_options(parser: argparse.ArgumentParser) -> set[str]:
    """Every --option of `parser` and of its subcommands."""
    found: set[str] = set()
    for action in parser._actions:
        found.update(o for o in action.option_strings if o.startswith("--"))
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _long_options(sub)
    return found


# ---------------------------------------------------------------------------
# Option values.


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return n


def _blas_threads(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return n


def _pin_blas(args: argparse.Namespace) -> None:
    """One BLAS thread by default: small batches gain nothing from more on a shared machine.

    Through the environment, read once when NumPy loads (so only before
    that); `train(blas_threads=...)` sets it again with threadpoolctl.
    """
    threads = getattr(args, "blas_threads", 0)
    if threads and "numpy" not in sys.modules:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)


def _points(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = None
    if n is None or n < 2:
        raise argparse.ArgumentTypeError(f"expected an integer >= 2, got {text!r}")
    return n


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _number(low: float, low_ok: bool) -> Callable[[str], float]:
    def parse(text: str) -> float:
        x = _float(text)
        if not math.isfinite(x) or x < low or (x == low and not low_ok):
            bound = f">= {low:g}" if low_ok else f"> {low:g}"
            raise argparse.ArgumentTypeError(f"expected a finite number {bound}, got {text!r}")
        return x

    return parse


def _finite(text: str) -> float:
    x = _float(text)
    if not math.isfinite(x):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return x


def _layers(text: str) -> list[int]:
    parts = text.split(",")
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected layer sizes like 16,16,1 (positive integers, comma-separated), got {text!r}"
        ) from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


def _lr(text: str) -> str | float:
    if text in ("demo", "auto"):
        return text
    try:
        return _number(0.0, False)(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected 'auto', 'demo' (1.0 - 0.9*k/steps) or a number > 0, got {text!r}"
        ) from None


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None


# ---------------------------------------------------------------------------
# The parser.


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The argument parser (exposed so docs and tests can read the options)."""
    parser = _Parser(
        prog=prog,
        description="Train small neural networks built on autograd_core.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    t = commands.add_parser(
        "train",
        help="train an MLP on a built-in data set (defaults: micrograd's two-moons demo)",
        description=TRAIN_DESCRIPTION,
        formatter_class=_Help,
    )
    _train_options(t)
    p = commands.add_parser(
        "predict",
        help="print a saved model's output on one input",
        description=(
            "Load a model saved by `train` (or Module.save) with nn.load and print, for one "
            "input, the predicted class of a classifier or the outputs of a regression model. "
            "How the model was trained comes from manifest.json beside the weights (written "
            "by train) or from --loss; without either it prints the outputs. Negative inputs "
            "need no '--'."
        ),
        formatter_class=_Help,
    )
    p.add_argument(
        "--weights",
        required=True,
        metavar="FILE",
        help="weights file written by train (e.g. out/weights.json)",
    )
    p.add_argument(
        "--loss",
        choices=LOSSES,
        default=None,
        help="the loss the model was trained with, when no manifest.json beside the weights "
        "says so: hinge and bce-logits split the score at 0, bce at 0.5, softmax-ce takes "
        "the largest output, mse and sse are regression (outputs printed)",
    )
    p.add_argument(
        "--scores",
        action="store_true",
        help="also print the model's outputs after the class",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        type=_finite,
        metavar="X",
        help="the input numbers, as many as the model has inputs",
    )
    return parser


def build_train_parser(prog: str = "autograd-train") -> argparse.ArgumentParser:
    """The parser of the `autograd-train` command: `python -m nn train`'s options, no subcommand."""
    parser = _Parser(prog=prog, description=TRAIN_DESCRIPTION, formatter_class=_Help)
    _train_options(parser)
    parser.set_defaults(command="train")
    return parser


def _train_options(t: argparse.ArgumentParser) -> None:
    """The options of `train`, by theme, in the order --help lists them."""
    _data_options(t)
    _model_options(t)
    _training_options(t)
    _run_options(t)


def _data_options(t: argparse.ArgumentParser) -> None:
    """The data set and its size and noise."""
    t.add_argument(
        "--data",
        default="moons",
        choices=list(DATASETS),
        metavar="NAME",
        help="data set: " + ", ".join(DATASETS) + " (digits needs the digits extra)",
    )
    t.add_argument(
        "--n",
        type=_points,
        default=None,
        help="number of points for moons, circles, spirals (default 100)",
    )
    t.add_argument(
        "--noise",
        type=_number(0.0, True),
        default=None,
        help="noise for moons, circles, spirals (default: 0.1 for moons, 0.05 otherwise)",
    )


def _model_options(t: argparse.ArgumentParser) -> None:
    """The model: layer sizes, activations and initialisation."""
    t.add_argument(
        "--layers",
        type=_layers,
        default=None,
        metavar="SIZES",
        help="neurons per layer, comma-separated, the last being the output layer "
        "(default 16,16,1, or 32,10 for digits; softmax-ce needs one output per class)",
    )
    t.add_argument(
        "--activation", default="relu", choices=ACTIVATIONS, help="activation of the hidden layers"
    )
    t.add_argument(
        "--output-activation",
        default="auto",
        choices=("auto", *ACTIVATIONS),
        help="activation of the last layer; auto: sigmoid for bce, else linear",
    )
    t.add_argument(
        "--init",
        default="uniform",
        choices=INITS,
        help="weight initialisation: micrograd's uniform(-1, 1), Xavier/Glorot or He",
    )


def _training_options(t: argparse.ArgumentParser) -> None:
    """The loss and the optimisation, the seed and the held-out part."""
    t.add_argument(
        "--loss",
        default="auto",
        choices=("auto", *LOSSES),
        help="loss; auto: hinge for two classes, softmax-ce for digits, mse for regression "
        "(sleep-study)",
    )
    t.add_argument(
        "--l2",
        type=_number(0.0, True),
        default=1e-4,
        help="weight of the L2 penalty sum(p*p) added to the loss",
    )
    t.add_argument(
        "--lr",
        type=_lr,
        default="auto",
        help="learning rate: a number, 'demo' for 1.0 - 0.9*k/steps at step k, or 'auto': "
        "demo for classification, 0.1 for regression (sleep-study diverges at demo rates)",
    )
    t.add_argument(
        "--momentum", type=_number(0.0, True), default=0.0, help="SGD momentum, in [0, 1)"
    )
    t.add_argument("--steps", type=_positive_int, default=100, help="training steps")
    t.add_argument(
        "--batch-size",
        type=_positive_int,
        default=None,
        help="examples per step (default: all of them, full batch)",
    )
    t.add_argument(
        "--tol",
        type=_number(0.0, True),
        default=None,
        help="stop once the loss changes by less than this between steps",
    )
    t.add_argument(
        "--seed",
        type=_seed,
        default=0,
        help="seed of the data, the initial weights and the batches",
    )
    t.add_argument(
        "--test-fraction",
        type=_number(0.0, True),
        default=None,
        help="fraction of the data held out (seeded by --seed) to report test accuracy "
        "(default 0.2 for digits, 0 for the toy sets, which micrograd trains on whole)",
    )


def _run_options(t: argparse.ArgumentParser) -> None:
    """Where the results go, which extra files, and how the steps run."""
    t.add_argument(
        "--out",
        default="out",
        metavar="DIR",
        help="folder for the output files (made if missing; checked writable before training)",
    )
    t.add_argument(
        "--force",
        action="store_true",
        help="train even when the estimated memory exceeds the "
        f"{cli_checks.format_bytes(cli_checks.MEMORY_LIMIT)} limit",
    )
    t.add_argument(
        "--compiled",
        action="store_true",
        help="trace the full-batch loss once and replay it as float code each step: the "
        "same losses, several times faster (full batch only)",
    )
    t.add_argument(
        "--batched",
        action="store_true",
        help="trace one example's loss and replay it over each batch with NumPy arrays "
        "(mini-batches and every loss work; needs the batched extra)",
    )
    t.add_argument(
        "--blas-threads",
        type=_blas_threads,
        default=1,
        metavar="N",
        help="BLAS threads NumPy may use (--batched; default: 1, faster on small batches; 0 "
        "leaves BLAS as it is); set before NumPy loads (OPENBLAS_NUM_THREADS), and with "
        "threadpoolctl while training",
    )
    t.add_argument(
        "--html",
        action="store_true",
        help="also write explorer.html: loss and accuracy curves, decision boundaries and "
        "the backward pass of one example, at a few recorded steps (one offline page)",
    )
    t.add_argument(
        "--onnx",
        action="store_true",
        help="also write model.onnx (the trained model for ONNX Runtime; needs the onnx extra)",
    )
    t.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (it is shown only on a terminal anyway)",
    )


# ---------------------------------------------------------------------------
# The run.


def _check(args: argparse.Namespace) -> None:
    """Checks that need several options together; raise UsageError."""
    dataset = DATASETS[args.data]
    _check_extras(args)
    _fill_defaults(args, dataset)
    _check_data_model_and_loss(args, dataset)
    _check_run_options(args)
    _check_memory(args, dataset)


def _check_extras(args: argparse.Namespace) -> None:
    """Each option whose package is missing: one line naming the extra, exit status 2."""
    needs = []
    if args.data == "digits":
        needs.append(("--data digits", ["sklearn", "numpy"], "digits"))
    if args.batched:
        needs.append(("--batched", ["numpy"], "batched"))
    if args.onnx:
        # Before training, not after: a long run should not end without its file.
        needs.append(("--onnx", ["onnx", "numpy"], "onnx"))
    for option, modules, extra in needs:
        message = cli_checks.missing_extra(option, modules, extra, importlib.util.find_spec)
        if message:
            raise UsageError(message)


def _examples(args: argparse.Namespace, dataset: Any) -> int:
    """How many examples the data set gives, before any is held out."""
    return (args.n or 100) if dataset.sized else len(dataset.make()[0])


def _fill_defaults(args: argparse.Namespace, dataset: Any) -> None:
    """Replace each `auto` (or unset) option by what fits the data set and the loss."""
    if args.loss == "auto":
        args.loss = (
            "mse" if dataset.is_regression else ("hinge" if dataset.classes == 2 else "softmax-ce")
        )
    if args.layers is None:
        args.layers = [16, 16, 1] if dataset.classes == 2 else [32, dataset.classes]
    if args.test_fraction is None:
        args.test_fraction = 0.2 if args.data == "digits" else 0.0
    if args.lr == "auto":
        args.lr = 0.1 if dataset.is_regression else "demo"
    if args.output_activation == "auto":
        args.output_activation = "sigmoid" if args.loss == "bce" else "linear"


def _check_data_model_and_loss(args: argparse.Namespace, dataset: Any) -> None:
    """The data set, the last layer, the loss and the optimiser must fit together."""
    if dataset.classes > 2 and args.loss != "softmax-ce":
        raise UsageError(
            f"{args.data} has {dataset.classes} classes: use --loss softmax-ce "
            f"(with {dataset.classes} outputs)"
        )
    if not args.test_fraction < 1:
        raise UsageError(f"--test-fraction must be in [0, 1), got {args.test_fraction:g}")
    if args.test_fraction:
        n = _examples(args, dataset)
        n_test = round(args.test_fraction * n)
        if not 0 < n_test < n:
            raise UsageError(
                f"--test-fraction {args.test_fraction:g} of {n} examples holds out {n_test} "
                f"and leaves {n - n_test} for training; both need at least one"
            )
    if dataset.is_regression and args.loss in CLASSIFICATION_LOSSES:
        raise UsageError(
            f"--loss {args.loss} needs classes, but {args.data} is a regression data set; "
            "use mse or sse"
        )
    if not dataset.sized and (args.n is not None or args.noise is not None):
        sized = ", ".join(d.name for d in DATASETS.values() if d.sized)
        raise UsageError(f"--n and --noise apply to {sized}, not {args.data}")
    outputs = dataset.classes if args.loss == "softmax-ce" else 1
    if args.layers[-1] != outputs:
        raise UsageError(
            f"--loss {args.loss} needs {outputs} output neuron(s), but --layers ends with "
            f"{args.layers[-1]}"
        )
    if args.momentum >= 1:
        raise UsageError(f"--momentum must be in [0, 1), got {args.momentum:g}")
    if args.loss == "bce" and args.output_activation != "sigmoid":
        raise UsageError(
            "--loss bce needs probabilities: use --output-activation sigmoid (or bce-logits)"
        )


def _check_run_options(args: argparse.Namespace) -> None:
    """--compiled/--batched, --onnx and --out, before any work is done."""
    if args.compiled and args.batched:
        raise UsageError("give --compiled or --batched, not both")
    if args.compiled and args.batch_size is not None:
        raise UsageError("--compiled trains on the full batch: drop --batch-size or --compiled")
    if not args.out:
        raise UsageError("--out is empty: give a folder for the output files (default: out)")
    try:
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise UsageError(f"--out {args.out!r} exists and is not a folder")
    except ValueError as e:  # a NUL byte in the path
        raise UsageError(f"--out {args.out!r} is not a valid path: {e}") from None


def _check_memory(args: argparse.Namespace, dataset: Any) -> None:
    """Refuse a run whose graph would not fit (estimated up front), unless --force."""
    n = _examples(args, dataset)
    need = cli_checks.estimate_memory(dataset.nin, args.layers, n, args.batch_size, args.compiled)
    if need > cli_checks.MEMORY_LIMIT and not args.force:
        sizes = ",".join(map(str, args.layers))
        raise UsageError(
            f"--layers {sizes} on {n} points"
            + (" with --compiled" if args.compiled else "")
            + f" would need about {cli_checks.format_bytes(need)} of memory, more than the "
            f"{cli_checks.format_bytes(cli_checks.MEMORY_LIMIT)} limit: use fewer points (--n), "
            "a smaller --batch-size or smaller --layers, or --force to try anyway"
        )


def _load_data(args: argparse.Namespace) -> tuple[list[Any], list[Any]]:
    dataset = DATASETS[args.data]
    if dataset.is_regression:
        return dataset.make()
    signed = args.loss == "hinge"
    if dataset.sized:
        kwargs: dict[str, Any] = {"n": args.n or 100, "seed": args.seed, "signed": signed}
        if args.noise is not None:
            kwargs["noise"] = args.noise
        return dataset.make(**kwargs)
    return dataset.make(signed=signed)


def _run(args: argparse.Namespace, out: Any, err: Any) -> int:
    """`train`: check the outputs can be written, train, report, write the files."""
    folder = Path(args.out)
    # before training: a folder that cannot be written must not cost the run
    names = ["weights.json", "loss.png", "decision_boundary.png", "network.svg"]
    names += ["model.onnx"] * args.onnx + ["explorer.html"] * args.html
    cli_checks.check_outputs(folder, [*names, cli_checks.MANIFEST])
    previous = cli_checks.read_manifest(folder)
    X, y, test = _split_data(args)
    model = MLP(
        len(X[0]),
        args.layers,
        activation=args.activation,
        output_activation=args.output_activation,
        init=args.init,
        seed=args.seed,
    )
    lr, lr_text = _learning_rate(args)
    l2_text = f" + {args.l2:g} * L2" if args.l2 else ""
    held_out = f", {len(test[0])} held out for testing" if test else ""
    print(
        f"data {args.data} ({len(X)} points{held_out}) | {model!r}, "
        f"{len(model.parameters())} parameters | "
        f"loss {args.loss}{l2_text} | lr {lr_text} | {args.steps} steps",
        file=out,
    )
    recorder = (
        explorer_page.Recorder(model, X, y, steps=args.steps, loss=args.loss) if args.html else None
    )
    started = time.perf_counter()
    history = _train(args, model, X, y, test, lr, recorder)
    _report(args, history, time.perf_counter() - started, len(X), out)
    written = [model.save(folder / "weights.json")]
    if args.onnx:
        written.append(model.export_onnx(folder / "model.onnx"))
    written += _draw_pictures(args, model, X, y, history, recorder, folder, err)
    task = {"data": args.data, "loss": args.loss, "nin": len(X[0]), "nout": args.layers[-1]}
    manifest = cli_checks.write_manifest(folder, written, task)
    removed = cli_checks.remove_stale(folder, previous, written)
    print("wrote " + ", ".join(str(p) for p in [*written, manifest]), file=out)
    if removed:
        print(
            "removed files of an earlier run that this run did not write: " + ", ".join(removed),
            file=out,
        )
    return 0


def _split_data(
    args: argparse.Namespace,
) -> tuple[list[Any], list[Any], tuple[list[Any], list[Any]] | None]:
    """The training examples, and the held-out ones (None without --test-fraction)."""
    X, y = _load_data(args)
    if not args.test_fraction:
        return X, y, None
    X, y, X_test, y_test = train_test_split(X, y, args.test_fraction, seed=args.seed)
    return X, y, (X_test, y_test)


def _learning_rate(args: argparse.Namespace) -> tuple[Any, str]:
    """The learning rate (a number or micrograd's schedule) and how the summary shows it."""
    steps = args.steps
    if args.lr == "demo":
        lr: Any = lambda k: 1.0 - 0.9 * k / steps  # noqa: E731  (micrograd: 1.0 - 0.9*k/100)
        return lr, f"1.0 - 0.9*k/{steps}"
    return args.lr, f"{args.lr:g}"


def _train(
    args: argparse.Namespace,
    model: MLP,
    X: list[Any],
    y: list[Any],
    test: tuple[list[Any], list[Any]] | None,
    lr: Any,
    recorder: Any,
) -> History:
    return train(
        model,
        X,
        y,
        loss=args.loss,
        steps=args.steps,
        lr=lr,
        momentum=args.momentum,
        batch_size=args.batch_size,
        seed=args.seed,
        l2=args.l2,
        tol=args.tol,
        progress=False if args.no_progress else None,
        compiled=args.compiled,
        batched=args.batched,
        blas_threads=args.blas_threads or None,
        test=test,
        callback=recorder,
    )


def _report(args: argparse.Namespace, history: History, seconds: float, n: int, out: Any) -> None:
    """The final loss and accuracy, and the step that first classified every example."""
    acc = (
        "n/a (regression)"
        if history.final_accuracy is None
        else f"{100 * history.final_accuracy:.1f}%"
    )
    if history.final_test_accuracy is not None:
        acc += f"  test accuracy {100 * history.final_test_accuracy:.1f}%"
    early = " (stopped early: loss changed less than --tol)" if history.stopped_early else ""
    print(
        f"final loss {history.final_loss:.6g}  accuracy {acc}  after {history.steps} steps "
        f"in {seconds:.1f} s{early}",
        file=out,
    )
    first = [i for i, a in enumerate(history.accuracy) if a == 1.0]
    if first and args.batch_size is None:
        print(f"100% training accuracy first reached at step {first[0]}", file=out)
    elif first:
        # history.accuracy is measured on each step's mini-batch, not on the training set.
        print(
            f"100% accuracy on a mini-batch ({args.batch_size} of {n} points) first "
            f"reached at step {first[0]}; on the full training set: {acc} after training",
            file=out,
        )


def _draw_pictures(
    args: argparse.Namespace,
    model: MLP,
    X: list[Any],
    y: list[Any],
    history: History,
    recorder: Any,
    folder: Path,
    err: Any,
) -> list[Path]:
    """Draw loss.png, decision_boundary.png, network.svg and explorer.html; the files written.

    A missing optional package (matplotlib, the drawing module) or Graphviz's
    `dot` costs that one picture, with a note on `err`, not the run.
    """
    title = f"{args.data}: {model!r}"
    pictures: list[tuple[str, Callable[[], Path]]] = [
        ("loss.png", lambda: plots.loss_curve(history, folder / "loss.png", title=title))
    ]
    dataset = DATASETS[args.data]
    if dataset.nin == 2 and not dataset.is_regression and args.layers[-1] == 1:
        # scores and logits split at 0; probabilities and 0/1 regression at 0.5
        threshold = 0.0 if args.loss in ("hinge", "bce-logits") else 0.5
        boundary = folder / "decision_boundary.png"

        def draw_boundary() -> Path:
            return plots.decision_boundary(model, X, y, boundary, threshold=threshold, title=title)

        pictures.append((boundary.name, draw_boundary))
    else:
        print(
            "note: decision_boundary.png is drawn only for 2-D classification with one output",
            file=err,
        )
    pictures.append(("network.svg", lambda: plots.network_svg(model, X, folder / "network.svg")))
    if recorder is not None:
        page = folder / "explorer.html"
        pictures.append((page.name, lambda: recorder.write(page, history, title=title)))
    written = []
    for name, draw in pictures:
        try:
            written.append(draw())
        except ImportError as e:
            print(f"note: {name} skipped: {e}", file=err)
        except (RuntimeError, ValueError, subprocess.SubprocessError) as e:
            print(f"note: {name} skipped: {_sentence(e)}", file=err)
    return written


# The class a classifier predicts from its outputs, by the loss it was trained with.
_SPLIT_AT = {"hinge": 0.0, "bce-logits": 0.0, "bce": 0.5}


def _predict(args: argparse.Namespace, out: Any, err: Any) -> int:
    from nn.saved import load

    _check_json(args.weights)
    model = load(args.weights)
    nin = getattr(model, "nin", None)
    if nin != len(args.inputs):
        raise UsageError(
            f"the model in {args.weights} takes {nin} input(s), got {len(args.inputs)}"
        )
    result = model(list(args.inputs))
    outputs = [v.data for v in (result if isinstance(result, list) else [result])]
    scores = " ".join(repr(x) for x in outputs)
    loss = args.loss or _trained_with(Path(args.weights))
    if loss is None:
        print(
            "note: no manifest.json beside the weights says how the model was trained, so "
            "these are its outputs; give --loss (e.g. --loss hinge) for the predicted class",
            file=err,
        )
    if loss is None or loss in ("mse", "sse"):
        print(scores, file=out)
        return 0
    if loss == "softmax-ce" or len(outputs) > 1:
        label = max(range(len(outputs)), key=outputs.__getitem__)
    else:
        label = int(outputs[0] > _SPLIT_AT[loss])
    print(f"class {label}" + (f"  scores {scores}" if args.scores else ""), file=out)
    return 0


def _check_json(path: str) -> None:
    """Refuse a file that is not JSON at all (an image, a binary) with a message saying so."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return  # nn.load says why it cannot read it
    start = head.lstrip()[:1]
    if start and start != b"{":
        kind = next((k for magic, k in _MAGIC.items() if head.startswith(magic)), None)
        what = f"it is a {kind}" if kind else f"it starts with {head[:8]!r}"
        raise ValueError(
            f"{path} is not a JSON weights file ({what}): give the weights.json that "
            "train or Module.save() wrote"
        )


_MAGIC = {
    b"\x89PNG": "PNG image",
    b"<svg": "SVG drawing",
    b"<?xml": "XML file",
    b"<!DOCTYPE html": "HTML page",
    b"<!doctype html": "HTML page",
    b"%PDF": "PDF document",
    b"PK\x03\x04": "ZIP archive",
    b"\x08": "ONNX model or other binary file",
}


def _trained_with(weights: Path) -> str | None:
    """The loss the manifest beside `weights` records, if it lists that file."""
    manifest = cli_checks.read_manifest(weights.parent)
    if manifest is None or weights.name not in manifest["files"]:
        return None
    task = manifest.get("task")
    loss = task.get("loss") if isinstance(task, dict) else None
    return loss if loss in LOSSES else None


def _predict_argv(argv: Sequence[str]) -> list[str]:
    """Put predict's inputs after '--', so that -1e-3 is a number, not an option."""
    argv = list(argv)
    if argv[:1] != ["predict"] or "--" in argv:
        return argv
    options, inputs = argv[:1], []
    i = 1
    while i < len(argv):
        token = argv[i]
        if token in ("--weights", "--loss"):
            options += argv[i : i + 2]
            i += 2
            continue
        if token.startswith("-") and not _is_number(token):
            options.append(token)
        else:
            inputs.append(token)
        i += 1
    return [*options, "--", *inputs] if inputs else options


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _sentence(e: BaseException) -> str:
    """An exception as the sentence it holds: no class name, no '[Errno 2]'."""
    text = re.sub(r"^\[Errno -?\d+\] ", "", str(e)).strip()
    if isinstance(e, OverflowError):
        return f"a number grew too large for a float ({text or 'overflow'})"
    if isinstance(e, ZeroDivisionError):
        return f"a division by zero ({text})" if text else "a division by zero"
    return text or type(e).__name__


def main(argv: Sequence[str] | None = None, *, _train_only: bool = False) -> int:
    """Run the command line with `argv` (default: sys.argv[1:]); returns the exit status."""
    if _train_only:
        parser = build_train_parser("autograd-train")
    else:
        prog = "python -m nn" if Path(sys.argv[0]).name == "__main__.py" else "autograd-train"
        parser = build_parser(prog)
    try:
        raw = sys.argv[1:] if argv is None else argv
        args = parser.parse_args(raw if _train_only else _predict_argv(raw))
        _pin_blas(args)
        if args.command == "predict":
            return _predict(args, sys.stdout, sys.stderr)
        _check(args)
        return _run(args, sys.stdout, sys.stderr)
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else 0
    except UsageError as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print(
            f"{parser.prog}: error: out of memory: the model or the graph of a training step "
            "does not fit; use fewer points (--n), a smaller --batch-size or smaller --layers",
            file=sys.stderr,
        )
        return 1
    except (ArithmeticError, ValueError, TypeError, OSError) as e:
        print(f"{parser.prog}: error: {_sentence(e)}", file=sys.stderr)
        return 1


def train_main(argv: Sequence[str] | None = None) -> int:
    """The `autograd-train` command: `python -m nn train` with the same options."""
    return main(argv, _train_only=True)


if __name__ == "__main__":
    sys.exit(main())
