"""HTTP: the site every node serves (`/healthz`, `/metrics`) and where the desk and the
Open311 API mount."""
