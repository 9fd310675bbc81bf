"""autograd's modules import one another in layers, without a circle (issue 10): node, mode and inplace at the
bottom, then tensor, engine, ops, functional, graph. Tensor's operators reach the layers above it through
`autograd.tensor._bind`, run once by the package's ``__init__``."""

import ast
from pathlib import Path

import autograd
from autograd import tensor

PACKAGE = Path(autograd.__file__).resolve().parent


def _imports(path: Path) -> set:
    """The package modules a module imports at its top level (``from .x import y``, ``from . import x``)."""
    found = set()
    for statement in ast.parse(path.read_text()).body:
        if isinstance(statement, ast.ImportFrom) and statement.level == 1:
            if statement.module:
                found.add(statement.module.split(".")[0])
            else:
                found.update(alias.name for alias in statement.names)
    return found


def test_the_modules_of_autograd_import_one_another_without_a_circle():
    graph = {path.stem: _imports(path) for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    order, done, visiting = [], set(), set()

    def visit(module, trail):
        assert module not in visiting, f"import circle: {' -> '.join(trail + [module])}"
        if module in done:
            return
        visiting.add(module)
        for imported in sorted(graph.get(module, ())):
            visit(imported, trail + [module])
        visiting.discard(module)
        done.add(module)
        order.append(module)

    for module in sorted(graph):
        visit(module, [])
    assert graph["tensor"] <= {"node", "mode", "inplace"}  # only the layers below it (see tensor._bind)
    assert order.index("tensor") < order.index("engine") < order.index("ops") < order.index("functional")


def test_tensor_operators_are_bound_to_the_layers_above_it():
    from autograd import engine, functional, graph, ops
    assert (tensor._F, tensor._ops, tensor._graph) == (functional, ops, graph)
    assert tensor._apply is engine.apply
    x, y = tensor.Tensor(6.0), tensor.Tensor(3.0)
    for name, op_name in tensor._BINARY.items():
        op = getattr(ops, op_name)
        for method, (a, b) in ((f"__{name}__", (x, y)), (f"__r{name}__", (y, x))):
            if op_name == "MATMUL":
                a, b = tensor.Tensor([a.item()]), tensor.Tensor([b.item()])
            out = getattr(tensor.Tensor, method)(a, b)
            assert out.node.op is op
            assert list(out.node.inputs) == ([b, a] if method.startswith("__r") else [a, b])  # reflected: swapped
            assert getattr(tensor.Tensor, method).__name__ == method
