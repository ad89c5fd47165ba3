"""Plays a NiFi flow definition (the JSON files of ``nifi_templates/``) on FlowFiles, as NiFi would run it.

The processors, their properties and the connections are read from the flow definition itself; only the
processor types and the properties the fediscope flows set are emulated (semantics from the NiFi 2.x processor
documentation and sources), and each property value is rendered with :mod:`nifi_el`. A processor type, a property
value or a relationship this runner does not know raises :class:`FlowError` instead of being guessed, so a flow
cannot silently rely on something the tests do not play.

Time does not pass inside a poll: a FlowFile routed to ``retry`` is tried again at once (its penalty is not waited
out), and MergeContent's bins are handed over when a poll has run dry, as ``Max Bin Age`` (2 min) hands them over
before the next poll (5 min) comes. Content written by SplitJson is the element as JSON (NiFi writes it with
Jackson: the same JSON value, compact); everything else is passed byte for byte.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from nifi_el import evaluate


class FlowError(AssertionError):
    """The flow uses something this runner does not emulate, or routes a FlowFile nowhere."""


@dataclass
class FlowFile:
    attributes: dict[str, str]
    content: bytes = b""

    def copy(self, **attributes: str) -> FlowFile:
        return FlowFile({**self.attributes, **attributes}, self.content)


@dataclass
class Exchange:
    """One request ``Fetch page`` sent, and the answer it got (``status`` None: no answer, a connection failure)."""

    url: str
    status: int | None
    body: bytes


@dataclass
class Written:
    """A file a writer (PutFile / PutHDFS) wrote: the processor, the directory as rendered, the file name."""

    processor: str
    directory: str
    filename: str
    content: bytes


def _short(proc: dict[str, Any]) -> str:
    return str(proc["type"]).rsplit(".", 1)[-1]


def _dynamic(proc: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in proc["properties"].items() if proc["propertyDescriptors"][k].get("dynamic")}


def json_path(document: Any, path: str) -> tuple[bool, Any]:
    """``$.a.b`` (the only JsonPath form the flows use): (found, value)."""
    if not re.fullmatch(r"\$(\.[A-Za-z_][A-Za-z0-9_]*)+", path):
        raise FlowError(f"JsonPath {path!r} is not one this runner reads")
    value = document
    for step in path[2:].split("."):
        if not isinstance(value, dict) or step not in value:
            return False, None
        value = value[step]
    return True, value


def _representation(value: Any, null_value: str) -> str:
    """EvaluateJsonPath's ``getResultRepresentation``: a scalar as its text, a map or list as JSON."""
    if value is None:
        return null_value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return _jackson(value)
    return str(value)


def _charset(content_type: str) -> str:
    """The charset a ``Content-Type`` names, else UTF-8 (InvokeHTTP's ``getCharsetFromMediaType``)."""
    found = re.search(r";\s*charset=\"?([^\s;\"]+)", content_type, re.IGNORECASE)
    return found.group(1) if found else "utf-8"


