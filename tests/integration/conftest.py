"""Fixtures for tests that run real ms-swift CLIs or servers."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def deployed_tiny_model(tiny_model: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`swift deploy --infer_backend transformers` of the tiny model on 127.0.0.1 for the whole session.

    Yields the OpenAI base URL (``http://127.0.0.1:PORT/v1``); the served model name is ``globe-tiny``.
    """
    from globe.swift_run import deploy_tiny_model

    log = Path(tmp_path_factory.mktemp("deploy")) / "deploy.log"
    with deploy_tiny_model(tiny_model, log_path=log) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real two-CPU Ray cluster on loopback for the whole session (`ray start --head --block`).

    Started in its own session so that it, its daemons and its workers share one process group,
    which is what teardown signals (never `ray stop`, which would stop every Ray on the machine).
    The workers import this checkout (PYTHONPATH). Yields the address for `--ray`.
    """
    pytest.importorskip("ray")
    from tests.support.ray_cluster import local_ray_cluster

    log = Path(tmp_path_factory.mktemp("ray")) / "ray.log"
    with local_ray_cluster(log, num_cpus=2) as address:
        yield address
