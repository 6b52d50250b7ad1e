"""DDP on CPU (gloo, 2 processes, 1 thread each) through the CLI, on the tiny corpus.

Every training runs `pipeline train` as a subprocess: Lightning's launcher re-runs the command
line for rank 1, which an in-process call cannot give it. Each DDP training takes ~40 s here.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from pipeline.inference import evaluate
from pipeline.runs import checkpoint_dir
from pipeline.tracking import tracking_uri

DDP = [
    "trainer.accelerator=cpu",
    "trainer.devices=2",
    "trainer.strategy=ddp",
    "trainer.threads=1",
]
SGD = ["optim.name=sgd", "optim.lr=0.5", "optim.momentum=0.0", "model.dropout=0.0"]
TIMEOUT = 300


def train_command(config: Path, *argv: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", "train", str(config), "--json", *argv]


def train_json(config: Path, *argv: str, env: dict[str, str] | None = None) -> dict:
    done = subprocess.run(
        train_command(config, *argv),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def client() -> MlflowClient:
    return MlflowClient(tracking_uri())


def all_runs() -> list:
    experiment = client().get_experiment_by_name("tests")
    return client().search_runs([experiment.experiment_id]) if experiment else []


def artifact_paths(run_id: str, path: str | None = None) -> list[str]:
    listed = []
    for item in client().list_artifacts(run_id, path):
        listed.extend(artifact_paths(run_id, item.path) if item.is_dir else [item.path])
    return listed


def val_curve(run_id: str, name: str = "val_loss") -> list[float]:
    return [m.value for m in client().get_metric_history(run_id, name)]


def wait_all(processes: list[subprocess.Popen]) -> list[tuple[str, str]]:
    """Outputs of all processes; when one fails or time runs out, the others are killed."""
    deadline = time.monotonic() + TIMEOUT
    try:
        while any(p.poll() is None for p in processes) and time.monotonic() < deadline:
            if any(p.poll() not in (None, 0) for p in processes):
                break  # a rank died: its peers would wait for it until gloo's timeout
            time.sleep(0.5)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    return [process.communicate() for process in processes]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ----------------------------------------------------------------------------- DDP via the CLI


@pytest.mark.slow
def test_ddp_run_is_logged_once_reduces_metrics_and_resumes(lm_config: Path) -> None:
    """One run, files once, val/test metrics equal a one-process evaluation, then --resume.

    Validation and test shard the one-process grid of data.eval_batch_size streams across the
    ranks (language_model), so the 2-process metrics, reduced across ranks, are computed on
    exactly the tokens `pipeline evaluate` uses in one process: they must agree to float error.
    With one epoch the last weights are the best ones that evaluate loads.
    """
    facts = train_json(lm_config, *DDP, "trainer.max_epochs=1")
    run_id = facts["run_id"]
    runs = all_runs()
    assert [r.info.run_id for r in runs] == [run_id]  # no run per rank
    run = client().get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["trainer.devices"] == "2"
    files = artifact_paths(run_id)
    assert files.count("config.yaml") == 1
    assert files.count("checkpoints/best.ckpt") == 1
    saved = sorted(p.name for p in checkpoint_dir(run_id).iterdir() if p.suffix == ".ckpt")
    assert saved == ["best.ckpt", "last.ckpt"]  # one of each, whatever the ranks wrote
    assert len(val_curve(run_id)) == 1

    for split in ("val", "test"):
        one_process = evaluate(run_id, split)
        for name in (f"{split}_loss", f"{split}_ppl"):
            logged = run.data.metrics[name]
            assert logged == pytest.approx(one_process[name], rel=1e-5), (name, logged)

    resumed = train_json(lm_config, *DDP, "trainer.max_epochs=2", "--resume", run_id)
    assert resumed["run_id"] == run_id
    assert [r.info.run_id for r in all_runs()] == [run_id]
    assert client().get_run(run_id).info.status == "FINISHED"
    assert len(val_curve(run_id)) == 2
    assert artifact_paths(run_id).count("checkpoints/last.ckpt") == 1


@pytest.mark.slow
def test_two_processes_with_half_batch_match_one_process(lm_config: Path) -> None:
    """Global batch = per-device batch x devices: 2 x B/2 streams take the steps of 1 x B.

    Rank r's B/2 training streams are rows r*B/2.. of the one-process B-stream grid, DDP
    averages the per-rank mean gradients, so plain SGD without dropout from the same seed
    makes the same updates (up to float summation order).
    """
    common = [*SGD, "trainer.max_epochs=1", "trainer.threads=1", "trainer.accelerator=cpu"]
    one = train_json(lm_config, *common, "data.batch_size=8", "trainer.devices=1")
    two = train_json(lm_config, *common, "data.batch_size=4", *DDP)
    one_loss = client().get_run(one["run_id"]).data.metrics["val_loss"]
    two_loss = client().get_run(two["run_id"]).data.metrics["val_loss"]
    assert two_loss == pytest.approx(one_loss, rel=1e-3)
    assert len(all_runs()) == 2


@pytest.mark.slow
def test_multi_node_launch_makes_one_run(lm_config: Path) -> None:
    """num_nodes=2 x devices=1, both processes started here as a cluster would start them.

    Rank 1 inherits no run id: it receives rank 0's by broadcast once the process group exists.
    """
    port = str(free_port())
    argv = [
        *DDP[:1],
        "trainer.devices=1",
        "trainer.num_nodes=2",
        "trainer.strategy=ddp",
        "trainer.threads=1",
        "trainer.max_epochs=1",
    ]
    client().search_experiments()  # create the SQLite store once, before both processes
    processes = []
    for node in (0, 1):
        env = {
            **os.environ,
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": port,
            "NODE_RANK": str(node),
            "LOCAL_RANK": "0",  # LightningEnvironment: processes are created externally
            "WORLD_SIZE": "2",
        }
        env.pop("RNN_PIPELINE_RUN_ID", None)
        processes.append(
            subprocess.Popen(
                train_command(lm_config, *argv),
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = wait_all(processes)
    for process, (_, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err[-4000:]
    run_id = json.loads(outputs[0][0].strip().splitlines()[-1])["run_id"]
    assert outputs[1][0].strip() == ""  # rank 1 trained in rank 0's run and reports nothing
    runs = all_runs()
    assert [r.info.run_id for r in runs] == [run_id]
    assert runs[0].info.status == "FINISHED"
    assert artifact_paths(run_id).count("checkpoints/best.ckpt") == 1
    assert len(val_curve(run_id)) == 1
