"""The public surface: every exported name exists, and grad-mode switches nest."""

import threading

import autograd_core
from autograd_core import Value, enable_grad, is_grad_enabled, no_grad


def test_every_exported_name_exists():
    for name in autograd_core.__all__:
        assert hasattr(autograd_core, name), name


def test_enable_grad_records_inside_no_grad_and_restores():
    x = Value(2.0)
    with no_grad():
        assert (x * x).is_leaf
        with enable_grad():
            assert is_grad_enabled()
            y = x * x
        assert not is_grad_enabled()
        assert (x * 3).is_leaf
    assert is_grad_enabled()
    y.backward()
    assert x.grad == 4.0


def test_enable_grad_as_decorator_inside_no_grad():
    @enable_grad()
    def square(v):
        return v * v

    x = Value(3.0)
    with no_grad():
        y = square(x)
    assert not y.is_leaf
    y.backward()
    assert x.grad == 6.0


def test_grad_mode_is_per_thread():
    seen = {}

    def other():
        seen["other"] = is_grad_enabled()

    with no_grad():
        t = threading.Thread(target=other)
        t.start()
        t.join()
        seen["here"] = is_grad_enabled()
    assert seen == {"other": True, "here": False}


def test_importing_the_engine_imports_no_optional_package():
    import subprocess
    import sys

    code = (
        "import sys, autograd_core, nn; "
        "print(sorted(m for m in ('graphviz', 'numpy', 'onnx', 'matplotlib', 'selenium') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
