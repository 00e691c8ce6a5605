"""What the toy world's knobs give with ideal models: M1 and M3 through the pipeline's own code, with
the trained toy models replaced by an oracle that writes what perfectly trained ones would.

    python scripts/toy_ideal.py                               # params.yaml, seeds 0-4
    python scripts/toy_ideal.py -S toy.world.bad_verb_fraction=0.34 -S toy.world.wrong_op=random
    python scripts/toy_ideal.py --noise 0.03 --no-m3          # a random operation on 3% of steps

A stand-in for choosing the world's knobs in seconds (a seed takes about 10 s), never a result: the
README's figures come from `scripts/robustness.py`, which trains the models. The oracle follows
`lbt.toy.curriculum`'s contract: each verb takes the operation of the last example showing it; a verb
no example shows gets the teacher's belief (sampled, or its single most likely word when greedy) or,
for a student persona, the true operation; a persona never follows on its flawed verbs. Prepare,
rationales, exams, scores, selection and M3 run as in `dvc repro`, in a temporary folder; the claims
that need no training (lbt.robustness: the regime, M1's gains, M3's) are printed per seed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
from pathlib import Path

import polars as pl
import yaml

from lbt import robustness
from lbt.config import load_params
from lbt.engines.base import Completion, Sample, derive_seed
from lbt.engines.engine import Engine
from lbt.toy.curriculum import Persona, student_personas
from lbt.toy.world import ToyWorld, parse_question, rationale_steps, worked_rationale


class IdealToyModel:
    """A toy model that has learned its skills perfectly (a backend: samples in, completions out)."""

    def __init__(self, world: ToyWorld, personas: dict[str | None, Persona] | None, noise: float):
        self.world, self.personas, self.noise = world, personas, noise  # personas None: the teacher
        self.identity = "ideal-" + ("teacher" if personas is None else "student")

    def generate_samples(self, samples: list[Sample]) -> list[Completion]:
        return [self._one(s) for s in samples]

    def close(self) -> None:
        pass

    def _one(self, sample: Sample) -> Completion:
        persona, _, text = sample.request.prompt.rpartition("\n")
        *demos, question = text.split(" | ")
        shown = dict(step for demo in demos for step in rationale_steps(demo.split(" R ", 1)[1]))
        problem = parse_question(question.removesuffix(" R"))
        greedy = sample.request.temperature == 0
        rng = random.Random(derive_seed(sample.request.prompt) if greedy else sample.seed)
        ops_of = self._teacher_ops(problem.verbs, shown, rng, greedy) if self.personas is None else \
            self._student_ops(problem.verbs, shown, self.personas[persona or None], rng)
        ops = tuple(rng.choice(self.world.op_words) if rng.random() < self.noise else ops_of[v] for v in problem.verbs)
        rationale = worked_rationale(problem, ops)
        return Completion(rationale, len(rationale.split()))

    def _teacher_ops(self, verbs, shown: dict, rng: random.Random, greedy: bool) -> dict[str, str]:
        ops: dict[str, str] = {}
        for verb in verbs:  # one belief per verb in a rationale, as the teacher was taught
            ops.setdefault(verb, shown.get(verb) or (self._greedy_op(verb) if greedy else self.world.teacher_op(verb, rng)))
        return ops

    def _greedy_op(self, verb: str) -> str:
        """The teacher's single most likely word for a verb no example shows."""
        w = self.world
        p, names = w.config.teacher_wrong_prob, w.config.true_op_names
        return w.wrong_op[verb] if verb in w.wrong_op and p > (1 - p) / names else w.true_op[verb]

    def _student_ops(self, verbs, shown: dict, persona: Persona, rng: random.Random) -> dict[str, str]:
        follows = rng.random() < persona.follow_prob
        return {v: shown[v] if follows and v in shown and v not in persona.flawed_verbs else self.world.true_op[v]
                for v in verbs}


def ideal_engines(params, noise: float):
    """make_engine's stand-in: every model of the toy run played by an ideal model."""
    world = ToyWorld(params.toy.world)
    personas = {p.token: p for p in student_personas(params.toy.student)}

    def make(config, cache_path=None):
        student = config.name in params.students
        backend = IdealToyModel(world, personas if student else None, noise)
        return Engine(backend, None, config.name, prompt_prefix=config.prompt_prefix)
    return make


def run_seed(overrides: dict, seed: int, noise: float, m3: bool) -> dict:
    """One run of the default's M1 (and M3) stages on ideal models; a robustness run record."""
    from lbt.methods.m1 import stages as m1_stages
    from lbt.methods.m3 import stages as m3_stages
    from lbt.tasks.prepare import prepare
    from lbt.teaching import stages as teaching
    from lbt.teaching.names import pair_names, teacher_names
    from lbt.teaching.scores import scores

    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        Path("params.yaml").write_text(PARAMS.read_text())
        robustness.set_params(Path("params.yaml"), {"selection.adaptive.enabled": False, **overrides, "seed": seed})
        params = load_params("params.yaml")
        teaching.make_engine = m3_stages.make_engine = ideal_engines(params, noise)
        prepare(params)
        for teacher in teacher_names(params):
            teaching.rationales(params, teacher)
        for teacher, student in pair_names(params):
            teaching.exams(params, teacher, student)
        scores(params)
        metrics = {"selection": m1_stages.select_stage(params)}
        if m3:
            metrics["m3"] = m3_stages.m3_stage(params)
        curve = pl.read_parquet(robustness.paths.RESAMPLING).to_dicts()
    return {"metrics": json.loads(json.dumps(metrics)), "curve": curve}  # keys as the metrics files have them


PARAMS = Path("params.yaml").resolve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    parser.add_argument("-S", "--set", action="append", default=[], metavar="KEY=VALUE", help="a params override")
    parser.add_argument("--noise", type=float, default=0.0, help="share of steps given a random operation word")
    parser.add_argument("--no-m3", action="store_true")
    args = parser.parse_args()
    overrides = {k: yaml.safe_load(v) for k, v in (kv.split("=", 1) for kv in args.set)}
    os.environ.setdefault("TQDM_DISABLE", "1")
    runs = {str(s): run_seed(overrides, s, args.noise, not args.no_m3) for s in args.seeds}
    os.chdir(PARAMS.parent)
    params = yaml.safe_load(PARAMS.read_text())
    for dotted, value in overrides.items():
        robustness.set_dotted(params, dotted, value)
    group, personas = next(iter(params["selection"]["student_groups"].items()))
    found = robustness.regime_claims(runs, [*personas, group]) + robustness.m1_claims(runs, group, personas)
    if not args.no_m3:
        several = next(s for s, models in params["m3"]["settings"].items() if len(models) > 1)
        found += robustness.m3_claims(runs, several, params["m3"]["settings"][several])
    print(f"Ideal models, noise {args.noise}, seeds {', '.join(runs)}; overrides {overrides or 'none'}")
    print("| claim | per seed | mean ± std | needs | holds |\n|---|---|---|---|---|")
    for c in found:
        values = " / ".join(f"{v:g}" for v in c.per_seed.values())
        print(f"| {c.name} | {values} | {c.mean:g} ± {c.std:g} | {c.threshold} | {'yes' if c.passed else '**no**'} |")


if __name__ == "__main__":
    main()
