"""The README's suno_mock examples (section "Contract suite and pytest plugin") run as tests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "## Contract suite and pytest plugin"


def readme_examples() -> list[str]:
    text = README.read_text(encoding="utf-8")
    assert SECTION in text, "the README lost its contract suite section"
    section = re.split(r"\n## ", text.split(SECTION, 1)[1], maxsplit=1)[0]
    return [code for code in re.findall(r"```python\n(.*?)```", section, re.S)
            if "def test_" in code]


def test_the_readme_has_fixture_examples() -> None:
    assert len(readme_examples()) >= 3


@pytest.mark.parametrize("index", range(len(readme_examples())))
def test_a_readme_example_passes(pytester: pytest.Pytester, index: int) -> None:
    code = readme_examples()[index]
    pytester.makepyfile(**{f"test_readme_{index}": code})
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=code.count("\ndef test_") + code.startswith("def test_"))
