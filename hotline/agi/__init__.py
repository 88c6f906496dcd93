"""The AGI transport: how a call reaches a flow, whatever carries it.

`channel` is the seam flows talk to; `codec` reads and writes the wire (no I/O); `fastagi`
serves it over TCP on Twisted, `classic` over stdin/stdout with pyst2, `scripted` plays a
caller in tests. The citizen IVR and the satisfaction survey are flows on top of it."""
