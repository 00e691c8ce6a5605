"""DPO of a teacher on one pair set with TRL's `DPOTrainer`, logged per step with DVCLive.

Full fine-tuning (the toy models) or LoRA adapters through peft (real checkpoints), merged into
the saved folder, so a tuned teacher is an ordinary Hugging Face model folder that every backend
serves. The paper's NLL term on the chosen response is TRL's `sft` loss next to `sigmoid`.

What a user can get wrong stops before any training, with one sentence (`check_*`): a teacher
served by an API, a tokenizer without a pad token or (with `chat: true`) without a chat
template, a pair set with no pair.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path

import polars as pl
import torch
from dvclive import Live
from tqdm import tqdm
from transformers import TrainerCallback

from lbt.config import ParamsError
from lbt.methods.m2.config import DPOParams, PairParams

log = logging.getLogger(__name__)
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# What each step's log keeps (TRL's names): the curves of the report.
CURVE_KEYS = ("loss", "rewards/margins", "rewards/accuracies", "rewards/chosen", "rewards/rejected",
              "logps/chosen", "logps/rejected")


def check_tokenizer(name: str, tokenizer, chat: bool, pad_token: str | None) -> None:
    if tokenizer.pad_token is None and pad_token is None:
        raise ParamsError(f"The tokenizer of teacher `{name}` has no pad token: set m2.dpo.pad_token to a token of "
                          f"its vocabulary (e.g. its EOS token {tokenizer.eos_token!r}).")
    if pad_token is not None and pad_token not in tokenizer.get_vocab():
        raise ParamsError(f"m2.dpo.pad_token {pad_token!r} is not in the vocabulary of teacher `{name}`: "
                          "use one of its tokens (e.g. its EOS token).")
    if chat and not tokenizer.chat_template:
        raise ParamsError(f"teachers.{name}.chat is true but its tokenizer has no chat template: set chat: false, "
                          "or use a model folder whose tokenizer has one.")


def check_pairs(pairs: pl.DataFrame, pair_set: str, seed: int, p: PairParams) -> None:
    if pairs.is_empty():
        raise ParamsError(f"No {pair_set} pair for seed {seed}: no two TRs of a training TP have scores that differ "
                          f"by more than m2.pairs.threshold = {p.threshold}; lower it, or raise m2.num_rationales.")


def preference_records(pairs: pl.DataFrame, chat: bool) -> list[dict]:
    """TRL's preference format: raw text (the completion as the model continues the prompt) or,
    with `chat`, conversational messages (the prompt column holds the request's messages as JSON)."""
    rows = pairs.select("prompt", "chosen_text", "rejected_text").iter_rows()
    if chat:
        return [{"prompt": [{"role": r, "content": c} for r, c in json.loads(prompt)],
                 "chosen": [{"role": "assistant", "content": chosen}],
                 "rejected": [{"role": "assistant", "content": rejected}]} for prompt, chosen, rejected in rows]
    return [{"prompt": prompt, "chosen": _continuation(prompt, chosen), "rejected": _continuation(prompt, rejected)}
            for prompt, chosen, rejected in rows]


def _continuation(prompt: str, text: str) -> str:
    """The completion as it followed the prompt: the engines strip completions, so put back the
    space a word-level continuation needs (none after a prompt ending in whitespace)."""
    return text if not prompt or prompt[-1].isspace() or text[:1].isspace() else " " + text


def load_teacher(path: str, dpo: DPOParams, name: str, chat: bool):
    """(model, tokenizer) of the teacher's folder, checked for DPO."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    check_tokenizer(name, tokenizer, chat, dpo.pad_token)
    if dpo.pad_token is not None:
        tokenizer.pad_token = dpo.pad_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=_DTYPES[dpo.dtype], local_files_only=True)
    return model.to(dpo.device), tokenizer


def dpo_config(dpo: DPOParams, seed: int, work_dir: str):
    from trl import DPOConfig

    on_cpu = dpo.device == "cpu"
    return DPOConfig(
        output_dir=work_dir, seed=seed, data_seed=seed, beta=dpo.beta, learning_rate=dpo.learning_rate,
        lr_scheduler_type=dpo.lr_scheduler, warmup_steps=dpo.warmup_ratio, num_train_epochs=dpo.epochs,
        per_device_train_batch_size=dpo.batch_size // dpo.gradient_accumulation_steps,
        gradient_accumulation_steps=dpo.gradient_accumulation_steps,
        loss_type=["sigmoid", "sft"] if dpo.nll_weight > 0 else ["sigmoid"],
        loss_weights=[1.0, dpo.nll_weight] if dpo.nll_weight > 0 else None,
        max_length=dpo.max_length, logging_steps=1, save_strategy="no", report_to="none", use_cpu=on_cpu,
        bf16=dpo.dtype == "bfloat16" and not on_cpu, fp16=False, gradient_checkpointing=dpo.gradient_checkpointing,
        dataloader_num_workers=0, dataset_num_proc=None, disable_tqdm=True,
    )


def lora_config(dpo: DPOParams):
    if dpo.lora is None:
        return None
    from peft import LoraConfig

    lora = dpo.lora
    return LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                      target_modules=lora.target_modules, task_type="CAUSAL_LM")


def train_dpo(pairs: pl.DataFrame, model, tokenizer, chat: bool, dpo: DPOParams, seed: int, out_dir: Path,
              live_dir: Path, desc: str) -> pl.DataFrame:
    """Fine-tune `model` on `pairs`, save it (LoRA merged) with its tokenizer to `out_dir`, log each
    step to DVCLive in `live_dir`; the per-step curves (CURVE_KEYS) as a table."""
    from datasets import Dataset
    from transformers.integrations import DVCLiveCallback
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from trl import DPOTrainer

    torch.set_num_threads(dpo.threads)
    live = OfflineLive(str(live_dir), dvcyaml=None, save_dvc_exp=False, report=None)
    with tempfile.TemporaryDirectory(prefix="lbt-dpo-") as work_dir:
        trainer = DPOTrainer(
            model=model, args=dpo_config(dpo, seed, work_dir), train_dataset=Dataset.from_list(
                preference_records(pairs, chat)), processing_class=tokenizer, peft_config=lora_config(dpo),
            callbacks=[DVCLiveCallback(live=live), QuietProgress(desc)])
        for callback in (ProgressCallback, PrinterCallback):
            trainer.remove_callback(callback)
        start = time.perf_counter()
        trainer.train()
        log.info("%s: %d pairs, %d steps, %.1f s", desc, pairs.height, trainer.state.global_step,
                 time.perf_counter() - start)
        tuned = trainer.model.merge_and_unload() if dpo.lora is not None else trainer.model
        out_dir.mkdir(parents=True, exist_ok=True)
        tuned.save_pretrained(out_dir)
        tokenizer.save_pretrained(out_dir)
    return curves(trainer.state.log_history)


def curves(log_history: list[dict]) -> pl.DataFrame:
    """One row per logged step: `step` and the CURVE_KEYS TRL logged."""
    rows = [{"step": entry["step"], **{k: float(entry[k]) for k in CURVE_KEYS if k in entry}}
            for entry in log_history if "loss" in entry and "rewards/margins" in entry]
    return pl.DataFrame(rows, schema={"step": pl.Int64, **{k: pl.Float64 for k in CURVE_KEYS}})


class OfflineLive(Live):
    """DVCLive without DVC Studio. DVCLive 3.49 builds a Studio payload at every step even when
    Studio is off, re-reading its params file with ruamel (about 80 ms a step here, 6 of the 28 s
    of the default M2 training): skipped when Studio's data events are skipped anyway."""

    def post_data_to_studio(self):
        if "data" not in self._studio_events_to_skip:
            super().post_data_to_studio()


class QuietProgress(TrainerCallback):
    """A progress bar over optimizer steps that prints no per-step logs."""

    def __init__(self, desc: str):
        self.desc, self.bar = desc, None

    def on_train_begin(self, args, state, control, **kwargs):
        self.bar = tqdm(total=state.max_steps, desc=self.desc, mininterval=5)

    def on_step_end(self, args, state, control, **kwargs):
        self.bar.update(1)

    def on_train_end(self, args, state, control, **kwargs):
        self.bar.close()
