"""Generation on a real local Ray cluster (2 workers, no mock): the same completions as in-process,
sample by sample, through the same request cache; workers that die or lack the model folder.

One local cluster and one actor pool serve the module (Ray's start costs seconds); the cluster is
stopped at the end. The vLLM processor path needs a GPU: only its rows and its streaming of
result blocks run here (over a real Ray Data dataset; the stand-in for the GPU stage says so).
"""

from __future__ import annotations

import shutil
import time

import pytest

ray = pytest.importorskip("ray")  # in the test extra; the import is for a clear message, not to skip in CI

from lbt.engines import ray_cluster, ray_pool  # noqa: E402
from lbt.engines.base import GenerationRequest  # noqa: E402
from lbt.engines.cache import RequestCache  # noqa: E402
from lbt.engines.config import HFModel, RaySettings, VLLMModel  # noqa: E402
from lbt.engines.ray_vllm import completion_row, sample_row, stream_rows  # noqa: E402
from lbt.engines.registry import make_engine  # noqa: E402

SETTINGS = RaySettings(address="local", workers=2, block_size=8)
QUESTIONS = ["Q blip zork 3 7 5", "Q frob blip 1 2 3", "Q zork zork 9 0 4", "Q quax daxo 4 4 1"]


def _requests(n_questions: int = 12, n: int = 4) -> list[GenerationRequest]:
    return [GenerationRequest(prompt=f"{QUESTIONS[i % 4]} {i} R", n=n, temperature=1.0, max_tokens=16, seed=i)
            for i in range(n_questions)] + [GenerationRequest(prompt=f"{QUESTIONS[0]} R", temperature=0, max_tokens=16)]


def _model(path, ray_settings=SETTINGS, **kw) -> HFModel:
    return HFModel(name="tiny", path=str(path), batch_size=8, threads=1, ray=ray_settings, **kw)


def test_an_unreachable_address_is_one_sentence_and_quick():
    assert not ray.is_initialized()
    start = time.monotonic()
    with pytest.raises(ray_cluster.RayError, match=r"No Ray cluster answers at 127\.0\.0\.1:1 \(Connection refused\)"
                                                   r": start one with `ray start --head`"):
        ray_cluster.connect(RaySettings(address="127.0.0.1:1"))
    assert time.monotonic() - start < 30  # ray.init alone retries such an address for minutes
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def pool(tiny_student):
    """A Ray backend kept open for the module, so every engine below shares its cluster and actors."""
    backend = ray_pool.RayPoolBackend(_model(tiny_student))
    assert not ray.is_initialized()  # nothing starts before a sample is missing
    ray.get([a.__ray_ready__.remote() for a in backend.start().actors])
    yield backend
    backend.close()
    assert not ray.is_initialized()  # the last user stopped the local cluster it started


@pytest.fixture(scope="module")
def in_process(tiny_student):
    with make_engine(_model(tiny_student, None), None) as engine:
        return engine.generate(_requests())


def test_ray_gives_the_in_process_completions_sample_by_sample_through_one_cache(pool, in_process, tiny_student,
                                                                                tmp_path):
    cache = tmp_path / "c.sqlite"
    with make_engine(_model(tiny_student), cache) as engine:
        on_ray = engine.generate(_requests())
        assert engine.backend.pool is pool.pool and len(pool.pool.actors) == 2  # actors shared, not started anew
        assert engine.stats.generated == 12 * 4 + 1
    assert on_ray == in_process
    assert len({c.text for row in on_ray for c in row}) > 5  # sampled text varies: a real comparison
    with make_engine(_model(tiny_student, None), cache) as engine:  # the in-process engine reads Ray's samples
        assert engine.generate(_requests()) == in_process and engine.stats.generated == 0
    with make_engine(_model(tiny_student), cache) as engine:  # all cached: Ray is not even joined
        assert engine.generate(_requests()) == in_process and engine.backend.pool is None


def test_only_missing_samples_go_to_the_cluster(pool, in_process, tiny_student, tmp_path):
    cache = tmp_path / "c.sqlite"
    with make_engine(_model(tiny_student, None), cache) as engine:
        engine.generate(_requests(n_questions=6))
    with make_engine(_model(tiny_student), cache) as engine:
        assert engine.generate(_requests()) == in_process
        assert (engine.stats.from_cache, engine.stats.generated) == (6 * 4 + 1, 6 * 4)


def test_a_worker_killed_mid_stage_loses_nothing(pool, in_process, tiny_student, tmp_path):
    cache = tmp_path / "c.sqlite"
    victim = pool.pool.actors[0]
    with make_engine(_model(tiny_student), cache) as engine:
        landed = []
        original = engine.cache.put_many

        def put_many(identity, items):  # the real cache write; kill a worker after the first block lands
            original(identity, items)
            landed.append(len(items))
            if len(landed) == 1:
                ray.kill(victim, no_restart=False)

        engine.cache.put_many = put_many
        on_ray = engine.generate(_requests())
        resent = engine.backend.counts["resent"]
    assert on_ray == in_process and RequestCache(cache).count() == 12 * 4 + 1  # nothing lost, nothing wrong
    assert 0 < resent <= 2 * 8  # the blocks queued at the killed worker (2 of 8 samples), no more
    assert _back(victim)  # Ray restarted it


