"""Tests that run Graphviz: `viz.render` files, hostile names through `dot`, `viz.animate_backward` and the demo."""

import os
import re
import shutil
import struct
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

import demos.apple
import demos.apple_orange
from autograd import Tensor, backward_steps, module_scope
from viz import DotNotFoundError, animate_backward, draw_graph, render
from viz.dot import MAX_MODULE_DEPTH
from viz.labels import MAX_NAME_LENGTH, MAX_TITLE_LENGTH
from viz.render import MAX_DPI

SVG_NAMESPACE = "{http://www.w3.org/2000/svg}"


def require_dot_or_skip() -> str:
    """The `dot` path; without it skip with the reason, except under CI=true where it is a failure."""
    path = shutil.which("dot")
    if path is None:
        reason = "Graphviz `dot` is not on PATH (install it: apt-get install graphviz)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true requires it, so this is a failure, not a skip")
        pytest.skip(reason)
    return path


@pytest.fixture
def dot_program():
    return require_dot_or_skip()


@pytest.fixture
def without_dot(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))


def apple_price():
    return demos.apple.apple_bill(backward=False)["price"]


def svg_texts(svg_root) -> list:
    return ["".join(element.itertext()) for element in svg_root.iter(f"{SVG_NAMESPACE}text")]


def test_missing_dot_fails_under_ci_and_skips_locally(monkeypatch, without_dot):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true requires it"):
        require_dot_or_skip()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="apt-get install graphviz"):
        require_dot_or_skip()


def test_render_without_dot_says_how_to_install_it_but_dot_files_still_work(without_dot, tmp_path):
    with pytest.raises(DotNotFoundError, match=r"`dot` was not found on PATH.*apt-get install graphviz.*brew"):
        render(apple_price(), tmp_path / "apple.svg")
    written = render(apple_price(), tmp_path / "apple.dot")
    assert written == tmp_path / "apple.dot"
    assert written.read_text(encoding="utf-8") == draw_graph(apple_price()).source


def test_render_rejects_unknown_suffix_naming_it(tmp_path):
    with pytest.raises(ValueError, match=r"unknown file suffix '\.jpeg'.*\.svg, \.png, \.pdf, \.dot"):
        render(apple_price(), tmp_path / "apple.jpeg")
    with pytest.raises(ValueError, match=r"drawing options \['rankdir'\] cannot apply to a ready Digraph"):
        render(draw_graph(apple_price()), tmp_path / "apple.dot", rankdir="TB")


@pytest.mark.parametrize("dpi, shown", [(-5, "-5"), (0, "0"), (0.0, "0.0"), (float("nan"), "nan"),
                                        (float("inf"), "inf"), (2401, "2401"), (1e300, "1e+300")])
def test_render_refuses_a_dpi_that_is_not_a_positive_finite_number_naming_it(tmp_path, dpi, shown):
    expected = rf"render: dpi must be a positive finite number at most {MAX_DPI}, got {re.escape(shown)}$"
    for suffix in (".png", ".svg", ".dot"):  # checked before anything is drawn or written
        with pytest.raises(ValueError, match=expected):
            render(apple_price(), tmp_path / f"apple{suffix}", dpi=dpi)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("dpi", ["96", True, [96]])
def test_render_refuses_a_dpi_that_is_not_a_number_naming_its_type(tmp_path, dpi):
    with pytest.raises(TypeError, match=rf"render: dpi must be a positive finite number .*, got {re.escape(repr(dpi))} "
                                        rf"of type {type(dpi).__name__}$"):
        render(apple_price(), tmp_path / "apple.png", dpi=dpi)


def test_render_accepts_a_fractional_or_numpy_dpi(dot_program, tmp_path):
    price = apple_price()
    widths = [struct.unpack(">I", render(price, tmp_path / f"apple{k}.png", dpi=dpi).read_bytes()[16:20])[0]
              for k, dpi in enumerate((48, 48.5, np.float32(96.0)))]
    assert widths[0] < widths[1] < widths[2]


def test_animation_refuses_max_frames_and_max_nodes_that_are_not_positive_integers(tmp_path):
    for option, value, error in (("max_frames", 0, ValueError), ("max_frames", -1, ValueError),
                                 ("max_frames", 2.5, ValueError), ("max_frames", None, TypeError),
                                 ("max_nodes", 0, ValueError), ("max_nodes", True, TypeError)):
        with pytest.raises(error, match=rf"^animate_backward: {option} must be a positive integer, got {value!r}"):
            animate_backward(apple_price(), tmp_path / "apple.html", **{option: value})
    assert list(tmp_path.iterdir()) == []


