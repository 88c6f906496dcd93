"""Request bodies with a bound, and multipart forms parsed as they arrive.

twisted.web buffers any body however large (to a temporary file), and parses a
multipart/form-data body on the reactor thread once it is complete, with
`email.message_from_bytes`: about 0.8 s for 25 MB of photos, during which every other request of
the node waits; it also drops the files' names. `BoundedRequest` instead

- refuses a body over the site's bound with 413 as soon as its length is known (or, when it is
  chunked, as soon as it passes the bound), and closes the connection;
- feeds a multipart body to werkzeug's sans-IO decoder chunk by chunk as it arrives (well under
  a millisecond per chunk): the form's fields land in `request.args` as twisted.web would put
  them (the desk's CSRF check reads them there), its files in `request.files` with their names;
  the raw body stays in `request.content` too (the supervisor's aggregate port forwards it);
- answers a malformed multipart body with a plain 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twisted.web import server
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

#: The bound when the composition root gives none: far above any form, far below a full disk.
DEFAULT_MAX_BODY = 64 * 1024 * 1024
#: Text fields of a multipart form together (the files are bounded by the body's bound).
MAX_FIELDS_BYTES = 1024 * 1024
MAX_PARTS = 200


@dataclass(frozen=True)
class Upload:
    """One file of a multipart form, as the browser sent it (nothing here is checked yet)."""

    field: str
    filename: str
    content_type: str
    data: bytes


class BoundedRequest(server.Request):
    """A twisted.web request whose body is bounded and whose multipart form is parsed as it arrives."""

    max_body: int = DEFAULT_MAX_BODY

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)  # type: ignore[no-untyped-call]  # twisted.web leaves Request.__init__ unannotated
        self.files: dict[str, list[Upload]] = {}
        self._received = 0
        self._refused = False
        self._decoder: MultipartDecoder | None = None
        self._malformed = False
        self._complete = False
        self._fields: dict[bytes, list[bytes]] = {}
        self._part: Field | File | None = None
        self._chunks: list[bytes] = []

    def gotLength(self, length: int | None) -> None:
        super().gotLength(length)  # type: ignore[no-untyped-call]
        if length is not None and length > self.max_body:
            self._refuse()
            return
        header = self.requestHeaders.getRawHeaders(b"content-type")
        if header:
            kind, options = parse_options_header(header[0].decode("latin-1"))
            if kind == "multipart/form-data":
                # Parsed here as it arrives, never again whole on the reactor by twisted.web.
                self._parsePOSTFormSubmission = False
                boundary = options.get("boundary", "")
                if boundary:
                    self._decoder = MultipartDecoder(boundary.encode("latin-1"), max_form_memory_size=MAX_FIELDS_BYTES, max_parts=MAX_PARTS)
                else:
                    self._malformed = True

    def handleContentChunk(self, data: bytes) -> None:
        if self._refused:
            return
        self._received += len(data)
        if self._received > self.max_body:
            self._refuse()
            return
        # Kept as twisted.web keeps it (a temporary file beyond 100 kB): a proxy forwards it.
        super().handleContentChunk(data)  # type: ignore[no-untyped-call]
        if self._decoder is not None and not self._malformed:
            self._feed(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if self._refused:
            return  # the 413 is on its way and the connection closing
        if self._decoder is not None and not self._malformed:
            self._feed(None)
        super().requestReceived(command, path, version)  # type: ignore[no-untyped-call]

    def process(self) -> None:
        if self._decoder is not None or self._malformed:
            if self._malformed or not self._complete:
                self._plain(400, "表单内容无法解析 / The form's multipart body is malformed or incomplete.\n")
                return
            for name, values in self._fields.items():
                self.args.setdefault(name, []).extend(values)
        super().process()  # type: ignore[no-untyped-call]

    # -- the decoder

    def _feed(self, data: bytes | None) -> None:
        assert self._decoder is not None
        try:
            self._decoder.receive_data(data)
            while True:
                event = self._decoder.next_event()
                if isinstance(event, NeedData):
                    return
                if isinstance(event, Epilogue):
                    self._complete = True
                    return
                if isinstance(event, Field | File):
                    self._part, self._chunks = event, []
                elif isinstance(event, Data) and self._part is not None:
                    self._chunks.append(event.data)
                    if not event.more_data:
                        self._done(self._part, b"".join(self._chunks))
                        self._part, self._chunks = None, []
        except (ValueError, RequestEntityTooLarge):
            self._malformed = True

    def _done(self, part: Field | File, value: bytes) -> None:
        if isinstance(part, File):
            upload = Upload(part.name, part.filename or "", part.headers.get("content-type", ""), value)
            self.files.setdefault(part.name, []).append(upload)
        else:
            self._fields.setdefault(part.name.encode("utf-8"), []).append(value)

    # -- answers before any resource sees the request

    def _refuse(self) -> None:
        """413 and close: reading the rest of an oversized body would only fill the disk."""
        self._refused = True
        self.requestHeaders.removeHeader(b"expect")  # no "100 Continue" after the refusal
        megabytes = self.max_body / 1_000_000
        body = f"请求内容过大（上限 {megabytes:.0f} MB）/ The request is too large (at most {megabytes:.0f} MB).\n".encode()
        head = b"HTTP/1.1 413 Content Too Large\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\ncontent-length: %d\r\n\r\n" % len(body)
        channel: Any = self.channel  # twisted.web's channel is unannotated
        channel.transport.write(head + body)
        channel.loseConnection()

    def _plain(self, code: int, text: str) -> None:
        request: Any = self  # twisted.web's Request methods are unannotated
        request.site = request.channel.site
        request.setResponseCode(code)
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        request.setHeader(b"x-content-type-options", b"nosniff")
        request.write(text.encode())
        request.finish()


def request_factory(max_body: int) -> type[BoundedRequest]:
    """A request class with this bound, for `server.Site(requestFactory=…)`."""
    return type("BoundedRequest", (BoundedRequest,), {"max_body": max_body})
