"""Grouping math answers into classes of equivalent answers, for voting.

See `group_answers`. The grader (`MathGrader`) supplies normal forms, descriptions and
math-verify verdicts (and memoises them).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from lbt.tasks.base import GROUPING_MODES, GroupingMode
from lbt.tasks.math.describe import Description, may_match
from lbt.tasks.math.grade import MathGrader, clean_answer
from lbt.tasks.math.numbers import BASE_NUMERAL, base_numeral_key, number_key, plain_number



def group_answers(
    grader: MathGrader,
    answers: Sequence[str | None],
    mode: GroupingMode = "equivalence",
    scopes: Sequence[Any] | None = None,
) -> list[str | None]:
    """A class label per answer: answers judged equivalent share a label; None stays None.

    mode "exact": the label is the stripped answer.
    mode "normalized": the label is the answer's normal form (`normalize_answer`: units, `$`,
    spaces... dropped), the paper's grouping; the stripped answer where the normal form is empty.
    mode "equivalence": answers are first put in classes by normal form (`normalize_answer`);
    plain numbers and constant expressions by value (10 significant digits), so `\\frac12`,
    `0.5` and `\\dfrac{1}{2}` share a class. Then classes are merged by math-verify. Its
    verdicts are neither symmetric nor transitive, so: two classes count as equal only when
    math-verify says yes both ways (gold = one, pred = the other, and back), and merging is
    leader clustering, not transitive closure: classes are visited by decreasing size (ties by
    key); each joins the first earlier leader equal to it, else leads a new group. Members are
    equal to their leader, never chained through a third answer. Classes whose parsed kinds
    cannot match (two different constants, a number and a tuple...) are never compared, which
    keeps grouping fast. Answers are cleaned as for grading (`clean_answer`: no trailing
    period). A group's label is its most frequent cleaned answer (ties: shortest, then
    alphabetical), so labels do not depend on input order.

    `scopes` (optional, one hashable per answer) groups each scope on its own, e.g. one scope
    per teaching problem when labelling a whole table at once.
    """
    if mode not in GROUPING_MODES:
        raise ValueError(f"Unknown grouping mode {mode!r}: use one of {', '.join(GROUPING_MODES)}.")
    if mode == "exact":
        return [a.strip() if a is not None and a.strip() else None for a in answers]
    if mode == "normalized":
        return [None if a is None or not a.strip() else grader.normal_form(a.strip()) or a.strip() for a in answers]
    stripped = [None if a is None else clean_answer(a) or None for a in answers]
    if scopes is not None and len(scopes) != len(answers):
        raise ValueError(f"group_answers needs one scope per answer, got {len(scopes)} for {len(answers)}.")
    scope_of = scopes if scopes is not None else [None] * len(answers)
    by_scope: dict[Any, Counter[str]] = defaultdict(Counter)
    for answer, scope in zip(stripped, scope_of):
        if answer is not None:
            by_scope[scope][answer] += 1
    label_of = _labels_by_scope(grader, by_scope)
    return [None if a is None else label_of[s][a] for a, s in zip(stripped, scope_of)]


def _labels_by_scope(grader: MathGrader, by_scope: dict[Any, Counter[str]]) -> dict[Any, dict[str, str]]:
    """{scope: {answer: label}}, with math-verify asked once for all scopes' candidate pairs."""
    descriptions = grader.describe_all({a for counts in by_scope.values() for a in counts})
    ordered_by_scope = {
        scope: _ordered_classes(grader, descriptions, counts) for scope, counts in by_scope.items()
    }
    pairs_by_scope = {scope: _candidate_pairs(ordered) for scope, ordered in ordered_by_scope.items()}
    verdicts = _verify_both_ways(
        grader, ((ordered_by_scope[scope], pairs_by_scope[scope]) for scope in ordered_by_scope)
    )
    return {
        scope: _labels(_leader_clustering(ordered, pairs_by_scope[scope], verdicts))
        for scope, ordered in ordered_by_scope.items()
    }


@dataclass
class _AnswerClass:
    key: str
    counts: Counter[str]
    description: Description

    @property
    def size(self) -> int:
        return sum(self.counts.values())

    @property
    def representative(self) -> str:
        return min(self.counts, key=lambda a: (-self.counts[a], len(a), a))


