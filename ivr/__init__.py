"""The IVR: a flow engine over an abstract channel, the 12319 menu, and the FastAGI server.

Not built yet (the IVR issue); the package exists so the layout of DESIGN.md is in place.
"""
