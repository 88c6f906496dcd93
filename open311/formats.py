"""The GeoReport v2 documents in the spec's two formats, element for element as the spec
shows them: XML (required by the spec) and JSON (offered too). Values come in as plain
Python (str, bool, int, float, None, lists of dicts); this module only spells them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any
from xml.etree import ElementTree as ET

from hotline.tickets.georeport import RequestView, Service

FORMATS = {"xml": b"text/xml; charset=utf-8", "json": b"application/json; charset=utf-8"}
#: The discovery document's media types for the two formats.
MEDIA_TYPES = ("text/xml", "application/json")
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
#: When this endpoint's interface last changed (the discovery document's `changeset`).
CHANGESET = "2026-12-03T00:00:00+08:00"

Doc = Mapping[str, Any]


def render(fmt: str, root: str, item: str, items: Sequence[Doc] | Doc) -> bytes:
    """A list of `item` elements under `root` (XML) or a JSON array; a single mapping is the
    root element's children (XML) or a JSON object."""
    if fmt == "json":
        return json.dumps(items, ensure_ascii=False, separators=(",", ":")).encode()
    top = ET.Element(root)
    if isinstance(items, Mapping):
        _children(top, items, item)
    else:
        for doc in items:
            _children(ET.SubElement(top, item), doc, item)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(top, encoding="unicode").encode()


#: XML element of one entry of a list-valued field: attributes → attribute, values → value …
_SINGULAR = {"attributes": "attribute", "values": "value", "endpoints": "endpoint", "formats": "format"}


def _children(parent: ET.Element, doc: Doc, item: str) -> None:
    for name, value in doc.items():
        child = ET.SubElement(parent, name)
        if isinstance(value, list):
            for entry in value:
                if isinstance(entry, Mapping):
                    _children(ET.SubElement(child, _SINGULAR[name]), entry, item)
                else:
                    ET.SubElement(child, _SINGULAR[name]).text = _text(entry)
        else:
            child.text = _text(value)


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def errors(fmt: str, code: int, description: str) -> bytes:
    return render(fmt, "errors", "error", [{"code": code, "description": description}])


def services(fmt: str, found: Sequence[Service]) -> bytes:
    docs = [{"service_code": s.code, "service_name": s.name, "description": s.description, "metadata": s.metadata, "type": s.type, "keywords": s.keywords, "group": s.group} for s in found]
    return render(fmt, "services", "service", docs)


def definition(fmt: str, s: Service) -> bytes:
    attributes = [
        {
            "variable": a.variable,
            "code": a.code,
            "datatype": a.datatype,
            "required": a.required,
            "datatype_description": a.datatype_description or None,
            "order": a.order,
            "description": a.description,
            "values": [{"key": v.key, "name": v.name} for v in a.values],
        }
        for a in s.attributes
    ]
    return render(fmt, "service_definition", "", {"service_code": s.code, "attributes": attributes})


def created(fmt: str, service_request_id: str, token: str, service_notice: str, account_id: str) -> bytes:
    return render(fmt, "service_requests", "request", [{"service_request_id": service_request_id, "token": token, "service_notice": service_notice, "account_id": account_id or None}])


def token(fmt: str, service_request_id: str, value: str) -> bytes:
    return render(fmt, "service_requests", "request", [{"service_request_id": service_request_id, "token": value}])


def requests(fmt: str, views: Sequence[RequestView], tz: tzinfo) -> bytes:
    return render(fmt, "service_requests", "request", [_request(v, tz) for v in views])


def _request(v: RequestView, tz: tzinfo) -> dict[str, Any]:
    return {
        "service_request_id": v.service_request_id,
        "status": v.status,
        "status_notes": v.status_notes,
        "service_name": v.service_name,
        "service_code": v.service_code,
        "description": v.description,
        "agency_responsible": v.agency_responsible,
        "service_notice": v.service_notice,
        "requested_datetime": stamp(v.requested_datetime, tz),
        "updated_datetime": stamp(v.updated_datetime, tz),
        "expected_datetime": stamp(v.expected_datetime, tz),
        "address": v.address,
        "address_id": v.address_id,
        "zipcode": v.zipcode,
        "lat": v.lat,
        "long": v.long,
        "media_url": v.media_url,
        # Extension (as FixMyStreet's extended statuses): our workflow stage behind open/closed.
        "detailed_status": v.detailed_status,
    }


def stamp(moment: datetime | None, tz: tzinfo) -> str | None:
    """ISO 8601 with the zone, in the hotline's own time zone."""
    return None if moment is None else moment.astimezone(tz).isoformat(timespec="seconds")


def discovery(fmt: str, url: str, contact: str, key_service: str) -> bytes:
    endpoint = {"specification": SPECIFICATION, "url": url, "changeset": CHANGESET, "type": "production", "formats": list(MEDIA_TYPES)}
    return render(fmt, "discovery", "", {"changeset": CHANGESET, "contact": contact, "key_service": key_service, "endpoints": [endpoint]})
