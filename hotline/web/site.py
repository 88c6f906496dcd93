"""The HTTP site every node serves: `/healthz`, `/metrics`, and the mount point the desk and
the Open311 API attach to."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from prometheus_client.twisted import MetricsResource
from twisted.internet.defer import Deferred
from twisted.web import resource, server
from twisted.web.server import Request

from hotline.metrics import Metrics
from hotline.storage.dbpool import DatabasePool
from hotline.web import bodies

#: Headers of the JSON health answers: a cached health answer would hide a node going down.
JSON_NO_STORE = {b"content-type": b"application/json", b"cache-control": b"no-store"}


def respond(request: Request, code: int, headers: Mapping[bytes, bytes], body: bytes) -> None:
    """Answer a request its resource rendered as NOT_DONE_YET; the one place that calls
    twisted.web's unannotated `write` and `finish`."""
    request.setResponseCode(code)
    for name, value in headers.items():
        request.responseHeaders.setRawHeaders(name, [value])  # what the unannotated setHeader does
    request.write(body)  # type: ignore[no-untyped-call]  # twisted.web leaves Request.write unannotated
    request.finish()  # type: ignore[no-untyped-call]  # twisted.web leaves Request.finish unannotated


class HealthResource(resource.Resource):
    """200 when the database answers, 503 otherwise, so a load balancer takes a node out
    while its database is away instead of sending it operators."""

    isLeaf = True

    def __init__(self, pool: DatabasePool, metrics: Metrics, started: Deferred[None] | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # twisted.web leaves Resource.__init__ unannotated
        self.pool, self.metrics = pool, metrics
        #: Fires once the node has read its database for the first time (the ticket gauges):
        #: until then /healthz waits, so nothing sees a node whose /metrics is still empty.
        self.started = started

    def render_GET(self, request: Request) -> Any:
        def done(ok: bool) -> None:
            self.metrics.db_up.set(1 if ok else 0)
            answer = {"status": "ok" if ok else "unavailable", "database": "ok" if ok else "unreachable"}
            respond(request, 200 if ok else 503, JSON_NO_STORE, json.dumps(answer).encode())

        def ping(_: object = None) -> Deferred[bool]:
            return self.pool.call(self.pool.database.ping)

        if self.started is not None and not self.started.called:
            waited: Deferred[None] = Deferred()

            def go_on(result: object) -> object:
                waited.callback(None)
                return result

            self.started.addBoth(go_on)
            d = waited.addCallback(ping)
        else:
            d = ping()
        d.addErrback(lambda _failure: False)
        d.addCallback(done)
        return server.NOT_DONE_YET


class RootResource(resource.Resource):
    """Unknown paths get a plain 404; components add children with `putChild`."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # twisted.web leaves Resource.__init__ unannotated

    def getChild(self, path: bytes, request: Request) -> resource.Resource:
        return resource.NoResource("Not found / 未找到")


def build_root(pool: DatabasePool, metrics: Metrics, started: Deferred[None] | None = None) -> RootResource:
    root = RootResource()
    root.putChild(b"healthz", HealthResource(pool, metrics, started))
    root.putChild(b"metrics", MetricsResource(registry=metrics.registry))  # type: ignore[no-untyped-call]  # prometheus_client.twisted is unannotated
    return root


def make_site(root: resource.Resource, max_body_bytes: int = bodies.DEFAULT_MAX_BODY) -> server.Site:
    """The node's site; request bodies are bounded and multipart forms parsed as they arrive
    (`hotline.web.bodies`)."""
    site = server.Site(root, requestFactory=bodies.request_factory(max_body_bytes))  # type: ignore[no-untyped-call]  # twisted.web leaves Site.__init__ unannotated
    site.displayTracebacks = False
    return site
