"""`check_primitive`: one primitive, checked in every interpreter it runs in.

A primitive's rule runs in several interpreters: on floats in the engine, on
Values under `backward(create_graph=True)`, as generated code in compiled
replay, on NumPy arrays in batched replay, and as ONNX nodes in ONNX Runtime.
Each one can break on its own (a rule that branches with `if` works on floats
and nowhere else). `check_primitive` draws inputs from the primitive's domain
with Hypothesis and checks, per interpreter:

- `engine`: gradients from `backward()` against central differences;
- `create_graph`: first derivatives under `create_graph` equal the engine's,
  and second derivatives match central differences of the first;
- `compiled`: `compile_function` replay equals the engine bit for bit;
- `batched`: `compile_batched` replay (NumPy) equals the engine (mean value
  and mean gradients over the drawn row and a fixed reference row) to
  `replay_rtol`;
- `onnxruntime`: the forward value exported with `export_onnx` and run in ONNX
  Runtime equals the engine's to `replay_rtol` (an exported model computes
  values only, so only values are compared).

The report says, per interpreter: passed, failed (with the smallest failing
input Hypothesis finds) or cannot run here (and why: NumPy or ONNX Runtime not
installed, a rule that branches with `if`, an ONNX op without a float64 kernel
in ONNX Runtime). Hypothesis is imported only when this runs: it is the
`testing` extra.
"""

from __future__ import annotations

import math
import numbers
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from autograd_core import ops
from autograd_core.engine import OPS, Op, Value, enable_grad
from autograd_core.errors import cut, describe, type_name
from autograd_core.optional import require
from autograd_core.testing.grads import DerivativeError, check_grads

__all__ = [
    "INTERPRETERS",
    "InterpreterResult",
    "PrimitiveCheckError",
    "PrimitiveReport",
    "check_primitive",
]

#: Every interpreter `check_primitive` knows, in the order it checks them.
INTERPRETERS = ("engine", "create_graph", "compiled", "batched", "onnxruntime")

PASSED, FAILED, CANNOT_RUN = "passed", "failed", "cannot run"
DEFAULT_DOMAIN = (-2.0, 2.0)  # per operand, for a primitive that declares none


@dataclass(frozen=True)
class InterpreterResult:
    """What one interpreter gave: `status` is "passed", "failed" or "cannot run".

    `detail` says what disagreed (failed), why it cannot run, or how many
    inputs passed; `inputs` is the smallest failing input found (failed only).
    """

    interpreter: str
    status: str
    detail: str
    inputs: tuple[float, ...] | None = None

    def __str__(self) -> str:
        at = "" if self.inputs is None else f" at inputs {list(self.inputs)!r}"
        return f"{self.interpreter}: {self.status}{at}: {self.detail}"


class PrimitiveCheckError(AssertionError):
    """Raised by `PrimitiveReport.raise_if_failed`; `.report` is the whole report."""

    def __init__(self, message: str, report: PrimitiveReport) -> None:
        super().__init__(message)
        self.report = report


class PrimitiveReport:
    """Per interpreter, what `check_primitive` found; `report["batched"]` is one result."""

    def __init__(self, name: str, results: Sequence[InterpreterResult]) -> None:
        self.name = name
        self.results = {r.interpreter: r for r in results}

    def __getitem__(self, interpreter: str) -> InterpreterResult:
        return self.results[interpreter]

    def __iter__(self) -> Any:
        return iter(self.results.values())

    def _with(self, status: str) -> list[InterpreterResult]:
        return [r for r in self.results.values() if r.status == status]

    @property
    def passed(self) -> list[InterpreterResult]:
        return self._with(PASSED)

    @property
    def failed(self) -> list[InterpreterResult]:
        return self._with(FAILED)

    @property
    def cannot_run(self) -> list[InterpreterResult]:
        return self._with(CANNOT_RUN)

    @property
    def ok(self) -> bool:
        """No interpreter failed (some may not have run)."""
        return not self.failed

    def __str__(self) -> str:
        lines = [f"check_primitive({self.name!r}):"]
        lines += [f"  {r}" for r in self.results.values()]
        return "\n".join(lines)

    def __repr__(self) -> str:
        counts = ", ".join(f"{r.interpreter}={r.status!r}" for r in self.results.values())
        return f"PrimitiveReport({self.name!r}, {counts})"

    def raise_if_failed(self, strict: bool = False) -> None:
        """Raise `PrimitiveCheckError` if an interpreter failed (or, if `strict`, could not run)."""
        bad = self.failed + (self.cannot_run if strict else [])
        if bad:
            what = "failed or could not run" if strict else "failed"
            names = ", ".join(r.interpreter for r in bad)
            raise PrimitiveCheckError(
                f"primitive {self.name!r}: {len(bad)} interpreter(s) {what} ({names})\n{self}",
                self,
            )


