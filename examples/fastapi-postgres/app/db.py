"""Database plumbing: the declarative base, a lazily created engine, the per-request session.

Nothing here connects at import time: the engine is built on the first request that needs it, so the app
(and its OpenAPI schema) can be imported without a database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from app.settings import get_settings


class Base(DeclarativeBase):
    pass


def engine_url(url: str) -> URL:
    """`url` with the psycopg 3 driver: a bare postgresql:// would make SQLAlchemy look for psycopg2."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


@lru_cache(maxsize=1)
def get_sessionmaker() -> sessionmaker[Session]:
    url = get_settings().database_url
    if url is None:
        raise RuntimeError(
            "DATABASE_URL is not set; export DATABASE_URL=postgresql+psycopg://USER:PW@HOST/DB"
        )
    engine: Engine = create_engine(engine_url(url), pool_pre_ping=True)
    return sessionmaker(engine)


def get_session() -> Iterator[Session]:
    """One session per request (a FastAPI dependency); whatever was not committed is rolled back."""
    with get_sessionmaker()() as session:
        yield session


@contextmanager
def transaction(session: Session) -> Iterator[None]:
    """Commit what the block did, or roll all of it back if it raised.

    Services wrap each write in this rather than relying on the request ending: the session must be
    clean again when a domain error is raised halfway (a test's requests share one session, and so does
    any code that calls two services in a row).
    """
    try:
        yield
    except BaseException:
        session.rollback()
        raise
    session.commit()
