"""The math-verify worker process: `python -m lbt.tasks.math.verifier`.

It speaks the JSON-lines protocol of `lbt.workers` with two ops: `verify` (items are
[gold, pred] pairs; reply: math-verify's verdict, gold first as it is not symmetric) and
`describe` (items are answers; reply: their `Description`, see `lbt.tasks.math.describe`).
math-verify runs with its signal-based timeouts switched off (`parsing_timeout=None`,
`timeout_seconds=None`, never `signal.alarm`): the parent pool gives every item a deadline.
Parses and descriptions are memoised per worker, in a `VerifierState` local to `main`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from lbt.tasks.math.describe import Description, could_be_equal, describe_parse
from lbt.tasks.math.normalize import normalize_answer
from lbt.tasks.math.numbers import number_key, plain_number

CACHE_LIMIT = 200_000


def main() -> None:
    """Serve requests on stdin: one JSON object {"op", "items"} per line; one JSON line per item."""
    import logging

    logging.disable(logging.CRITICAL)
    import math_verify  # noqa: F401  (import cost paid before "ready")

    state = VerifierState()
    state.parsed("1")
    _reply("ready")
    for line in sys.stdin:
        request = json.loads(line)
        handler = state.verify if request["op"] == "verify" else state.describe
        for item in request["items"]:
            _reply(handler(*item) if request["op"] == "verify" else handler(item))


def _reply(value: Any) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


class VerifierState:
    """Parses and descriptions of every string seen by this worker."""

    def __init__(self) -> None:
        self._parses: dict[str, list[Any]] = {}
        self._descriptions: dict[str, Description] = {}

    def parsed(self, answer: str) -> list[Any]:
        if answer not in self._parses:
            from math_verify import parse

            if len(self._parses) > CACHE_LIMIT:
                self._parses.clear()
                self._descriptions.clear()

            self._parses[answer] = parse(f"${answer}$", parsing_timeout=None)
        return self._parses[answer]

    def describe(self, answer: str) -> Description:
        if answer not in self._descriptions:
            number = plain_number(normalize_answer(answer))
            try:
                self._descriptions[answer] = (
                    ("const", number_key(number.value)) if number else describe_parse(answer, self.parsed(answer))
                )
            except Exception:
                self._descriptions[answer] = ("other", None)
        return self._descriptions[answer]

    def verify(self, gold: str, pred: str) -> bool:
        from math_verify import verify

        try:
            percent = "%" in gold or "%" in pred  # math-verify's own percentage rules decide
            if not percent and not could_be_equal(self.describe(gold), self.describe(pred)):
                return False
            return bool(verify(self.parsed(gold), self.parsed(pred), timeout_seconds=None))
        except Exception:
            return False


if __name__ == "__main__":
    main()
