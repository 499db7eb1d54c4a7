"""deploy/cluster/docker-compose.yml (issue 21) parses, and holds what its README promises:
2 shards x 2 replicas, 3 Keeper nodes, Trail web x2, Celery workers x2, PostgreSQL, Redis,
every Trail process on the cluster. (No Docker engine here: `config` only renders it.)"""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
import yaml

from tests.helpers import REPO

CLUSTER = REPO / "deploy" / "cluster"


@pytest.fixture(scope="module")
def rendered() -> dict:
    if shutil.which("docker-compose") is None:
        pytest.skip("needs docker-compose")
    done = subprocess.run(
        ["docker-compose", "--env-file", ".env.example", "-f", "docker-compose.yml", "config"],  # noqa: S607
        cwd=CLUSTER,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(yaml.safe_load(done.stdout))


def test_the_cluster_compose_file_parses_with_every_service(rendered: dict) -> None:
    services = rendered["services"]
    assert {"ch-s1-r1", "ch-s1-r2", "ch-s2-r1", "ch-s2-r2"} <= services.keys()
    assert {"keeper-1", "keeper-2", "keeper-3"} <= services.keys()
    assert {"web-1", "web-2", "worker-1", "worker-2", "beat", "migrate"} <= services.keys()
    assert {"postgres", "redis", "clickhouse"} <= services.keys()
    shards = {
        (services[name]["environment"]["CH_SHARD"], services[name]["environment"]["CH_REPLICA"])
        for name in services
        if name.startswith("ch-")
    }
    assert shards == {("1", "ch-s1-r1"), ("1", "ch-s1-r2"), ("2", "ch-s2-r1"), ("2", "ch-s2-r2")}
    ids = {services[f"keeper-{n}"]["environment"]["KEEPER_SERVER_ID"] for n in (1, 2, 3)}
    assert ids == {"1", "2", "3"}
    for name in ("web-1", "web-2", "worker-1", "worker-2", "beat", "migrate"):
        env = services[name]["environment"]
        assert env["CLICKHOUSE_CLUSTER"] == "trail"
        assert env["CLICKHOUSE_URL"].endswith("@clickhouse:8123/trail")
        assert env["REDIS_URL"] == "redis://redis:6379/0"


def test_the_clickhouse_config_names_the_cluster_trail_uses() -> None:
    config = ET.parse(CLUSTER / "clickhouse" / "cluster.xml").getroot()  # noqa: S314 (our file)
    [cluster] = list(_found(config, "remote_servers"))
    assert cluster.tag == "trail"
    shards = cluster.findall("shard")
    assert [[r.findtext("host") for r in s.findall("replica")] for s in shards] == [
        ["ch-s1-r1", "ch-s1-r2"],
        ["ch-s2-r1", "ch-s2-r2"],
    ]
    assert all(s.findtext("internal_replication") == "true" for s in shards)
    assert [n.findtext("host") for n in _found(config, "zookeeper")] == [
        "keeper-1",
        "keeper-2",
        "keeper-3",
    ]
    profile = ET.parse(CLUSTER / "clickhouse" / "trail-profile.xml").getroot()  # noqa: S314
    default = _found(profile, "profiles/default")
    assert default.findtext("distributed_foreground_insert") == "1"
    assert default.findtext("distributed_product_mode") == "local"
    assert default.findtext("skip_unavailable_shards") == "0"
    keeper = ET.parse(CLUSTER / "keeper" / "keeper.xml").getroot()  # noqa: S314
    servers = keeper.findall("keeper_server/raft_configuration/server")
    assert [s.findtext("hostname") for s in servers] == ["keeper-1", "keeper-2", "keeper-3"]


def _found(element: ET.Element, path: str) -> ET.Element:
    found = element.find(path)
    assert found is not None, path
    return found
