"""Numbers in the prose: glued values, their formatting, the book's eval role, and the stored
user_expressions that JupyterLab shows."""

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest

from dlbook import prose

ROOT = Path(__file__).resolve().parents[1]


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


user_expressions = load("user_expressions", "scripts/user_expressions.py")


@pytest.mark.parametrize(
    "value,spec,text",
    [
        (1234, ",d", "1,234"),
        (0.12345, ".2f", "0.12"),
        (0.5, ".0%", "50%"),
        (3, "", "3"),
        (2.0, "d", "2"),
        ("relu", "s", "relu"),
        (7, ".1f", "7.0"),
    ],
)
def test_values_are_formatted_as_the_book_formats_them(value, spec, text):
    from myst_nb.core.variables import format_plain_text

    assert prose.format_value(repr(value), spec) == text
    assert format_plain_text(repr(value), spec) == text  # myst-nb's {glue:text}


def test_glued_returns_what_was_glued(monkeypatch):
    monkeypatch.setattr(prose, "_values", {})
    prose.glue("steps", 1234)
    assert prose.glued("steps:,d") == "1,234"
    assert prose.glued("steps") == "1234"
    with pytest.raises(KeyError, match="nothing glued as 'other' yet"):
        prose.glued("other")
    with pytest.raises(ValueError, match="key must be 'name' or 'name:format_spec'"):
        prose.glued("not a name")
    with pytest.raises(ValueError, match="name must be a word without spaces"):
        prose.glue("a b", 1)
    prose.glue("sweep_0.8", 0.000123)
    assert prose.glued("sweep_0.8:.0e") == "1e-04"


def test_the_books_eval_role_reads_only_glued_calls():
    role = load("glued_eval", "book/_ext/glued_eval.py")
    assert role.glued_key('glued("gd_steps:d")') == "gd_steps:d"
    assert role.glued_key(' glued( "acc:.1%" ) ') == "acc:.1%"
    assert role.glued_key("glued('x')") is None
    assert role.glued_key("1 + 2") is None
    assert role.glued_key('glued("sweep_0.8:.0e")') == "sweep_0.8:.0e"
    assert role.glued_key('glued("x", "d")') is None


def notebook(markdown, glued):
    nb = nbformat.v4.new_notebook()
    outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={user_expressions.RECORD: repr(v)},
            metadata={"scrapbook": {"name": k, "mime_prefix": "application/papermill.record/"}},
        )
        for k, v in glued.items()
    ]
    nb.cells = [nbformat.v4.new_code_cell("glue(...)", outputs=outputs)]
    nb.cells += [nbformat.v4.new_markdown_cell(m) for m in markdown]
    return nb


def test_user_expressions_are_filled_from_the_glued_values():
    nb = notebook(
        [
            'It took {eval}`glued("steps:,d")` steps ({eval}`glued("acc:.1%")`), '
            'again {eval}`glued("steps:,d")`.',
            "No numbers here.",
        ],
        {"steps": 12345, "acc": 0.987},
    )
    nb.cells[2].metadata["user_expressions"] = [{"stale": True}]
    assert user_expressions.fill(nb) == []
    entries = nb.cells[1].metadata["user_expressions"]
    assert [e["expression"] for e in entries] == ['glued("steps:,d")', 'glued("acc:.1%")']
    assert [e["result"]["data"]["text/plain"] for e in entries] == ["12,345", "98.7%"]
    assert all(e["result"]["status"] == "ok" for e in entries)
    assert "user_expressions" not in nb.cells[2].metadata


def test_an_expression_that_cannot_be_shown_is_reported():
    nb = notebook(['{eval}`glued("missing")` and {eval}`1 + 2`'], {"steps": 1})
    problems = user_expressions.fill(nb)
    assert len(problems) == 2
    assert "nothing glued as 'missing'" in problems[0]
    assert "only glued" in problems[1]
    assert nb.cells[1].metadata["user_expressions"][0]["result"]["status"] == "error"


# --- the stored notebooks -------------------------------------------------------------------------

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*/*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_number_in_the_prose_shows_in_jupyterlab(path):
    nb = nbformat.read(path, as_version=4)
    markdown = [c for c in nb.cells if c.cell_type == "markdown"]
    assert not any("{glue:text}" in c.source for c in markdown), (
        'cite numbers as {eval}`glued("name:spec")`, which JupyterLab renders too'
    )
    values = user_expressions.glued_values(nb)
    for k, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        expressions = list(dict.fromkeys(user_expressions.ROLE.findall(cell.source)))
        stored = cell.metadata.get("user_expressions", [])
        assert [e["expression"] for e in stored] == expressions, (
            f"cell {k}: stored results do not match the expressions; run make execute NB={path}"
        )
        for e in stored:
            assert e["result"] == user_expressions.result(e["expression"], values), (
                f"cell {k}: {e['expression']} is stale or failed; run make execute NB={path}"
            )
    if any(user_expressions.ROLE.search(c.source) for c in markdown):
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert "from dlbook.prose import glue, glued" in code
