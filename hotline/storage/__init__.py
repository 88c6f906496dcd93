"""Storage: the models, engines and sessions for SQLite and PostgreSQL, the Alembic
migrations, and the machinery that keeps database work off the reactor thread."""
