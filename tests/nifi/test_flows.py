"""The NiFi flow definitions, validated against NiFi's real processor definitions and fediscope's own code.

``tests/data/nifi/processors.json`` was derived from apache/nifi (2.x): processor types, bundles, property keys
and relationships. The flows must use exactly those, connect or auto-terminate every relationship, reference
only parameters their context defines, page through a route the scraping API really serves, and write into
the directories ``fediscope.lake.layout`` computes for the Python collector.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from doubles.fediverse_ids import KINDS
from doubles.mastodon_server import RECORDED_AT, snowflake
from nifi_el import FUNCTIONS, SUBJECTLESS, ELError, evaluate, functions_used, parameter_references

from fediscope.lake import layout

#: Relationships a flow may auto-terminate, and why no data can be lost there.
SAFE_TO_TERMINATE = {
    ("InvokeHTTP", "Original"): "the request FlowFile; its data comes back as the Response",
    ("SplitJson", "original"): "the whole page, already emitted as one FlowFile per record",
    ("MergeContent", "original"): "the records, already inside the merged batch",
    ("RouteOnAttribute", "unmatched"): "the cursor copy of the last page of a walk (its records went to SplitJson), "
                                       "an empty poll while a walk is in flight, or the Response copy of an error "
                                       "answer (its request FlowFile carries the answer to Throttled?)",
    ("PutHDFS", "success"): "written to HDFS",
    ("PutFile", "success"): "written to the lake directory",
}
SAMPLE_PARAMETERS = {"api_key": "not-a-real-key"}
SAMPLE_DAY = datetime(2026, 11, 23, 19, 5, 1, 123000, tzinfo=UTC)


def _short(proc: dict[str, Any]) -> str:
    return proc["type"].rsplit(".", 1)[-1]


def _processors(flow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in flow["flowContents"]["processors"]}


def _parameters(flow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    name = flow["flowContents"]["parameterContextName"]
    return {p["name"]: p for p in flow["parameterContexts"][name]["parameters"]}


def _parameter_values(flow: dict[str, Any]) -> dict[str, str]:
    return {name: p.get("value") or SAMPLE_PARAMETERS.get(name, "") for name, p in _parameters(flow).items()}


def _writer(flow: dict[str, Any]) -> dict[str, Any]:
    (writer,) = [p for p in flow["flowContents"]["processors"]
                 if _short(p) in {"PutHDFS", "PutFile"} and p["name"] != "Quarantine"]
    return writer


def _root_param(flow: dict[str, Any]) -> str:
    return "hdfs_dir" if flow["_file"] == "mastodon_to_hdfs.json" else "lake_dir"


def _lake_directory(flow: dict[str, Any], relative: str) -> str:
    """Where fediscope's own lake backend puts ``relative`` under the flow's lake root (WebHDFS escapes ':')."""
    root = _parameter_values(flow)[_root_param(flow)]
    if _root_param(flow) == "hdfs_dir":
        from fediscope.lake.webhdfs import WebHDFSLake

        return WebHDFSLake(f"webhdfs://namenode:9870{root}")._abs(relative)
    from fediscope.lake.local import LocalLake

    return str(Path(LocalLake(root).local_path(relative)))


def _relationships(proc: dict[str, Any], catalogue: dict[str, Any]) -> set[str]:
    """The relationships NiFi gives this processor with this configuration."""
    spec = catalogue[proc["type"]]
    rels = set(spec["relationships"])
    props = proc["properties"]
    if _short(proc) == "RouteOnAttribute" and props.get("Routing Strategy", "Route to Property name") \
            == "Route to Property name":
        rels = {"unmatched"} | {k for k, d in proc["propertyDescriptors"].items() if d.get("dynamic")}
    if _short(proc) == "UpdateAttribute" and props.get("Store State", "Do not store state") == "Do not store state":
        rels.discard("set state fail")
    return rels


def test_the_builder_reads_its_arguments(build_flows: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """--help says what it does and writes nothing (it wrote both flow files, whatever the arguments); an unknown
    argument is refused; --check writes nothing either."""
    before = {name: (build_flows.HERE / name).stat().st_mtime_ns for name in build_flows.FLOWS}
    with pytest.raises(SystemExit) as done:
        build_flows.main(["--help"])
    assert done.value.code == 0 and "--check" in capsys.readouterr().out
    with pytest.raises(SystemExit) as done:
        build_flows.main(["--chek"])
    assert done.value.code == 2 and "unrecognized arguments: --chek" in capsys.readouterr().err
    assert build_flows.main(["--check"]) == 0
    assert {name: (build_flows.HERE / name).stat().st_mtime_ns for name in build_flows.FLOWS} == before


def test_committed_flows_are_what_the_builder_writes(build_flows: Any) -> None:
    for filename, kind in build_flows.FLOWS.items():
        committed = (build_flows.HERE / filename).read_text()
        assert committed == build_flows.render_text(kind), \
            f"{filename} is stale: run python nifi_templates/build_flows.py"


def test_flow_definition_shape(flow: dict[str, Any]) -> None:
    assert set(flow) - {"_file"} >= {"flowContents", "externalControllerServices", "parameterContexts",
                                     "parameterProviders", "flowEncodingVersion", "latest"}
    group = flow["flowContents"]
    assert group["componentType"] == "PROCESS_GROUP"
    assert group["parameterContextName"] in flow["parameterContexts"]
    ids = [c["identifier"] for key in ("processors", "connections", "labels") for c in group[key]]
    assert len(ids) == len(set(ids)), "component identifiers must be unique"
    for proc in group["processors"]:
        assert proc["componentType"] == "PROCESSOR"
        assert proc["groupIdentifier"] == group["identifier"]
        assert proc["schedulingStrategy"] == "TIMER_DRIVEN"
    names = Counter(p["name"] for p in group["processors"])
    assert max(names.values()) == 1, "processor names are unique (the README and tests refer to them)"


def test_processor_types_and_bundles_are_real(flow: dict[str, Any], catalogue: dict[str, Any]) -> None:
    for proc in flow["flowContents"]["processors"]:
        assert proc["type"] in catalogue, f"{proc['name']}: unknown processor type {proc['type']}"
        bundle = catalogue[proc["type"]]["bundle"]
        assert (proc["bundle"]["group"], proc["bundle"]["artifact"]) == (bundle["group"], bundle["artifact"]), \
            f"{proc['name']}: wrong bundle"
        assert re.fullmatch(r"2\.\d+\.\d+", proc["bundle"]["version"]), "a NiFi 2.x bundle version"


def test_the_flows_name_the_nifi_version_their_properties_are_checked_against(flow: dict[str, Any],
                                                                             catalogue_version: str) -> None:
    """The bundle version in the files is the NiFi release an operator reads as the one the flow is made for, and the
    property keys are checked against ``processors.json`` (see its ``nifi_version``), not against any other 2.x:
    NiFi renamed keys within 2.x (PutHDFS ``writing-strategy`` became ``Writing Strategy`` in October 2025,
    NIFI-15020; InvokeHTTP ``Remote URL`` became ``HTTP URL``), and an older release shows such a key as an unknown
    property and the processor invalid. The files said ``2.0.0``, a release none of those keys were checked for."""
    versions = {proc["bundle"]["version"] for proc in flow["flowContents"]["processors"]}
    assert versions == {catalogue_version}, \
        f"bundle versions {versions}: the definitions checked are NiFi {catalogue_version}'s"


def test_every_property_key_is_valid_for_its_processor(flow: dict[str, Any], catalogue: dict[str, Any]) -> None:
    for proc in flow["flowContents"]["processors"]:
        spec = catalogue[proc["type"]]
        known = spec["properties"]
        assert set(proc["properties"]) == set(proc["propertyDescriptors"]), f"{proc['name']}: descriptors"
        for key, value in proc["properties"].items():
            descriptor = proc["propertyDescriptors"][key]
            assert descriptor["name"] == key
            if descriptor.get("dynamic"):
                assert spec["supports_dynamic_properties"], f"{proc['name']}: {key!r} is not a property of " \
                                                            f"{_short(proc)}, which takes no dynamic properties"
                assert key not in known, f"{proc['name']}: {key!r} is a regular property, not a dynamic one"
            else:
                assert key in known, f"{proc['name']}: {key!r} is not a {_short(proc)} property (NiFi 2.x keys: " \
                                     f"{', '.join(sorted(known))})"
                allowable = known[key]["allowable"]
                if allowable and value is not None and "#{" not in value and "${" not in value:
                    assert value in allowable, f"{proc['name']}: {key}={value!r} not in {allowable}"


def test_required_properties_without_default_are_set(flow: dict[str, Any]) -> None:
    """The properties whose absence makes each processor invalid on import."""
    must_set = {"InvokeHTTP": {"HTTP URL"}, "SplitJson": {"JsonPath Expression"}, "PutFile": {"Directory"},
                "PutHDFS": {"Directory", "Hadoop Configuration Resources"},
                "ReplaceText": {"Replacement Strategy", "Replacement Value"},
                "MergeContent": {"Merge Strategy", "Merge Format", "Delimiter Strategy", "Demarcator"},
                "EvaluateJsonPath": {"Destination"}}
    for proc in flow["flowContents"]["processors"]:
        missing = must_set.get(_short(proc), set()) - {k for k, v in proc["properties"].items() if v}
        assert not missing, f"{proc['name']}: set {missing}"
    for proc in _processors(flow).values():
        if _short(proc) == "EvaluateJsonPath":
            assert [d for d in proc["propertyDescriptors"].values() if d.get("dynamic")], \
                f"{proc['name']}: EvaluateJsonPath needs at least one JsonPath property"


def test_every_relationship_is_connected_or_safely_auto_terminated(flow: dict[str, Any],
                                                                   catalogue: dict[str, Any]) -> None:
    group = flow["flowContents"]
    by_id = {p["identifier"]: p for p in group["processors"]}
    connected: dict[str, set[str]] = {pid: set() for pid in by_id}
    for conn in group["connections"]:
        connected[conn["source"]["id"]].update(conn["selectedRelationships"])
    for pid, proc in by_id.items():
        rels = _relationships(proc, catalogue)
        terminated = set(proc["autoTerminatedRelationships"])
        assert terminated <= rels, f"{proc['name']}: auto-terminates unknown {terminated - rels}"
        assert connected[pid] <= rels, f"{proc['name']}: connects unknown {connected[pid] - rels}"
        assert not terminated & connected[pid], f"{proc['name']}: {terminated & connected[pid]} both"
        assert rels == terminated | connected[pid], f"{proc['name']}: unrouted {rels - terminated - connected[pid]}"
        for rel in terminated:
            assert (_short(proc), rel) in SAFE_TO_TERMINATE, \
                f"{proc['name']}: auto-terminating {rel!r} could drop data; route it to retry/quarantine"


def test_connections_are_consistent(flow: dict[str, Any]) -> None:
    group = flow["flowContents"]
    by_id = {p["identifier"]: p for p in group["processors"]}
    for conn in group["connections"]:
        assert conn["componentType"] == "CONNECTION"
        assert conn["groupIdentifier"] == group["identifier"]
        assert conn["selectedRelationships"], "a connection carries at least one relationship"
        for end in ("source", "destination"):
            ref = conn[end]
            assert ref["id"] in by_id, f"{end} {ref['id']} is not a processor of the group"
            assert ref["groupId"] == group["identifier"]
            assert ref["type"] == "PROCESSOR"
            assert ref["name"] == by_id[ref["id"]]["name"]
            assert ref["instanceIdentifier"] == by_id[ref["id"]]["instanceIdentifier"]
    sources = {c["source"]["id"] for c in group["connections"]}
    destinations = {c["destination"]["id"] for c in group["connections"]}
    for pid, proc in by_id.items():
        if _short(proc) == "GenerateFlowFile":
            assert pid not in destinations, "the timer takes no input"
        else:
            assert pid in destinations, f"{proc['name']} has no incoming connection"
        assert pid in sources or proc["autoTerminatedRelationships"], f"{proc['name']} leads nowhere"


def test_parameters_exist_and_secrets_hold_no_value(flow: dict[str, Any]) -> None:
    params = _parameters(flow)
    assert {"api_url", "api_key", "instance", "hashtag", _root_param(flow)} <= set(params)
    assert params["api_key"]["sensitive"] is True
    for param in params.values():
        if param["sensitive"]:
            assert "value" not in param or param["value"] is None, f"sensitive {param['name']} carries a value"
        else:
            assert param.get("value"), f"{param['name']}: give a default so the flow is valid after import"
        assert param["description"]
    used: set[str] = set()
    for proc in flow["flowContents"]["processors"]:
        for key, value in proc["properties"].items():
            refs = parameter_references(value or "")
            used |= refs
            assert refs <= set(params), f"{proc['name']}.{key}: unknown parameters {refs - set(params)}"
            sensitive_refs = {r for r in refs if params[r]["sensitive"]}
            if sensitive_refs:  # NiFi only lets sensitive properties reference sensitive parameters
                assert proc["propertyDescriptors"][key]["sensitive"], f"{proc['name']}.{key} must be sensitive"
                assert value == "#{" + next(iter(sensitive_refs)) + "}", "a secret is referenced whole"
            if proc["propertyDescriptors"][key]["sensitive"]:
                assert sensitive_refs, f"{proc['name']}.{key}: a sensitive value belongs in a sensitive parameter"
    assert used == set(params), f"parameters never used: {set(params) - used}"


def test_expressions_parse_and_use_known_functions(flow: dict[str, Any]) -> None:
    """Every property renders with the EL evaluator (balanced braces, known functions, valid arguments)."""
    values = _parameter_values(flow)
    attributes = {"page": "2", "max_id": "105", "since_id": "99", "next.max_id": "105", "newest.id": "150",
                  "uuid": "1a2b3c4d-0000-4000-8000-000000000000", "lake.partition": "raw/x",
                  "quarantine.dir": "quarantine/x", "record.instance": "a.example",
                  "record.fetched_at": "2026-11-23T19:05:01.123Z"}
    for proc in flow["flowContents"]["processors"]:
        for value in proc["properties"].values():
            if value and "${" in value:
                assert functions_used(value) <= set(FUNCTIONS) | SUBJECTLESS
                evaluate(value, attributes, values, state={"newest_id": "99"}, now=SAMPLE_DAY)


def test_fetch_url_is_a_route_the_api_serves(flow: dict[str, Any]) -> None:
    api = pytest.importorskip("api", reason="the scraping API (api/) is not in this checkout")
    if not hasattr(api, "create_app"):
        pytest.skip("api.create_app does not exist yet")
    from fediscope.config import Settings

    app = api.create_app(Settings(api_key=("k",), pseudonym_key="test-key"))
    fetch = _processors(flow)["Fetch page"]
    values = _parameter_values(flow) | {"api_url": "http://api.example:8000"}
    url = evaluate(fetch["properties"]["HTTP URL"], {"max_id": "105", "since_id": "99"}, values)
    parts = urlsplit(url)
    adapter = app.url_map.bind("api.example:8000")
    endpoint, args = adapter.match(parts.path, method=fetch["properties"]["HTTP Method"])
    assert args == {"tag": values["hashtag"]}, endpoint
    # the query is one the route accepts (the API refuses unknown parameters with a 400)
    from werkzeug.datastructures import MultiDict

    from api.params import parse_query

    query = parse_query(MultiDict(parse_qsl(parts.query)))
    assert (query.domain, query.max_id, query.since_id, query.limit) == (values["instance"], "105", "99", 40)


def test_readme_lets_a_copied_flow_fetch_only_routes_of_statuses(flow: dict[str, Any], build_flows: Any) -> None:
    """``Set lake path`` lands every record under ``raw/mastodon/statuses/``: the flow and a copy of it may fetch the
    routes whose records are statuses (as ``fediscope collect`` lands them), and no other. The README pointed at
    ``/openapi.json`` for "every route", so a copy fetching ``/v1/trends/tags`` would land tags among the statuses."""
    api = pytest.importorskip("api", reason="the scraping API (api/) is not in this checkout")
    if not hasattr(api, "create_app"):
        pytest.skip("api.create_app does not exist yet")
    from api.params import PageQuery
    from api.routes import ROUTES
    from fediscope.config import Settings

    readme = (build_flows.HERE / "README.md").read_text()
    paragraph = next(p for p in readme.split("\n\n") if p.startswith("The flows fetch a single hashtag."))
    adapter = api.create_app(Settings(api_key=("k",), pseudonym_key="test-key")).url_map.bind("api.example")
    # a parameter (#{hashtag}) or a placeholder (<user@domain>) in a path stands for one path segment
    fetched = evaluate(_processors(flow)["Fetch page"]["properties"]["HTTP URL"], {},
                       _parameter_values(flow) | {"api_url": "", "hashtag": "x"}).partition("?")[0]
    routes = re.findall(r"(?:#\{api_url\}|\$\{#\{api_url\}:append\(')(/v1/[^?'`\s]*)", paragraph)
    named = {adapter.match(re.sub(r"#\{\w+\}|<[^>]+>", "x", path))[0] for path in (fetched, *routes)}
    query = PageQuery(instance="a.example", domain="a.example")
    lands = {route.endpoint: route.resource().source(query, tag="python", acct="Gargron").entity
             for route in ROUTES if route.records}
    assert named == {endpoint for endpoint, entity in lands.items() if entity == "statuses"}, \
        f"README: name every route of statuses, and no other (routes: {lands})"
    assert "raw/mastodon/statuses/" in paragraph, "README: say where a copy lands what it fetches"


def test_every_json_path_the_flow_reads_is_in_the_documented_answer(flow: dict[str, Any]) -> None:
    """The paths ``Read cursor``, ``One record per FlowFile`` and ``Read record meta`` read are fields of the answer
    the API documents (its OpenAPI ``RecordsPage``, whose match with the real answers the API tests check): a field
    renamed on one side only would make every walk end after its first page, or land records in no partition."""
    api = pytest.importorskip("api", reason="the scraping API (api/) is not in this checkout")
    if not hasattr(api, "create_app"):
        pytest.skip("api.create_app does not exist yet")
    from api.openapi import build_document

    schemas = build_document()["components"]["schemas"]

    def field(schema: dict[str, Any], steps: list[str]) -> dict[str, Any] | None:
        for step in steps:
            while "$ref" in schema or schema.get("type") == "array":
                schema = schemas[schema["$ref"].rsplit("/", 1)[-1]] if "$ref" in schema else schema["items"]
            if step not in schema.get("properties", {}):
                return None
            schema = schema["properties"][step]
        return schema

    procs = _processors(flow)
    page = {"$ref": "#/components/schemas/RecordsPage"}
    reads = {name: {k: v for k, v in procs[name]["properties"].items()
                    if procs[name]["propertyDescriptors"][k].get("dynamic")} for name in ("Read cursor",
                                                                                       "Read record meta")}
    paths = [(page, path) for path in reads["Read cursor"].values()]
    paths.append((page, procs["One record per FlowFile"]["properties"]["JsonPath Expression"]))
    paths += [({"$ref": "#/components/schemas/Record"}, path) for path in reads["Read record meta"].values()]
    for schema, path in paths:
        assert path.startswith("$."), path
        assert field(schema, path.removeprefix("$.").split(".")) is not None, \
            f"{path} is not in the API's documented answer"


def test_api_key_is_sent_as_a_sensitive_header(flow: dict[str, Any]) -> None:
    fetch = _processors(flow)["Fetch page"]
    assert fetch["properties"]["X-API-Key"] == "#{api_key}"
    descriptor = fetch["propertyDescriptors"]["X-API-Key"]
    assert descriptor["dynamic"] and descriptor["sensitive"]
    assert "api_key" not in fetch["properties"]["HTTP URL"], "the key never travels in the URL (it would be logged)"


def test_the_flow_names_itself_as_the_collector_does_and_asks_only_the_api(flow: dict[str, Any]) -> None:
    """Was: ``Request User-Agent: fediscope-nifi``, no version and no URL. Now in the collector's form
    (``fediscope.sources.client.USER_AGENT``): the tool, fediscope's version and its URL, sent as written (no
    Expression Language in it). No contact: the flow's only HTTP request goes to the scraping API (``api_url``),
    whose own requests to the instance carry the collector's User-Agent and FEDISCOPE_CONTACT."""
    from fediscope import __version__
    from fediscope.sources.client import USER_AGENT

    project_url = re.fullmatch(r"fediscope/\S+ \(\+(\S+); research collector\)", USER_AGENT)
    assert project_url is not None, USER_AGENT
    invokers = [p for p in _processors(flow).values() if _short(p) == "InvokeHTTP"]
    assert [p["name"] for p in invokers] == ["Fetch page"]
    assert invokers[0]["properties"]["HTTP URL"].startswith("${#{api_url}:")
    agent = invokers[0]["properties"]["Request User-Agent"]
    assert agent == f"fediscope-nifi/{__version__} (+{project_url.group(1)}; NiFi flow)"
    assert evaluate(agent, {}, _parameter_values(flow)) == agent


