"""The IVR: flows as `async def` functions over the Channel seam (`ivr.channel`), the 12319
menu as validated data (`ivr.menu`, `ivr/menus/*.toml`), the runner that logs every call
(`ivr.runner`), and the transports: FastAGI on Twisted (`ivr.fastagi`), classic AGI with
pyst2 (`ivr.classic`) and the tests' scripted channel (`ivr.scripted`).
"""