def _back(actor, within_s: float = 120) -> bool:
    """Whether `actor` answers (again) within `within_s`, while Ray restarts it."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            return ray.get(actor.__ray_ready__.remote())
        except ray.exceptions.ActorUnavailableError:
            time.sleep(0.2)
    return False


def test_a_model_folder_missing_on_a_worker_is_one_sentence(pool, tiny_student, tmp_path):
    folder = tmp_path / "student"
    shutil.copytree(tiny_student, folder)
    with make_engine(_model(folder), tmp_path / "c.sqlite") as engine:
        shutil.move(folder, tmp_path / "elsewhere")  # the driver saw it; the workers will not
        with pytest.raises(ray_cluster.RayError, match=rf"tiny: The model folder {folder} is missing on the Ray node "
                                                       r"\S+: copy it there at the same path"):
            engine.generate(_requests(2))


def test_a_model_folder_that_differs_on_a_worker_is_refused(pool, tiny_student, tmp_path):
    folder = tmp_path / "student"
    shutil.copytree(tiny_student, folder)
    with make_engine(_model(folder), tmp_path / "c.sqlite") as engine:
        with open(folder / "config.json", "a") as handle:
            handle.write("\n")  # another folder than the one the driver fingerprinted
        with pytest.raises(ray_cluster.RayError, match=r"is not the driver's .*copy the driver's folder there"):
            engine.generate(_requests(2))
        assert RequestCache(tmp_path / "c.sqlite").count() == 0


def test_two_addresses_in_one_stage_are_one_sentence(pool, tiny_student):
    with pytest.raises(ray_cluster.RayError, match="give every model of the stage the same ray.address"):
        ray_pool.RayPoolBackend(_model(tiny_student, RaySettings(address="auto"))).start()


def test_a_pool_the_cluster_cannot_place_is_one_sentence(pool, tiny_student):
    with pytest.raises(ray_cluster.RayError, match=r"8 Ray workers need 8 CPUs and the cluster has 0: lower ray.workers"):
        ray_pool.RayPoolBackend(_model(tiny_student, RaySettings(workers=8))).start()


def test_vllm_rows_carry_each_samples_seed_and_blocks_stream_back(pool):
    """Ray Data's vLLM stage needs a GPU: a CPU map stands in for it (it writes what that stage's
    output rows hold: generated_text, num_generated_tokens); the rows in and the streaming are real."""
    request = GenerationRequest(prompt="Q blip R", n=3, temperature=0.7, top_k=5, max_tokens=4, seed=9,
                                stop=("|",))
    samples = request.samples()
    rows = [sample_row(i, s) for i, s in enumerate(samples)]
    assert [r["sampling_params"]["seed"] for r in rows] == [s.seed for s in samples]
    assert rows[0]["sampling_params"] | {"seed": 0} == {"n": 1, "temperature": 0.7, "top_p": 1.0, "top_k": 5,
                                                       "max_tokens": 4, "seed": 0, "stop": ["|"]}
    assert rows[0]["prompt"] == "Q blip R" and "tokenized_prompt" not in rows[0]
    chat = sample_row(0, samples[0], [1, 2])  # a chat prompt the driver rendered to token ids
    assert chat["tokenized_prompt"] == [1, 2] and "prompt" not in chat

    def gpu_stage_stand_in(row):  # not vLLM: what its output rows hold
        return {**row, "generated_text": f"text {row['index']}", "num_generated_tokens": 4 - row["index"] % 2}

    rows = [sample_row(i, samples[i % 3]) for i in range(10)]
    dataset = ray.data.from_items(rows).map(gpu_stage_stand_in, num_cpus=0).map(completion_row, num_cpus=0)
    blocks = list(stream_rows(dataset, block_size=4))
    assert [len(indices) for indices, _ in blocks] == [4, 4, 2]
    got = {i: c for indices, completions in blocks for i, c in zip(indices, completions)}
    assert sorted(got) == list(range(10))
    assert got[3].text == "text 3" and (got[3].n_tokens, got[3].finish_reason) == (3, "stop")
    assert (got[4].n_tokens, got[4].finish_reason) == (4, "length")


def test_the_vllm_processor_builds_from_a_model_entry(pool, tiny_student):
    """Its config is checked by the pinned Ray here; running it needs vLLM on a GPU node."""
    from lbt.engines.ray_vllm import RayVLLMBackend

    backend = RayVLLMBackend(VLLMModel(name="v", path=str(tiny_student), ray=RaySettings(workers=1)))
    try:
        processor = backend._build()
        assert type(processor).__name__ == "Processor"
    finally:
        backend.close()