@pytest.mark.parametrize("instance", ["mastodon.social", "127.0.0.1:8080"])
def test_landing_directory_is_the_collector_partition(flow: dict[str, Any], instance: str) -> None:
    procs = _processors(flow)
    values = _parameter_values(flow)
    record = {"record.instance": instance, "record.fetched_at": "2026-11-23T23:59:59.999Z"}
    attrs = {k: evaluate(v, record, values, now=SAMPLE_DAY)
             for k, v in procs["Set lake path"]["properties"].items() if procs["Set lake path"]
             ["propertyDescriptors"][k].get("dynamic")}
    directory = evaluate(_writer(flow)["properties"]["Directory"], attrs, values)
    assert directory == _lake_directory(flow, layout.partition_dir("statuses", instance, date(2026, 11, 23)))


def test_landing_directory_falls_back_to_parameters_and_today(flow: dict[str, Any]) -> None:
    procs = _processors(flow)
    values = _parameter_values(flow)
    partition = evaluate(procs["Set lake path"]["properties"]["lake.partition"], {}, values, now=SAMPLE_DAY)
    assert partition == layout.partition_dir("statuses", values["instance"], SAMPLE_DAY.date())


#: Values NiFi would read as Expression Language had the flows pasted them into a property's text (``#{lake_dir}/…``):
#: an expression, an escaped one, a ``$$``, a lone ``$`` (which shifted the parity of NiFi's parameter parser, so the
#: parameter expression after it became ``${##{hashtag}…}``, which NiFi cannot compile) and a parameter reference.
DOLLAR_VALUES = ["${x}", "$${x}", "a$$b", "a$b", "#{instance}", "$"]


