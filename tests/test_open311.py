"""The Open311 GeoReport v2 API over real HTTP on both backends, driven by a client of the
spec's own shape (`GeoReport`): every documented parameter and every error case, each answer
checked against the XML and JSON documents the spec shows (element names, nesting, order);
posted requests become tickets that follow the workflow; keys from the CLI and the admin page;
rate limits with Retry-After."""

from __future__ import annotations

import dataclasses
import http.client
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select, update

from hotline import apikeys, cli
from hotline.config import Open311Config
from hotline.storage.db import Database
from hotline.storage.models import AuditEntry, Category, CategoryKind, Open311Request, Ticket, TicketSource, TicketStatus, utcnow
from hotline.tickets import services as tickets
from hotline.tickets.services import Actor
from open311.app import Context, build
from tests import test_desk
from tests.desk_server import POLICY, Client, running_desk, seed

FORM = "application/x-www-form-urlencoded; charset=utf-8"

# -- the spec's documents (GeoReport v2, wiki.open311.org/GeoReport_v2), as it shows them

SPEC_SERVICES_XML = """<?xml version="1.0" encoding="utf-8"?>
<services>
  <service>
    <service_code>001</service_code>
    <service_name>Cans left out 24x7</service_name>
    <description>Garbage or recycling cans that have been left out for more than 24 hours after collection. Violators will be cited.</description>
    <metadata>true</metadata>
    <type>realtime</type>
    <keywords>lorem, ipsum, dolor</keywords>
    <group>sanitation</group>
  </service>
</services>"""

SPEC_DEFINITION_XML = """<?xml version="1.0" encoding="utf-8"?>
<service_definition>
  <service_code>DMV66</service_code>
  <attributes>
    <attribute>
      <variable>true</variable>
      <code>WHISHETN</code>
      <datatype>singlevaluelist</datatype>
      <required>true</required>
      <datatype_description></datatype_description>
      <order>1</order>
      <description>What is the ticket/tag/DL number?</description>
      <values>
        <value>
          <key>123</key>
          <name>Ford</name>
        </value>
        <value>
          <key>124</key>
          <name>Chrysler</name>
        </value>
      </values>
    </attribute>
  </attributes>
</service_definition>"""

SPEC_CREATED_XML = """<?xml version="1.0" encoding="utf-8"?>
<service_requests>
  <request>
    <service_request_id>293944</service_request_id>
    <service_notice>The City will inspect and require the responsible party to correct within 24 hours and/or issue a Correction Notice or Notice of Violation of the Public Works Code</service_notice>
    <account_id/>
  </request>
</service_requests>"""

SPEC_TOKEN_XML = """<?xml version="1.0" encoding="utf-8"?>
<service_requests>
  <request>
    <service_request_id>638344</service_request_id>
    <token>12345</token>
  </request>
</service_requests>"""

SPEC_REQUESTS_XML = """<?xml version="1.0" encoding="utf-8"?>
<service_requests>
  <request>
    <service_request_id>638344</service_request_id>
    <status>closed</status>
    <status_notes>Duplicate request.</status_notes>
    <service_name>Sidewalk and Curb Issues</service_name>
    <service_code>006</service_code>
    <description></description>
    <agency_responsible></agency_responsible>
    <service_notice></service_notice>
    <requested_datetime>2010-04-14T06:37:38-08:00</requested_datetime>
    <updated_datetime>2010-04-14T06:37:38-08:00</updated_datetime>
    <expected_datetime>2010-04-15T06:37:38-08:00</expected_datetime>
    <address>8TH AVE and JUDAH ST</address>
    <address_id>545483</address_id>
    <zipcode>94122</zipcode>
    <lat>37.762221815</lat>
    <long>-122.4651145</long>
    <media_url>http://city.gov.s3.amazonaws.com/requests/media/638344.jpg</media_url>
  </request>
</service_requests>"""

SPEC_ERRORS_XML = """<?xml version="1.0" encoding="utf-8"?>
<errors>
  <error>
    <code>403</code>
    <description>Invalid api_key received -- can't proceed with create_request.</description>
  </error>
</errors>"""

SPEC_DISCOVERY_XML = """<?xml version="1.0" encoding="utf-8"?>
<discovery>
  <changeset>2011-04-05T17:48:34Z</changeset>
  <contact>Please email content.311@sfgov.org for assistance</contact>
  <key_service>Please email content.311@sfgov.org to request an api key</key_service>
  <endpoints>
    <endpoint>
      <specification>http://wiki.open311.org/GeoReport_v2</specification>
      <url>https://open311.sfgov.org/v2</url>
      <changeset>2011-04-20T17:48:34Z</changeset>
      <type>production</type>
      <formats>
        <format>text/xml</format>
        <format>application/json</format>
      </formats>
    </endpoint>
  </endpoints>
</discovery>"""

