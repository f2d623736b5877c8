"""Every public function and class of dlbook.scratch documents its shapes, formula and torch twin.

The format (one for the whole package): after the summary line, three headings, each alone at the
start of a line (indented like the docstring body), with their content indented below::

    Shapes:
        input: (N, C_in, H, W) or unbatched (C_in, H, W)
        returns: (N, C_out, H_out, W_out)
    Formula:
        out[n, o, i, j] = bias[o] + sum_{c,u,v} weight[o, c, u, v] * x_pad[n, c, s i + d u, ...]
    Torch:
        torch.nn.functional.conv2d

Checked: every function and class defined (not imported) in a public module of dlbook.scratch
(subpackages included) whose name does not start with ``_``; for a class, its class docstring.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import dlbook.scratch as scratch

HEADINGS = ("Shapes:", "Formula:", "Torch:")


def public_modules() -> list[str]:
    """Every public module of dlbook.scratch, subpackages included (``scratch.losses.hinge``)."""
    found = pkgutil.walk_packages(scratch.__path__, prefix="dlbook.scratch.")
    names = [m.name for m in found]
    return sorted(n for n in names if not any(part.startswith("_") for part in n.split(".")))


def public_objects(module_name: str) -> list[tuple[str, object]]:
    module = importlib.import_module(module_name)
    return [
        (name, obj)
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == module_name
    ]


def problems(doc: str | None) -> list[str]:
    """What the docstring lacks: a heading, or a heading's content."""
    if not doc or not doc.strip():
        return ["no docstring"]
    lines = inspect.cleandoc(doc).splitlines()
    missing = []
    for heading in HEADINGS:
        at = [i for i, line in enumerate(lines) if line.lstrip().startswith(heading)]
        if not at:
            missing.append(f"no {heading}")
            continue
        i = at[0]
        indent = len(lines[i]) - len(lines[i].lstrip())
        same_line = lines[i].lstrip()[len(heading) :].strip()
        below = next((line for line in lines[i + 1 :] if line.strip()), "")
        deeper = len(below) - len(below.lstrip()) > indent
        if not same_line and not deeper:
            missing.append(f"{heading} has no content indented below it")
    return missing


@pytest.mark.parametrize("module_name", public_modules())
def test_every_public_function_and_class_has_shapes_formula_torch(module_name):
    offenders = []
    for name, obj in public_objects(module_name):
        found = problems(obj.__doc__)
        if found:
            kind = "class" if inspect.isclass(obj) else "def"
            offenders.append(f"  {kind} {name}: {'; '.join(found)}")
    if offenders:
        pytest.fail(
            f"{module_name}: {len(offenders)} docstrings lack the format "
            f"(Shapes:, Formula:, Torch:; see common format):\n" + "\n".join(offenders),
            pytrace=False,
        )


def torch_line(doc: str | None) -> str:
    """The first line of the ``Torch:`` content ('' when there is none)."""
    lines = inspect.cleandoc(doc or "").splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith("Torch:"):
            same = line.lstrip()[len("Torch:") :].strip()
            return same or next((x.strip() for x in lines[i + 1 :] if x.strip()), "")
    return ""


def resolves(dotted: str) -> bool:
    """``torch.nn.functional.conv2d`` names something in torch (modules imported as needed)."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def torch_problems(name: str, doc: str | None) -> list[str]:
    line = torch_line(doc)
    if not line:
        return []  # reported by the format test
    found = []
    if line.startswith("none") and not line.startswith("none ("):
        found.append(f"'{line}': say why there is none, as 'none (reason)'")
    backward = name.endswith(("_backward", "_backward_naive"))
    if backward and not line.startswith(("autograd through ", "none (")):
        found.append(f"'{line}': a backward's twin is 'autograd through torch...'")
    named = re.search(r"\btorch(?:\.\w+)+", line)
    if named and not resolves(named.group(0)):
        found.append(f"'{line}': torch has no {named.group(0)}")
    return found


@pytest.mark.parametrize("module_name", public_modules())
def test_torch_line_names_a_real_twin(module_name):
    offenders = [
        f"  {name}: {p}"
        for name, obj in public_objects(module_name)
        for p in torch_problems(name, obj.__doc__)
    ]
    if offenders:
        pytest.fail(f"{module_name}:\n" + "\n".join(offenders), pytrace=False)


def test_the_torch_line_check():
    def doc(twin):
        return (
            f"S.\n\n    Shapes:\n        x\n    Formula:\n        y\n    Torch:\n        {twin}\n"
        )

    assert torch_problems("conv2d", doc("torch.nn.functional.conv2d")) == []
    assert torch_problems("conv2d", doc("torch.nn.functional.conv3x3"))
    assert torch_problems("conv2d_backward", doc("torch.nn.functional.conv2d"))
    assert (
        torch_problems("conv2d_backward", doc("autograd through torch.nn.functional.conv2d")) == []
    )
    assert torch_problems("helper", doc("none"))
    assert torch_problems("helper", doc("none (a helper)")) == []


def test_the_check_sees_a_missing_heading_and_accepts_the_format():
    good = """Summary.

    Shapes:
        input: (N, D)
    Formula:
        y = x
    Torch:
        torch.nn.Identity
    """
    assert problems(good) == []
    assert problems(good.replace("Formula:", "Formulae are:")) == ["no Formula:"]
    assert problems(good.replace("        torch.nn.Identity\n", "")) == [
        "Torch: has no content indented below it"
    ]
    assert problems(None) == ["no docstring"]