@pytest.mark.parametrize("text", DOLLAR_VALUES)
def test_the_lake_root_is_used_as_written(flow: dict[str, Any], text: str) -> None:
    """The writers and the quarantine write under the lake root exactly as the parameter holds it: referenced as
    ``#{lake_dir}/${lake.partition}``, NiFi evaluated the root's ``${x}`` (attribute x: the records landed in
    ``/srv/lake/raw/…``) and turned its ``$$`` into ``$``."""
    root = f"/srv/lake{text}"
    values = _parameter_values(flow) | {_root_param(flow): root}
    for proc, attribute in ((_writer(flow), "lake.partition"), (_processors(flow)["Quarantine"], "quarantine.dir")):
        directory = evaluate(proc["properties"]["Directory"], {attribute: "raw/mastodon", "x": "X"}, values)
        assert directory == f"{root}/raw/mastodon", proc["name"]
    if _root_param(flow) == "hdfs_dir":
        config = f"/etc/hadoop{text}/core-site.xml,/etc/hadoop/conf/hdfs-site.xml"
        values["hadoop_config"] = config
        for proc in (_writer(flow), _processors(flow)["Quarantine"]):
            assert evaluate(proc["properties"]["Hadoop Configuration Resources"], {"x": "X"}, values) == config


@pytest.mark.parametrize("text", DOLLAR_VALUES)
def test_the_api_url_is_used_as_written(flow: dict[str, Any], text: str) -> None:
    """``Fetch page`` sends its request to ``api_url`` as written (a ``$`` in its path): referenced as
    ``#{api_url}/v1/…``, NiFi evaluated a ``${x}`` in it, turned ``$$`` into ``$``, and after an odd number of ``$``
    its parameter parser no longer saw the query's expression as one, so ``#{hashtag}`` in it was escaped as text and
    NiFi could not compile the URL (the processor invalid)."""
    api_url = f"http://api.example:8000/base{text}"
    values = _parameter_values(flow) | {"api_url": api_url}
    url = evaluate(_processors(flow)["Fetch page"]["properties"]["HTTP URL"], {"x": "X", "max_id": "105"}, values)
    assert url == f"{api_url}/v1/timelines/tag/{values['hashtag']}?instance={values['instance']}&limit=40&max_id=105"


def test_batch_file_name_is_a_collector_batch_id(flow: dict[str, Any]) -> None:
    values = _parameter_values(flow)
    name_rule = _processors(flow)["Name batch file"]["properties"]["filename"]
    name = evaluate(name_rule, {"uuid": "9f8e7d6c-1111-4222-8333-444455556666"}, values, now=SAMPLE_DAY)
    batch_id = name.removesuffix(".jsonl")
    assert name.endswith(".jsonl")
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", batch_id)
    assert batch_id.split("-")[0] == layout.new_batch_id(SAMPLE_DAY).split("-")[0]
    assert layout.batch_path("statuses", "a.example", SAMPLE_DAY.date(), batch_id).endswith(name)


def test_merge_writes_json_lines_per_partition(flow: dict[str, Any]) -> None:
    merge = _processors(flow)["Merge into batch files"]["properties"]
    assert merge["Merge Format"] == "Binary Concatenation"
    assert merge["Delimiter Strategy"] == "Text"
    assert merge["Demarcator"] == "\n" and merge["Footer"] == "\n"
    assert merge["Correlation Attribute Name"] == "lake.partition", "one batch file never spans two partitions"
    split = _processors(flow)["One record per FlowFile"]["properties"]
    assert split["JsonPath Expression"] == "$.records"


