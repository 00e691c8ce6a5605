"""Debug one program: `python -m lbt.sandbox CODE.py TESTS.py [--entry-point NAME] [--timeout S]`.

TESTS.py is split into its top-level statements; each runs after the code, in the code's
namespace, one at a time (a statement holding an `assert` is a test, any other is setup).
Prints one JSON object (the RunResult, with `pass_rate`; `isolation` says which isolation the
run had: bubblewrap, namespaces or none) on its last line; exits 0 when passed.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

from lbt.sandbox.bubblewrap import MODES
from lbt.sandbox.isolation import can_switch_uid, lease_uid
from lbt.sandbox.limits import Limits
from lbt.sandbox.run import run_program


def split_statements(source: str) -> list[str]:
    """The top-level statements of `source`, each as its own source text."""
    tree = ast.parse(source)
    return [ast.get_source_segment(source, node) or ast.unparse(node) for node in tree.body]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lbt.sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("code", type=Path)
    parser.add_argument("tests", type=Path)
    parser.add_argument("--entry-point", default=None, help="expression bound to `candidate` before the tests")
    parser.add_argument("--timeout", type=float, default=10.0, help="wall seconds for the code and all tests")
    parser.add_argument("--memory-mb", type=int, default=1024)
    parser.add_argument("--isolation", choices=MODES, default="auto",
                        help="auto: bubblewrap where it works, else namespaces (the result's `isolation` says which)")
    args = parser.parse_args(argv)
    tests = split_statements(args.tests.read_text())
    lease = lease_uid() if can_switch_uid() else None
    try:
        limits = Limits(timeout_s=args.timeout, memory_mb=args.memory_mb)
        result = run_program(args.code.read_text(), tests, args.entry_point, limits, lease.uid if lease else None,
                             args.isolation)
    except RuntimeError as error:  # e.g. bubblewrap asked for where it does not work
        parser.error(str(error))
    finally:
        if lease is not None:
            lease.release()
    print(json.dumps(result.to_dict()))
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
