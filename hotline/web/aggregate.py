"""The supervisor's HTTP port: /healthz and /metrics of every role, gathered on request.

Why scrape each child's loopback port rather than prometheus_client's multiprocess mode: the
roles are separate programs with separate registries (the AMI gauges are computed from the
live model at scrape time, which multiprocess mode cannot carry), each role must also serve
its own /metrics when run alone (`--role`), and a scrape of the parent then shows exactly
what each child shows. Every sample gets a `role` label, so one family may come from
several roles without clashing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from twisted.internet.defer import Deferred, DeferredList
from twisted.web import resource, server
from twisted.web.client import Agent, readBody
from twisted.web.proxy import ProxyClientFactory
from twisted.web.server import Request

from hotline.web.site import JSON_NO_STORE, RootResource, respond

#: Seconds the parent waits for a role that is starting, and for one child's answer.
READY_TIMEOUT_SECONDS = 30.0
FETCH_TIMEOUT_SECONDS = 10.0


class _Fetcher:
    def __init__(self, reactor: Any, supervisor: Any) -> None:
        self.reactor, self.supervisor = reactor, supervisor
        self.agent = Agent(reactor)  # type: ignore[no-untyped-call]  # twisted.web leaves Agent.__init__ unannotated

    def each(self, path: bytes) -> Deferred[list[tuple[str, int | None, bytes]]]:
        """(role, status or None when down, body) for every role, in the supervisor's order."""

        def one(role: str) -> Any:
            waited = self.supervisor.address(role).addTimeout(READY_TIMEOUT_SECONDS, self.reactor)

            def fetch(address: tuple[str, int] | None) -> Any:
                if address is None:
                    return (role, None, b"")
                url = f"http://{address[0]}:{address[1]}".encode() + path
                d = self.agent.request(b"GET", url)
                d.addCallback(lambda response: readBody(response).addCallback(lambda body: (role, response.code, body)))
                return d.addTimeout(FETCH_TIMEOUT_SECONDS, self.reactor)

            return waited.addCallback(fetch).addErrback(lambda failure: (role, None, b""))

        d = DeferredList([one(role) for role in self.supervisor.roles], consumeErrors=True)
        return d.addCallback(lambda results: [value for ok, value in results if ok])


class AggregateHealth(resource.Resource):
    """200 when every role answers 200; the body has each role's own answer."""

    isLeaf = True

    def __init__(self, fetcher: _Fetcher) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # twisted.web leaves Resource.__init__ unannotated
        self.fetcher = fetcher

    def render_GET(self, request: Request) -> Any:
        def done(results: list[tuple[str, int | None, bytes]]) -> None:
            roles: dict[str, Any] = {}
            for role, status, body in results:
                try:
                    roles[role] = json.loads(body) if status is not None else {"status": "down"}
                except ValueError:
                    roles[role] = {"status": "unavailable"}
            ok = all(status == 200 for _, status, _ in results)
            database = all(r.get("database") == "ok" for r in roles.values())
            answer = {
                "status": "ok" if ok else "unavailable",
                "database": "ok" if database else "unreachable",
                "roles": roles,
            }
            respond(request, 200 if ok else 503, JSON_NO_STORE, json.dumps(answer).encode())

        self.fetcher.each(b"/healthz").addCallback(done)
        return server.NOT_DONE_YET


class _Gathered:
    """A collector over families already gathered (generate_latest wants `collect()`)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


def merge_expositions(own: CollectorRegistry, children: list[tuple[str, str]]) -> bytes:
    """The parent's own metrics and every child's, each child sample labelled with its role."""
    families: dict[str, Metric] = {}
    for family in own.collect():
        families[family.name] = family
    for role, text in children:
        for family in text_string_to_metric_families(text):
            merged = families.get(family.name)
            if merged is None:
                merged = families[family.name] = Metric(family.name, family.documentation, family.type, family.unit)
            for sample in family.samples:
                merged.samples.append(
                    Sample(
                        sample.name,
                        {**sample.labels, "role": role},
                        sample.value,
                        sample.timestamp,
                        sample.exemplar,
                    )
                )
    return generate_latest(_Gathered(list(families.values())))  # type: ignore[arg-type,unused-ignore]


class AggregateMetrics(resource.Resource):
    isLeaf = True

    def __init__(self, fetcher: _Fetcher, registry: CollectorRegistry) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # twisted.web leaves Resource.__init__ unannotated
        self.fetcher, self.registry = fetcher, registry

    def render_GET(self, request: Request) -> Any:
        def done(results: list[tuple[str, int | None, bytes]]) -> None:
            children = [(role, body.decode("utf-8", "replace")) for role, status, body in results if status == 200]
            respond(request, 200, {b"content-type": b"text/plain; version=0.0.4; charset=utf-8"}, merge_expositions(self.registry, children))

        self.fetcher.each(b"/metrics").addCallback(done)
        return server.NOT_DONE_YET


class RoleProxy(resource.Resource):
    """Every other path of the parent's port goes to the desk role's loopback port, so the one
    public address serves the desk too. The response is streamed as the child writes it (live
    updates included); the browser's address travels in X-Forwarded-For, which the desk trusts
    only from a loopback peer (docs/architecture.md)."""

    isLeaf = True

    def __init__(self, reactor: Any, supervisor: Any, role: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # twisted.web leaves Resource.__init__ unannotated
        self.reactor, self.supervisor, self.role = reactor, supervisor, role

    def render(self, request: Request) -> Any:
        def forward(address: tuple[str, int] | None) -> None:
            if address is None:
                unavailable()
                return
            headers = {name.lower(): values[-1] for name, values in request.requestHeaders.getAllRawHeaders()}
            peer = str(getattr(request.client, "host", "") or "unknown")
            headers[b"x-forwarded-for"] = peer.encode()
            headers[b"connection"] = b"close"
            content = request.content
            body = b""
            if content is not None:
                content.seek(0)
                body = content.read()
            factory = ProxyClientFactory(request.method, request.uri, b"HTTP/1.0", headers, body, request)  # type: ignore[no-untyped-call]  # twisted.web.proxy is unannotated
            self.reactor.connectTCP(address[0], address[1], factory, timeout=FETCH_TIMEOUT_SECONDS)

        def unavailable(*_: object) -> None:
            if request.finished or getattr(request, "_disconnected", False):
                return
            text = f"服务暂不可用，请稍后再试 / The {self.role} is starting or restarting; try again in a few seconds.\n"
            respond(request, 503, {b"content-type": b"text/plain; charset=utf-8", b"retry-after": b"5"}, text.encode())

        self.supervisor.address(self.role).addTimeout(READY_TIMEOUT_SECONDS, self.reactor).addCallbacks(forward, unavailable)
        return server.NOT_DONE_YET


class _AggregateRoot(RootResource):
    def __init__(self, fallback: resource.Resource | None) -> None:
        super().__init__()
        self.fallback = fallback

    def getChild(self, path: bytes, request: Request) -> resource.Resource:
        if self.fallback is not None:
            return self.fallback
        return super().getChild(path, request)


def build_aggregate_root(reactor: Any, supervisor: Any, registry: CollectorRegistry) -> RootResource:
    fetcher = _Fetcher(reactor, supervisor)
    root = _AggregateRoot(RoleProxy(reactor, supervisor, "desk") if "desk" in supervisor.roles else None)
    root.putChild(b"healthz", AggregateHealth(fetcher))
    root.putChild(b"metrics", AggregateMetrics(fetcher, registry))
    return root