def test_merge_waits_for_full_batches_or_the_bin_age(flow: dict[str, Any]) -> None:
    """MergeContent (BinFiles) hands over every bin holding its minimum as soon as its input queue is empty: a
    minimum of 1 landed a batch file per page of 40 records (the HDFS small-files problem). The minimum is the
    maximum, so a bin is written when full or when Max Bin Age has passed."""
    merge = _processors(flow)["Merge into batch files"]["properties"]
    assert merge["Minimum Number of Entries"] == merge["Maximum Number of Entries"] == "5000"
    assert merge["Max Bin Age"] == "2 min", "a partition's records are landed at most 2 minutes after binning"


def test_writes_are_atomic_and_never_overwrite(flow: dict[str, Any]) -> None:
    for proc in (_writer(flow), _processors(flow)["Quarantine"]):
        assert proc["properties"]["Conflict Resolution Strategy"] == "fail"
        if _short(proc) == "PutHDFS":
            assert proc["properties"]["Writing Strategy"] == "writeAndRename"
            values = _parameter_values(flow)
            assert evaluate(proc["properties"]["Hadoop Configuration Resources"], {}, values) \
                == values["hadoop_config"]


def test_failures_end_in_the_quarantine_directory(flow: dict[str, Any], catalogue: dict[str, Any]) -> None:
    """Follow every failure-like relationship: it must reach the Quarantine processor (or retry)."""
    group = flow["flowContents"]
    by_id = {p["identifier"]: p for p in group["processors"]}
    edges: dict[str, set[str]] = {}
    for conn in group["connections"]:
        edges.setdefault(by_id[conn["source"]["id"]]["name"], set()).add(by_id[conn["destination"]["id"]]["name"])
    reach: dict[str, set[str]] = {}

    def reachable(name: str) -> set[str]:
        if name not in reach:
            reach[name] = set()
            todo = list(edges.get(name, ()))
            while todo:
                nxt = todo.pop()
                if nxt not in reach[name]:
                    reach[name].add(nxt)
                    todo.extend(edges.get(nxt, ()))
        return reach[name]

    failure_like = {"failure", "Failure", "Retry", "No Retry", "retries_exceeded", "unmatched", "set state fail"}
    for conn in group["connections"]:
        src = by_id[conn["source"]["id"]]["name"]
        dst = by_id[conn["destination"]["id"]]["name"]
        if set(conn["selectedRelationships"]) & failure_like:
            assert dst == "Quarantine" or "Quarantine" in reachable(dst) or dst == src, \
                f"{src} {conn['selectedRelationships']} does not lead to the quarantine"
    values = _parameter_values(flow)
    quarantine_dir = evaluate(_processors(flow)["Name quarantine file"]["properties"]["quarantine.dir"], {},
                              values, now=SAMPLE_DAY)
    name = evaluate(_processors(flow)["Name quarantine file"]["properties"]["filename"],
                    {"quarantine.reason": "fetch", "uuid": "0a1b2c3d-0000"}, values, now=SAMPLE_DAY)
    batch_id = name.removeprefix("nifi_fetch-").removesuffix(".json")
    expected = layout.quarantine_path(values["instance"], "nifi_fetch", SAMPLE_DAY.date(), batch_id)
    assert f"{quarantine_dir}/{name}" == expected
    directory = evaluate(_processors(flow)["Quarantine"]["properties"]["Directory"],
                         {"quarantine.dir": quarantine_dir}, values)
    assert directory == _lake_directory(flow, quarantine_dir)



@pytest.mark.parametrize("instance", ["mastodon.social", "127.0.0.1:8080"])
def test_a_dot_file_an_interrupted_write_leaves_is_one_retention_removes(flow: dict[str, Any],
                                                                         instance: str) -> None:
    """PutFile and PutHDFS (writeAndRename, no compression codec) write ``.<filename>`` in the target directory and
    rename it to ``<filename>``: a NiFi killed in between leaves the dot-file behind. ``fediscope.lake.debris``
    recognises exactly the paths the flows give it (retention removes them a day old): a batch's in its partition,
    a quarantine file's in its directory, for every quarantine reason the flow sets."""
    from fediscope.lake.debris import is_nifi_in_flight

    procs = _processors(flow)
    values = _parameter_values(flow) | {"instance": instance}
    for proc in (_writer(flow), procs["Quarantine"]):
        assert proc["properties"].get("Compression Codec", "NONE") == "NONE", "a codec would add its extension"
    record = {"record.instance": instance, "record.fetched_at": "2026-11-23T23:59:59.999Z"}
    partition = evaluate(procs["Set lake path"]["properties"]["lake.partition"], record, values, now=SAMPLE_DAY)
    quarantine_dir = evaluate(procs["Name quarantine file"]["properties"]["quarantine.dir"], {}, values,
                              now=SAMPLE_DAY)
    reasons = {p["properties"]["quarantine.reason"] for p in procs.values() if "quarantine.reason" in p["properties"]}
    assert reasons == {"fetch", "landing"}
    for uuid in ("9f8e7d6c-1111-4222-8333-444455556666", "00000000-0000-4000-8000-000000000000"):
        name = evaluate(procs["Name batch file"]["properties"]["filename"], {"uuid": uuid}, values, now=SAMPLE_DAY)
        assert is_nifi_in_flight(f"{partition}/.{name}"), name
        assert not is_nifi_in_flight(f"{partition}/{name}")  # the landed batch is data
        for reason in (*sorted(reasons), ""):  # none set: 'unprocessable'
            quarantined = evaluate(procs["Name quarantine file"]["properties"]["filename"],
                                   {"quarantine.reason": reason, "uuid": uuid}, values, now=SAMPLE_DAY)
            assert is_nifi_in_flight(f"{quarantine_dir}/.{quarantined}"), quarantined
            assert not is_nifi_in_flight(f"{quarantine_dir}/{quarantined}")
            assert not is_nifi_in_flight(f"{partition}/.{quarantined}")  # each name only where the flows write it
        assert not is_nifi_in_flight(f"{quarantine_dir}/.{name}")


class _Walk:
    """Plays the cursor loop (Cursor → More pages? → Fetch page → Read cursor → Cursor) with the flow's rules. Each
    poll comes ``POLL`` after the last (the timer's period), and every FlowFile has a uuid of its own (InvokeHTTP's
    response is a new FlowFile)."""

    POLL = timedelta(minutes=5)

    def __init__(self, flow: dict[str, Any]) -> None:
        self.procs = _processors(flow)
        self.values = _parameter_values(flow) | {"max_pages": "3"}
        initial = self.procs["Cursor"]["properties"]["Stateful Variables Initial Value"]
        self.state: dict[str, str] = {"newest_id": initial}
        self.now = SAMPLE_DAY
        self.flowfiles = 0

    def _uuid(self) -> str:
        self.flowfiles += 1
        return f"00000000-0000-4000-8000-{self.flowfiles:012d}"

    def cursor(self, attributes: dict[str, str]) -> dict[str, str]:
        props = self.procs["Cursor"]["properties"]
        dynamic = [k for k, d in self.procs["Cursor"]["propertyDescriptors"].items() if d.get("dynamic")]
        updates = {k: evaluate(props[k], attributes, self.values, state=self.state, now=self.now) for k in dynamic}
        self.state.update(updates)  # 'Store state locally' stores every dynamic property
        return attributes | updates

    def fetch(self, attributes: dict[str, str]) -> str | None:
        rule = self.procs["More pages?"]["properties"]["fetch"]
        if evaluate(rule, attributes, self.values) != "true":
            return None
        return evaluate(self.procs["Fetch page"]["properties"]["HTTP URL"], attributes, self.values)

    def poll(self) -> dict[str, str]:
        """The timer's FlowFile, ``POLL`` after the last one, through ``Cursor``."""
        self.now += self.POLL
        return self.cursor({"uuid": self._uuid()})

    def respond(self, attributes: dict[str, str], body: dict[str, Any]) -> dict[str, str]:
        """The response to the request ``attributes`` made, through ``Read cursor`` and back through ``Cursor``."""
        read = self.procs["Read cursor"]["properties"]
        paths = {k: v for k, v in read.items() if self.procs["Read cursor"]["propertyDescriptors"][k]["dynamic"]}
        extracted = {k: _json_path(body, v) for k, v in paths.items()}
        return self.cursor(attributes | extracted | {"uuid": self._uuid()})

    def walk(self, pages: dict[str | None, dict[str, Any]] | Callable[[dict[str, str]], dict[str, Any] | None]
             ) -> list[str]:
        """``pages``: max_id cursor (None for the first page) → response body, or a function of the request's
        query giving the body (None: the request failed for good, so the walk ends in the quarantine).
        Returns the URLs requested."""
        urls = []
        attrs = self.poll()
        while (url := self.fetch(attrs)) is not None:
            urls.append(url)
            query = dict(parse_qsl(urlsplit(url).query))
            body = pages(query) if callable(pages) else pages[query.get("max_id")]
            if body is None:
                break
            attrs = self.respond(attrs, body)
        return urls


