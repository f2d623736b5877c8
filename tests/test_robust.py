"""scripts/robust.py: the claim table of make robust, and its numeric set-ups."""

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


@pytest.fixture(scope="module")
def robust():
    sys.path.insert(0, str(SCRIPTS))
    spec = importlib.util.spec_from_file_location("robust", SCRIPTS / "robust.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _claim(text, holds, margin=0.5):
    return {"text": text, "holds": holds, "relative_margin": margin, "measured": {"value": 1.0}}


def _result(run, claims, ok=True, notebook="a.ipynb"):
    return {"notebook": notebook, "run": run, "ok": ok, "seconds": 1.0, "claims": claims,
            "error": "" if ok else "boom"}  # fmt: skip


def test_all_claims_held_in_all_runs(robust):
    runs = ["stored-seed0", "native-1-seed0"]
    text, ok = robust.report([_result(r, [_claim("c", True, 0.2)]) for r in runs], runs)
    assert ok
    assert "| a.ipynb | c | 2/2 | 0.2 |" in text
    assert "Tightest relative margin: 0.2" in text


def test_a_claim_failing_in_one_run_fails_the_whole(robust):
    runs = ["stored-seed0", "stored-seed1"]
    results = [_result(runs[0], [_claim("c", True)]), _result(runs[1], [_claim("c", False, -0.1)])]
    text, ok = robust.report(results, runs)
    assert not ok and "| 1/2 |" in text


def test_a_claim_not_reached_or_a_failed_run_fails(robust):
    runs = ["stored-seed0", "stored-seed1"]
    results = [_result(runs[0], [_claim("c", True)]), _result(runs[1], [], ok=False)]
    text, ok = robust.report(results, runs)
    assert not ok
    assert "1 not reached" in text and "## Failed runs" in text and "boom" in text


def test_the_callers_variables_set_the_stored_set_up(robust):
    plans = robust.setups({"OMP_NUM_THREADS": "4", "OPENBLAS_CORETYPE": "Zen"})
    assert plans["stored"]["OMP_NUM_THREADS"] == "4"
    assert plans["stored"]["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    assert plans["native-1"]["OMP_NUM_THREADS"] == "1"
    assert plans["native-1"]["OPENBLAS_CORETYPE"] == "Zen"
    assert "OPENBLAS_CORETYPE" not in robust.setups({})["native-1"]
