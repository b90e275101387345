"""Fixtures: a real PostgreSQL schema, a transaction per test, the fake payment provider, an HTTP client.

Only tests that use `client` (or `db_session`) touch the database, so the unit tests run without one.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.db import Base, engine_url, get_session
from app.main import create_app
from app.payments.provider import PaymentProvider, get_provider
from app.settings import Settings
from tests.fake_provider import API_KEY, FakeProvider

NO_DATABASE = (
    "DATABASE_URL is not set: run `ci-toolkit local` (it starts PostgreSQL for these tests), or export "
    "DATABASE_URL=postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE for a server of your own"
)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def worker_schema(url: str, worker: str | None) -> str | None:
    """The schema this test process keeps its tables in, or None for the database's default.

    `ci-toolkit local` gives every xdist worker a database of its own (database_per_worker: gw0 gets
    shop_gw0). A hand-run `pytest -n 2` points all workers at one database; each then takes a schema of
    its own, so that one worker's drop_all cannot pull the tables from under another worker's tests.
    """
    if worker is None or (make_url(url).database or "").endswith(f"_{worker}"):
        return None
    return f"test_{worker}"


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    """The test database with a fresh schema, created once per test process."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        pytest.fail(NO_DATABASE, pytrace=False)
    schema = worker_schema(url, os.environ.get("PYTEST_XDIST_WORKER"))
    options = {} if schema is None else {"options": f"-c search_path={schema}"}
    engine = create_engine(engine_url(url), connect_args=options)
    try:
        with engine.begin() as connection:
            if schema is not None:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            # Dropped first: tables left by an earlier run of an older model would not match this one.
            Base.metadata.drop_all(connection)
            Base.metadata.create_all(connection)
    except OperationalError as error:
        where = make_url(url).render_as_string(hide_password=True)
        pytest.fail(
            f"cannot use DATABASE_URL {where}: {str(error.orig).strip().splitlines()[0]}", pytrace=False
        )
    yield engine
    engine.dispose()


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test: every test starts empty.

    create_savepoint turns the code's own commit() into a RELEASE SAVEPOINT, so services commit as in
    production while nothing reaches the database for good.
    """
    with engine.connect() as connection:
        outer = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield session
        finally:
            session.close()
            outer.rollback()


@pytest.fixture(scope="session")
def provider_server() -> Iterator[FakeProvider]:
    fake = FakeProvider().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_provider(provider_server: FakeProvider) -> Iterator[FakeProvider]:
    """The fake payment provider, forgetting everything before and after the test."""
    provider_server.reset()
    yield provider_server
    provider_server.reset()


@pytest.fixture(scope="session")
def provider_settings(provider_server: FakeProvider) -> Settings:
    return Settings(
        database_url=None,
        payment_provider_url=provider_server.url,
        payment_provider_key=API_KEY,
        payment_provider_timeout=5.0,
    )


@pytest.fixture(scope="session")
def payment_provider(provider_settings: Settings) -> Iterator[PaymentProvider]:
    """The app's real provider client, pointed at the fake; one per process, as in production."""
    provider = PaymentProvider(
        provider_settings.payment_provider_url,
        provider_settings.payment_provider_key,
        provider_settings.payment_provider_timeout,
    )
    yield provider
    provider.close()


@pytest.fixture(scope="session")
def shared_app() -> FastAPI:
    # Built once: a new app's first request assembles its middleware stack, which costs more than most tests.
    return create_app()


@pytest.fixture
def app(
    shared_app: FastAPI, db_session: Session, payment_provider: PaymentProvider, fake_provider: FakeProvider
) -> Iterator[FastAPI]:
    """The real application, with the test's session and a provider client for the fake injected.

    A test may override more (or other) dependencies; every override is dropped after the test.
    """
    shared_app.dependency_overrides[get_session] = lambda: db_session
    shared_app.dependency_overrides[get_provider] = lambda: payment_provider
    yield shared_app
    shared_app.dependency_overrides.clear()


@pytest.fixture
async def client(app: FastAPI, anyio_backend: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client