def _jackson(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass
class FlowRunner:
    """One flow definition with its parameters. ``hdfs_root``: the local directory behind HDFS (the WebHDFS double's
    root) that PutHDFS writes into."""

    flow: dict[str, Any]
    parameters: Mapping[str, str]
    hdfs_root: Path | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    exchanges: list[Exchange] = field(default_factory=list)
    written: list[Written] = field(default_factory=list)

    def __post_init__(self) -> None:
        group = self.flow["flowContents"]
        self.procs = {p["name"]: p for p in group["processors"]}
        by_id = {p["identifier"]: p["name"] for p in group["processors"]}
        self.routes: dict[tuple[str, str], list[str]] = {}
        for conn in group["connections"]:
            for relationship in conn["selectedRelationships"]:
                self.routes.setdefault((by_id[conn["source"]["id"]], relationship), []).append(
                    by_id[conn["destination"]["id"]])
        self.state: dict[str, dict[str, str]] = {}
        self.bins: dict[str, dict[str, list[FlowFile]]] = {}
        self.http = requests.Session()
        self.http.trust_env = False
        self.queue: deque[tuple[str, FlowFile]] = deque()

    # -- running -----------------------------------------------------------------------------------------------

    def poll(self) -> None:
        """The timer fires once: run its FlowFile and everything it leads to until the flow is idle, then hand the
        MergeContent bins over (their ``Max Bin Age`` passes before the next poll) and run those too."""
        (timer,) = [name for name, p in self.procs.items() if _short(p) == "GenerateFlowFile"]
        self._emit(timer, [("success", FlowFile(self._core()))])
        self._drain()
        for name in list(self.bins):
            for key in list(self.bins[name]):
                self._emit(name, self._merge(name, self.bins[name].pop(key)))
        self._drain()

    def _drain(self) -> None:
        steps = 0
        while self.queue:
            steps += 1
            if steps > 100_000:
                raise FlowError("the flow does not come to rest")
            name, flowfile = self.queue.popleft()
            self._emit(name, self._run(name, flowfile))

    def _emit(self, source: str, outputs: list[tuple[str, FlowFile]]) -> None:
        proc = self.procs[source]
        for relationship, flowfile in outputs:
            destinations = self.routes.get((source, relationship), [])
            if not destinations and relationship not in proc["autoTerminatedRelationships"]:
                raise FlowError(f"{source}: relationship {relationship!r} goes nowhere")
            for destination in destinations:  # NiFi clones a FlowFile for every connection of its relationship
                self.queue.append((destination, flowfile.copy()))

    def _core(self, **attributes: str) -> dict[str, str]:
        new_uuid = str(uuid.uuid4())
        return {"uuid": new_uuid, "filename": new_uuid, "path": "./", **attributes}

    def _render(self, value: str, attributes: Mapping[str, str], state: Mapping[str, str] | None = None) -> str:
        return evaluate(value, attributes, self.parameters, state=state, now=self.clock())

    def _run(self, name: str, flowfile: FlowFile) -> list[tuple[str, FlowFile]]:
        proc = self.procs[name]
        handler = getattr(self, "_" + _short(proc), None)
        if handler is None:
            raise FlowError(f"{name}: {_short(proc)} is not emulated by this runner")
        return handler(proc, flowfile)  # type: ignore[no-any-return]

    def _known(self, proc: dict[str, Any], allowed: dict[str, str | None]) -> dict[str, str]:
        """The processor's non-dynamic properties, each checked against the value this runner emulates (None: any
        value, rendered by the handler)."""
        props = {k: v for k, v in proc["properties"].items() if not proc["propertyDescriptors"][k].get("dynamic")}
        for key, value in props.items():
            if key not in allowed:
                raise FlowError(f"{proc['name']}: property {key!r} is not emulated")
            if allowed[key] is not None and value != allowed[key]:
                raise FlowError(f"{proc['name']}: {key}={value!r} is not emulated (only {allowed[key]!r})")
        return props

    # -- processors --------------------------------------------------------------------------------------------

    def _GenerateFlowFile(self, proc: dict[str, Any], flowfile: FlowFile) -> list[tuple[str, FlowFile]]:  # noqa: N802
        raise FlowError("GenerateFlowFile has no input")

    def _UpdateAttribute(self, proc: dict[str, Any], flowfile: FlowFile) -> list[tuple[str, FlowFile]]:  # noqa: N802
        """Every dynamic property rendered against the incoming attributes (and the state as it was); with
        ``Store state locally`` each is stored as state too, the state starting with every key at the initial
        value. ``Delete Attributes Expression`` removes the attributes whose names it matches whole."""
        props = self._known(proc, {"Store State": None, "Stateful Variables Initial Value": None,
                                   "Delete Attributes Expression": None})
        stateful = props.get("Store State", "Do not store state") == "Store state locally"
        dynamic = _dynamic(proc)
        state = None
        if stateful:
            initial = props.get("Stateful Variables Initial Value", "")
            state = self.state.setdefault(proc["name"], dict.fromkeys(dynamic, initial))
        updates = {k: self._render(v, flowfile.attributes, state) for k, v in dynamic.items()}
        attributes = {**flowfile.attributes, **updates}
        if props.get("Delete Attributes Expression"):
            pattern = re.compile(props["Delete Attributes Expression"])
            attributes = {k: v for k, v in attributes.items() if not pattern.fullmatch(k)}
        if state is not None:
            state.update(updates)
        return [("success", FlowFile(attributes, flowfile.content))]

    def _RouteOnAttribute(self, proc: dict[str, Any], flowfile: FlowFile) -> list[tuple[str, FlowFile]]:  # noqa: N802
        self._known(proc, {"Routing Strategy": "Route to Property name"})
        matched = [k for k, v in _dynamic(proc).items() if self._render(v, flowfile.attributes) == "true"]
        return [(k, flowfile) for k in matched] or [("unmatched", flowfile)]

    def _InvokeHTTP(self, proc: dict[str, Any], flowfile: FlowFile) -> list[tuple[str, FlowFile]]:  # noqa: N802
        """GET the rendered URL with the dynamic properties as headers, routed as NiFi 2.x's ``InvokeHTTP.onTrigger``
        and ``route`` do. 2xx: ``Original`` (the request FlowFile) and ``Response`` (a new FlowFile with the body, the
        request's attributes, ``invokehttp.*`` and the response headers); 5xx: ``Retry``, other statuses ``No Retry``
        (the request FlowFile); no answer: ``Failure``.

        The request FlowFile of a non-2xx answer carries the body's first bytes in ``invokehttp.response.body``: 256
        bytes, whatever ``Response Body Attribute Size`` says, unless ``Response Body Attribute Name`` is set. Set,
        the body goes into that attribute (up to the size) for every answer, 2xx too, and a 2xx writes no
        ``Response`` unless ``Response Generation Required`` is true, which sends every answer, a non-2xx too, to
        ``Response`` (created before the request FlowFile gets the body attribute)."""
        props = self._known(proc, {"HTTP Method": "GET", "HTTP URL": None, "Connection Timeout": None,
                                   "Socket Read Timeout": None, "Request User-Agent": None,
                                   "Response Body Attribute Name": None, "Response Body Attribute Size": None,
                                   "Response Generation Required": None})
        url = self._render(props["HTTP URL"], flowfile.attributes)
        headers = {k: self._render(v, flowfile.attributes) for k, v in _dynamic(proc).items()}
        headers["User-Agent"] = self._render(props.get("Request User-Agent", ""), flowfile.attributes)
        to_attribute = "Response Body Attribute Name" in props
        size_text = props.get("Response Body Attribute Size", "256")
        if not re.fullmatch(r"[1-9][0-9]*", size_text) or int(size_text) > 2**31 - 1:  # POSITIVE_INTEGER_VALIDATOR
            raise FlowError(f"{proc['name']}: Response Body Attribute Size={size_text!r} is not a positive integer")
        size = int(size_text) if to_attribute else 256
        generation = props.get("Response Generation Required", "false")
        if generation not in ("true", "false"):
            raise FlowError(f"{proc['name']}: Response Generation Required={generation!r} is not true or false")
        try:
            response = self.http.get(url, headers=headers, timeout=30, allow_redirects=False)
        except requests.RequestException as exc:
            self.exchanges.append(Exchange(url, None, b""))
            return [("Failure", flowfile.copy(**{"invokehttp.request.url": url,
                                                  "invokehttp.java.exception.class": type(exc).__name__,
                                                  "invokehttp.java.exception.message": str(exc)}))]
        self.exchanges.append(Exchange(url, response.status_code, response.content))
        status = {"invokehttp.status.code": str(response.status_code), "invokehttp.status.message": response.reason,
                  "invokehttp.request.url": url, "invokehttp.response.url": response.url}
        success = 200 <= response.status_code < 300
        request = flowfile.copy(**status)
        outputs: list[tuple[str, FlowFile]] = []
        if (success and not to_attribute) or generation == "true":
            outputs.append(("Response", FlowFile({**request.attributes, **dict(response.headers),
                                                  "uuid": str(uuid.uuid4())}, response.content)))
        if not success or to_attribute:
            key = self._render(props["Response Body Attribute Name"], request.attributes) if to_attribute else ""
            # new String(bytes, 0, size, charset): the content type's charset, else UTF-8
            body = response.content[:size].decode(_charset(response.headers.get("Content-Type", "")), "replace")
            request = request.copy(**{key or "invokehttp.response.body": body})
        if success:
            outputs.append(("Original", request))
        else:
            outputs.append(("Retry" if 500 <= response.status_code < 600 else "No Retry", request))
        return outputs

    def _EvaluateJsonPath(self, proc: dict[str, Any], flowfile: FlowFile) -> list[tuple[str, FlowFile]]:  # noqa: N802
        props = self._known(proc, {"Destination": "flowfile-attribute", "Return Type": "auto-detect",
                                   "Path Not Found Behavior": "ignore", "Null Value Representation": "empty string"})
        null_value = "" if props["Null Value Representation"] == "empty string" else "null"
        try:
            document = json.loads(flowfile.content)
        except ValueError:
            return [("failure", flowfile)]
        found = {k: _representation(json_path(document, v)[1], null_value) for k, v in _dynamic(proc).items()}
        return [("matched", flowfile.copy(**found))]

    def _SplitJson(self, proc: dict[str, Any], flowfile: FlowFile) -> list[tuple[str, FlowFile]]:  # noqa: N802
        props = self._known(proc, {"JsonPath Expression": None})
        try:
            found, value = json_path(json.loads(flowfile.content), props["JsonPath Expression"])
        except ValueError:
            return [("failure", flowfile)]
        if not found or not isinstance(value, list):
            return [("failure", flowfile)]
        identifier = str(uuid.uuid4())
        splits = [("split", FlowFile({**flowfile.attributes, "uuid": str(uuid.uuid4()),
                                      "fragment.identifier": identifier, "fragment.index": str(i),
                                      "fragment.count": str(len(value)),
                                      "segment.original.filename": flowfile.attributes.get("filename", "")},
                                     (element if isinstance(element, str) else _jackson(element)).encode()))
                  for i, element in enumerate(value)]
        return [*splits, ("original", flowfile)]

    def _MergeContent(self, proc: dict[str, Any], flowfile: FlowFile) -> list[tuple[str, FlowFile]]:  # noqa: N802
        """Bins by ``Correlation Attribute Name``; a bin holding ``Maximum Number of Entries`` is merged at once,
        the others when the poll has run dry (:meth:`poll`)."""
        props = self._known(proc, {"Merge Strategy": "Bin-Packing Algorithm", "Merge Format": "Binary Concatenation",
                                   "Attribute Strategy": "Keep Only Common Attributes",
                                   "Correlation Attribute Name": None, "Minimum Number of Entries": None,
                                   "Maximum Number of Entries": None, "Maximum Number of Bins": None,
                                   "Max Bin Age": None, "Delimiter Strategy": "Text", "Demarcator": None,
                                   "Footer": None, "Header": None})
        key = flowfile.attributes.get(props["Correlation Attribute Name"], "")
        held = self.bins.setdefault(proc["name"], {}).setdefault(key, [])
        held.append(flowfile)
        if len(held) >= int(props["Maximum Number of Entries"]):
            return self._merge(proc["name"], self.bins[proc["name"]].pop(key))
        return []

    def _merge(self, name: str, flowfiles: list[FlowFile]) -> list[tuple[str, FlowFile]]:
        props = self.procs[name]["properties"]
        first = flowfiles[0].attributes
        common = {k: v for k, v in first.items() if k != "uuid"
                  and all(f.attributes.get(k) == v for f in flowfiles[1:])}
        demarcator = self._render(props.get("Demarcator") or "", first).encode()
        content = (self._render(props.get("Header") or "", first).encode()
                   + demarcator.join(f.content for f in flowfiles)
                   + self._render(props.get("Footer") or "", first).encode())
        merged = FlowFile({**common, **self._core(), "merge.count": str(len(flowfiles))}, content)
        return [("merged", merged), *(("original", f) for f in flowfiles)]

    def _ReplaceText(self, proc: dict[str, Any], flowfile: FlowFile) -> list[tuple[str, FlowFile]]:  # noqa: N802
        props = self._known(proc, {"Replacement Strategy": "Always Replace", "Evaluation Mode": "Entire text",
                                   "Replacement Value": None})
        return [("success", FlowFile(flowfile.attributes,
                                     self._render(props["Replacement Value"], flowfile.attributes).encode()))]

    def _RetryFlowFile(self, proc: dict[str, Any], flowfile: FlowFile) -> list[tuple[str, FlowFile]]:  # noqa: N802
        """The counter in ``Retry Attribute`` goes up by one; past ``Maximum Retries`` the FlowFile leaves on
        ``retries_exceeded`` with the dynamic properties as attributes."""
        props = self._known(proc, {"Retry Attribute": None, "Maximum Retries": None, "Penalize Retries": None})
        counter = props["Retry Attribute"]
        tries = int(flowfile.attributes.get(counter) or 0) + 1
        if tries > int(props["Maximum Retries"]):
            extra = {k: self._render(v, flowfile.attributes) for k, v in _dynamic(proc).items()}
            return [("retries_exceeded", flowfile.copy(**extra))]
        return [("retry", flowfile.copy(**{counter: str(tries), f"{counter}.uuid": proc["identifier"]}))]

    def _write(self, proc: dict[str, Any], flowfile: FlowFile, directory: str, target: Path
               ) -> list[tuple[str, FlowFile]]:
        """Write ``.<filename>`` in ``target`` and rename it (``fail`` on a conflict)."""
        name = flowfile.attributes["filename"]
        if proc["properties"]["Conflict Resolution Strategy"] != "fail":
            raise FlowError(f"{proc['name']}: only the 'fail' conflict resolution is emulated")
        if (target / name).exists():
            return [("failure", flowfile)]
        target.mkdir(parents=True, exist_ok=True)
        (target / f".{name}").write_bytes(flowfile.content)
        (target / f".{name}").rename(target / name)
        self.written.append(Written(proc["name"], directory, name, flowfile.content))
        return [("success", flowfile)]

    def _PutFile(self, proc: dict[str, Any], flowfile: FlowFile) -> list[tuple[str, FlowFile]]:  # noqa: N802
        props = self._known(proc, {"Directory": None, "Conflict Resolution Strategy": "fail",
                                   "Create Missing Directories": "true"})
        directory = self._render(props["Directory"], flowfile.attributes)
        return self._write(proc, flowfile, directory, Path(directory))

    def _PutHDFS(self, proc: dict[str, Any], flowfile: FlowFile) -> list[tuple[str, FlowFile]]:  # noqa: N802
        """The rendered ``Directory`` is an HDFS path, taken literally (HDFS does not decode ``%3A``)."""
        props = self._known(proc, {"Hadoop Configuration Resources": None, "Directory": None,
                                   "Conflict Resolution Strategy": "fail", "Writing Strategy": "writeAndRename"})
        if self.hdfs_root is None:
            raise FlowError("PutHDFS needs hdfs_root")
        self._render(props["Hadoop Configuration Resources"], flowfile.attributes)
        directory = self._render(props["Directory"], flowfile.attributes)
        if not directory.startswith("/"):
            raise FlowError(f"{proc['name']}: {directory!r} is no absolute HDFS path")
        return self._write(proc, flowfile, directory, self.hdfs_root / directory.lstrip("/"))
