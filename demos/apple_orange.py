"""The book's second shopping bill as a recorded graph: 2 apples at 100, 3 oranges at 150, tax 1.1.

Prints the price (715) and every derivative (d/dapple_num 110, d/dapple 2.2, d/dorange 3.3,
d/dorange_num 165, d/dtax 650) from one backward pass; the add node passes its gradient to both
branches unchanged, the mul nodes swap their inputs, as the book's figure shows.

    python -m demos.apple_orange [--apple 100] [--apple-num 2] [--orange 150] [--orange-num 3] [--tax 1.1]
"""

from __future__ import annotations

import argparse

from autograd import Tensor


def apple_orange_bill(apple=100.0, apple_num=2.0, orange=150.0, orange_num=3.0, tax=1.1,
                      backward: bool = True) -> dict:
    """Build the bill, backpropagate from the price (unless ``backward`` is False), return every Tensor by name."""
    values = (("apple", apple), ("apple_num", apple_num), ("orange", orange),
              ("orange_num", orange_num), ("tax", tax))
    inputs = {name: Tensor(value, name=name) for name, value in values}
    apple_price = inputs["apple"] * inputs["apple_num"]
    orange_price = inputs["orange"] * inputs["orange_num"]
    all_price = apple_price + orange_price
    price = all_price * inputs["tax"]
    for name, t in (("apple_price", apple_price), ("orange_price", orange_price),
                    ("all_price", all_price), ("price", price)):
        t.name = name
    if backward:
        price.backward()
    return {"price": price, "apple_price": apple_price, "orange_price": orange_price,
            "all_price": all_price, **inputs}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apple", type=float, default=100.0, help="price of one apple (100)")
    parser.add_argument("--apple-num", type=float, default=2.0, help="number of apples (2)")
    parser.add_argument("--orange", type=float, default=150.0, help="price of one orange (150)")
    parser.add_argument("--orange-num", type=float, default=3.0, help="number of oranges (3)")
    parser.add_argument("--tax", type=float, default=1.1, help="tax factor (1.1)")
    args = parser.parse_args(argv)
    bill = apple_orange_bill(args.apple, args.apple_num, args.orange, args.orange_num, args.tax)
    print(f"price: {bill['price'].item():g}")
    for name in ("apple_num", "apple", "orange", "orange_num", "tax"):
        print(f"d price / d {name}: {bill[name].grad.item():g}")
    return bill


if __name__ == "__main__":
    main()