def _json_path(body: dict[str, Any], path: str) -> str:
    """``$.a.b`` lookups, empty string when a step is missing or null (the flow's Null Value Representation)."""
    value: Any = body
    for step in path.removeprefix("$.").split("."):
        value = value.get(step) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def _page(ids: list[Any], has_next: bool) -> dict[str, Any]:
    return {"records": [{"data": {"id": str(i)}} for i in ids], "count": len(ids),
            "next": {"max_id": str(ids[-1])} if has_next and ids else None,
            "prev": {"min_id": str(ids[0])} if ids else None}


def test_cursor_walks_back_pages_then_resumes_from_the_newest_id(flow: dict[str, Any]) -> None:
    walk = _Walk(flow)
    first = walk.walk({None: _page([150, 149], True), "149": _page([120, 119], True), "119": _page([90], False)})
    assert [dict(parse_qsl(urlsplit(u).query)).get("max_id") for u in first] == [None, "149", "119"]
    assert all("since_id" not in u for u in first), "the first walk has no since_id yet"
    second = walk.walk({None: _page([170, 160], False)})
    assert len(second) == 1 and "since_id=150" in second[0], "the next walk starts above the newest id seen"
    third = walk.walk({None: _page([], False)})
    assert "since_id=170" in third[0]
    fourth = walk.walk({None: _page([180], False)})
    assert "since_id=170" in fourth[0], "an empty page keeps the cursor"


def test_cursor_stops_at_max_pages(flow: dict[str, Any]) -> None:
    walk = _Walk(flow)
    endless = {None: _page([100], True)} | {str(i): _page([i - 1], True) for i in range(1, 101)}
    assert len(walk.walk(endless)) == 3  # max_pages=3


def test_readme_documents_every_parameter_and_processor(flow: dict[str, Any], build_flows: Any) -> None:
    readme = (build_flows.HERE / "README.md").read_text()
    for name in _parameters(flow):
        assert f"`{name}`" in readme, f"README: document parameter {name}"
    for name in _processors(flow):
        assert name in readme, f"README: describe processor {name!r}"
    assert "Upload flow definition" in readme


class _Timeline:
    """A hashtag timeline answering like Mastodon through the API: the newest ``limit`` ids below ``max_id`` and
    above ``since_id``, a ``next`` cursor while the page has items. ``fail`` lists max_id cursors whose request
    fails for good (retries exhausted) once. ``order``: how the server orders its ids (text ids: by what they
    decode to, as GoToSocial and Pleroma compare them)."""

    def __init__(self, ids: list[Any], limit: int = 2, order: Callable[[str], int] = int) -> None:
        self.order, self.limit, self.fail = order, limit, set[str]()
        self.ids = sorted(ids, key=lambda i: order(str(i)), reverse=True)
        self.served: set[Any] = set()

    def __call__(self, query: dict[str, str]) -> dict[str, Any] | None:
        if query.get("max_id") in self.fail:
            self.fail.discard(query["max_id"])
            return None
        upper = self.order(query["max_id"]) if "max_id" in query else 2**128
        lower = self.order(query["since_id"]) if "since_id" in query else -1
        page = [i for i in self.ids if lower < self.order(str(i)) < upper][:self.limit]
        self.served.update(page)
        return _page(page, has_next=True)

    def post(self, *ids: Any) -> None:
        self.ids = sorted([*self.ids, *ids], key=lambda i: self.order(str(i)), reverse=True)


def test_a_walk_that_spends_max_pages_is_resumed_and_skips_nothing(flow: dict[str, Any]) -> None:
    """A busy timeline (more new statuses per poll than max_pages hold) is walked down to the checkpoint over
    several polls: the checkpoint only moves when the gap below it is closed (the collector's rule)."""
    walk, timeline = _Walk(flow), _Timeline(list(range(1, 7)))
    walk.walk(timeline)  # first walk: a backfill of max_pages pages (ids 6..1), then the checkpoint is 6
    assert walk.state["newest_id"] == "6"
    timeline.served.clear()
    timeline.post(*range(7, 27))  # 20 new statuses: 10 pages, max_pages is 3
    for _ in range(6):
        walk.walk(timeline)
    assert timeline.served == set(range(7, 27)), f"never fetched: {sorted(set(range(7, 27)) - timeline.served)}"
    assert walk.state["newest_id"] == "26"
    assert walk.walk(timeline)[0].endswith("since_id=26"), "caught up: the next walk starts above the newest"


@pytest.mark.parametrize("kind", ["ulid", "flake"])
def test_the_checkpoint_moves_with_text_ids(flow: dict[str, Any], kind: str) -> None:
    """GoToSocial's ULIDs, Pleroma's FlakeIds: NiFi's ``gt`` reads them as null (false), so the checkpoint has
    to move to a closed walk's top without it; the walks are then the snowflake test's above."""
    encode, decode = KINDS[kind]
    ids = [encode(snowflake(RECORDED_AT + timedelta(minutes=n), n)) for n in range(1, 27)]
    walk, timeline = _Walk(flow), _Timeline(ids[:6], order=decode)
    walk.walk(timeline)
    assert walk.state["newest_id"] == ids[5]
    timeline.served.clear()
    timeline.post(*ids[6:])  # 20 new statuses: 10 pages, max_pages is 3
    for _ in range(6):
        walk.walk(timeline)
    assert timeline.served == set(ids[6:])
    assert walk.state["newest_id"] == ids[-1]
    assert walk.walk(timeline)[0].endswith(f"since_id={ids[-1]}"), "caught up: the next walk starts above the newest"
    assert walk.state["newest_id"] == ids[-1], "an empty walk keeps the checkpoint"


@pytest.mark.parametrize(("checkpoint", "top", "moved"), [
    ("0", "150", "150"), ("99", "150", "150"),
    ("150", "99", "150"),  # numbers are compared: a top below the checkpoint (since_id ignored) does not move it
    ("150", "", "150"),  # an empty first page has no top
    ("0", "01J5ZK3V8Q0000000000000000", "01J5ZK3V8Q0000000000000000"),  # the first walk of a GoToSocial server
    ("01J5ZK3V8Q0000000000000000", "01J5ZK3V9R0000000000000000", "01J5ZK3V9R0000000000000000"),
    ("1234", "AeNwR5ICJrX4YhF8ee", "AeNwR5ICJrX4YhF8ee"),  # Pleroma: a pre-FlakeId number, then a FlakeId
])
def test_a_closed_walk_moves_the_checkpoint_to_its_top(flow: dict[str, Any], checkpoint: str, top: str,
                                                       moved: str) -> None:
    rule = _processors(flow)["Cursor"]["properties"]["newest_id"]
    closed = {"page": "2", "next.max_id": "", "since_id": checkpoint, "walk.upper": top}
    assert evaluate(rule, closed, _parameter_values(flow), state={"newest_id": checkpoint}) == moved
    # max_pages spent: the walk goes on next poll; a first walk (no checkpoint yet) ends there, its backfill
    spent = closed | {"page": "10", "next.max_id": "5"}
    assert evaluate(rule, spent, _parameter_values(flow), state={"newest_id": checkpoint}) == \
        (moved if checkpoint == "0" else checkpoint)


def test_the_evaluator_reads_numbers_and_branches_as_nifi_does() -> None:
    """``gt`` of text that is no number is false (``NumberCastEvaluator`` gives null), ``matches`` matches the
    whole subject, and ``ifElse`` evaluates only the branch it chooses (``IfElseEvaluator``)."""
    ulid = "01J5ZK3V8Q0000000000000000"
    assert evaluate("${a:gt(5)}", {"a": ulid}) == "false" and evaluate("${a:gt(5)}", {"a": "7"}) == "true"
    assert evaluate("${a:gt(${b})}", {"a": "7", "b": ulid}) == "false"
    assert evaluate("${a:plus(1)}", {"a": ulid}) == "" and evaluate("${a:plus(1)}", {"a": "0x1F"}) == "32"
    assert [evaluate("${a:matches('[0-9]+')}", {"a": a} if a is not None else {})
            for a in ("123", "12a", "", None, ulid)] == ["true", "false", "false", "false", "false"]
    assert evaluate("${a:equals('x'):ifElse('chosen', ${a:not()})}", {"a": "x"}) == "chosen"
    with pytest.raises(ELError):
        evaluate("${a:equals('y'):ifElse('chosen', ${a:not()})}", {"a": "x"})  # the chosen branch still fails
    with pytest.raises(ELError, match="unknown"):
        evaluate("${a:equals('x'):ifElse('chosen', ${a:noSuchFunction()})}", {"a": "x"})  # NiFi compiles both


