"""Run every benchmark and exit non-zero if any budget is missed: ``python -m benchmarks``.

``python -m benchmarks conv`` (or ``lenet``, or ``notebooks``) runs one of them. The conv benchmark
runs in a process of its own, on NumPy's native OpenBLAS kernel (see ``benchmarks/conv_speed.py``).
"""

import sys

from benchmarks import conv_speed, lenet, notebook_times

SUITES = {
    "conv": conv_speed.report_native,
    "lenet": lenet.report,
    "notebooks": notebook_times.report,
}


def main(argv: list[str]) -> int:
    names = argv or list(SUITES)
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {list(SUITES)}")
        return 2
    results = {}
    for name in names:
        results[name] = SUITES[name]()
        print()
    for name, ok in results.items():
        print(f"{name}: {'within budget' if ok else 'OVER BUDGET'}")
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
