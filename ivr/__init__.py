"""The citizen IVR: the 12319 menu as validated data (`ivr.menu`, `ivr/menus/*.toml`), its
flows as `async def` functions over the core's Channel seam (`ivr.flows`), and the runner that
logs every call (`ivr.runner`). The transports that carry a call to a flow are in
`hotline.agi`.
"""
