"""``session-analyzer serve`` and ``session-analyzer users ...``.

Wire them into ``cli/main.py`` with :func:`add_web_commands` and
:data:`WEB_HANDLERS`; nothing heavy is imported until a command runs.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Sequence

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def add_web_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve`` and ``users`` to the ``session-analyzer`` subcommands."""
    serve = commands.add_parser(
        "serve",
        help="run the supervisor web app",
        description="Migrate the database and serve the web app. Settings come from "
        "SESSION_ANALYZER_* environment variables (see docs/web.md): data directory, "
        "database URL, upload limit, retention, secret key, model.",
    )
    serve.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}: this machine only)",
    )
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default 8000)")

    users = commands.add_parser(
        "users",
        help="manage the web app's accounts",
        description="Create and manage supervisor accounts of the web app. Passwords are "
        "asked for on a terminal, or read from the first line of standard input.",
    )
    actions = users.add_subparsers(dest="users_command", required=True)
    add = actions.add_parser("add", help="create a user")
    add.add_argument("username")
    add.add_argument("--admin", action="store_true", help="may see every supervisor's sessions")
    actions.add_parser("list", help="list users")
    passwd = actions.add_parser(
        "passwd", help="set a new password (ends the user's logins, revokes their API tokens)"
    )
    passwd.add_argument("username")
    token = actions.add_parser("token", help="create an API token and print it once")
    token.add_argument("username")
    token.add_argument("--name", default="cli", help="what the token is for")
    for name, text in (
        ("disable", "block a user (ends their logins, revokes their API tokens)"),
        ("enable", "unblock a user"),
    ):
        actions.add_parser(name, help=text).add_argument("username")


def read_password(*, prompt: str = "Password: ") -> str:
    """A new password: asked twice on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass("Repeat: ") != first:
            raise ValueError("the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def run_serve(args: argparse.Namespace) -> int:
    """``serve``: migrate, then run uvicorn in this process (analyses in worker processes)."""
    import uvicorn
    from sqlalchemy import func, select

    from web.app import create_app
    from web.models import User
    from web.settings import Settings

    settings = Settings()
    app = create_app(settings)
    with app.state.db.session() as db:
        users = db.scalar(select(func.count()).select_from(User)) or 0
    print(f"data directory  {settings.data_dir.resolve()}")
    print(f"database        {app.state.db.engine.url.render_as_string(hide_password=True)}")
    print(f"open            http://{args.host}:{args.port}/")
    if not users:
        print("no users yet: create one with `session-analyzer users add NAME --admin`")
    uvicorn.run(app, host=args.host, port=args.port, server_header=False, log_level="info")
    return 0


def run_users(args: argparse.Namespace) -> int:
    """``users``: add, list, passwd, token, disable, enable."""
    from web.accounts import (
        AccountError,
        create_api_token,
        create_user,
        find_user,
        set_disabled,
        set_password,
    )
    from web.db import Database, migrate
    from web.models import User
    from web.settings import Settings

    settings = Settings()
    database = Database(settings.resolved_database_url)
    migrate(database.engine)
    command = args.users_command
    with database.session() as db:
        if command == "list":
            from sqlalchemy import select

            for user in db.scalars(select(User).order_by(User.username)):
                flags = " ".join(
                    f for f, on in (("admin", user.is_admin), ("disabled", user.disabled)) if on
                )
                print(f"{user.username:<24} {flags}".rstrip())
            return 0
        if command == "add":
            user = create_user(db, args.username, read_password(), is_admin=args.admin)
            print(f"created {'admin' if user.is_admin else 'supervisor'} {user.username}")
            return 0
        found = find_user(db, args.username)
        if found is None:
            raise AccountError(f"no user {args.username!r}")
        if command == "passwd":
            set_password(db, found, read_password(prompt="New password: "))
            print(f"password of {found.username} changed")
        elif command == "token":
            _record, token = create_api_token(db, found, args.name)
            print(token)
        else:
            set_disabled(db, found, disabled=command == "disable")
            print(f"{found.username} {command}d")
    database.dispose()
    return 0


WEB_HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "serve": run_serve,
    "users": run_users,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point (``python -m web``) until ``cli/main.py`` wires the commands."""
    parser = argparse.ArgumentParser(prog="python -m web")
    add_web_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return WEB_HANDLERS[args.command](args)
    except ValueError as error:
        print(f"session-analyzer: error: {error}", file=sys.stderr)
        return 2