#: Our additions to the spec's documents: the token beside the id (so /tokens can be used) and
#: the workflow stage behind open/closed (as FixMyStreet's extended statuses).
EXTENSIONS = frozenset({"service_requests/request/token", "service_requests/request/detailed_status"})


def paths(element: ET.Element, prefix: str = "") -> list[str]:
    """Every element's path, in document order, each once."""
    here = f"{prefix}{element.tag}"
    found = [here]
    for child in element:
        found += [p for p in paths(child, here + "/") if p not in found]
    return found


def same_shape(ours: ET.Element, spec_text: str, extensions: frozenset[str] = frozenset()) -> None:
    """Our document has the spec's elements, nested and ordered as the spec shows them."""
    spec = paths(ET.fromstring(spec_text.encode()))
    mine = [p for p in paths(ours) if p not in extensions]
    assert mine == spec, (mine, spec)


# -- a client of the spec's shape


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    fmt: str

    @property
    def doc(self) -> Any:
        """JSON as parsed; XML as its root element (after checking the declaration)."""
        if self.fmt == "json":
            assert self.headers["content-type"] == "application/json; charset=utf-8"
            return json.loads(self.body)
        assert self.headers["content-type"] == "text/xml; charset=utf-8"
        assert self.body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
        return ET.fromstring(self.body)

    def error(self, code: int) -> str:
        """The spec's error document with this code; returns its description."""
        assert self.status == code, (self.status, self.body)
        if self.fmt == "json":
            [entry] = self.doc
            assert set(entry) == {"code", "description"} and entry["code"] == code
            return str(entry["description"])
        root = self.doc
        same_shape(root, SPEC_ERRORS_XML)
        assert root.findtext("error/code") == str(code)
        return root.findtext("error/description") or ""


@dataclass
class GeoReport:
    """Speaks GeoReport v2 as its spec describes: format by suffix, arguments in the query
    string (GET) or a UTF-8 form body (POST), the api_key on POST, jurisdiction_id optional."""

    port: int
    api_key: str = ""
    jurisdiction_id: str = ""
    root: str = "/open311/v2"
    sent: list[str] = field(default_factory=list)

    def call(self, method: str, path: str, args: dict[str, Any] | None = None, *, body: bytes | None = None, content_type: str = FORM, headers: dict[str, str] | None = None) -> Reply:
        args = dict(args or {})
        if self.jurisdiction_id:
            args.setdefault("jurisdiction_id", self.jurisdiction_id)
        target = path
        send_headers = dict(headers or {})
        if method == "POST":
            body = body if body is not None else urlencode(args, doseq=True).encode()
            send_headers["content-type"] = content_type
        elif args:
            target += "?" + urlencode(args, doseq=True)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, target, body=body, headers=send_headers)
            raw = conn.getresponse()
            self.sent.append(f"{method} {target}")
            return Reply(raw.status, {k.lower(): v for k, v in raw.headers.items()}, raw.read(), "json" if path.endswith(".json") else "xml")
        finally:
            conn.close()

    def discovery(self, fmt: str = "xml") -> Reply:
        return self.call("GET", f"/open311/discovery.{fmt}")

    def services(self, fmt: str = "xml") -> Reply:
        return self.call("GET", f"{self.root}/services.{fmt}")

    def definition(self, code: str, fmt: str = "xml") -> Reply:
        return self.call("GET", f"{self.root}/services/{code}.{fmt}")

    def create(self, fmt: str = "xml", **fields: Any) -> Reply:
        args = ({"api_key": self.api_key} if self.api_key else {}) | fields
        return self.call("POST", f"{self.root}/requests.{fmt}", args)

    def requests(self, fmt: str = "xml", **filters: Any) -> Reply:
        return self.call("GET", f"{self.root}/requests.{fmt}", filters)

    def request(self, service_request_id: str, fmt: str = "xml") -> Reply:
        return self.call("GET", f"{self.root}/requests/{service_request_id}.{fmt}")

    def token(self, token: str, fmt: str = "xml") -> Reply:
        return self.call("GET", f"{self.root}/tokens/{token}.{fmt}")


def xml_requests(reply: Reply) -> list[dict[str, str]]:
    assert reply.status == 200, reply.body
    root = reply.doc
    assert root.tag == "service_requests"
    return [{child.tag: child.text or "" for child in request} for request in root]


