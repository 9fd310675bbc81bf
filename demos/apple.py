"""The book's first shopping bill as a recorded graph: 2 apples at 100, tax 1.1.

Prints the price (220) and every derivative (d/dapple 2.2, d/dapple_num 110, d/dtax 200), each obtained
from one backward pass instead of the book's hand-written MulLayer.backward calls.

    python -m demos.apple [--apple 100] [--apple-num 2] [--tax 1.1]
"""

from __future__ import annotations

import argparse

from autograd import Tensor


def apple_bill(apple: float = 100.0, apple_num: float = 2.0, tax: float = 1.1, backward: bool = True) -> dict:
    """Build the bill, backpropagate from the price (unless ``backward`` is False), return every Tensor by name."""
    inputs = {name: Tensor(value, name=name) for name, value in
              (("apple", apple), ("apple_num", apple_num), ("tax", tax))}
    apple_price = inputs["apple"] * inputs["apple_num"]
    apple_price.name = "apple_price"
    price = apple_price * inputs["tax"]
    price.name = "price"
    if backward:
        price.backward()
    return {"price": price, "apple_price": apple_price, **inputs}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apple", type=float, default=100.0, help="price of one apple (100)")
    parser.add_argument("--apple-num", type=float, default=2.0, help="number of apples (2)")
    parser.add_argument("--tax", type=float, default=1.1, help="tax factor (1.1)")
    args = parser.parse_args(argv)
    bill = apple_bill(args.apple, args.apple_num, args.tax)
    print(f"price: {bill['price'].item():g}")
    for name in ("apple", "apple_num", "tax"):
        print(f"d price / d {name}: {bill[name].grad.item():g}")
    return bill


if __name__ == "__main__":
    main()