# ---------------------------------------------------------------------------
# Which primitive, over which domain.


def _resolve(prim: Any) -> tuple[Op, tuple[tuple[float, float], ...]]:
    """The Op to apply and its declared domain (empty for a user primitive)."""
    if isinstance(prim, str):
        if prim not in OPS:
            raise ValueError(
                f"check_primitive: no built-in primitive named {prim!r}; "
                f"known: {', '.join(sorted(OPS))}"
            )
        prim = OPS[prim]
    if isinstance(prim, ops.Primitive):
        return OPS[prim.name], tuple(prim.domain)
    if isinstance(prim, Op):
        builtin = next((p for p in ops.PRIMITIVES if p.name == prim.name), None)
        if builtin is not None and OPS.get(prim.name) is prim:
            return prim, tuple(builtin.domain)
        # An Op that carries a domain of its own (none do today; see engine.primitive).
        return prim, tuple(getattr(prim, "domain", None) or ())
    raise TypeError(
        "check_primitive needs a primitive: an Op (made with @primitive), an "
        f"ops.Primitive or a built-in's name, got {describe(prim)}"
    )


def _interval(x: Any, what: str) -> tuple[float, float]:
    if (
        not isinstance(x, Sequence)
        or len(x) != 2
        or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in x)
    ):
        raise TypeError(f"check_primitive: {what} must be a (low, high) pair, got {describe(x)}")
    lo, hi = float(x[0]), float(x[1])
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise ValueError(f"check_primitive: {what} must be finite with low <= high, got {x!r}")
    return lo, hi


Interval = tuple[float, float]


def _domain(
    op: Op, declared: tuple[Any, ...], domain: Any, n_operands: int | None
) -> list[Interval]:
    """One (low, high) interval per operand."""
    n = op.arity or n_operands or (len(declared) if declared else None)
    if domain is None:
        if declared:
            return [_interval(d, "the declared domain") for d in declared]
        if n is None:
            raise ValueError(
                f"check_primitive: {op.name!r} takes any number of operands and declares no "
                "domain: pass domain=[(low, high), ...], one pair per operand"
            )
        return [DEFAULT_DOMAIN] * n
    if (
        isinstance(domain, Sequence)
        and len(domain) == 2
        and all(isinstance(v, numbers.Real) for v in domain)
    ):
        if n is None:
            raise ValueError(
                f"check_primitive: {op.name!r} takes any number of operands: pass one "
                "(low, high) pair per operand, or n_operands"
            )
        return [_interval(domain, "domain")] * n
    if not isinstance(domain, Sequence) or isinstance(domain, str):
        raise TypeError(
            "check_primitive: domain must be a (low, high) pair or one per operand, "
            f"got {describe(domain)}"
        )
    pairs = [_interval(d, f"domain[{i}]") for i, d in enumerate(domain)]
    if op.arity is not None and len(pairs) != op.arity:
        raise ValueError(
            f"check_primitive: {op.name!r} takes {op.arity} operand(s), "
            f"domain gives {len(pairs)} interval(s)"
        )
    return pairs


# ---------------------------------------------------------------------------
# The interpreters. Each `prepare_*` returns a check of one input row (raising
# _Mismatch when it disagrees) or raises _CannotRun saying why.


class _CannotRun(Exception):
    pass


class _Mismatch(AssertionError):
    pass


def _same(a: float, b: float) -> bool:
    """Bit for bit: NaN equals NaN, 0.0 differs from -0.0."""
    if a != a or b != b:
        return a != a and b != b
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def _number(x: Any) -> float:
    """A gradient as a float: the data of a Value (under create_graph), else the number."""
    return float(x.data) if isinstance(x, Value) else float(x)


def _close(a: float, b: float, rtol: float) -> bool:
    if a != a or b != b:
        return a != a and b != b
    return a == b or abs(a - b) <= rtol * max(abs(b), 1.0)