# -- the server


@dataclass
class Api:
    port: int
    ids: dict[str, int]
    database: Database
    key: str
    clock: list[float]

    def client(self, **kw: Any) -> GeoReport:
        return GeoReport(self.port, **({"api_key": self.key} | kw))


def seed_taxonomy(database: Database) -> None:
    """Beside desk_server's 0101 (a component class without minor classes): an event major
    class with an active and an inactive minor class."""

    def work(s: Any) -> None:
        major = Category(code="2001", kind=CategoryKind.EVENT, name_zh="市容环境", name_en="City appearance")
        s.add(major)
        s.flush()
        s.add(Category(code="200101", kind=CategoryKind.EVENT, parent_id=major.id, name_zh="暴露垃圾", name_en="Exposed rubbish"))
        s.add(Category(code="200102", kind=CategoryKind.EVENT, parent_id=major.id, name_zh="已停用小类", name_en="Retired", active=False))

    database.run(work)


#: The tests send more than the default budgets allow; the rate-limit test sets its own.
UNLIMITED = Open311Config(rate_limit_per_key=0, rate_limit_per_address=0)


@contextmanager
def serve(database: Database, settings: Open311Config | None = None, registry: CollectorRegistry | None = None) -> Iterator[Api]:
    ids = seed(database)
    seed_taxonomy(database)
    _, key = database.run(lambda s: apikeys.create(s, apikeys.Who("test"), "城管通 app"))
    clock = [1000.0]
    context = lambda pool: build(Context(pool=pool, policy=POLICY, settings=settings or UNLIMITED, clock=lambda: clock[0], registry=registry))  # noqa: E731
    with running_desk(database, mounts={b"open311": context}) as port:
        yield Api(port, ids, database, key, clock)


@pytest.fixture
def api(database: Database) -> Iterator[Api]:
    with serve(database) as running:
        yield running


def a_request(client: GeoReport, fmt: str = "json", **fields: Any) -> str:
    reply = client.create(fmt, **({"service_code": "200101", "address_string": "香港中路 1 号", "description": "路边有垃圾"} | fields))
    assert reply.status == 200, reply.body
    return str(reply.doc[0]["service_request_id"]) if fmt == "json" else reply.doc.findtext("request/service_request_id")


# -- discovery and services


