"""What every stage notebook does first: logging on, params loaded and checked."""

from __future__ import annotations

import logging

import polars as pl

from lbt.config import Params, load_params


def start(params_path: str = "params.yaml") -> Params:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", force=True)
    pl.Config.set_tbl_rows(20)
    pl.Config.set_fmt_str_lengths(120)
    return load_params(params_path)
