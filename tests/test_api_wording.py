"""What the API reference tells a user: its docstrings speak of "the book", never of "the seed" (the notes this
project grew from, which a user has never seen). "The seed gradient" (backward's starting gradient) and a random
seed are other things and stay.

The objects checked are those docs/api/index.md documents: each listed module, its public members (its
``__all__``, as autosummary reads it) and their methods and properties.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path


API_INDEX = Path(__file__).resolve().parent.parent / "docs" / "api" / "index.md"
THE_SEED = re.compile(r"\bthe seed(?:'s)?\b(?! gradient)|\bseed's\b", re.IGNORECASE)


def documented_modules() -> list[str]:
    text = API_INDEX.read_text(encoding="utf-8")
    block = text.split(".. autosummary::", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.splitlines() if re.fullmatch(r"\s+[a-z_.]+", line)]


def documented_docstrings():
    for module_name in documented_modules():
        module = importlib.import_module(module_name)
        yield module_name, inspect.getdoc(module) or ""
        names = getattr(module, "__all__", [n for n in vars(module) if not n.startswith("_")])
        for name in names:
            member = getattr(module, name)
            qualified = f"{module_name}.{name}"
            if inspect.ismodule(member):
                continue  # listed in the index on its own when documented
            yield qualified, inspect.getdoc(member) or ""
            if inspect.isclass(member):
                for attr, value in vars(member).items():
                    if not attr.startswith("_") and (inspect.isfunction(value) or isinstance(value, property)):
                        yield f"{qualified}.{attr}", inspect.getdoc(value) or ""


def test_api_index_lists_the_three_packages():
    assert {"autograd", "nn", "viz", "nn.compat"} <= set(documented_modules())


def test_api_docstrings_say_the_book_not_the_seed():
    offending = {name: THE_SEED.search(doc).group() for name, doc in documented_docstrings()
                 if THE_SEED.search(doc)}
    assert offending == {}
