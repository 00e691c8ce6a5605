"""M2: DPO on LbT-scored preference pairs, against correctness-only DPO."""

SECTIONS = {"m2": "lbt.methods.m2.config:M2Params"}