def test_a_walk_that_fails_half_way_is_walked_again(flow: dict[str, Any]) -> None:
    walk, timeline = _Walk(flow), _Timeline([1, 2])
    walk.walk(timeline)
    timeline.served.clear()
    timeline.post(3, 4, 5, 6, 7)
    timeline.fail.add("6")  # the second page of the next walk fails for good (quarantined)
    walk.walk(timeline)
    assert walk.state["newest_id"] == "2", "the checkpoint must not pass a gap that was not landed"
    walk.now += timedelta(minutes=15)  # the failed walk's lock expires (see the walk lock test)
    walk.walk(timeline)  # three pages (7 6, 5 4, 3): max_pages spent, resumed by the next walk
    walk.walk(timeline)
    assert timeline.served == {3, 4, 5, 6, 7}
    assert walk.state["newest_id"] == "7"


def test_a_poll_while_a_walk_is_in_flight_starts_no_second_walk(flow: dict[str, Any],
                                                                 build_flows: Any) -> None:
    """A page whose request is retried (5 times, 1 min apart) keeps its walk in flight past the next poll: that poll
    started a second walk from the same checkpoint, so both walked the same pages (landing them twice). The walk
    holds a lock in ``Cursor``'s state: a poll meanwhile is dropped by ``More pages?``. A walk that ends without
    coming back to ``Cursor`` (its page quarantined) holds it for ``WALK_LOCK_MINUTES`` after its last page."""
    walk, timeline = _Walk(flow), _Timeline(list(range(1, 3)))
    walk.walk(timeline)
    timeline.post(3, 4, 5, 6)  # two pages, and an empty third that closes the walk
    timeline.served.clear()
    first = walk.poll()
    second = walk.respond(first, timeline(dict(parse_qsl(urlsplit(walk.fetch(first) or "").query))))
    assert walk.fetch(second) is not None  # its second page is asked for, and retried for minutes
    for _ in range(2):  # two polls while the page is retried
        assert walk.fetch(walk.poll()) is None, "a second walk started while the first was in flight"
    assert timeline.served == {6, 5}
    attrs = second
    while (url := walk.fetch(attrs)) is not None:  # the first walk goes on, and closes at the checkpoint
        attrs = walk.respond(attrs, timeline(dict(parse_qsl(urlsplit(url).query))))
    assert timeline.served == {3, 4, 5, 6} and walk.state["newest_id"] == "6"
    assert walk.walk(timeline)[0].endswith("since_id=6"), "the next poll walks"

    timeline.post(7, 8, 9)
    timeline.fail.add("8")  # the next walk's second page fails for good: it never comes back to Cursor
    assert len(walk.walk(timeline)) == 2
    expires = walk.now + timedelta(minutes=build_flows.WALK_LOCK_MINUTES)
    while walk.now + walk.POLL < expires:
        assert walk.walk(timeline) == [], "the lock of a walk that failed is held until it expires"
    assert walk.walk(timeline)[0].endswith("since_id=6")  # then the gap is walked again
    assert walk.state["newest_id"] == "9" and timeline.served >= {7, 8, 9}


def _next_processor(flow: dict[str, Any], source: str, relationship: str, attributes: dict[str, str]) -> str:
    """Where a FlowFile leaving ``source`` on ``relationship`` is processed next, through any RouteOnAttribute."""
    group = flow["flowContents"]
    by_id = {p["identifier"]: p for p in group["processors"]}
    (destination,) = [by_id[c["destination"]["id"]] for c in group["connections"]
                      if by_id[c["source"]["id"]]["name"] == source and relationship in c["selectedRelationships"]]
    if _short(destination) != "RouteOnAttribute":
        return str(destination["name"])
    values = _parameter_values(flow)
    matched = [name for name, d in destination["propertyDescriptors"].items() if d.get("dynamic")
               and evaluate(destination["properties"][name], attributes, values) == "true"]
    return _next_processor(flow, destination["name"], matched[0] if matched else "unmatched", attributes)


def test_a_throttled_request_is_retried_and_a_refused_one_quarantined(flow: dict[str, Any]) -> None:
    """InvokeHTTP routes only 5xx to Retry: a 429 (rate limit) must be retried too, not quarantined at once."""
    assert _next_processor(flow, "Fetch page", "Retry", {"invokehttp.status.code": "502"}) == "Retry fetch"
    assert _next_processor(flow, "Fetch page", "No Retry", {"invokehttp.status.code": "429"}) == "Retry fetch"
    for status in ("400", "401", "403", "404"):
        assert _next_processor(flow, "Fetch page", "No Retry", {"invokehttp.status.code": status}) \
            == "Describe failed request"


def test_each_page_gets_its_own_fetch_retries(flow: dict[str, Any]) -> None:
    """RetryFlowFile counts in ``<Retry Attribute>`` (and its ``.uuid``) on the FlowFile, and the next page's
    request is made from this page's response: the cursor drops the counter, so 5 retries are per page."""
    counter = _processors(flow)["Retry fetch"]["properties"]["Retry Attribute"]
    pattern = re.compile(_processors(flow)["Cursor"]["properties"]["Delete Attributes Expression"])
    assert pattern.fullmatch(counter) and pattern.fullmatch(f"{counter}.uuid")
    for kept in _processors(flow)["Cursor"]["properties"]:
        assert not pattern.fullmatch(kept), f"the cursor would delete its own {kept!r}"


def _instance_spellings() -> list[str]:
    """Ways to write an instance in the ``instance`` parameter: scheme, case, final dot, port, trailing ``/``,
    surrounding blanks, in every combination."""
    spellings = []
    for scheme in ("", "http://", "HTTPS://"):
        for host in ("Mastodon.Social", "127.0.0.1", "xn--bcher-kva.example"):
            for dot in ("", "."):
                for port in ("", ":", ":0", ":80", ":080", ":443", ":0443", ":8080", ":08080", ":65535"):
                    for tail in ("", "/"):
                        for pad in ("", " \t"):
                            spellings.append(f"{pad}{scheme}{host}{dot}{port}{tail}{pad}")
    return spellings


def _named_paths(flow: dict[str, Any], instance: str) -> tuple[str, str, str]:
    """The quarantine directory, a quarantine file's name and the fallback partition (a record without
    ``meta.instance``) the flow names for ``instance``."""
    procs = _processors(flow)
    values = _parameter_values(flow) | {"instance": instance}
    namer = procs["Name quarantine file"]["properties"]
    directory = evaluate(namer["quarantine.dir"], {}, values, now=SAMPLE_DAY)
    name = evaluate(namer["filename"], {"quarantine.reason": "fetch", "uuid": "9f8e7d6c-1111-4222-8333-444455556666"},
                    values, now=SAMPLE_DAY)
    partition = evaluate(procs["Set lake path"]["properties"]["lake.partition"], {}, values, now=SAMPLE_DAY)
    return directory, name, partition


@pytest.mark.parametrize("instance", ["https://Mastodon.Social/", "Mastodon.Social.", "mastodon.social:443",
                                      "HTTP://Mastodon.Social:80/", " mastodon.social "])
def test_the_quarantine_is_named_after_the_instance_as_fediscope_names_it(flow: dict[str, Any],
                                                                         instance: str) -> None:
    """The API takes ``instance=https://Mastodon.Social/`` and lands its records under ``instance=mastodon.social``;
    the quarantine (and the partition of a record without ``meta.instance``) was named after the parameter as typed:
    ``quarantine/instance=https://Mastodon.Social//dt=…``, nested directories that ``quarantine_path`` refuses and
    whose dot-files retention never removed."""
    from fediscope.lake.debris import is_nifi_in_flight

    directory, name, partition = _named_paths(flow, instance)
    batch_id = name.removeprefix("nifi_fetch-").removesuffix(".json")
    assert f"{directory}/{name}" == layout.quarantine_path("mastodon.social", "nifi_fetch", SAMPLE_DAY.date(),
                                                           batch_id)
    assert is_nifi_in_flight(f"{directory}/.{name}")
    assert partition == layout.partition_dir("statuses", "mastodon.social", SAMPLE_DAY.date())