def test_render_svg_is_xml_carrying_the_seed_numbers(dot_program, tmp_path):
    price = apple_price()
    price.backward()
    written = render(price, tmp_path / "apple.svg")
    root = ElementTree.parse(written).getroot()
    assert root.tag == f"{SVG_NAMESPACE}svg"
    texts = svg_texts(root)
    for expected in ("220", "grad 2.2", "grad 110", "grad 200", "grad 1.1", "×"):
        assert expected in texts
    assert len(root.findall(f".//{SVG_NAMESPACE}g[@class='node']")) == 7
    assert len(root.findall(f".//{SVG_NAMESPACE}g[@class='edge']")) == 6


def test_render_png_and_pdf_have_real_headers_and_plausible_sizes(dot_program, tmp_path):
    price = apple_price()
    price.backward()
    png = render(price, tmp_path / "apple.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert 300 < width < 3000 and 100 < height < 2000
    assert 5_000 < len(png) < 500_000
    sharper = render(price, tmp_path / "sharp.png", dpi=192).read_bytes()
    assert struct.unpack(">I", sharper[16:20])[0] > 1.5 * width
    pdf = render(price, tmp_path / "apple.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 1_000


def test_hostile_names_survive_a_real_dot_run_and_are_shown_literally(dot_program, tmp_path):
    names = ['quote"] evil [color=red', "<B>bold</B>", "brace{a|b}", "amp&amp;", "back\\slash\\", "]; a -> b; [",
             "new\nline", "'single'"]
    tensors = [Tensor(float(k), name=name) for k, name in enumerate(names)]
    total = tensors[0]
    for tensor in tensors[1:]:
        total = total + tensor
    total.name = "\\"
    root = ElementTree.parse(render(total, tmp_path / "hostile.svg")).getroot()
    header_texts = [text.split(" (")[0] for text in svg_texts(root)]
    for name in names:
        assert name.replace("\n", "\\n") in header_texts
    assert len(root.findall(f".//{SVG_NAMESPACE}g[@class='node']")) == len(names) + 2 * (len(names) - 1)


@pytest.mark.parametrize("collapse_modules", [False, True])
def test_twenty_thousand_character_title_name_and_module_are_cut_and_render(dot_program, tmp_path, collapse_modules):
    x = Tensor(2.0, name="n" * 20_000)
    with module_scope("M" * 20_000):
        y = x * 3.0
    written = render(y, tmp_path / "long.svg", title="T" * 20_000, collapse_modules=collapse_modules)
    texts = svg_texts(ElementTree.parse(written).getroot())
    assert "T" * (MAX_TITLE_LENGTH - 1) + "…" in texts
    assert "M" * (MAX_NAME_LENGTH - 1) + "…" in texts
    assert any(text.startswith("n" * (MAX_NAME_LENGTH - 1) + "…") for text in texts)


def test_overlong_text_that_escaping_lengthens_is_cut_before_escaping_and_shown_literally(dot_program, tmp_path):
    x = Tensor(2.0, name="<&>" * 7_000)
    with module_scope('"' * 20_000):
        y = x * 3.0
    title = "\x00&" * 10_000
    texts = svg_texts(ElementTree.parse(render(y, tmp_path / "escaped.svg", title=title)).getroot())
    assert ("\\x00&" * 10_000)[:MAX_TITLE_LENGTH - 1] + "…" in texts  # NUL shown as its escape, & as itself
    assert '"' * (MAX_NAME_LENGTH - 1) + "…" in texts
    assert any(text.startswith(("<&>" * 20)[:MAX_NAME_LENGTH - 1] + "…") for text in texts)


def test_module_name_of_ten_thousand_dotted_parts_is_nested_at_most_max_module_depth(dot_program, tmp_path):
    x = Tensor(2.0, name="x")
    with module_scope(".".join(["m"] * 10_000)):
        y = x * 3.0
    root = ElementTree.parse(render(y, tmp_path / "deep.svg")).getroot()
    assert len(root.findall(f".//{SVG_NAMESPACE}g[@class='cluster']")) == MAX_MODULE_DEPTH
    assert ("m." * MAX_NAME_LENGTH)[:MAX_NAME_LENGTH - 1] + "…" in svg_texts(root)


def animation_frames(page: str) -> list:
    return re.findall(r'<figure class="frame" data-step="(\d+)"[^>]*>\s*(<svg.*?</svg>)', page, re.DOTALL)


def test_animation_page_steps_through_the_apple_bill(dot_program, tmp_path):
    price = apple_price()
    page = animate_backward(price, tmp_path / "apple.html").read_text(encoding="utf-8")
    frames = animation_frames(page)
    assert len(frames) == len(backward_steps(price)) + 1 == 3
    assert [int(number) for number, _ in frames] == [0, 1, 2]
    gradients_by_frame = []
    for _, svg in frames:
        root = ElementTree.fromstring(svg)
        assert root.tag == f"{SVG_NAMESPACE}svg"
        gradients_by_frame.append(sorted(text for text in svg_texts(root) if text.startswith("grad ")))
    assert gradients_by_frame == [
        [],
        ["grad 1", "grad 1.1", "grad 200"],
        ["grad 1", "grad 1.1", "grad 110", "grad 2.2", "grad 200"],
    ]
    assert "#ffd966" not in frames[0][1] and all("#ffd966" in svg for _, svg in frames[1:])
    assert price.grad is None


def test_animation_page_is_self_contained_with_controls(dot_program, tmp_path):
    page = animate_backward(apple_price(), tmp_path / "apple.html").read_text(encoding="utf-8")
    urls = re.findall(r"https?://[^\s\"'<>]+", page)
    namespaces = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    assert set(urls) <= namespaces
    for declaration in re.findall(r"(\w+(?::\w+)?)=\"https?://", page):
        assert declaration in ("xmlns", "xmlns:xlink")
    assert "<!DOCTYPE svg" not in page and "<script src" not in page and "<link" not in page
    assert 'id="previous"' in page and 'id="next"' in page
    assert re.search(r'<input type="range" id="slider" min="0" max="2"', page)
    assert "ArrowLeft" in page and "ArrowRight" in page
    assert "step 1  × (mul)  price = apple_price × tax  grad 1" in page


def test_animation_of_fan_out_shows_the_partial_then_complete_sum(dot_program, tmp_path):
    x = Tensor(1.0, name="x")
    y = (x * 2.0) * (x + 1.0)
    y.name = "y"
    page = animate_backward(y, tmp_path / "fan_out.html").read_text(encoding="utf-8")
    frames = animation_frames(page)
    x_gradient = []
    for _, svg in frames:
        texts = svg_texts(ElementTree.fromstring(svg))
        header = texts.index("x")
        following = texts[header + 1: header + 5]  # a space, shape and dtype, value, gradient
        x_gradient.append(next((text for text in following if text.startswith("grad ")), None))
    assert x_gradient == [None, None, "grad 2", "grad 6"]


def test_animation_rejects_unknown_suffix_and_too_many_frames(tmp_path):
    with pytest.raises(ValueError, match=r"unknown file suffix '\.mp4'"):
        animate_backward(apple_price(), tmp_path / "apple.mp4")
    with pytest.raises(ValueError, match=r"3 frames needed, more than max_frames=2"):
        animate_backward(apple_price(), tmp_path / "apple.html", max_frames=2)


def test_animation_gif_has_one_frame_per_step(dot_program, tmp_path):
    image_module = pytest.importorskip("PIL.Image", reason="Pillow is needed only for .gif animations")
    written = animate_backward(apple_price(), tmp_path / "apple.gif")
    with image_module.open(written) as gif:
        assert gif.format == "GIF" and gif.n_frames == 3


def test_render_graphs_demo_writes_every_figure(dot_program, tmp_path, capsys):
    from demos import render_graphs

    written = render_graphs.main(["--out", str(tmp_path / "graphs"), "--readme-figures", str(tmp_path / "docs")])
    names = sorted(path.name for path in written)
    for stem in ("apple", "apple_orange", "affine_batch", "softmax_with_loss", "two_layer_net"):
        assert f"{stem}.svg" in names and f"{stem}.png" in names
    assert "apple_backward.html" in names
    assert (tmp_path / "docs" / "apple_graph.svg").exists() and (tmp_path / "docs" / "apple_graph.png").exists()
    printed = capsys.readouterr().out
    assert "price = 220" in printed and "price = 715" in printed and "db = [5. 7. 9.]" in printed
    assert all(path.stat().st_size < 400_000 for path in written)
    assert np.isfinite(float(re.search(r"loss = ([\d.]+)", printed).group(1)))


def test_render_graphs_demo_without_dot_writes_dot_sources_and_says_how_to_install(without_dot, tmp_path, capsys):
    from demos import render_graphs

    written = render_graphs.main(["--out", str(tmp_path / "graphs")])
    captured = capsys.readouterr()
    assert written and {path.suffix for path in written} == {".dot"}
    assert all(path.read_text(encoding="utf-8").startswith("digraph") for path in written)
    assert "apt-get install graphviz" in captured.err
    assert "price = 220" in captured.out