class _Checks:
    """The primitive, its domain and tolerances, and one check per interpreter."""

    def __init__(
        self,
        op: Op,
        domain: list[Interval],
        settings: dict[str, float],
        assume: Callable[..., bool] | None,
    ) -> None:
        self.op = op
        self.domain = domain
        self.n = len(domain)
        self.s = settings
        self.ref = self._reference(assume)

    def _reference(self, assume: Callable[..., bool] | None) -> list[float]:
        """The point every replay is traced at, and the second row of every batch.

        Inside the domain, no round numbers (pow(-1, y)), operands apart (no
        ties), and where `assume` holds if some candidate does.
        """
        candidates = [
            [
                lo + ((k + 0.37 + 0.23 * i) % 1.0) * (hi - lo)
                for i, (lo, hi) in enumerate(self.domain)
            ]
            for k in (0.0, 0.19, 0.41, 0.67)
        ]
        for point in candidates:
            if assume is None or assume(*point):
                return point
        return candidates[0]

    def f(self, *vs: Any) -> Value:
        return self.op(*vs)

    def engine(self, xs: list[float]) -> tuple[float, list[float]]:
        with enable_grad():
            vs = [Value(x) for x in xs]
            out = self.op(*vs)
            out.backward()
            return out.data, [float(v.grad) for v in vs]

    # -- engine and create_graph: finite differences ---------------------------

    def prepare_engine(self) -> Callable[[list[float]], None]:
        s = self.s

        def check(xs: list[float]) -> None:
            try:
                check_grads(self.f, xs, 1, eps=s["eps"], atol=s["atol"], rtol=s["rtol"])
            except DerivativeError as e:
                raise _Mismatch(_derivative_detail(e, "backward()")) from None

        return check

    def prepare_create_graph(self) -> Callable[[list[float]], None]:
        s = self.s

        def check(xs: list[float]) -> None:
            _, grads = self.engine(xs)
            with enable_grad():
                vs = [Value(x) for x in xs]
                self.op(*vs).backward(create_graph=True)
                firsts = [_number(v.grad) for v in vs]
            for i, (a, b) in enumerate(zip(firsts, grads)):
                if not _close(a, b, s["replay_rtol"]):
                    raise _Mismatch(
                        f"d out/d operand {i}: {a!r} under create_graph, {b!r} from backward()"
                    )
            try:
                check_grads(self.f, xs, 2, orders=[2], eps=s["eps"], atol=s["atol"], rtol=s["rtol"])
            except DerivativeError as e:
                raise _Mismatch(_derivative_detail(e, "backward(create_graph=True)")) from None

        return check

    # -- compiled replay: bit for bit ------------------------------------------

    def prepare_compiled(self) -> Callable[[list[float]], None]:
        from autograd_core import compile_function

        try:
            cf = compile_function(self.f, self.ref)
        except Exception as e:
            raise _CannotRun(
                f"compile_function refused it: {type(e).__name__}: {cut(str(e), 300)}"
            ) from None

        def check(xs: list[float]) -> None:
            want_value, want_grads = self.engine(xs)
            value, grads = cf(xs)[:2]
            if not _same(value, want_value):
                raise _Mismatch(f"value {value!r} replayed, {want_value!r} from the engine")
            for i, (a, b) in enumerate(zip(grads, want_grads)):
                if not _same(a, b):
                    raise _Mismatch(f"d out/d operand {i}: {a!r} replayed, {b!r} from the engine")

        return check

    # -- batched replay: NumPy arrays --------------------------------------------

    def prepare_batched(self) -> Callable[[list[float]], None]:
        try:
            np = require("numpy", "batched", "check_primitive's batched interpreter")
        except ImportError as e:
            raise _CannotRun(str(e)) from None
        from autograd_core import compile_batched

        # Each operand is `p_i + x_i` with a parameter p_i = 0: the mean gradient of
        # p_i over the batch is the mean derivative in operand i.
        ps = [Value(0.0, f"p{i}") for i in range(self.n)]

        def per_example(x: list[Value], y: Value) -> Value:
            return self.op(*[p + xi for p, xi in zip(ps, x)])

        try:
            step = compile_batched(per_example, ps, (self.ref, 0.0))
        except Exception as e:
            raise _CannotRun(
                f"compile_batched refused it: {type(e).__name__}: {cut(str(e), 300)}"
            ) from None
        rtol = self.s["replay_rtol"]
        ref_value, ref_grads = self.engine(self.ref)

        def check(xs: list[float]) -> None:
            value, grads = self.engine(xs)
            X = np.array([xs, self.ref], dtype=np.float64)
            got_mean, got_grads = step(X, np.zeros(2))
            # The engine's mean over the batch: (sum of losses) * (1/B).
            mean = (value + ref_value) * 0.5
            if not _close(float(got_mean), mean, rtol):
                raise _Mismatch(
                    f"mean value over rows [inputs, {self.ref!r}]: {float(got_mean)!r} "
                    f"replayed, {mean!r} from the engine"
                )
            for i, a in enumerate(got_grads):
                b = (grads[i] + ref_grads[i]) * 0.5
                if not _close(float(a), b, rtol):
                    raise _Mismatch(
                        f"mean d out/d operand {i} over rows [inputs, {self.ref!r}]: "
                        f"{float(a)!r} replayed, {b!r} from the engine"
                    )

        return check

    # -- ONNX Runtime: forward values ------------------------------------------

    def prepare_onnxruntime(self) -> Callable[[list[float]], None]:
        try:
            np = require("numpy", "onnx", "check_primitive's ONNX Runtime interpreter")
            require("onnx", "onnx", "check_primitive's ONNX Runtime interpreter")
            ort = require("onnxruntime", "onnx", "check_primitive's ONNX Runtime interpreter")
        except ImportError as e:
            raise _CannotRun(str(e)) from None
        from autograd_core import export_onnx

        names = [f"x{i}" for i in range(self.n)]
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, f"{self.op.name}.onnx")
            try:
                export_onnx(self.f, self.ref, path, input_names=names)
            except Exception as e:
                raise _CannotRun(
                    f"export_onnx refused it: {type(e).__name__}: {cut(str(e), 300)}"
                ) from None
            with open(path, "rb") as file:
                model = file.read()
        try:
            session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        except Exception as e:
            text = str(e)
            why = (
                "ONNX Runtime has no float64 kernel for an op it exports"
                if "NOT_IMPLEMENTED" in text
                else "ONNX Runtime cannot load the exported model"
            )
            raise _CannotRun(f"{why}: {cut(text, 300)}") from None
        rtol = self.s["replay_rtol"]
        ref_value = self.engine(self.ref)[0]

        def check(xs: list[float]) -> None:
            value = self.engine(xs)[0]
            feeds = {
                name: np.array([x, r], dtype=np.float64) for name, x, r in zip(names, xs, self.ref)
            }
            (got,) = session.run(None, feeds)
            for row, (a, b) in enumerate(zip(got.tolist(), (value, ref_value))):
                if not _close(a, b, rtol):
                    raise _Mismatch(
                        f"value of row {row}: {a!r} in ONNX Runtime, {b!r} from the engine"
                    )

        return check