def test_every_spelling_of_an_instance_is_normalised_as_fediscope_does(flow: dict[str, Any]) -> None:
    """For every address fediscope takes as an instance (``instance_base_url``), the flow's paths use exactly
    ``instance_domain``'s domain, the one the API lands the records under: the API takes every such spelling
    (``parse_instance``; was: it refused a final dot and blanks, so every request was quarantined)."""
    from api.errors import ApiError
    from api.params import parse_instance
    from fediscope.config import instance_base_url, instance_domain
    from fediscope.errors import ConfigError
    from fediscope.lake.debris import is_nifi_in_flight

    checked = by_api = 0
    for instance in _instance_spellings():
        try:
            instance_base_url(instance)
        except ConfigError:
            continue
        domain = instance_domain(instance)
        directory, name, partition = _named_paths(flow, instance)
        assert directory == f"quarantine/instance={domain}/dt={SAMPLE_DAY.date()}", instance
        batch_id = name.removeprefix("nifi_fetch-").removesuffix(".json")
        assert f"{directory}/{name}" == layout.quarantine_path(domain, "nifi_fetch", SAMPLE_DAY.date(), batch_id)
        assert is_nifi_in_flight(f"{directory}/.{name}"), instance
        assert partition == layout.partition_dir("statuses", domain, SAMPLE_DAY.date()), instance
        checked += 1
        try:
            assert parse_instance(instance)[1] == domain
            by_api += 1
        except ApiError as exc:
            raise AssertionError(f"the API refuses {instance!r}: {exc.message}") from None
    assert checked > 500 and by_api == checked, (checked, by_api)


def test_every_spelling_fediscope_refuses_is_quarantined_as_invalid(flow: dict[str, Any]) -> None:
    """What neither the configuration nor the API takes (port 0, a port over 65535, another scheme, a blank inside,
    an empty label or one that starts or ends with ``-``, a host over 253 characters) is ``_invalid``: was named
    after the host (``host:0`` as ``host``, ``mast<TAB>odon.social`` as ``mastodon.social``) or kept
    (``host..example``, ``host:99999``)."""
    from api.errors import ApiError
    from api.params import parse_instance
    from fediscope.config import instance_base_url
    from fediscope.errors import ConfigError

    refused = 0
    for scheme in ("", "http://", "ftp://", "ws://"):
        for host in ("mastodon.social", "a..b", "-a.b", "a-.b", "mast\todon.social", "mast odon.social",
                     ".".join(["a" * 63] * 4), "a" * 64 + ".b"):
            for port in ("", ":0", ":000", ":65536", ":99999", ":8080"):
                instance = f" {scheme}{host}{port} "
                try:
                    instance_base_url(instance)
                    continue
                except ConfigError:
                    pass
                with pytest.raises(ApiError):
                    parse_instance(instance)
                directory, name, partition = _named_paths(flow, instance)
                assert directory == f"quarantine/instance=_invalid/dt={SAMPLE_DAY.date()}", instance
                assert partition.startswith("raw/mastodon/statuses/instance=_invalid/dt="), instance
                refused += 1
    assert refused > 150, refused


@pytest.mark.parametrize("instance", ["mastodon.social/@Gargron", "https://user:secret@mastodon.social", "",
                                      "mastodon.social?x=1", "bücher.example",
                                      "mastodon.social')}${x}", "it's}.example"])
def test_a_value_that_is_no_instance_is_quarantined_in_one_directory(flow: dict[str, Any], instance: str) -> None:
    """The API refuses it (400), so every request is quarantined: under ``instance=_invalid``, one directory whose
    dot-files retention recognises, with no part of the value (a password) in the path."""
    from fediscope.lake.debris import is_nifi_in_flight

    directory, name, partition = _named_paths(flow, instance)
    assert directory == f"quarantine/instance=_invalid/dt={SAMPLE_DAY.date()}"
    assert is_nifi_in_flight(f"{directory}/.{name}")
    assert partition.startswith("raw/mastodon/statuses/instance=_invalid/dt=")


def test_the_evaluator_reads_regular_expressions_and_literals_as_nifi_does() -> None:
    """``replaceAll`` is Java's ``String.replaceAll`` (``$n`` references, a group that did not take part adds nothing,
    ``.`` and ``$`` around line terminators); a string literal keeps its backslashes (NiFi's lexer); ``trim`` is
    Java's. A construct Java and Python read differently is refused rather than guessed."""
    assert evaluate("${a:replaceAll('(x)|(y)', '[$1$2]')}", {"a": "xay"}) == "[x]a[y]"
    assert evaluate("${a:replaceAll('(a)', '$10\\$')}", {"a": "a"}) == "a0$"  # $10: there is no group 10
    assert evaluate("${a:replaceAll('b*', '-')}", {"a": "abc"}) == "-a--c-"  # empty matches, as in Java
    assert evaluate("${a:replaceAll('^.*', 'x')}", {"a": "ab"}) == "x"
    assert evaluate("${a:replaceAll('.', 'x')}", {"a": "a\rb\u2028"}) == "x\rx\u2028"  # '.' skips line terminators
    assert evaluate("${a:replaceAll('b$', 'x')}", {"a": "ab\r\n"}) == "ax\r\n"
    assert evaluate("${a:replaceAll('\\r$', 'x')}", {"a": "a\r\n"}) == "a\r\n"  # never between \r and \n
    assert evaluate("${literal('a\\.b\\\\c')}") == "a\\.b\\\\c"  # \\ stays two backslashes
    assert evaluate("${literal('a.b'):replaceAll('\\.', '!')}") == "a!b"
    assert evaluate("${literal('a.b'):matches('a\\.b')}") == "true"
    assert evaluate("${literal('axb'):matches('a\\.b')}") == "false"
    assert evaluate("${a:trim()}", {"a": "\x00\t x \n"}) == "x"
    assert evaluate("${a:trim()}", {"a": "\xa0x"}) == "\xa0x"  # Java's trim leaves a no-break space
    for regex in ("\\p{Lower}", "(?i)a", "[a&&b]", "a{,2}", "[[a]]", "\\bx", "(?<n>a)", "\\1"):
        with pytest.raises(ELError):
            evaluate("${a:replaceAll('" + regex + "', '')}", {"a": "a"})
    for replacement in ("$", "$x", "$2"):
        with pytest.raises(ELError):
            evaluate("${a:replaceAll('(a)', '" + replacement + "')}", {"a": "a"})
    # '\\' escapes the closing quote: the literal never ends, and NiFi's Query.extractExpressionRanges stops there, so
    # the value holds no expression at all and is sent as the text it is
    unterminated = "${a:replaceAll('(a)', '\\')}"
    assert evaluate(unterminated, {"a": "a"}) == unterminated


@pytest.fixture
def api_queries() -> list[dict[str, list[str]]]:
    """The query of each request ``scraping_api`` received, as the API read it (``request.args``)."""
    return []


@pytest.fixture
def scraping_api(api_queries: list[dict[str, list[str]]]) -> Any:
    """The scraping API over real HTTP on 127.0.0.1 (a free port), with the flows' sample key and no instance
    allowlisted: every request ends at its parameters or the allowlist, and no instance is contacted."""
    import threading

    from flask import request
    from werkzeug.serving import make_server

    from api import create_app
    from fediscope.config import Settings

    app = create_app(Settings(api_key=(SAMPLE_PARAMETERS["api_key"],), pseudonym_key="test-key-for-nifi-flows"))
    app.before_request(lambda: api_queries.append(request.args.to_dict(flat=False)) and None)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


SECRET = "Hunter2-s3cret"


def _described_failure(flow: dict[str, Any], api_url: str, instance: str) -> tuple[str, str, str]:
    """The request ``Fetch page`` makes for ``instance``, sent to the API over HTTP, and what ``Describe failed
    request`` quarantines for its answer: (request URL, the API's answer, the description)."""
    import requests

    values = _parameter_values(flow) | {"api_url": api_url, "instance": instance}
    url = evaluate(_processors(flow)["Fetch page"]["properties"]["HTTP URL"], {}, values)
    response = requests.get(url, headers={"X-API-Key": values["api_key"]}, timeout=30)
    attributes = {"invokehttp.request.url": url, "invokehttp.status.code": str(response.status_code),
                  "invokehttp.status.message": response.reason, "invokehttp.response.body": response.text,
                  "page": "1", "fetch.retries": ""}
    describe = _processors(flow)["Describe failed request"]["properties"]["Replacement Value"]
    return url, response.text, evaluate(describe, attributes, values, now=SAMPLE_DAY)


@pytest.mark.parametrize(("instance", "status"), [
    ("mastodon.social&max_id=5", 400),  # was: instance=mastodon.social and max_id=5, another page asked for
    ("mastodon.social#x", 400),  # was: the rest a fragment, never sent (the cursor neither: every page the first)
    ("mastodon.social%26since_id=9", 400),  # was: a percent-escape, decoded by the API into another parameter
    ("mastodon.social+x", 400),  # was: read as a blank
    ("https://bob:p&w#%+ x@mastodon.social", 400),
    (" Mastodon.Social. ", 403),  # an address the API takes: blanks around it and a final dot, as typed
    ("bücher.example", 400),
    ("mastodon.social')}${x}", 400),  # was: the value pasted into a string literal ended it (an invalid flow)
    ("it's}.example", 400),
])
def test_the_instance_reaches_the_api_as_written(flow: dict[str, Any], scraping_api: str,
                                                 api_queries: list[dict[str, list[str]]], instance: str,
                                                 status: int) -> None:
    """``Fetch page`` URL-encodes what it puts into the query (NiFi's ``urlEncode``, Java's form encoding): the API
    reads ``instance`` back exactly as the parameter holds it, with the flow's own ``limit`` and cursors, and refuses
    a value that is no instance address with a 400 naming ``instance``. The value was put into the URL as it was:
    an ``&``, ``#``, ``+`` or ``%`` in it split, cut or changed the query."""
    import requests

    values = _parameter_values(flow) | {"api_url": scraping_api, "instance": instance}
    url = evaluate(_processors(flow)["Fetch page"]["properties"]["HTTP URL"], {"max_id": "105", "since_id": "99"},
                   values)
    response = requests.get(url, headers={"X-API-Key": values["api_key"]}, timeout=30)
    assert api_queries == [{"instance": [instance], "limit": ["40"], "max_id": ["105"], "since_id": ["99"]}]
    assert response.status_code == status, response.text
    if status == 400:
        assert response.json()["error"]["parameter"] == "instance", response.text


