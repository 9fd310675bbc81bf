"""The shopping-bill demos print the seed's numbers."""

import pytest

from demos import apple, apple_orange


def test_apple_demo_prints_seed_price_and_derivatives(capsys):
    bill = apple.main([])
    printed = capsys.readouterr().out
    assert "price: 220" in printed
    assert bill["price"].item() == pytest.approx(220)
    assert bill["apple"].grad.item() == pytest.approx(2.2)
    assert bill["apple_num"].grad.item() == pytest.approx(110)
    assert bill["tax"].grad.item() == pytest.approx(200)
    assert bill["apple_price"].grad.item() == pytest.approx(1.1)


def test_apple_orange_demo_prints_seed_price_and_derivatives(capsys):
    bill = apple_orange.main([])
    printed = capsys.readouterr().out
    assert "price: 715" in printed
    expected = {"apple_num": 110, "apple": 2.2, "orange": 3.3, "orange_num": 165, "tax": 650}
    for name, value in expected.items():
        assert bill[name].grad.item() == pytest.approx(value), name
        assert f"d price / d {name}: {value:g}" in printed


def test_apple_demo_follows_its_arguments():
    bill = apple.main(["--apple", "50", "--apple-num", "4", "--tax", "1.0"])
    assert bill["price"].item() == pytest.approx(200)
    assert bill["tax"].grad.item() == pytest.approx(200)
    assert bill["apple"].grad.item() == pytest.approx(4)
