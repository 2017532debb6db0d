"""A node lost in the middle of a Ray job: a two-node ray.cluster_utils.Cluster on this
machine (127.0.0.1), one node removed while its actor is cleaning a photo."""
from __future__ import annotations

import functools
import hashlib
import logging
import time
from pathlib import Path

import pytest

from faceguard.batch import process_job
from faceguard.config import Config
from faceguard.objects import plan_object_jobs

from .test_cluster import photos  # noqa: F401 - the same photos
from .test_objects import listed, upload

ray = pytest.importorskip("ray", reason="the cluster extra is not installed")


@pytest.fixture
def two_nodes(s3, monkeypatch):
    """A head with no CPU and two nodes of one CPU each; all on the loopback address."""
    from ray.cluster_utils import Cluster

    ray.shutdown()
    # Ray otherwise names the machine's own address, not 127.0.0.1, for a cluster's nodes
    # (read when ray is imported: here, and in each node's processes)
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    monkeypatch.setattr(ray._private.ray_constants, "ENABLE_RAY_CLUSTER", False)
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "node_ip_address": "127.0.0.1", "include_dashboard": False,
        "object_store_memory": 100 * 2**20})
    nodes = [cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1",
                              object_store_memory=100 * 2**20) for _ in range(2)]
    ray.init(address=cluster.address, log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        yield cluster, nodes
    finally:
        ray.shutdown()
        cluster.shutdown()


def slow(job):
    """process_job, one second slower: a node removed mid-job has a photo in hand."""
    time.sleep(1.0)
    return process_job(job)


def test_a_node_lost_mid_job_costs_retries_not_files(s3, two_nodes, photos, caplog):  # noqa: F811
    from faceguard.cluster import run_on_ray

    caplog.set_level(logging.INFO, logger="faceguard.cluster")
    cluster, nodes = two_nodes
    upload(s3, photos, "photos/nodes/")
    records: list[dict] = []

    def on_record(record: dict) -> None:
        records.append(record)
        if len(records) == 2:  # both actors are busy with the next photos
            cluster.remove_node(nodes[1])

    ray.cloudpickle.register_pickle_by_value(__import__(__name__, fromlist=["slow"]))
    summary = run_on_ray(plan_object_jobs("s3://photos/nodes/", "s3://clean/nodes/", Config()),
                         actors=2, overwrite=False, on_record=on_record,
                         worker=functools.partial(slow))
    by_name = {Path(r["input"]).name: r for r in records}
    assert len(records) == len(photos) and set(by_name) == set(photos)  # once each
    assert {r["status"] for r in records} <= {"ok", "skipped"} and summary.exit_code == 0
    written = listed(s3, "clean/nodes/")
    assert set(written) == set(photos)
    for record in records:
        if record["status"] == "ok":
            key = record["output"][len("s3://"):]
            assert hashlib.sha256(s3.cat_file(key)).hexdigest() == record["output_sha256"]
    assert "actor lost on" in caplog.text  # the photo in hand on the lost node was run again
    assert len(ray.nodes()) == 3 and sum(n["Alive"] for n in ray.nodes()) == 2
