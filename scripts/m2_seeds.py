"""M2's closing-note figure: greedy held-out accuracy of original / correctness-DPO / M2 over
several training seeds, from the training-split teaching tables already in data/ (run
`dvc repro m2_pairs` first). Runs the pairs, DPO and evaluation stages in this process with
`m2.seeds` (and any other key) overridden, prints the summary and the wall time; asserts nothing.

    python scripts/m2_seeds.py m2.seeds=[0,1,2] m2.dpo.learning_rate=1e-3
"""

from __future__ import annotations

import json
import os
import logging
import sys
import time

import yaml

from lbt.config import parse_params
from lbt.methods.m2.evaluate_stage import evaluate_stage
from lbt.methods.m2.stages import pairs_stage
from lbt.methods.m2.train_stage import train_stage


def overridden(raw: dict, assignments: list[str]) -> dict:
    for assignment in assignments:
        dotted, _, value = assignment.partition("=")
        *parents, leaf = dotted.split(".")
        node = raw
        for key in parents:
            node = node[key]
        node[leaf] = yaml.safe_load(value)
    return raw


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.WARNING)
    raw = overridden(yaml.safe_load(open(os.environ.get("LBT_PARAMS", "params.yaml"))), argv)
    params = parse_params(raw)
    start = time.perf_counter()
    pairs_stage(params)
    train_stage(params)
    summary = evaluate_stage(params)
    print(json.dumps({"overrides": argv, "seconds": round(time.perf_counter() - start, 1),
                      **{k: {"mean": v["mean"], "std": v["std"], "per_seed": v["per_seed"]} for k, v in summary.items()}}))


if __name__ == "__main__":
    main(sys.argv[1:])
