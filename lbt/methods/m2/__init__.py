"""M2: DPO on LbT-scored preference pairs, against correctness-only DPO."""