def test_discovery_and_the_service_list_are_the_spec_documents(api: Api) -> None:
    client = api.client()
    discovery = client.discovery("xml")
    assert discovery.status == 200
    same_shape(discovery.doc, SPEC_DISCOVERY_XML)
    assert discovery.doc.findtext("endpoints/endpoint/url") == f"http://127.0.0.1:{api.port}/open311/v2"
    assert [f.text for f in discovery.doc.iter("format")] == ["text/xml", "application/json"]
    as_json = client.discovery("json").doc
    assert set(as_json) == {"changeset", "contact", "key_service", "endpoints"}
    assert set(as_json["endpoints"][0]) == {"specification", "url", "changeset", "type", "formats"} and as_json["endpoints"][0]["type"] == "production"

    xml = client.services("xml")
    assert xml.status == 200
    same_shape(xml.doc, SPEC_SERVICES_XML)
    listed = {s.findtext("service_code"): {c.tag: c.text or "" for c in s} for s in xml.doc}
    # Leaf classes only, active only: the major class 2001 is a group, 200102 is retired.
    assert set(listed) == {"0101", "200101"}
    assert listed["200101"] == {
        "service_code": "200101",
        "service_name": "暴露垃圾",
        "description": "Exposed rubbish",
        "metadata": "true",
        "type": "realtime",
        "keywords": "事件, event, 市容环境, City appearance",
        "group": "市容环境",
    }
    services = client.services("json").doc
    assert [set(s) for s in services] == [{"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}] * 2
    assert {s["service_code"]: s["metadata"] for s in services} == {"0101": True, "200101": True}


def test_service_definitions_carry_the_specs_attributes(api: Api) -> None:
    client = api.client()
    xml = client.definition("0101", "xml")
    assert xml.status == 200
    same_shape(xml.doc, SPEC_DEFINITION_XML)
    condition = next(a for a in xml.doc.iter("attribute") if a.findtext("code") == "CONDITION")
    assert condition.findtext("datatype") == "singlevaluelist" and condition.findtext("required") == "false" and condition.findtext("variable") == "true"
    assert [v.findtext("key") for v in condition.iter("value")] == ["damaged", "missing", "displaced", "other"]
    definition = client.definition("200101", "json").doc
    assert definition["service_code"] == "200101"
    assert [a["code"] for a in definition["attributes"]] == ["RECURRING", "OBSERVED_AT"]
    for attribute in definition["attributes"]:
        assert set(attribute) == {"variable", "code", "datatype", "required", "datatype_description", "order", "description", "values"}
        assert attribute["datatype"] in ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
        assert isinstance(attribute["required"], bool) and isinstance(attribute["order"], int)
    assert definition["attributes"][0]["values"] == [{"key": "first", "name": "首次发现 First time"}, {"key": "repeated", "name": "多次出现 Repeatedly"}]
    for fmt in ("xml", "json"):
        assert "service_code '9999' not found" in client.definition("9999", fmt).error(404)
        assert "not found" in client.definition("200102", fmt).error(404)  # retired


# -- posting a request


def test_a_posted_request_becomes_a_ticket_with_every_documented_field(api: Api) -> None:
    client = api.client()
    reply = client.create(
        "xml",
        service_code="0101",
        lat="36.066512",
        long="120.382601",
        address_string="市南区香港中路 1 号",
        address_id="QD-0042",
        email="citizen@example.cn",
        device_id="wx-device-7",
        account_id="openid-123",
        first_name="先生",
        last_name="张",
        phone="13812345678",
        description="井盖松动，有行人绊倒",
        media_url="https://img.example.cn/report/1.jpg",
        **{"attribute[ASSET_CODE]": "JG-370202-0001", "attribute[CONDITION]": "damaged"},
    )
    assert reply.status == 200, reply.body
    same_shape(reply.doc, SPEC_CREATED_XML, EXTENSIONS)
    number, token = reply.doc.findtext("request/service_request_id"), reply.doc.findtext("request/token")
    assert reply.doc.findtext("request/account_id") == "openid-123"
    assert number in reply.doc.findtext("request/service_notice")

    def stored(s: Any) -> tuple[Ticket, Open311Request, list[str], str]:
        t = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        audit = [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.target == f"ticket:{number}"))]
        return t, s.get(Open311Request, t.id), audit, t.category.code

    ticket, extra, audit, code = api.database.run(stored)
    assert ticket.source is TicketSource.OPEN311 and ticket.status is TicketStatus.RECEIVED
    assert code == "0101" and ticket.latitude == 36.066512 and ticket.longitude == 120.382601
    assert ticket.location == "市南区香港中路 1 号" and ticket.caller_number == "+8613812345678" and ticket.caller_name == "张先生"
    assert ticket.description.splitlines() == ["井盖松动，有行人绊倒", "部件编码（设施上标注的编号）: JG-370202-0001", "部件状况: 破损 Damaged", "照片/视频 Media: https://img.example.cn/report/1.jpg"]
    assert (extra.address_id, extra.email, extra.device_id, extra.account_id, extra.media_url, extra.token) == (
        "QD-0042",
        "citizen@example.cn",
        "wx-device-7",
        "openid-123",
        "https://img.example.cn/report/1.jpg",
        token,
    )
    assert extra.attributes == {"ASSET_CODE": ["JG-370202-0001"], "CONDITION": ["damaged"]}
    assert audit == ["open311_request"]
    history = api.database.run(lambda s: [(e.action, e.actor) for e in tickets.history(s, number)])
    assert history == [("receive", "open311:城管通 app")]

    [shown] = xml_requests(client.request(number, "xml"))
    same_shape(client.request(number, "xml").doc, SPEC_REQUESTS_XML, EXTENSIONS)
    assert shown["status"] == "open" and shown["detailed_status"] == "received" and shown["status_notes"] == "受理 received"
    assert (shown["service_code"], shown["service_name"], shown["address"], shown["address_id"], shown["lat"], shown["long"]) == (
        "0101",
        "井盖破损",
        "市南区香港中路 1 号",
        "QD-0042",
        "36.066512",
        "120.382601",
    )
    assert shown["media_url"] == "https://img.example.cn/report/1.jpg"
    assert datetime.fromisoformat(shown["requested_datetime"]).utcoffset() == timedelta(hours=8)
    [as_json] = client.request(number, "json").doc
    assert list(as_json) == [p.rsplit("/", 1)[1] for p in paths(ET.fromstring(SPEC_REQUESTS_XML.encode()))[2:]] + ["detailed_status"]
    assert as_json["lat"] == 36.066512 and as_json["expected_datetime"] is None

    [pair] = xml_requests(client.token(token, "xml"))
    same_shape(client.token(token, "xml").doc, SPEC_TOKEN_XML)
    assert pair == {"service_request_id": number, "token": token}
    assert client.token(token, "json").doc == [{"service_request_id": number, "token": token}]
    assert "not found" in client.token("f" * 32, "json").error(404)
    assert "not found" in client.request("2699999999", "xml").error(404)