@pytest.mark.parametrize("hashtag", ["it's", "a}b", "x')}${y}"])
def test_the_hashtag_reaches_the_api_as_written(flow: dict[str, Any], scraping_api: str,
                                                api_queries: list[dict[str, list[str]]], hashtag: str) -> None:
    """A ``'`` or ``}`` in a parameter is one more character of its value: the flows reference parameters as the
    subject of an expression (``${#{hashtag}:urlEncode()}``), which NiFi reads whole. In a string literal
    (``${literal('#{hashtag}')}``) NiFi never replaced the reference: the request asked for the tag ``#{hashtag}``."""
    import requests

    values = _parameter_values(flow) | {"api_url": scraping_api, "hashtag": hashtag}
    url = evaluate(_processors(flow)["Fetch page"]["properties"]["HTTP URL"], {}, values)
    assert urlsplit(url).path == "/v1/timelines/tag/" + quote(hashtag, safe="")
    requests.get(url, headers={"X-API-Key": values["api_key"]}, timeout=30)
    assert api_queries == [{"instance": [values["instance"]], "limit": ["40"]}]


def test_the_evaluator_reads_parameters_as_nifi_does() -> None:
    """Outside an expression a reference is replaced as text (``##`` escapes a ``#``); inside one it is a subject or
    an argument holding the parameter's value as it is; inside a string literal it is text. NiFi's parameter parser
    tells an expression by the parity of the ``$`` read so far: the second expression of ``${a}${#{p}}`` is not one
    to it, and ``#{p}`` is replaced as text there (an attribute name, here)."""
    params = {"p": "a'}b${c}", "n": "5", "v": "attr"}
    assert evaluate("${#{p}:toUpper()}", {"c": "C"}, params) == "A'}B${C}"  # a subject's value is read whole
    # replaced as text first, an outside reference's value is then read as Expression Language with the rest of the
    # property (StandardProcessContext: Query.prepareWithParametersPreEvaluated of the effective value)
    assert evaluate("#{p}/x", {"c": "C"}, params) == "a'}bC/x"  # its ${c} is evaluated
    # and its $ signs count in the parity of the parameter parser's second pass (ParameterTokenList.escape): the
    # reference in the expression after it is then escaped as text, ${##{p}:toUpper()}, which NiFi cannot compile
    with pytest.raises(ELError):
        evaluate("#{p}/${#{p}:toUpper()}", {"c": "C"}, params)
    # a $$ in a value whose property holds an expression is a $; $${ is an escaped expression; a #{ is text
    assert evaluate("#{q}/${x}", {"x": "1"}, {"q": "a$$b"}) == "a$b/1"
    assert evaluate("#{q}", {}, {"q": "a$$b"}) == "a$$b"
    assert evaluate("#{q}", {"c": "C"}, {"q": "$${c}"}) == "${c}"
    assert evaluate("#{q}/${x}", {"x": "1"}, {"q": "#{p}"}) == "#{p}/1"
    assert evaluate("${literal('#{p}')}", {}, params) == "#{p}"
    assert evaluate("${x:equals(#{p})}", {"x": "a'}b${c}"}, params) == "true"
    assert evaluate("${x:ge(#{n})}", {"x": "7"}, params) == "true"
    assert evaluate("${ #{'p'}:equals(#{p}) }", {}, params) == "true"  # a quoted name, blanks around it
    assert evaluate("##{p} ###{n}", {}, params) == "#{p} #5"
    assert evaluate("${x}${#{v}}", {"x": "1", "attr": "2"}, params) == "12"
    assert evaluate("${x}${y:append(${#{v}})}", {"x": "1", "y": "2"}, params) == "12attr"  # nested: an expression
    with pytest.raises(ELError, match="not defined"):
        evaluate("${#{missing}:toUpper()}", {}, params)
    assert parameter_references("#{n}/${literal('#{missing}'):append(#{p}):append(${#{v}})}") == {"n", "p", "v"}


def test_the_evaluator_url_encodes_as_java_does() -> None:
    """``urlEncode`` is ``URLEncoder.encode(value, "UTF-8")``: letters, digits and ``.-*_`` kept, a space ``+``,
    everything else (``~`` too) the upper-case ``%XX`` of its UTF-8 bytes; a null subject stays null."""
    assert evaluate("${a:urlEncode()}", {"a": "Az09.-*_ &#+%~/?=@:é😀"}) == \
        "Az09.-*_+%26%23%2B%25%7E%2F%3F%3D%40%3A%C3%A9%F0%9F%98%80"
    assert evaluate("${a:urlEncode():isNull()}", {}) == "true"
    assert evaluate("${a:urlEncode()}", {"a": "\ud800"}) == "%3F"  # Java's encoder writes a lone surrogate as '?'
    assert evaluate("${now():toNumber()}", now=SAMPLE_DAY) == str(int(SAMPLE_DAY.timestamp() * 1000))
    assert evaluate("${a:toNumber():minus(5)}", {"a": " 12 "}) == "7"
    with pytest.raises(ELError):
        evaluate("${a:toNumber()}", {"a": "01J5ZK3V8Q"})


@pytest.mark.parametrize("instance", [f"https://alice:{SECRET}@mastodon.social", f"alice:{SECRET}@mastodon.social",
                                      f" HTTP://alice:{SECRET}@mastodon.social/ ",
                                      f"alice:{SECRET[:4]}/@{SECRET[4:]}@mastodon.social",
                                      f"https://alice:{SECRET}&#%+/@mastodon.social"])  # URL-encoded: %40
def test_a_refused_request_is_quarantined_without_the_instance_password(flow: dict[str, Any], scraping_api: str,
                                                                        instance: str) -> None:
    """The API refuses an instance with a user and password (400, the password masked in its answer); the
    quarantined description of the request held the URL as typed, so the password landed in the lake. It is
    masked there to the last ``@`` (a password may hold ``/`` or ``@``)."""
    import json

    url, answer, described = _described_failure(flow, scraping_api, instance)
    assert SECRET[4:] in url  # the request as InvokeHTTP sends it
    record = json.loads(described)
    assert record["status"] == "400" and record["answer"] == answer
    assert record["url"].startswith(f"{scraping_api}/v1/timelines/tag/")
    assert "?instance=***@mastodon.social" in record["url"] and record["url"].endswith("&limit=40")
    for part in (SECRET, SECRET[:4], SECRET[4:]):
        assert part not in described


def test_a_request_is_described_as_sent_when_it_names_no_password(flow: dict[str, Any], scraping_api: str) -> None:
    """The mask leaves any other request URL as it is (here one the API refuses as not allowlisted, 403)."""
    import json

    url, _, described = _described_failure(flow, scraping_api, " Mastodon.Social. ")
    record = json.loads(described)
    assert record["status"] == "403" and record["url"] == url


def test_a_password_of_the_api_url_is_masked_in_the_url_and_the_error(flow: dict[str, Any]) -> None:
    """``api_url`` with a user and password (``http://nifi:pw@api:8000``), and a Java error quoting the URL (an
    ``URISyntaxException`` names it whole): ``//***@`` in both."""
    import json

    url = f"http://nifi:{SECRET}@api.example:8000/v1/timelines/tag/python?instance=mastodon.social&limit=40"
    error = f"Illegal character in query at index 91: {url.replace('instance=', f'instance=bob:{SECRET}@')}"
    describe = _processors(flow)["Describe failed request"]["properties"]["Replacement Value"]
    record = json.loads(evaluate(describe, {"invokehttp.request.url": url, "invokehttp.java.exception.message": error},
                                 _parameter_values(flow), now=SAMPLE_DAY))
    assert record["url"] == url.replace(f"nifi:{SECRET}@", "***@")
    assert record["error"] == ("Illegal character in query at index 91: http://***@api.example:8000/v1/timelines/tag/"
                               "python?instance=***@mastodon.social&limit=40")
