"""The suno_mock examples in the README and the docs (tutorials, how-to pages) run as tests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SECTION = "## Test your app with the `suno_mock` fixture"
# Each page and the fewest examples it must keep: a page that loses its examples fails here,
# not silently by running nothing.
PAGES = {
    "docs/how-to/pytest-plugin.md": 4,
    "docs/how-to/faults.md": 1,
    "docs/how-to/callbacks.md": 1,
    "docs/tutorial/first-app.md": 1,
    "docs/tutorial/first-contract-run.md": 1,
}


def _tests_in(text: str) -> list[str]:
    return [code for code in re.findall(r"```python\n(.*?)```", text, re.S)
            if "def test_" in code]


def readme_examples() -> list[str]:
    text = README.read_text(encoding="utf-8")
    assert SECTION in text, "the README lost its suno_mock fixture section"
    section = re.split(r"\n## ", text.split(SECTION, 1)[1], maxsplit=1)[0]
    return _tests_in(section)


def page_examples(page: str) -> list[str]:
    return _tests_in((ROOT / page).read_text(encoding="utf-8"))


def doc_examples() -> list[tuple[str, str]]:
    examples = [("README.md", code) for code in readme_examples()]
    for page in PAGES:
        examples += [(page, code) for code in page_examples(page)]
    return examples


def test_the_readme_has_a_fixture_example() -> None:
    assert len(readme_examples()) >= 1


@pytest.mark.parametrize("page", sorted(PAGES))
def test_the_docs_keep_their_fixture_examples(page: str) -> None:
    assert len(page_examples(page)) >= PAGES[page]


EXAMPLES = doc_examples()


@pytest.mark.parametrize(
    "index", range(len(EXAMPLES)),
    ids=[f"{page}-{n}" for n, (page, _) in enumerate(EXAMPLES)])
def test_a_docs_example_passes(pytester: pytest.Pytester, index: int) -> None:
    code = EXAMPLES[index][1]
    pytester.makepyfile(**{f"test_docs_{index}": code})
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--strict-markers")
    # async tests count too (the async_client example).
    result.assert_outcomes(passed=len(re.findall(r"^(?:async )?def test_", code, re.M)))