def _derivative_detail(e: DerivativeError, source: str) -> str:
    parts = []
    for m in e.mismatches:
        op = "d out/d operand " + " d operand ".join(str(i) for i in m.index)
        if m.order == 2:
            op = f"d2 out/d operand {m.index[0]} d operand {m.index[1]}"
        parts.append(
            f"{op}: {m.analytic!r} from {source}, {m.numeric!r} by finite differences "
            f"(|difference| {abs(m.analytic - m.numeric):.3g} > tolerance {m.tolerance:.3g})"
        )
    return "; ".join(parts)


# ---------------------------------------------------------------------------


def check_primitive(
    prim: Any,
    domain: Any = None,
    examples: Iterable[Sequence[float]] = (),
    *,
    interpreters: Iterable[str] | None = None,
    assume: Callable[..., bool] | None = None,
    n_operands: int | None = None,
    max_examples: int = 50,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    replay_rtol: float = 1e-12,
    derandomize: bool = True,
) -> PrimitiveReport:
    """Check a primitive in every interpreter it can run in; a report per interpreter.

    `prim` is an Op made with `@primitive`, an `ops.Primitive` or a built-in's
    name. Inputs are drawn by Hypothesis from `domain`: a `(low, high)` pair
    for every operand or one pair per operand; by default the primitive's own
    smooth test domain (`ops.Primitive.domain`), or (-2, 2) per operand for a
    primitive that declares none (pass `n_operands` for one of any arity).
    `examples` are input rows always checked too. Keep the domain off kinks
    and domain edges: finite differences need a smooth function. A kink that
    intervals cannot avoid (a tie of `maximum`'s operands) is excluded with
    `assume(*operands) -> bool`: drawn inputs where it is false are discarded.

    Derivatives pass when `|analytic - numeric| <= atol + rtol * |numeric|`
    (central differences, step eps * max(1, |x|)); batched replay and ONNX
    Runtime must equal the engine to `replay_rtol` relative (absolute below
    1); compiled replay bit for bit. `interpreters` picks some of
    `INTERPRETERS`; `max_examples` is Hypothesis's budget per interpreter;
    `derandomize=False` draws new inputs each run. A failure is shrunk to the
    smallest failing input Hypothesis finds. Call `report.raise_if_failed()`
    to assert; `strict=True` also refuses interpreters that could not run.
    It runs Hypothesis itself: call it from a plain test, not inside `@given`.
    """
    hypothesis = require("hypothesis", "testing", "check_primitive")
    from hypothesis import strategies as st

    op, declared = _resolve(prim)
    pairs = _domain(op, declared, domain, n_operands)
    chosen = list(INTERPRETERS if interpreters is None else interpreters)
    for name in chosen:
        if name not in INTERPRETERS:
            raise ValueError(
                f"check_primitive: unknown interpreter {name!r}; known: {', '.join(INTERPRETERS)}"
            )
    rows = [_row(ex, len(pairs)) for ex in examples]
    if assume is not None and not callable(assume):
        raise TypeError(f"check_primitive: assume must be callable, got {describe(assume)}")
    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 1:
        raise ValueError(f"check_primitive: max_examples must be an int >= 1, got {max_examples!r}")
    settings = {"eps": eps, "atol": atol, "rtol": rtol, "replay_rtol": replay_rtol}
    checks = _Checks(op, pairs, settings, assume)
    strategy = st.tuples(*[st.floats(lo, hi, allow_nan=False) for lo, hi in pairs])
    run_settings = hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=derandomize,
        report_multiple_bugs=False,
        suppress_health_check=list(hypothesis.HealthCheck),
        verbosity=hypothesis.Verbosity.quiet,
    )
    results = []
    for name in chosen:
        try:
            check = getattr(checks, f"prepare_{name}")()
        except _CannotRun as e:
            results.append(InterpreterResult(name, CANNOT_RUN, str(e)))
            continue
        results.append(_search(hypothesis, run_settings, strategy, rows, name, check, assume))
    return PrimitiveReport(op.name, results)