def test_the_ticket_follows_the_workflow_and_open311_shows_each_stage(api: Api) -> None:
    client = api.client()
    number = a_request(client, **{"attribute[RECURRING]": "repeated", "attribute[OBSERVED_AT]": "2026-12-03T08:00:00+08:00"})
    moves = [("register", {"category_id": None}), ("dispatch", {"department_id": api.ids["roads"]})]

    def move(action: str, **kw: Any) -> None:
        def work(s: Any) -> None:
            t = tickets.get(s, number)
            if "category_id" in kw:
                kw["category_id"] = t.category_id
            tickets.apply(s, POLICY, t, action, actor=Actor("operator"), **kw)

        api.database.run(work)

    for action, kw in moves:
        move(action, **kw)
    [shown] = client.request(number, "json").doc
    assert shown["status"] == "open" and shown["detailed_status"] == "dispatched" and shown["status_notes"] == "已派遣 dispatched"
    assert shown["agency_responsible"] == "市政道路处" and shown["expected_datetime"] is not None
    assert datetime.fromisoformat(shown["updated_datetime"]) >= datetime.fromisoformat(shown["requested_datetime"])
    move("handle", reason="已清运")
    move("verify")
    move("close")
    [shown] = client.request(number, "json").doc
    assert shown["status"] == "closed" and shown["detailed_status"] == "closed" and shown["status_notes"] == "已结案 closed：已清运"


# -- GET requests and its filters