def _ordered_classes(
    grader: MathGrader, descriptions: dict[str, Description], counts: Counter[str]
) -> list[_AnswerClass]:
    """The classes of one scope (answers sharing a key), largest first, ties by key."""
    return sorted(_classes_by_key(grader, descriptions, counts).values(), key=lambda c: (-c.size, c.key))


def _labels(groups: list[list[_AnswerClass]]) -> dict[str, str]:
    """Label of each distinct answer: its group's most frequent answer."""
    labels: dict[str, str] = {}
    for group in groups:
        merged: Counter[str] = Counter()
        for answer_class in group:
            merged.update(answer_class.counts)
        label = min(merged, key=lambda a: (-merged[a], len(a), a))
        labels.update({answer: label for answer in merged})
    return labels


def _classes_by_key(
    grader: MathGrader, descriptions: dict[str, Description], counts: Counter[str]
) -> dict[str, _AnswerClass]:
    classes: dict[str, _AnswerClass] = {}
    for answer, count in counts.items():
        key, description = _class_key(grader.normal_form(answer), descriptions.get(answer, ("other", None)))
        if key not in classes:
            classes[key] = _AnswerClass(key, Counter(), description)
        classes[key].counts[answer] += count
    return classes


def _class_key(norm: str, description: Description) -> tuple[str, Description]:
    """Answers with the same key are equivalent without asking math-verify (`norm`: the
    answer's normal form; `description`: its description when it is not a plain number)."""
    number = plain_number(norm)
    if number is not None:
        key = number_key(number.value)
        return "=" + key, ("const", key)
    if BASE_NUMERAL.fullmatch(norm):
        return "~" + base_numeral_key(norm), ("unparsed", None)
    if description[0] == "const":
        return "=" + str(description[1]), description
    return "~" + norm, description


def _candidate_pairs(ordered: list[_AnswerClass]) -> list[tuple[int, int]]:
    """(i, j), i < j, of the classes that `may_match`; constants only meet size-1 collections
    and `other`, so the many constant classes cost nothing."""
    by_kind: dict[str, list[int]] = defaultdict(list)
    for index, answer_class in enumerate(ordered):
        by_kind[answer_class.description[0]].append(index)
    pairs = []
    for index, answer_class in enumerate(ordered):
        kind = answer_class.description[0]
        partners = by_kind["other"] if kind == "const" else [i for k, v in by_kind.items() if k != "const" for i in v]
        if kind in ("collection", "other"):
            partners = partners + by_kind["const"]
        for other in partners:
            if other != index and may_match(answer_class.description, ordered[other].description):
                pairs.append((min(index, other), max(index, other)))
    return sorted(set(pairs))


def _verify_both_ways(
    grader: MathGrader,
    scopes: Iterable[tuple[list[_AnswerClass], list[tuple[int, int]]]],
) -> dict[tuple[str, str], bool]:
    """Decide, in one batch, both directions of every candidate pair of every scope."""
    pairs: set[tuple[str, str]] = set()
    for ordered, candidates in scopes:
        for i, j in candidates:
            first, second = ordered[i].representative, ordered[j].representative
            pairs |= {(first, second), (second, first)}
    return grader.decide(pairs)


def _leader_clustering(
    ordered: list[_AnswerClass], pairs: list[tuple[int, int]], verdicts: dict[tuple[str, str], bool]
) -> list[list[_AnswerClass]]:
    """Each class joins the first earlier leader equal to it both ways, else leads a new group."""
    earlier_candidates: dict[int, list[int]] = defaultdict(list)
    for i, j in pairs:
        earlier_candidates[j].append(i)
    leader_of: dict[int, int] = {}
    groups: dict[int, list[_AnswerClass]] = {}
    for j, answer_class in enumerate(ordered):
        home = next(
            (
                i
                for i in sorted(earlier_candidates[j])
                if leader_of[i] == i and _equal_both_ways(ordered[i], answer_class, verdicts)
            ),
            j,
        )
        leader_of[j] = home
        groups.setdefault(home, []).append(answer_class)
    return list(groups.values())


def _equal_both_ways(first: _AnswerClass, second: _AnswerClass, verdicts: dict[tuple[str, str], bool]) -> bool:
    a, b = first.representative, second.representative
    return verdicts[(a, b)] and verdicts[(b, a)]