def _row(example: Any, n: int) -> list[float]:
    if isinstance(example, numbers.Real):
        example = [example]
    if not isinstance(example, Sequence) or len(example) != n:
        raise ValueError(
            f"check_primitive: each example must be {n} number(s), one per operand, "
            f"got {describe(example)}"
        )
    for x in example:
        if isinstance(x, bool) or not isinstance(x, numbers.Real):
            raise TypeError(f"check_primitive: an example holds {describe(x)}, not a number")
    return [float(x) for x in example]


class _Failure(Exception):
    def __init__(self, inputs: tuple[float, ...], detail: str) -> None:
        super().__init__(detail)
        self.inputs = inputs
        self.detail = detail


def _search(
    hypothesis: Any,
    run_settings: Any,
    strategy: Any,
    rows: list[list[float]],
    name: str,
    check: Callable[[list[float]], None],
    assume: Callable[..., bool] | None,
) -> InterpreterResult:
    """Run `check` on the examples and on Hypothesis's draws; the result, shrunk if it failed."""
    count = [0]

    def test(xs: tuple[float, ...]) -> None:
        if assume is not None:
            hypothesis.assume(assume(*xs))
        count[0] += 1
        try:
            check(list(xs))
        except _Mismatch as e:
            raise _Failure(tuple(xs), str(e)) from None
        except Exception as e:  # the interpreter raised where the engine did not, or both did
            raise _Failure(tuple(xs), f"raised {type_name(e)}: {cut(str(e), 300)}") from None

    wrapped = hypothesis.given(strategy)(test)
    for row in reversed(rows):
        wrapped = hypothesis.example(tuple(row))(wrapped)
    wrapped = run_settings(wrapped)
    try:
        wrapped()
    except _Failure as e:
        return InterpreterResult(name, FAILED, e.detail, e.inputs)
    except hypothesis.errors.Unsatisfiable:
        count[0] = 0
    if count[0] == 0:
        return InterpreterResult(
            name, CANNOT_RUN, "no input was checked: `assume` rejected every drawn input"
        )
    return InterpreterResult(name, PASSED, f"{count[0]} input(s) checked")
