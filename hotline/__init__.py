"""The 12319 hotline's shared core: configuration, storage, ticket workflow, time limits,
taxonomy, KPIs, metrics and the service's composition root."""

__version__ = "0.1.0"
