"""The Open311 GeoReport v2 endpoint: the desk role mounts it at /open311/ (`hotline.web`).

Paths as the spec writes them, the format by suffix: /open311/v2/services.xml,
/services/{code}.json, /requests.xml (GET with filters, POST to file), /requests/{id}.json,
/tokens/{token}.xml, and the discovery document at /open311/discovery.json. Every error is the
spec's list of `error` {code, description} in the asked format, with 404 for an unknown
resource, jurisdiction or service code, 403 for a missing or invalid api_key, 429 (and
Retry-After) past a client's rate, 400 for anything else; the server keeps serving.

The HTTP side only: what a request may contain and what a ticket shows lives in
`hotline.tickets.georeport`, keys in `hotline.apikeys`; database work runs on the pool.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from klein import Klein
from prometheus_client import CollectorRegistry, Counter
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource

from hotline import apikeys
from hotline.apikeys import Client
from hotline.config import Open311Config
from hotline.storage.dbpool import DatabasePool, is_unreachable
from hotline.storage.models import utcnow
from hotline.tickets import georeport
from hotline.tickets.services import TicketPolicy
from hotline.web.addresses import client_address
from open311 import formats
from open311.ratelimit import RateLimiter

log = Logger()
_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")
#: The POST fields of a create request (NewRequest's, besides the attributes).
_FIELDS = ("service_code", "lat", "long", "address_string", "address_id", "email", "device_id", "account_id", "first_name", "last_name", "phone", "description", "media_url")
FORM = "application/x-www-form-urlencoded"
#: Req: twisted.web.server.Request, whose methods carry no annotations for mypy --strict.
Req = Any


class ApiError(Exception):
    def __init__(self, code: int, description: str, *, retry_after: int | None = None, allow: str | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after, self.allow = code, description, retry_after, allow


@dataclass(frozen=True)
class Context:
    pool: DatabasePool
    policy: TicketPolicy
    settings: Open311Config
    #: Seconds, for the rate limits (the reactor's clock).
    clock: Callable[[], float]
    registry: CollectorRegistry | None = None
    now: Callable[[], datetime] = utcnow
    #: Where the site mounts the API, for the discovery document's URL.
    base_path: str = "/open311"


def mount(node: Any) -> IResource:
    """The desk role's entry point (`hotline.web`): `node` is the role's `hotline.service.Service`."""
    reactor = node.reactor
    if reactor is None:
        from twisted.internet import reactor as _reactor

        reactor = _reactor
    context = Context(pool=node.pool, policy=TicketPolicy.from_config(node.config), settings=node.config.open311, clock=reactor.seconds, registry=node.metrics.registry)
    return build(context)


def build(context: Context) -> IResource:
    resource: IResource = Open311(context).app.resource()
    return resource


class Open311:
    def __init__(self, context: Context) -> None:
        self.context, self.settings = context, context.settings
        self.per_key = RateLimiter(self.settings.rate_limit_per_key, context.clock)
        self.per_address = RateLimiter(self.settings.rate_limit_per_address, context.clock)
        self.counter: Counter | None = None
        if context.registry is not None:
            self.counter = Counter("hotline_open311_requests", "Open311 API requests by resource, method and HTTP status", ["resource", "method", "status"], registry=context.registry)
        self.app = Klein()
        # No `methods`: every method reaches the handler, which answers a wrong one in the spec's format.
        self.app.route("/v2/<name>", endpoint="v2")(lambda request, name: self.serve(request, None, name))
        self.app.route("/v2/<kind>/<name>", endpoint="v2_item")(self.serve)
        self.app.route("/<name>", endpoint="top")(lambda request, name: self.serve(request, "", name))
        self.app.route("/", endpoint="root")(lambda request: self.serve(request, "", ""))
        self.app.route("/<path:rest>", endpoint="other")(lambda request, rest: self.serve(request, "", rest))
        self.app.handle_errors(Exception)(self._failed)  # type: ignore[arg-type]  # Klein's protocol names its parameter `request`

    # -- dispatch

    async def serve(self, klein_request: IRequest, kind: str | None, name: str) -> bytes:
        """kind None: /v2/NAME.fmt; a word: /v2/KIND/NAME.fmt; "": anything outside /v2/."""
        request: Req = klein_request
        base, dot, fmt = name.rpartition(".")
        resource = base if dot else name
        if fmt not in formats.FORMATS:
            fmt = "xml"
        label = "other"
        try:
            if not dot or name.rpartition(".")[2] not in formats.FORMATS:
                raise ApiError(404, f"no resource {request.path.decode('utf-8', 'replace')!r}: add the format, .xml or .json (e.g. /open311/v2/services.xml)")
            method = request.method.decode("ascii", "replace")
            handler, label = self._route(kind, resource, method)
            if method == "POST":
                self._check_content_type(request)
            args = self._args(request)
            client = await self._admit(request, args, required=method == "POST")
            self._check_jurisdiction(args)
            body: bytes = await handler(request, fmt, resource, args, client)
        except ApiError as exc:
            body = self._error(request, fmt, exc)
        except georeport.NotFound as exc:
            body = self._error(request, fmt, ApiError(404, str(exc)))
        except georeport.RequestError as exc:
            body = self._error(request, fmt, ApiError(400, str(exc)))
        except Exception as exc:
            if not is_unreachable(exc):
                raise
            log.warn("open311 request {path}: database unreachable ({error})", path=request.path, error=type(exc).__name__)
            body = self._error(request, fmt, ApiError(503, "the service cannot reach its database just now; nothing was saved, try again later", retry_after=10))
        request.setHeader(b"content-type", formats.FORMATS[fmt])
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"x-content-type-options", b"nosniff")
        if self.counter is not None:
            self.counter.labels(label, request.method.decode("ascii", "replace")[:8], str(request.code)).inc()
        return body

    def _route(self, kind: str | None, resource: str, method: str) -> tuple[Callable[..., Any], str]:
        table: dict[tuple[str | None, str], dict[str, Callable[..., Any]]] = {
            (None, "services"): {"GET": self.on_services},
            (None, "requests"): {"GET": self.on_requests, "POST": self.on_create},
            (None, "discovery"): {"GET": self.on_discovery},
            ("", "discovery"): {"GET": self.on_discovery},
            ("services", ""): {"GET": self.on_definition},
            ("requests", ""): {"GET": self.on_request},
            ("tokens", ""): {"GET": self.on_token},
        }
        key = (kind, "" if kind else resource)
        methods = table.get(key)
        if methods is None:
            raise ApiError(404, "no such resource: the API offers discovery, services, services/{service_code}, requests, requests/{service_request_id} and tokens/{token}")
        label = f"{kind or resource}" + ("/item" if kind else "")
        if method == "HEAD":
            method = "GET"
        if method not in methods:
            raise ApiError(405, f"{method} is not allowed here (allowed: {', '.join(methods)})", allow=", ".join(methods))
        return methods[method], label

    # -- admission: content type, arguments, key and rate, jurisdiction

    @staticmethod
    def _check_content_type(request: Req) -> None:
        raw = (request.getHeader(b"content-type") or b"").decode("latin-1")
        kind, _, params = raw.partition(";")
        charset = next((p.split("=", 1)[1].strip().strip('"').lower() for p in params.split(";") if p.strip().lower().startswith("charset=")), "utf-8")
        if kind.strip().lower() != FORM or charset not in ("utf-8", "utf8"):
            raise ApiError(400, f"POST bodies must be {FORM}; charset=utf-8 (found {raw or 'no content type'!r}); media goes as media_url, a link")

    @staticmethod
    def _args(request: Req) -> dict[str, list[str]]:
        args: dict[str, list[str]] = {}
        for key, values in (request.args or {}).items():
            try:
                args[key.decode("utf-8")] = [v.decode("utf-8") for v in values]
            except UnicodeDecodeError:
                raise ApiError(400, f"argument {key.decode('utf-8', 'replace')!r} is not UTF-8 text") from None
        return args

    async def _admit(self, request: Req, args: dict[str, list[str]], *, required: bool) -> Client | None:
        """The client of a valid api_key (required to POST), counted against its rate; without
        a key, the address's rate. A missing or invalid key is 403, a spent rate 429."""
        key, address = _one(args, "api_key"), client_address(request)
        client: Client | None = None
        if key:
            now = self.context.now()
            client = await self.context.pool.run(lambda s: apikeys.check(s, key, address=address, now=now))
        if client is None:
            self._limit(self.per_address, f"address:{address}")
            if key:
                raise ApiError(403, "Invalid api_key received -- can't proceed with create_request." if required else "Invalid api_key received.")
            if required:
                raise ApiError(403, "api_key is required to create a request; ask the hotline's administrator for one")
            return None
        self._limit(self.per_key, f"key:{client.key_id}")
        return client

    @staticmethod
    def _limit(limiter: RateLimiter, who: str) -> None:
        wait = limiter.take(who)
        if wait is not None:
            raise ApiError(429, f"too many requests: at most {limiter.per_minute} a minute; try again in {wait} s", retry_after=wait)

    def _check_jurisdiction(self, args: dict[str, list[str]]) -> None:
        given, ours = _one(args, "jurisdiction_id"), self.settings.jurisdiction_id
        if given and ours and given != ours:
            raise ApiError(404, f"jurisdiction_id {given!r} not found (this endpoint serves {ours!r})")

    # -- resources

    async def on_discovery(self, request: Req, fmt: str, name: str, args: dict[str, list[str]], client: Client | None) -> bytes:
        host = (request.getHeader(b"host") or b"").decode("latin-1") or f"{request.getHost().host}:{request.getHost().port}"
        url = f"{'https' if request.isSecure() else 'http'}://{host}{self.context.base_path}/v2"
        return formats.discovery(fmt, url, self.settings.contact, self.settings.key_service)

    async def on_services(self, request: Req, fmt: str, name: str, args: dict[str, list[str]], client: Client | None) -> bytes:
        found = await self.context.pool.read(georeport.service_list)
        return formats.services(fmt, found)

    async def on_definition(self, request: Req, fmt: str, code: str, args: dict[str, list[str]], client: Client | None) -> bytes:
        found = await self.context.pool.read(lambda s: georeport.service(s, code))
        return formats.definition(fmt, found)

    async def on_create(self, request: Req, fmt: str, name: str, args: dict[str, list[str]], client: Client | None) -> bytes:
        assert client is not None  # _admit requires a key to POST
        attributes: dict[str, list[str]] = {}
        for key, values in args.items():
            matched = _ATTRIBUTE.match(key)
            if matched:
                attributes.setdefault(matched.group(1), []).extend(values)
        new = georeport.NewRequest(**{f: _one(args, f) for f in _FIELDS}, attributes=attributes)
        policy, address, now = self.context.policy, client_address(request), self.context.now()
        made: georeport.Created = await self.context.pool.run(lambda s: georeport.create_request(s, policy, client, new, address=address, now=now))
        return formats.created(fmt, made.service_request_id, made.token, made.service_notice, made.account_id)

    async def on_requests(self, request: Req, fmt: str, name: str, args: dict[str, list[str]], client: Client | None) -> bytes:
        query = georeport.make_query(
            ids=_one(args, "service_request_id"),
            codes=_one(args, "service_code"),
            start=_one(args, "start_date"),
            end=_one(args, "end_date"),
            status=_one(args, "status"),
            page=_one(args, "page"),
            page_size=_one(args, "page_size"),
        )
        publish_all, now = self.settings.publish_all_tickets, self.context.now()
        views = await self.context.pool.read(lambda s: georeport.search(s, query, publish_all=publish_all, now=now))
        return formats.requests(fmt, views, self.context.policy.tz)

    async def on_request(self, request: Req, fmt: str, number: str, args: dict[str, list[str]], client: Client | None) -> bytes:
        publish_all = self.settings.publish_all_tickets
        view = await self.context.pool.read(lambda s: georeport.one(s, number, publish_all=publish_all))
        return formats.requests(fmt, [view], self.context.policy.tz)

    async def on_token(self, request: Req, fmt: str, value: str, args: dict[str, list[str]], client: Client | None) -> bytes:
        number, token = await self.context.pool.read(lambda s: georeport.token(s, value))
        return formats.token(fmt, number, token)

    # -- answers

    @staticmethod
    def _error(request: Req, fmt: str, exc: ApiError) -> bytes:
        request.setResponseCode(exc.code)
        if exc.retry_after is not None:
            request.setHeader(b"retry-after", str(exc.retry_after).encode())
        if exc.allow is not None:
            request.setHeader(b"allow", exc.allow.encode())
        return formats.errors(fmt, exc.code, exc.description)

    def _failed(self, klein_request: IRequest, failure: Failure) -> bytes:
        request: Req = klein_request
        fmt = "json" if request.path.endswith(b".json") else "xml"
        request.setHeader(b"content-type", formats.FORMATS[fmt])
        log.failure("open311 request failed", failure)
        return self._error(request, fmt, ApiError(500, "something went wrong on our side; nothing may have been saved, try again"))


def _one(args: dict[str, list[str]], name: str) -> str:
    """A single-valued argument (the first, as every Open311 server reads them)."""
    values = args.get(name)
    return values[0] if values else ""
