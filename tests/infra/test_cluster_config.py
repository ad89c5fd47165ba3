"""infra/cluster cannot run here (no Docker engine), so its files are checked for consistency with the code."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from fediscope.config import SETTINGS
from fediscope.lake.webhdfs import parse_webhdfs_url

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "infra" / "cluster"
COMPOSE = yaml.safe_load((CLUSTER / "docker-compose.yml").read_text())
EXTRA_VARIABLES = {"FEDISCOPE_CONFIG", "FEDISCOPE_TEST_WEBHDFS", "FEDISCOPE_DB_PASSWORD", "FEDISCOPE_DB_RO_PASSWORD"}


def _pin(package: str) -> str:
    match = re.search(rf"^{re.escape(package)}==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert match, f"{package} is not pinned in requirements.txt"
    return match.group(1)


def test_every_service_of_the_architecture_is_there() -> None:
    services = COMPOSE["services"]
    assert {"namenode", "datanode", "hbase", "mariadb", "spark-master", "spark-worker", "nifi", "airflow",
            "fediscope-api"} <= set(services)
    published = {port.split(":")[0] for s in services.values() for port in s.get("ports", [])}
    assert {"9870", "9090", "3306", "7077", "8443", "8080"} <= published


def test_fediscope_variables_named_in_the_cluster_files_exist() -> None:
    known = {s.env for s in SETTINGS} | EXTRA_VARIABLES
    for name in ("README.md", "docker-compose.yml", ".env.example"):
        for variable in set(re.findall(r"FEDISCOPE_[A-Z0-9_]+", (CLUSTER / name).read_text())):
            assert variable in known or variable.startswith("FEDISCOPE_TOKEN_"), f"{name}: {variable} is no setting"


def test_lake_urls_in_the_cluster_files_are_valid() -> None:
    text = (CLUSTER / "README.md").read_text() + (CLUSTER / "docker-compose.yml").read_text()
    urls = set(re.findall(r"webhdfs://[^\s`'\"|)]+", text))
    assert urls
    for url in urls:
        _http, root, user = parse_webhdfs_url(url)
        assert root == "/data/fediscope" and user == "fediscope", url


def test_hadoop_configuration_enables_webhdfs_on_the_published_port() -> None:
    env = dict(line.split("=", 1) for line in (CLUSTER / "hadoop.env").read_text().splitlines()
               if line and not line.startswith("#"))
    assert env["HDFS-SITE.XML_dfs.webhdfs.enabled"] == "true"
    assert env["HDFS-SITE.XML_dfs.namenode.http-address"].endswith(":9870")
    assert "9870:9870" in COMPOSE["services"]["namenode"]["ports"]


def test_image_versions_match_the_pinned_clients() -> None:
    spark = COMPOSE["services"]["spark-master"]["image"]
    assert spark.endswith(f":-{_pin('pyspark')}}}"), spark
    airflow = COMPOSE["services"]["airflow"]["image"]
    assert f":-{_pin('apache-airflow-core')}}}" in airflow, airflow


def test_the_nifi_image_reads_the_flows_property_keys() -> None:
    """Was: ``apache/nifi:2.4.0``, while the flows carry NiFi 2.12's property keys (nifi_templates/README.md, Notes):
    NiFi renamed some within 2.x (InvokeHTTP's ``Remote URL`` is ``HTTP URL``, PutHDFS's ``writing-strategy``
    ``Writing Strategy``), so on the example cluster's NiFi every imported flow showed invalid processors. The image
    is the release the flows are built for, in the compose file and in the commented default of .env.example."""
    version = _flows_nifi_version()
    nifi = COMPOSE["services"]["nifi"]["image"]
    assert nifi == f"apache/nifi:${{NIFI_VERSION:-{version}}}", nifi
    example = re.search(r"^# NIFI_VERSION=(\S+)", (CLUSTER / ".env.example").read_text(), re.M)
    assert example and example.group(1) == version, example


def _flows_nifi_version() -> str:
    """``NIFI_VERSION`` of nifi_templates/build_flows.py: the NiFi release whose property keys the flows use."""
    match = re.search(r'^NIFI_VERSION = "([^"]+)"$', (ROOT / "nifi_templates" / "build_flows.py").read_text(), re.M)
    assert match, "nifi_templates/build_flows.py names no NIFI_VERSION"
    return match.group(1)


def test_no_secret_is_committed() -> None:
    for line in (CLUSTER / ".env.example").read_text().splitlines():
        if "PASSWORD" in line or "KEY" in line:
            assert line.startswith("#") or line.split("=", 1)[1] == "", line
    assert ".env" in (CLUSTER / ".gitignore").read_text().split()


def test_every_fediscope_service_uses_the_same_lake_and_pseudonym_key() -> None:
    """The API reads the erasure suppression list from its lake: on another lake than the one `fediscope gdpr
    erase` writes (the checkout's ./lake, the default), it would hand erased accounts to NiFi, which lands them."""
    runs_fediscope = {name: service["environment"] for name, service in COMPOSE["services"].items()
                      if any(key.startswith("FEDISCOPE_") for key in service.get("environment", {}))}
    assert {"fediscope-api", "airflow"} <= set(runs_fediscope)
    for setting in ("FEDISCOPE_LAKE", "FEDISCOPE_PSEUDONYM_KEY"):
        values = {name: env.get(setting) for name, env in runs_fediscope.items()}
        assert None not in values.values(), f"{setting} is not set for {values}"
        assert len({v.split(":?")[0].rstrip("}") for v in values.values()}) == 1, f"{setting} differs: {values}"


def test_the_api_serves_the_results_of_the_store_the_batch_writes() -> None:
    """Was: ``fediscope-api`` set no FEDISCOPE_STORE, so its results routes (``/v1/analyses``, ``/v1/metrics``) read
    the default ``sqlite:///fediscope.db`` in the mounted checkout, which nothing writes: every analysis answered
    ``"stored": false`` forever while ``fediscope_batch`` stored the metrics in MariaDB. Both services name the same
    store, and the API starts after the database it reads."""
    services = COMPOSE["services"]
    stores = {name: services[name]["environment"].get("FEDISCOPE_STORE") for name in ("airflow", "fediscope-api")}
    assert None not in stores.values() and len(set(stores.values())) == 1, stores
    assert "mariadb" in services["fediscope-api"].get("depends_on", []), services["fediscope-api"].get("depends_on")


def test_the_namenode_is_formatted_on_first_start_and_kept_after() -> None:
    """The apache/hadoop image formats the namenode only when ENSURE_NAMENODE_DIR does not exist. A volume's mount
    point always exists, so the directory must lie inside the volume: on the mount point the namenode was never
    formatted ("NameNode is not formatted"), outside any volume it would be formatted again at every start."""
    namenode = COMPOSE["services"]["namenode"]
    marker = Path(namenode["environment"]["ENSURE_NAMENODE_DIR"])
    mounts = [Path(volume.split(":")[1]) for volume in namenode["volumes"]]
    assert any(marker != mount and marker.is_relative_to(mount) for mount in mounts), (marker, mounts)
    # the name directory Hadoop uses by default is /tmp/hadoop-<user>/dfs/name: the marker must be that directory
    assert marker == Path(f"/tmp/hadoop-{namenode['user']}/dfs/name")
    datanode = COMPOSE["services"]["datanode"]
    assert any(Path(v.split(":")[1]) == Path(f"/tmp/hadoop-{datanode['user']}/dfs") for v in datanode["volumes"])


def test_services_running_fediscope_install_its_dependencies() -> None:
    """Was: pyproject.toml declared no dependencies, and `pip install -e .` alone gave a fediscope that could not
    import click or flask. It now reads them from requirements.txt (tests/test_packaging.py), which the services
    still install by name, pinned."""
    services = COMPOSE["services"]
    assert "pip install -q -r requirements.txt -e ." in " ".join(services["fediscope-api"]["command"])
    extra = services["airflow"]["environment"]["_PIP_ADDITIONAL_REQUIREMENTS"]
    assert extra.startswith("-r /opt/fediscope/requirements.txt ") and extra.endswith("-e /opt/fediscope"), extra


def _mounts(service: dict) -> list[tuple[Path, Path, str]]:
    """A service's bind mounts as (host path, container path, mode), ``${VAR:-default}`` read as its default and a
    relative host path as compose reads it, from the compose file's directory."""
    mounts = []
    for volume in service.get("volumes", []):
        source, target, *mode = re.sub(r"\$\{\w+:?-([^}]*)\}", r"\1", volume).split(":")
        mounts.append((CLUSTER / source if source.startswith(".") else Path(source), Path(target),
                       mode[0] if mode else "rw"))
    return mounts


def test_own_metric_files_are_mounted_where_fediscope_metrics_dir_points() -> None:
    """Airflow computes the own metrics (its spark-submit driver too) and serve-api reads them: in each service
    that sets FEDISCOPE_METRICS_DIR, a read-only mount is there (a setting naming a missing directory stops every
    fediscope command), outside the checkout's mount (Docker would make the mount point inside the checkout), from
    a directory that ships empty of metric files (else Docker creates it, root's, and the example adds metrics)."""
    services = COMPOSE["services"]
    with_dir = {name: service for name, service in services.items()
                if "FEDISCOPE_METRICS_DIR" in service.get("environment", {})}
    assert {"airflow", "fediscope-api"} <= set(with_dir)
    for name, service in with_dir.items():
        value = Path(service["environment"]["FEDISCOPE_METRICS_DIR"])
        mounts = _mounts(service)
        found = [(source, mode) for source, target, mode in mounts if target == value]
        assert len(found) == 1, f"{name}: FEDISCOPE_METRICS_DIR={value} is not one mounted directory: {mounts}"
        source, mode = found[0]
        assert mode == "ro", f"{name}: mount {value} read-write"
        assert value.is_absolute() and not any(value != target and value.is_relative_to(target)
                                               for _, target, _ in mounts), f"{name}: {value} inside another mount"
        assert source.is_dir() and not list(source.glob("*.sql")), f"{name}: {source} is not an empty metrics dir"
    # every mount of a metrics directory is what the service's setting names
    for name, service in services.items():
        for _source, target, _mode in _mounts(service):
            if "metrics" in target.name:
                assert service.get("environment", {}).get("FEDISCOPE_METRICS_DIR") == str(target), (name, target)
