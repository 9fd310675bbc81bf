"""The built docs site, opened in a real browser: headless Chromium shows the tutorial's first page with its
numbers and a rendered SVG graph, and the API index with its packages; a screenshot of each is taken. Each
package's page links a page for every name in its ``__all__``.

The site is the one `make docs` built (docs/_build/html, or $GRAPHGRAD_DOCS_HTML); building it here would
execute every page again and take minutes, so CI (`.ci/run`) runs `make docs` before `make test`. Locally the
test is skipped, saying why, when the site, Chromium, chromedriver or Selenium is missing; with CI=true it
fails instead. Chromium and chromedriver are Debian's `chromium` and `chromium-driver` packages; Selenium is in
the `docs` extra. Screenshots go to $GRAPHGRAD_SCREENSHOTS when set, else to pytest's tmp_path.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(os.environ.get("GRAPHGRAD_DOCS_HTML", ROOT / "docs" / "_build" / "html"))
TUTORIAL_FIRST_PAGE = SITE / "tutorial" / "01-computational-graphs.html"
API_INDEX = SITE / "api" / "index.html"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
PAGE_LOAD_SECONDS = 60


def _missing() -> str | None:
    """Why the test cannot run here, or None."""
    for page in (TUTORIAL_FIRST_PAGE, API_INDEX):
        if not page.is_file():
            return f"the docs site is not built ({page} is missing): run `make docs`"
    if not any(shutil.which(name) for name in BROWSERS):
        return "no Chromium on PATH: `apt-get install chromium chromium-driver`"
    if not shutil.which("chromedriver"):
        return "no chromedriver on PATH: `apt-get install chromium-driver`"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "Selenium is not installed: `pip install -e '.[docs]'` (or `make docs`)"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = _missing()
    if reason is not None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI must check the docs in a browser, but {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = next(shutil.which(name) for name in BROWSERS if shutil.which(name))
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1600", "--allow-file-access-from-files"):
        options.add_argument(argument)
    # An explicit chromedriver: Selenium then never tries to download one.
    driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(PAGE_LOAD_SECONDS)
    yield driver
    driver.quit()


@pytest.fixture
def screenshots(tmp_path) -> Path:
    folder = Path(os.environ.get("GRAPHGRAD_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_page(driver, page: Path) -> str:
    driver.get(page.resolve().as_uri())
    driver.execute_script("return document.fonts ? document.fonts.ready : null")
    return driver.find_element("tag name", "body").text


def assert_screenshot_shows_something(driver, path: Path) -> None:
    from PIL import Image

    assert driver.save_screenshot(str(path)), f"no screenshot written to {path}"
    pixels = np.asarray(Image.open(path).convert("L"), dtype=float)
    assert pixels.shape[0] > 500 and pixels.shape[1] > 500, pixels.shape
    assert pixels.std() > 10, f"{path} looks blank (pixel std {pixels.std():.1f})"


def test_tutorial_first_page_shows_the_apple_bill_and_its_rendered_graph(browser, screenshots):
    text = open_page(browser, TUTORIAL_FIRST_PAGE)
    assert "Computational graphs" in browser.title
    for expected in ("price: 220", "d price / d apple: 2.2", "d price / d apple_num: 110", "d price / d tax: 200"):
        assert expected in text, f"{expected!r} not on {TUTORIAL_FIRST_PAGE}"
    # Graph drawings are executed cell outputs: SVG files written by Graphviz during the build, shown as images
    # (the page's inline <svg> elements are the theme's icons).
    graphs = browser.execute_script("""
        return Array.from(document.querySelectorAll('img[src$=".svg"]')).map(image => {
            const box = image.getBoundingClientRect();
            return {src: image.getAttribute('src'), loaded: image.complete && image.naturalWidth > 0,
                    width: box.width, height: box.height};
        });
    """)
    rendered = [graph for graph in graphs if graph["loaded"] and graph["width"] > 200 and graph["height"] > 50]
    assert rendered, f"no rendered SVG graph on the page: {graphs}"
    drawn = [(TUTORIAL_FIRST_PAGE.parent / graph["src"]).read_text() for graph in rendered]
    assert any("apple_price" in svg and "220" in svg and "grad 2.2" in svg for svg in drawn)
    browser.execute_script("document.querySelector('img[src$=\".svg\"]').scrollIntoView()")
    assert_screenshot_shows_something(browser, screenshots / "tutorial-01.png")


def test_api_index_lists_the_three_packages_and_links_their_pages(browser, screenshots):
    text = open_page(browser, API_INDEX)
    assert "API reference" in browser.title and "API reference" in text
    for package in ("autograd", "nn", "viz"):
        assert package in text.split()
    links = browser.execute_script("return Array.from(document.querySelectorAll('a')).map(a => a.href)")
    for page in ("generated/autograd.html", "generated/nn.html", "generated/viz.html"):
        assert any(link.endswith(page) for link in links), page
    assert_screenshot_shows_something(browser, screenshots / "api-index.png")
    text = open_page(browser, SITE / "api" / "generated" / "viz.draw_graph.html")
    assert "Draw the computational graph behind" in text and "rankdir" in text


@pytest.mark.parametrize("package", ["autograd", "nn", "nn.compat", "viz"])
def test_package_page_links_a_page_for_everything_it_exports(browser, package):
    """The reference keeps up with the code: a name added to a package's __all__ (main's Conv2d, BatchNorm2d,
    sum_to, nn.compat's Convolution, ...) gets its page in the next build, linked from the package's page."""
    import importlib
    import inspect

    module = importlib.import_module(package)
    exported = [name for name in module.__all__ if not inspect.ismodule(getattr(module, name))]
    page = SITE / "api" / "generated" / f"{package}.html"
    text = open_page(browser, page)
    links = set(browser.execute_script("return Array.from(document.querySelectorAll('a')).map(a => a.href)"))
    missing = [name for name in exported
               if not any(link.endswith(f"generated/{package}.{name}.html") for link in links) or name not in text]
    assert missing == [], f"{page} lists no page for {missing}"
