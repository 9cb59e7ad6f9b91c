"""Storage: SQLAlchemy 2.0 models, the engine factory and the unit of work."""
