"""Every code block of README.md runs as shown.

Blocks are marked by their fence's language: ``python`` blocks each run on their own in a fresh interpreter (so
none may lean on an earlier one) and print what their ``# prints:`` comments say, ``sh`` blocks hold commands (each ``make`` target must exist, each
``python -m`` module must answer ``--help``; running `make test` from a test would recurse), and a ``text`` block
after "`python -m …` … prints:" is that command's exact output. A block with no language fails the test.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FENCE = re.compile(r"^```(?P<lang>[^\n`]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
PRINTS = re.compile(r"`(?P<command>python -m [\w.]+[^`]*)`[^`]*prints:\s*$")
TIMEOUT = 300


def readme_blocks() -> list:
    """(language, body, line number, the text before the block) for each fenced block, in order."""
    text = README.read_text(encoding="utf-8")
    return [(m["lang"].strip(), m["body"], text.count("\n", 0, m.start()) + 1, text[:m.start()])
            for m in FENCE.finditer(text)]


BLOCKS = readme_blocks()


def blocks_of(language: str) -> list:
    return [pytest.param(body, before, id=f"line{line}") for lang, body, line, before in BLOCKS if lang == language]


def run(arguments: list, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, GRAPHGRAD_OFFLINE="1", PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])), MPLBACKEND="Agg")
    return subprocess.run(arguments, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)


def test_readme_has_blocks_of_each_kind_and_every_block_says_its_language():
    languages = [lang for lang, *_ in BLOCKS]
    unmarked = [line for lang, _, line, _ in BLOCKS if not lang]
    assert not unmarked, f"README.md: code blocks at lines {unmarked} have no language (python, sh or text)"
    assert {"python", "sh", "text"} <= set(languages) and set(languages) <= {"python", "sh", "text"}, languages


@pytest.mark.parametrize("body, before", blocks_of("python"))
def test_python_block_runs_on_its_own(body, before, tmp_path):
    result = run([sys.executable, "-c", body], cwd=tmp_path)
    assert result.returncode == 0, f"README block failed:\n{body}\n--- stderr ---\n{result.stderr}"
    # Output promised in a comment ("print(x.grad)   # prints: 4.0") is what the block prints, in order.
    promised = [line.partition("# prints:")[2].strip() for line in body.splitlines() if "# prints:" in line]
    assert [line for line in result.stdout.splitlines() if line][:len(promised)] == promised


@pytest.mark.parametrize("body, before", blocks_of("text"))
def test_text_block_is_the_output_of_the_command_before_it(body, before, tmp_path):
    paragraph = before.rstrip().rsplit("\n\n", 1)[-1].replace("\n", " ")
    match = PRINTS.search(paragraph)
    assert match, f"a text block must follow a paragraph ending in \"`python -m …` prints:\", got: {paragraph!r}"
    result = run([sys.executable, *shlex.split(match["command"])[1:]], cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == body


@pytest.mark.parametrize("body, before", blocks_of("sh"))
def test_shell_block_names_make_targets_and_modules_that_exist(body, before, tmp_path):
    phony = re.search(r"^\.PHONY:(.*)$", (ROOT / "Makefile").read_text(), re.MULTILINE)[1].split()
    commands = [line.partition("#")[0].strip() for line in body.splitlines()]
    commands = [command for command in commands if command]
    assert commands
    for command in commands:
        words = shlex.split(command)
        if words[0] == "make":
            assert words[1] in phony, f"README: `{command}`: no such make target (have {phony})"
        elif words[:2] == ["python", "-m"]:
            result = run([sys.executable, "-m", words[2], "--help"], cwd=ROOT)
            assert result.returncode == 0, f"README: `{command}`: {result.stderr}"
        else:
            pytest.fail(f"README: a sh block's command is neither make nor python -m: {command!r}")


def test_the_apple_figure_draws_the_names_its_snippet_gives(tmp_path):
    figure_names = set(re.findall(r'font-weight="bold"[^>]*>([^<]+)<', (ROOT / "docs/apple_graph.svg").read_text()))
    snippet = next(body for lang, body, _, _ in BLOCKS if lang == "python" and "apple_num" in body)
    drawn = run([sys.executable, "-c", snippet + "\nimport viz\nprint(viz.draw_graph(price).source)"], cwd=tmp_path)
    snippet_names = set(re.findall(r"<B>([^<]+)</B>", drawn.stdout))
    assert figure_names == snippet_names == {"apple", "apple_num", "tax", "apple_price", "price"}


def test_quick_start_is_exactly_make_demo_and_make_test():
    # The project's promise: two commands on a fresh machine, one for the main job and one for the tests.
    first_after_heading = next(body for lang, body, line, before in BLOCKS
                               if lang == "sh" and before.rstrip().endswith("## Quick start"))
    commands = [line.split("#")[0].strip() for line in first_after_heading.splitlines() if line.split("#")[0].strip()]
    assert commands == ["make demo", "make test"]
