"""A small shop service: products, orders and payments over FastAPI, SQLAlchemy 2 and PostgreSQL."""
