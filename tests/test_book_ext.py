"""The book's own Sphinx extensions (book/_ext): launch links from the environment, inline scripts
once per page, and the facts that book/testing.md states."""

import importlib.util
import sys
from pathlib import Path

import pytest
from sphinx.builders.html._assets import _JavaScript
from sphinx.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "book/_ext" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


launch_links, inline_scripts, facts = load("launch_links"), load("inline_scripts"), load("facts")


def test_no_button_and_no_address_without_the_environment():
    options = launch_links.theme_options({})
    assert options["repository_url"] == ""
    assert not options["use_repository_button"] and not options["use_issues_button"]
    assert not any(v for k, v in options["launch_buttons"].items() if k.endswith("_url"))


def test_buttons_follow_the_environment():
    env = {
        "DLBOOK_REPOSITORY_URL": "https://github.com/o/r/",
        "DLBOOK_BINDERHUB_URL": "https://mybinder.org",
        "DLBOOK_REPOSITORY_BRANCH": "book",
    }
    options = launch_links.theme_options(env)
    assert options["repository_url"] == "https://github.com/o/r"
    assert options["repository_branch"] == "book"
    assert options["use_repository_button"] and options["use_issues_button"]
    assert options["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert options["launch_buttons"]["jupyterhub_url"] == ""
    assert options["launch_buttons"]["colab_url"] == ""


@pytest.mark.parametrize(
    "env,match",
    [
        ({"DLBOOK_BINDERHUB_URL": "https://mybinder.org"}, "needs DLBOOK_REPOSITORY_URL"),
        ({"DLBOOK_REPOSITORY_URL": "github.com/o/r"}, "DLBOOK_REPOSITORY_URL must be an http"),
        ({"DLBOOK_REPOSITORY_URL": "https://github.com/o"}, "owner and a repository"),
        (
            {"DLBOOK_REPOSITORY_URL": "https://github.com/o/r", "DLBOOK_JUPYTERHUB_URL": "hub"},
            "DLBOOK_JUPYTERHUB_URL must be an http",
        ),
    ],
)
def test_a_wrong_address_stops_the_build_naming_the_variable(env, match):
    with pytest.raises(ConfigError, match=match):
        launch_links.theme_options(env)


def test_each_inline_script_once_in_order():
    body = 'const THEBE_JS_URL = "x"'
    scripts = [
        _JavaScript("_static/a.js"),
        _JavaScript(None, body=body),
        _JavaScript("_static/b.js"),
        _JavaScript("", body=body),  # Sphinx 7.4's second copy
        _JavaScript("", body="var other = 1"),
    ]
    kept = inline_scripts.drop_repeats(scripts)
    assert [s.filename for s in kept] == ["_static/a.js", None, "_static/b.js", ""]
    assert [s.attributes.get("body") for s in kept] == [None, body, None, "var other = 1"]


def test_the_facts_are_the_budgets_and_settings_in_the_code():
    values = facts.substitutions()
    times = facts.constants(ROOT / "benchmarks/notebook_times.py")
    assert values["notebook_budget_s"] == f"{times['PER_NOTEBOOK_S']:g}"
    assert values["unit_tolerance"] == "1e-10"
    stored, tested = facts.make_defaults(ROOT / "Makefile")
    assert values["tested_seed"] == tested["DLBOOK_SEED"] != stored["DLBOOK_SEED"]
    assert all(isinstance(v, str) and v for v in values.values())
