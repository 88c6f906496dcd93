"""The Asterisk side of the hotline, rendered from the service's configuration.

`render` turns the config into hotline-pjsip.conf, hotline-extensions.conf,
hotline-queues.conf and hotline-manager.conf (Jinja2 templates in templates/), each to be
#included at the end of the matching Asterisk file; `check` reads them back and makes sure
every queue, context, prompt and FastAGI flow they name exists; `secrets` reads the seat,
trunk and AMI passwords from outside the service config; `commands` adds
`hotline asterisk-config render`. See docs/asterisk.md.
"""
