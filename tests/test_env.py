"""dlbook.env: the report reads this machine, and check() enforces the book's minimum versions."""

import platform
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import dlbook
import dlbook.devices
from dlbook import env

REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements.txt"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2.13.0+cpu", (2, 13, 0)),
        ("1.26.4", (1, 26, 4)),
        ("2.0.0rc1", (2, 0, 0)),
        ("2.4.0.dev0+git1234", (2, 4, 0)),
        ("v3", (3,)),
    ],
)
def test_parse_version(text, expected):
    assert env.parse_version(text) == expected


def test_parse_version_rejects_garbage():
    with pytest.raises(ValueError, match="version"):
        env.parse_version("unknown")


@pytest.mark.parametrize(
    "have, need, ok",
    [
        ("2.13.0+cpu", "2.13", True),
        ("2.13", "2.13.0", True),
        ("2.12.9", "2.13", False),
        ("1.26.4", "1.26", True),
        ("1.9.0", "1.26", False),  # 9 < 26: numbers, not strings
        ("10.0", "9.9", True),
    ],
)
def test_at_least(have, need, ok):
    assert env._at_least(have, need) is ok


def test_report_reads_this_machine():
    r = env.report()
    assert r["Python"] == platform.python_version()
    assert r["numpy"] == np.__version__
    assert r["torch"] == torch.__version__
    assert r["dlbook"] == dlbook.__version__
    assert r["device"] == str(dlbook.device())
    assert r["device detail"] == dlbook.devices.describe()
    assert r["torch threads"] == torch.get_num_threads()
    assert r["CUDA available"] is torch.cuda.is_available()
    assert isinstance(r["MPS available"], bool)
    import matplotlib

    assert r["matplotlib"] == matplotlib.__version__
    with pytest.raises(KeyError):
        r["no such row"]


def test_report_renders_every_row_as_text_and_html():
    r = env.report()
    text, page = repr(r), r._repr_html_()
    for name, value in r.rows:
        assert re.search(rf"^  {re.escape(name)} +{re.escape(str(value))}$", text, re.M)
        assert f"<th style='text-align:left'>{name}</th>" in page
    assert page.count("<tr>") == len(r.rows)


def test_html_is_escaped():
    page = env.Report((("a<b", "x & y"),))._repr_html_()
    assert "a&lt;b" in page and "x &amp; y" in page and "a<b" not in page


def test_check_passes_here_and_prints_no_installed_version():
    result = env.check()
    assert repr(result).splitlines() == [
        "dlbook environment check:",
        "  numpy >= 1.26  ok",
        "  torch >= 2.13  ok",
    ]


def test_check_raises_naming_every_shortfall():
    with pytest.raises(env.EnvironmentTooOld) as info:
        env.check({"numpy": "999", "torch": "999.1", "matplotlib": "1.0"})
    message = str(info.value)
    assert f"numpy {np.__version__} is older than 999" in message
    assert f"torch {torch.__version__} is older than 999.1" in message
    assert "matplotlib" not in message
    assert "make setup" in message


def test_check_reports_a_missing_package(monkeypatch):
    monkeypatch.setattr(env, "installed_version", lambda name: env.NOT_INSTALLED)
    with pytest.raises(env.EnvironmentTooOld, match="torch is not installed"):
        env.check({"torch": "2.0"})


@pytest.mark.parametrize(
    "minimum, error, match",
    [
        ({"tensorflow": "2.0"}, ValueError, "minimum: unknown package 'tensorflow'"),
        ({"numpy": (1, 26)}, ValueError, r"minimum\['numpy'\]"),
        ({"numpy": "latest"}, ValueError, r"minimum\['numpy'\]"),
        ({}, TypeError, "minimum"),
        (["numpy"], TypeError, "minimum"),
    ],
)
def test_check_rejects_bad_minimums(minimum, error, match):
    with pytest.raises(error, match=match):
        env.check(minimum)


def test_default_minimums_match_requirements():
    """MINIMUM must agree with requirements.txt, the one list `make setup` installs from."""
    text = REQUIREMENTS.read_text()
    for name, version in env.MINIMUM.items():
        bound = re.search(rf"^{name}\s*(==|>=)\s*([\d.]+)", text, re.M)
        assert bound is not None, f"{name} has no lower bound in requirements.txt"
        assert env.parse_version(bound.group(2))[:2] == env.parse_version(version)[:2]
