"""Alembic migrations of importer's schema, run by ``importer db upgrade`` and at start-up."""