def test_get_requests_with_every_filter(api: Api) -> None:
    client = api.client()
    first = a_request(client, service_code="0101")
    second = a_request(client)
    third = a_request(client)
    old = a_request(client, description="去年的")
    now = utcnow()
    api.database.run(lambda s: s.execute(update(Ticket).where(Ticket.number == old).values(created_at=now - timedelta(days=120))))
    # The third is rejected (不予立案): closed for Open311.
    api.database.run(lambda s: tickets.apply(s, POLICY, third, "reject", actor=Actor("operator"), reason="重复"))
    # A phoned-in ticket is not published unless publish_all_tickets says so.
    api.database.run(lambda s: tickets.open_ticket(s, POLICY, source=TicketSource.HOTLINE, actor=Actor("operator"), description="电话来的"))

    def ids(**filters: Any) -> list[str]:
        return [r["service_request_id"] for r in xml_requests(client.requests("xml", **filters))]

    assert ids() == [third, second, first]  # the last 90 days, newest first
    same_shape(client.requests("xml").doc, SPEC_REQUESTS_XML, EXTENSIONS)
    assert ids(service_request_id=f"{first},{old}") == [first, old]  # overrides the window …
    assert ids(service_request_id=first, status="closed") == [first]  # … and every other filter
    assert ids(service_code="0101") == [first]
    assert ids(service_code="0101,200101") == [third, second, first]
    assert ids(status="open") == [second, first]
    assert ids(status="closed") == [third]
    assert ids(status="open,closed") == [third, second, first]
    window = {"start_date": (now - timedelta(days=130)).isoformat(), "end_date": (now - timedelta(days=100)).isoformat()}
    assert ids(**window) == [old]
    assert ids(start_date=(now - timedelta(days=121)).astimezone().isoformat()) == [old]  # start alone: 90 days from it
    assert ids(end_date=(now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")) == []  # end alone: the 90 days before it
    assert ids(end_date=(now + timedelta(minutes=1)).isoformat()) == [third, second, first]
    assert ids(page_size="2") == [third, second] and ids(page_size="2", page="2") == [first] and ids(page_size="2", page="3") == []
    assert client.requests("json", status="closed").doc[0]["status"] == "closed"
    for fmt in ("xml", "json"):
        assert "start_date and end_date may be at most 90 days apart" in client.requests(fmt, start_date=(now - timedelta(days=100)).isoformat(), end_date=now.isoformat()).error(400)
        assert "start_date 'yesterday' is not an ISO 8601 date-time" in client.requests(fmt, start_date="yesterday").error(400)
        assert "end_date '2026-12-01T08:00:00' has no time zone" in client.requests(fmt, end_date="2026-12-01T08:00:00").error(400)
        assert "end_date is before start_date" in client.requests(fmt, start_date=now.isoformat(), end_date=(now - timedelta(days=1)).isoformat()).error(400)
        assert "status 'pending' is not one of open, closed" in client.requests(fmt, status="pending").error(400)
        assert "page_size must be between 1 and 1000" in client.requests(fmt, page_size="5000").error(400)
        assert "page 'x' is not a whole number" in client.requests(fmt, page="x").error(400)


def test_publish_all_tickets_shows_phoned_in_cases_too(database: Database) -> None:
    with serve(database, dataclasses.replace(UNLIMITED, publish_all_tickets=True)) as api:
        number = database.run(lambda s: tickets.open_ticket(s, POLICY, source=TicketSource.HOTLINE, actor=Actor("operator"), description="电话来的").number)
        [shown] = api.client().request(number, "json").doc
        assert shown["service_code"] == "" and shown["description"] == "电话来的"
        assert number in [r["service_request_id"] for r in api.client().requests("json").doc]


# -- every error case, in the spec's error format; the server keeps serving


def test_every_bad_post_gets_the_specs_error_with_a_specific_description(api: Api) -> None:
    client = api.client()
    good = {"service_code": "200101", "address_string": "香港中路 1 号"}
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"address_string": "x"}, 400, "service_code is required"),
        ({"service_code": "9999", "address_string": "x"}, 404, "service_code '9999' not found"),
        ({"service_code": "200101"}, 400, "a location is required: lat and long, address_string or address_id"),
        (good | {"lat": "36.06"}, 400, "lat and long go together"),
        (good | {"lat": "north", "long": "120"}, 400, "lat/long must be decimal degrees (WGS84)"),
        (good | {"lat": "91", "long": "120"}, 400, "lat must be within ±90 and long within ±180"),
        (good | {"description": "长" * 4001}, 400, "description is longer than 4000 characters (4001)"),
        (good | {"description": "看<script>alert(1)</script>"}, 400, "description must be plain text: HTML is not accepted"),
        (good | {"email": "not-an-address"}, 400, "email 'not-an-address' is not an e-mail address"),
        (good | {"media_url": "javascript:alert(1)"}, 400, "media_url must be an http or https URL"),
        (good | {"phone": "电话"}, 400, "phone '电话' is not a phone number"),
        (good | {"first_name": "名" * 51}, 400, "first_name is longer than 50 characters"),
        (good | {"attribute[COLOUR]": "red"}, 400, "attribute[COLOUR] is not an attribute of service 200101 (attributes: RECURRING, OBSERVED_AT)"),
        (good | {"attribute[RECURRING]": "often"}, 400, "attribute[RECURRING]: 'often' is not one of first, repeated"),
        (good | {"attribute[RECURRING][]": ["first", "repeated"]}, 400, "attribute[RECURRING] takes one value, found 2"),
        (good | {"attribute[OBSERVED_AT]": "this morning"}, 400, "attribute[OBSERVED_AT] 'this morning' is not an ISO 8601 date-time"),
    ]
    for fields, code, description in cases:
        for fmt in ("json", "xml"):
            reply = client.create(fmt, **fields)
            assert description in reply.error(code), (fields, fmt, reply.body)
    assert api.database.run(lambda s: s.scalars(select(Ticket)).all()) == []  # nothing half-written
    # Multi-value syntax for a list that takes one value is read, not ignored: one value passes.
    assert client.create("json", **good, **{"attribute[RECURRING][]": "first"}).status == 200
    assert client.services("json").status == 200


