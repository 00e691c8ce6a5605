"""DPO on a real tiny model (a few steps on CPU), the tuned folder as an engine serves it, and
the bad inputs that must stop before training."""

from __future__ import annotations

import random

import polars as pl
import pytest
import torch
import yaml

from lbt.config import ParamsError
from lbt.engines.config import HFModel, OpenAIModel
from lbt.methods.m2.config import DPOParams, PairParams
from lbt.methods.m2.config import check_teacher
from lbt.methods.m2.dpo import check_pairs, check_tokenizer, load_teacher, preference_records, train_dpo
from lbt.toy.curriculum import render_prompt
from lbt.toy.world import worked_rationale

pytest.importorskip("trl")


def _pairs(world, n: int) -> pl.DataFrame:
    """Chosen: the rationale with the true operations; rejected: one with a wrong operation."""
    rng, rows = random.Random(0), []
    for _ in range(n):
        problem = world.random_problem(tuple(rng.sample(world.verbs, 2)), rng)
        true = world.true_ops(problem)
        wrong = (next(o for o in ("add", "mul", "max") if o != true[0]), true[1])
        rows.append({"tp_id": problem.family_id, "prompt": render_prompt([], problem.question),
                     "chosen_text": worked_rationale(problem, true), "rejected_text": worked_rationale(problem, wrong)})
    return pl.DataFrame(rows)


def _chosen_logp(model, tokenizer, pairs: pl.DataFrame) -> float:
    total = 0.0
    for prompt, chosen in pairs.select("prompt", "chosen_text").iter_rows():
        p = tokenizer(prompt).input_ids
        ids = torch.tensor([p + tokenizer(chosen).input_ids + [tokenizer.eos_token_id]])
        with torch.no_grad():
            logps = model(ids).logits.log_softmax(-1)[0, :-1].gather(-1, ids[0, 1:, None])[:, 0]
        total += logps[len(p) - 1:].sum().item()
    return total / pairs.height


def test_dpo_raises_the_chosen_logp_and_saves_a_servable_folder(tiny_student, toy_world, tmp_path):
    pairs = _pairs(toy_world, 32)
    dpo = DPOParams(learning_rate=3e-3, batch_size=8, epochs=2, max_length=64, warmup_ratio=0.0)
    model, tokenizer = load_teacher(str(tiny_student), dpo, "tiny", chat=False)
    before = _chosen_logp(model, tokenizer, pairs)
    curves = train_dpo(pairs, model, tokenizer, False, dpo, 0, tmp_path / "tuned", tmp_path / "live", "test")
    assert curves.height == 8 and curves["step"].to_list() == list(range(1, 9))
    assert curves["loss"].tail(3).mean() < curves["loss"].head(3).mean()
    assert curves["rewards/margins"][-1] > 0
    tuned, tok = load_teacher(str(tmp_path / "tuned"), dpo, "tiny", chat=False)
    assert _chosen_logp(tuned, tok, pairs) > before
    assert (tmp_path / "live" / "metrics.json").is_file()  # DVCLive's log of the run
    from lbt.engines.registry import make_engine

    with make_engine(HFModel(name="tuned", path=str(tmp_path / "tuned")), None) as engine:
        from lbt.engines.base import GenerationRequest

        out = engine.generate([GenerationRequest(prompt=pairs["prompt"][0], n=1, temperature=0.0, max_tokens=12,
                                                 seed=0)])
    assert out[0][0].text


def test_raw_prompts_get_the_space_a_word_level_continuation_needs():
    records = preference_records(pl.DataFrame({"prompt": ["Q a 1 2 R", "x\n"], "chosen_text": ["a : add", "y"],
                                               "rejected_text": ["b", "z"]}), chat=False)
    assert records[0]["chosen"] == " a : add" and records[1]["chosen"] == "y"


def test_an_api_teacher_cannot_be_fine_tuned():
    with pytest.raises(ParamsError, match="served by an API"):
        check_teacher("gpt", OpenAIModel(model="gpt-4o-mini"))


def test_the_pipeline_refuses_an_api_m2_teacher(tmp_path):
    from lbt.pipeline import generate

    raw = yaml.safe_load(open("params.yaml"))
    raw["teachers"] = {"gpt": {"backend": "openai", "model": "gpt-4o-mini"}}
    raw["m2"]["teacher"] = "gpt"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError, match="cannot be fine-tuned"):
        generate(tmp_path / "params.yaml")


def test_no_pair_above_the_threshold_stops_with_the_fix():
    with pytest.raises(ParamsError, match="lower it"):
        check_pairs(pl.DataFrame({"tp_id": []}), "m2", 0, PairParams(threshold=0.9))


def test_a_tokenizer_without_pad_token_or_chat_template(tiny_student):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_student))
    with pytest.raises(ParamsError, match="no chat template"):
        check_tokenizer("tiny", tokenizer, chat=True, pad_token=None)
    tokenizer.pad_token = None
    with pytest.raises(ParamsError, match="m2.dpo.pad_token"):
        check_tokenizer("tiny", tokenizer, chat=False, pad_token=None)
    with pytest.raises(ParamsError, match="not in the vocabulary"):
        check_tokenizer("tiny", tokenizer, chat=False, pad_token="<nope>")
    check_tokenizer("tiny", tokenizer, chat=False, pad_token="<eos>")  # the fix the message names
