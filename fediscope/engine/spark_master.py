"""The addresses inside a Spark master URL: each master of ``spark://h1:p1,h2:p2``, a ``k8s://`` API server.

One parser, for two readers: the settings refuse a master Spark would refuse (a ``spark://`` master without its
port) when they load (:func:`fediscope.config.load_settings`, as a broken store or lake URL), and the Spark engine
probes these addresses before it starts a JVM for them (:func:`fediscope.engine.spark_engine.unreachable_master`),
also for a master that did not come from the settings (spark-submit's ``--master``). Imports nothing heavy: the
settings of every command read it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from fediscope.errors import ConfigError
from fediscope.redact import redact_text

#: Where a master comes from, unless said otherwise: the setting.
SETTING = "FEDISCOPE_SPARK_MASTER"


def master_addresses(master: str, origin: str = SETTING) -> list[tuple[str, int]]:
    """The ``(host, port)`` addresses a driver for ``master`` connects to first; any one that answers is enough.

    ``spark://h1:p1,h2:p2``: each master of a standalone cluster (several with standby masters); Spark refuses
    one without a port ("Invalid master URL"), so that is a :class:`ConfigError` here, naming ``origin`` (where the
    master was set). ``k8s://[https://]host[:port]``: the API server, https when no scheme is given, as Spark's
    ``checkAndGetK8sMasterUrl`` reads it. None for a local master, for ``yarn`` (the ResourceManager's address is
    in HADOOP_CONF_DIR's yarn-site.xml, which only Hadoop's client reads: nothing to probe here) and for
    ``mesos://`` (a ZooKeeper URL, Spark 4 no longer runs it).
    """
    try:
        return _addresses(master)
    except ValueError as exc:
        raise ConfigError(f"{origin}={shown_master(master)}: {exc}") from None


def shown_master(master: str) -> str:
    """``master`` as an error may show it: a user name or password before an address's ``@`` (which Spark refuses,
    and which may be a secret) as ``***``, and a credential's value in a query (``?token=``, ``?password=``) masked
    as :func:`~fediscope.redact.redact_text` masks it (was: shown as written)."""
    head, mark, query = re.sub(r"[^/,@]*@", "***@", master).partition("?")
    return head + (redact_text(mark + query) if mark else "")


#: The master URL forms fediscope runs (Spark's "Master URLs" documentation, but ``local-cluster[…]``); anything else
#: fails inside the JVM.
MASTER_FORM_RE = re.compile(r"^(local(\[(\*|[1-9][0-9]*)(\s*,\s*[0-9]+)?\])?|yarn|(spark|k8s)://\S+)$")

#: What a master of no form Spark accepts is told: the forms it may take.
MASTER_FORMS = "local[N], local[*], spark://host:7077, yarn or k8s://…"

#: Why ``local-cluster[N, C, M]`` is refused (it was taken as a local master): Spark's documentation gives it "only
#: for unit tests", N worker JVMs of C cores and M MiB on this machine. It ran only where every number suited Spark's
#: own settings: with no worker its jobs waited forever, with no core or less than ``spark.executor.memory`` (1 GiB
#: unless set) it failed inside the JVM ("An error occurred while calling … JavaSparkContext"). ``local[N]`` runs the
#: same SQL in one JVM.
LOCAL_CLUSTER_REFUSED = ("local-cluster[…] is Spark's mode for its own unit tests, which fediscope does not run: give "
                         "local[N] (N threads on this machine) or a cluster's master (spark://host:7077, yarn, k8s://…)")


def master_problem(master: str) -> str | None:
    """What makes the addresses of ``master`` unusable (:func:`master_addresses`'s refusal, without where it came
    from), or None: for the settings, which name the variable, TOML key or option themselves."""
    try:
        _addresses(master)
    except ValueError as exc:
        return str(exc)
    return None


def _addresses(master: str) -> list[tuple[str, int]]:
    """:func:`master_addresses`; ValueError saying what is wrong with one."""
    scheme, _, rest = master.partition("://")
    if scheme == "spark":
        return [_spark_master_address(part) for part in rest.split(",")]
    if scheme == "k8s":
        api = urlsplit(rest if "://" in rest else f"https://{rest}")
        if api.scheme not in ("http", "https") or not api.hostname:
            return []  # Spark names what is wrong with it
        if "@" in api.netloc:  # was: accepted (and shown masked), where spark:// refused it
            raise _credentials_refused("k8s://https://host:6443", "Spark authenticates to Kubernetes with your "
                                       "kubeconfig or its spark.kubernetes.authenticate.* settings")
        port = _port(api.netloc)
        if port == "not a number":
            raise ValueError("the API server's port is not a number")
        if port == "out of range":  # was: 0 probed as 443, 70000 "not a number"
            raise ValueError(f"the API server's port is not a number from 1 to {MAX_PORT}")
        return [(api.hostname, port or (443 if api.scheme == "https" else 80))]
    return []


MAX_PORT = 65535


def _port(netloc: str) -> int | str | None:
    """The port of ``host:port`` (None when there is none), or what is wrong with it: ``"not a number"``, or
    ``"out of range"`` (0, or above :data:`MAX_PORT`: urlsplit takes 0 for a port, and says "out of range" of a
    larger number as it says it of a word)."""
    digits = netloc.rpartition("@")[2].rpartition("]")[2].rpartition(":")
    if not digits[1]:
        return None
    if not digits[2].isdigit() or not digits[2].isascii():
        return "not a number" if digits[2] else None
    port = int(digits[2])
    return port if 1 <= port <= MAX_PORT else "out of range"


def _credentials_refused(example: str, why: str) -> ValueError:
    """The refusal of a user name or password before a master's address, a ``spark://`` or ``k8s://`` one alike;
    it does not echo them (what precedes the ``@`` may be a password)."""
    return ValueError(f"a master's address holds no user name or password ({why}): give {example}")


def _spark_master_address(part: str) -> tuple[str, int]:
    """``host:port`` of one master of a ``spark://`` URL ([v6 address] in brackets)."""
    address = urlsplit(f"//{part.strip()}")
    port = _port(address.netloc)
    if port == "out of range" and address.hostname and not (address.path or address.query or address.fragment) \
            and "@" not in address.netloc:  # was: 0 accepted (and probed), 99999 "not host:port"
        raise ValueError(f"{part.strip()!r}: the port is not a number from 1 to {MAX_PORT}")
    if not isinstance(port, int):
        port = None
    if "@" in address.netloc:
        raise _credentials_refused("spark://host:7077", "Spark refuses them")
    if not address.hostname or port is None or address.path or address.query or address.fragment:
        given = repr(shown_master(part.strip())) if part.strip() else "an empty address"
        raise ValueError(f"{given} is not host:port; Spark needs each master's port, e.g. spark://host:7077 "
                         "(spark://h1:7077,h2:7077 with standby masters)")
    return address.hostname, port
