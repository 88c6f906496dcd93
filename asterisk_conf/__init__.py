"""Jinja2 templates and the renderer for the Asterisk side (pjsip, extensions, queues,
manager), all from the service's configuration.

Not built yet (the Asterisk issue).
"""
