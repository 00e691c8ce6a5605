"""Grading math answers: is `pred` a correct answer for `gold`?

A verdict is reached by three layers, cheapest first:

1. `normalize_answer`: a Hendrycks-style string normalisation (the classic MATH grading).
   Equal normal forms mean equivalent answers; nothing else is asked.
2. Plain numbers (`12`, `-0.5`, `\\frac{3}{4}`, `7/2`) are compared by value in Python with
   math-verify's rule: exactly, or rounded to 6 decimals when one side is a decimal. Numerals
   with a base subscript (`1011_2`) are compared as strings (math-verify reads `10_5` as 10).
   Layers 1-2 are `quick_verdict`.
3. Everything else goes to math-verify: `parse` of `$answer$`, then `verify(gold, pred)`, gold
   first (it is not symmetric), in worker processes (`lbt.tasks.math.verifier`) run by a
   `WorkerPool` that gives every item a deadline and kills and replaces a worker that overruns
   it. Grading is therefore safe in threads and Jupyter kernels. An item that times out, or
   that math-verify cannot read, keeps the verdict of layers 1-2, i.e. not equivalent: the
   classic normalisation is the fallback.

A `MathGrader` owns its worker pool and memoises verdicts per (gold, pred) pair, descriptions
and normal forms per answer (parses are memoised inside the workers), so the batched entry
points (`grade_many`, `group_answers`) pay once per distinct pair or answer.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from lbt.tasks.math.config import GradingParams
from lbt.tasks.math.describe import Description
from lbt.tasks.math.normalize import normalize_answer
from lbt.tasks.math.numbers import BASE_NUMERAL, base_numeral_key, numbers_equal, plain_number
from lbt.workers import WorkerPool

VERIFIER_COMMAND = (sys.executable, "-m", "lbt.tasks.math.verifier")
CACHE_LIMIT = 2_000_000  # entries per memo; a memo is emptied when it grows past it


_TRAILING_PUNCTUATION = re.compile(r"(?<![.\\])[.,;]\s*$")


def clean_answer(answer: str) -> str:
    """The answer as graded: stripped, without a trailing period, comma or semicolon (a sentence's
    end, not part of the answer: math-verify would read `\\begin{pmatrix}...\\end{pmatrix}.` as
    its last number). Golds and predictions are cleaned alike on every path before grading."""
    return _TRAILING_PUNCTUATION.sub("", answer.strip()).strip()


def safe_normal_form(answer: str) -> str:
    """`normalize_answer`, or the stripped answer where the normalisation fails."""
    try:
        return normalize_answer(answer)
    except Exception:
        return answer.strip()


def quick_verdict(gold: str, pred: str, normal_form: Callable[[str], str] = safe_normal_form) -> bool | None:
    """Layers 1-2: True when the normal forms match, a plain-number verdict, or None (ask math-verify).

    Numerals with a base subscript (`1011_2`) are compared as strings: math-verify reads
    `10_5` as 10."""
    gold_norm, pred_norm = normal_form(gold), normal_form(pred)
    if gold_norm == pred_norm:
        return True
    if BASE_NUMERAL.fullmatch(gold_norm) or BASE_NUMERAL.fullmatch(pred_norm):
        return base_numeral_key(gold_norm) == base_numeral_key(pred_norm)
    if "%" in gold or "%" in pred:
        return None
    gold_number, pred_number = plain_number(gold_norm), plain_number(pred_norm)
    if gold_number is not None and pred_number is not None:
        return numbers_equal(gold_number, pred_number)
    return None


def _route_by_answer(item: Any) -> str:
    """Route an item by the answer it parses (the pred of a pair), so each worker's parse cache
    sees each answer once."""
    return item[1] if isinstance(item, (tuple, list)) else item


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[3])


class MathGrader:
    """Grades and describes math answers; owns its math-verify workers and its memos."""

    def __init__(self, params: GradingParams | None = None, *, workers: int | None = None,
                 timeout_s: float | None = None, command: Sequence[str] = VERIFIER_COMMAND) -> None:
        params = params or GradingParams()
        root = _package_root()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        self.pool = WorkerPool(
            command, workers or params.workers, timeout_s or params.timeout_s,
            env=env, cwd=root,  # cwd: no stray `math.py` in the caller's folder shadows the stdlib
        )
        self.verdicts: dict[tuple[str, str], bool] = {}
        self.descriptions: dict[str, Description] = {}
        self.normal_forms: dict[str, str] = {}

    def __enter__(self) -> "MathGrader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker processes (a later call starts fresh ones)."""
        self.pool.close()

    def stats(self) -> dict[str, Any]:
        """Worker processes configured, per-item deadline, and items that overran it so far."""
        return {"workers": self.pool.n_workers, "timeout_s": self.pool.timeout_s, "timeouts": self.pool.timeouts}

    # -- verdicts -------------------------------------------------------------------------------

    def normal_form(self, answer: str) -> str:
        """`safe_normal_form`, memoised."""
        if answer not in self.normal_forms:
            if len(self.normal_forms) > CACHE_LIMIT:
                self.normal_forms.clear()
            self.normal_forms[answer] = safe_normal_form(answer)
        return self.normal_forms[answer]

    def is_equivalent(self, gold: str, pred: str | None) -> bool:
        """Whether `pred` is a correct answer for `gold` (None and empty answers never are)."""
        return self.grade_many([gold], [pred])[0]

    def grade_many(self, golds: Sequence[str], preds: Sequence[str | None]) -> list[bool]:
        """`is_equivalent(gold, pred)` for each pair; each distinct pair is decided once."""
        if len(golds) != len(preds):
            raise ValueError(f"grade_many needs as many golds as preds, got {len(golds)} and {len(preds)}.")
        pairs = [(clean_answer(g), clean_answer(p)) if p is not None else None for g, p in zip(golds, preds)]
        pairs = [None if pair is None or not pair[1] else pair for pair in pairs]
        verdicts = self.decide({pair for pair in pairs if pair is not None})
        return [False if pair is None else verdicts[pair] for pair in pairs]

    def decide(self, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], bool]:
        """The verdict of every (gold, pred) pair (both cleaned by `clean_answer`): memoised ones,
        then quick ones, then math-verify."""
        if len(self.verdicts) > CACHE_LIMIT:
            self.verdicts.clear()
        cleaned = {pair: (clean_answer(pair[0]), clean_answer(pair[1])) for pair in pairs}
        decided = self._decide_clean(set(cleaned.values()))
        return {pair: decided[clean] for pair, clean in cleaned.items()}

    def _decide_clean(self, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], bool]:
        verdicts = {pair: self.verdicts[pair] for pair in pairs if pair in self.verdicts}
        undecided = []
        for pair in sorted(pairs - verdicts.keys()):
            verdict = quick_verdict(*pair, normal_form=self.normal_form)
            if verdict is None:
                undecided.append(pair)
            else:
                verdicts[pair] = verdict
        replies = self.pool.run("verify", undecided, on_timeout=False, route=_route_by_answer)
        verdicts.update((pair, bool(reply)) for pair, reply in zip(undecided, replies))
        self.verdicts.update(verdicts)
        return verdicts

    def verify_with_math_verify(self, gold: str, pred: str) -> bool:
        """math-verify's own verdict (layer 3 only, bounded in time), for tests and audits."""
        pair = (clean_answer(gold), clean_answer(pred))
        return bool(self.pool.run("verify", [pair], on_timeout=False, route=_route_by_answer)[0])

    # -- descriptions ---------------------------------------------------------------------------

    def describe_all(self, answers: Iterable[str]) -> dict[str, Description]:
        """The description of every answer (cleaned by `clean_answer`) that is not a plain number
        (math-verify parses them; one that times out is `other`); memoised."""
        if len(self.descriptions) > CACHE_LIMIT:
            self.descriptions.clear()
        cleaned = {a: clean_answer(a) for a in answers}
        wanted = {a: c for a, c in cleaned.items() if plain_number(self.normal_form(c)) is None}
        todo = sorted({c for c in wanted.values() if c not in self.descriptions})
        replies = self.pool.run("describe", todo, on_timeout=["other", None], route=_route_by_answer)
        for answer, reply in zip(todo, replies):
            self.descriptions[answer] = (reply[0], reply[1])
        return {a: self.descriptions[c] for a, c in wanted.items()}