def test_keys_content_types_jurisdictions_formats_and_methods(api: Api) -> None:
    keyless = GeoReport(api.port)
    for fmt in ("json", "xml"):
        assert "api_key is required" in keyless.create(fmt, service_code="200101", address_string="x").error(403)
        assert keyless.create(fmt, api_key="h311_guess", service_code="200101", address_string="x").error(403) == "Invalid api_key received -- can't proceed with create_request."
    assert "Invalid api_key received" in GeoReport(api.port, api_key="h311_guess").requests("json", api_key="h311_guess").error(403)
    key_id = api.database.run(lambda s: apikeys.keys(s)[0].id)
    api.database.run(lambda s: apikeys.revoke(s, apikeys.Who("test"), key_id))
    assert api.client().create("json", service_code="200101", address_string="x").error(403) == "Invalid api_key received -- can't proceed with create_request."
    _, key = api.database.run(lambda s: apikeys.create(s, apikeys.Who("test"), "小程序"))
    client = GeoReport(api.port, api_key=key)

    body = json.dumps({"api_key": key, "service_code": "200101", "address_string": "x"}).encode()
    assert "POST bodies must be application/x-www-form-urlencoded; charset=utf-8" in client.call("POST", "/open311/v2/requests.json", body=body, content_type="application/json").error(400)
    multipart = b'--b\r\ncontent-disposition: form-data; name="api_key"\r\n\r\n' + key.encode() + b"\r\n--b--\r\n"
    assert "media goes as media_url" in client.call("POST", "/open311/v2/requests.xml", body=multipart, content_type="multipart/form-data; boundary=b").error(400)
    assert "charset=utf-8" in client.call("POST", "/open311/v2/requests.json", body=b"api_key=x", content_type="application/x-www-form-urlencoded; charset=gbk").error(400)
    assert "is not UTF-8 text" in client.call("POST", "/open311/v2/requests.json", body=b"api_key=" + key.encode() + b"&description=%FF%FE&service_code=200101").error(400)

    assert "no resource" in client.call("GET", "/open311/v2/services.csv").error(404)
    assert "no resource" in client.call("GET", "/open311/v2/services").error(404)
    assert "no such resource" in client.call("GET", "/open311/v2/reports.json").error(404)
    assert "no such resource" in client.call("GET", "/open311/v2/things/1.xml").error(404)
    wrong = client.call("DELETE", "/open311/v2/requests.json")
    assert "DELETE is not allowed here (allowed: GET, POST)" in wrong.error(405) and wrong.headers["allow"] == "GET, POST"
    assert "POST is not allowed here (allowed: GET)" in client.call("POST", "/open311/v2/services.xml", {"api_key": key}).error(405)
    assert client.create("json", service_code="200101", address_string="x", jurisdiction_id="anything").status == 200  # none configured: ignored
    assert client.services("json").status == 200


def test_jurisdiction(database: Database) -> None:
    with serve(database, dataclasses.replace(UNLIMITED, jurisdiction_id="qingdao.gov.cn")) as api:
        right, wrong = api.client(jurisdiction_id="qingdao.gov.cn"), api.client(jurisdiction_id="jinan.gov.cn")
        assert right.services("xml").status == 200 and api.client().services("json").status == 200  # omitted: this one
        assert right.create("json", service_code="200101", address_string="x").status == 200
        for reply in (wrong.services("xml"), wrong.definition("0101", "json"), wrong.requests("json"), wrong.create("xml", service_code="200101", address_string="x")):
            assert "jurisdiction_id 'jinan.gov.cn' not found" in reply.error(404)


def test_rate_limits_per_key_and_per_address_answer_429_with_retry_after(database: Database) -> None:
    registry = CollectorRegistry()
    with serve(database, Open311Config(rate_limit_per_key=3, rate_limit_per_address=2), registry) as api:
        keyless, keyed = GeoReport(api.port), api.client()
        assert [keyless.services("json").status for _ in range(2)] == [200, 200]
        refused = keyless.services("json")
        assert "too many requests: at most 2 a minute; try again in 30 s" in refused.error(429) and refused.headers["retry-after"] == "30"
        assert "too many requests" in keyless.services("xml").error(429)
        # A key has its own budget, on GET and POST alike.
        assert [keyed.requests("json", api_key=api.key).status for _ in range(2)] == [200, 200]
        assert keyed.create("json", service_code="200101", address_string="x").status == 200
        limited = keyed.create("xml", service_code="200101", address_string="x")
        assert "at most 3 a minute; try again in 20 s" in limited.error(429) and limited.headers["retry-after"] == "20"
        # Time passes (the limiter's clock, not a sleep): the budget refills.
        api.clock[0] += 30
        assert keyless.services("json").status == 200 and keyed.create("json", service_code="200101", address_string="x").status == 200
        used = database.run(lambda s: apikeys.keys(s)[0])
        assert used.request_count == 5 and used.last_used_address == "127.0.0.1" and used.last_used_at is not None
        counted = {(labels["resource"], labels["method"], labels["status"]): value for labels, value in _samples(registry, "hotline_open311_requests_total")}
        assert counted == {("services", "GET", "200"): 3, ("services", "GET", "429"): 2, ("requests", "GET", "200"): 2, ("requests", "POST", "200"): 2, ("requests", "POST", "429"): 1}


def _samples(registry: CollectorRegistry, name: str) -> list[tuple[dict[str, str], float]]:
    return [(sample.labels, sample.value) for metric in registry.collect() for sample in metric.samples if sample.name == name]


#: The desk's fixture: a PostgreSQL URL on a port nobody listens on.
unused_tcp_port_database = test_desk.unused_tcp_port_database


