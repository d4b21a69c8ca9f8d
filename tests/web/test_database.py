"""The Alembic migrations build exactly the tables the models describe, on each backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from web.db import Database, migrate
from web.models import Base


def test_migrations_match_the_models_and_are_idempotent(database_url: str) -> None:
    database = Database(database_url)
    try:
        migrate(database.engine)
        migrate(database.engine)
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            assert context.get_current_revision() == "0003"
        tables = set(inspect(database.engine).get_table_names())
        assert {"users", "login_sessions", "api_tokens", "login_failures", "recordings"} <= tables
    finally:
        database.dispose()


def test_migrations_downgrade_cleanly(database_url: str) -> None:
    from alembic import command

    from web.db import alembic_config

    database = Database(database_url)
    try:
        migrate(database.engine)
        config = alembic_config(database_url)
        with database.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        assert set(inspect(database.engine).get_table_names()) <= {"alembic_version"}
    finally:
        database.dispose()


def test_recordings_uploaded_before_the_later_settings_get_their_defaults(
    database_url: str,
) -> None:
    from alembic import command
    from sqlalchemy import text

    from web.db import alembic_config

    database = Database(database_url)
    try:
        config = alembic_config(database_url)
        with database.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")
            connection.execute(
                text(
                    "INSERT INTO users (id, username, password_hash, is_admin, disabled, "
                    "created_at) VALUES (1, 'alice', 'x', false, false, '2026-01-01 00:00:00')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO recordings (public_id, owner_id, trainee, original_name, "
                    "audio_file, audio_format, audio_bytes, sha256, hint, status, "
                    "audio_deleted, created_at, updated_at) VALUES ('r1', 1, '', 'a.wav', "
                    "'audio.wav', 'wav', 10, 'ab', 'auto', 'done', false, "
                    "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                )
            )
        migrate(database.engine)
        with database.engine.connect() as connection:
            mode, speakers = connection.execute(
                text("SELECT channel_mode, speakers FROM recordings")
            ).one()
        assert (mode, speakers) == ("auto", "2")
    finally:
        database.dispose()