def test_a_database_that_is_away_gets_503_in_the_specs_format_and_nothing_is_saved(unused_tcp_port_database: Database) -> None:
    mounts = {b"open311": lambda pool: build(Context(pool=pool, policy=POLICY, settings=UNLIMITED, clock=lambda: 0.0))}
    with running_desk(unused_tcp_port_database, mounts=mounts) as port:
        client = GeoReport(port, api_key="h311_" + "x" * 43)
        for reply in (client.services("xml"), client.requests("json"), client.create("json", service_code="200101", address_string="x")):
            assert "cannot reach its database" in reply.error(503) and reply.headers["retry-after"] == "10"


# -- keys: the CLI and the admin page


def test_cli_adds_lists_and_revokes_keys(database_url: str, database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "hotline.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n', encoding="utf-8")
    assert cli.main(["-c", str(config), "open311", "key", "list"]) == 0
    assert "no API keys" in capsys.readouterr().out
    assert cli.main(["-c", str(config), "open311", "key", "add", "城管通 app", "--note", "信息中心 王工"]) == 0
    out = capsys.readouterr().out
    key = out.splitlines()[1]
    assert key.startswith("h311_") and "cannot be shown again" in out
    with serve(database) as api:
        assert GeoReport(api.port, api_key=key).create("json", service_code="200101", address_string="x").status == 200
        assert cli.main(["-c", str(config), "open311", "key", "list"]) == 0
        listing = capsys.readouterr().out
        assert key[:11] + "…" in listing and key not in listing and "(1 requests)" in listing and "active" in listing
        assert cli.main(["-c", str(config), "open311", "key", "revoke", key[:11]]) == 0
        assert "revoked" in capsys.readouterr().out
        assert GeoReport(api.port, api_key=key).create("json", service_code="200101", address_string="x").error(403)
    assert cli.main(["-c", str(config), "open311", "key", "revoke", key[:11]]) == 1
    assert "was already revoked" in capsys.readouterr().err
    assert cli.main(["-c", str(config), "open311", "key", "revoke", "4242"]) == 1
    assert "there is no API key '4242'" in capsys.readouterr().err
    assert cli.main(["-c", str(config), "open311", "key", "add", " "]) == 1
    assert "name the client" in capsys.readouterr().err
    by_cli = database.run(lambda s: [(e.action, e.detail["name"]) for e in s.scalars(select(AuditEntry).where(AuditEntry.username.like("cli:%")).order_by(AuditEntry.id))])
    assert by_cli == [("api_key_create", "城管通 app"), ("api_key_revoke", "城管通 app")]


def test_admin_page_creates_a_key_shown_once_and_revokes_it(api: Api) -> None:
    admin = Client(api.port)
    assert admin.login("admin").status == 303
    page = admin.get("/desk/admin/api-keys")
    assert page.status == 200 and "城管通 app" in page.body and "API 密钥" in page.body
    made = admin.post("/desk/admin/api-keys", {"csrf": page.csrf(), "name": "微信小程序", "note": "市大数据局"})
    assert made.status == 200 and made.headers["cache-control"] == "no-store"
    key = made.body.split("data-key>")[1].split("<")[0]
    assert key.startswith("h311_") and "不会再次显示" in made.body
    again = admin.get("/desk/admin/api-keys").body
    assert key not in again and key[:11] in again
    client = GeoReport(api.port, api_key=key)
    assert client.create("json", service_code="200101", address_string="x").status == 200
    refused = admin.post("/desk/admin/api-keys", {"csrf": page.csrf(), "name": ""})
    assert refused.status == 400 and "请填写使用该密钥的接入方名称" in refused.body
    key_id = api.database.run(lambda s: next(k.id for k in apikeys.keys(s) if k.name == "微信小程序"))
    assert admin.post("/desk/admin/api-keys/revoke", {"csrf": page.csrf(), "key_id": "x"}).status == 400
    assert admin.post("/desk/admin/api-keys/revoke", {"csrf": page.csrf(), "key_id": str(key_id)}).status == 303
    twice = admin.post("/desk/admin/api-keys/revoke", {"csrf": page.csrf(), "key_id": str(key_id)})
    assert twice.status == 400 and "was already revoked" in twice.body
    assert client.create("json", service_code="200101", address_string="x").error(403)
    listed = admin.get("/desk/admin/api-keys").body
    assert "已吊销" in listed
    audit = admin.get("/desk/admin/audit").body
    assert "api_key_create" in audit and "api_key_revoke" in audit and "open311_request" in audit
    operator = Client(api.port)
    assert operator.login("operator").status == 303
    assert operator.get("/desk/admin/api-keys").status == 403
