"""`hub`: serve, migrate, seed the demo, rotate keys, verify and seal the ledger, retention."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import logging
import os
import signal
import socket
import sys
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession

from hub import __version__
from hub.db import app_role_url, create_engine, session_factory
from hub.errors import HubError, InvalidInput
from hub.keys.store import rotate_keys
from hub.logs import configure_logging
from hub.migrate import set_app_role_password, upgrade
from hub.orgs.onboarding import CreatedOrganisation, CreateOrganisation, create_organisation
from hub.orgs.users import invitation_url
from hub.privacy.subjects import PrivacySubject
from hub.progress import progress
from hub.settings import Settings, get_settings
from resolvers.privacy import subject_of

log = logging.getLogger("hub")

T = TypeVar("T")

FIRST_QUERY = (
    "{ opportunities(first: 5)"
    " { edges { node { name stage amount currency customer { name } } } } }"
)


@contextmanager
def owner_database(settings: Settings, data_dir: Path) -> Iterator[str]:
    """The owner URL: DATABASE_URL if set, else an embedded server stopped on the way out."""
    if settings.database_url:
        yield settings.database_url
        return
    from hub.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(data_dir)
    try:
        yield server.owner_url
    finally:
        server.stop()


def _app_url(settings: Settings, owner_url: str) -> str:
    return settings.app_database_url or app_role_url(owner_url, settings.app_db_password)


def _migrate(settings: Settings, owner_url: str) -> None:
    upgrade(owner_url)
    if settings.app_db_password:
        set_app_role_password(owner_url, settings.app_db_password)


def _seed_demo(owner_url: str, data_dir: Path) -> dict[str, object] | None:
    """Seed the demo once and return its credentials; after that, the saved ones (None if lost)."""
    from hub.demo import DemoAlreadySeeded, seed_demo

    async def run() -> dict[str, object] | None:
        engine = create_engine(owner_url, pool_size=1)
        try:
            async with session_factory(engine)() as session, session.begin():
                credentials = await seed_demo(session)
        except DemoAlreadySeeded:
            return None
        finally:
            await engine.dispose()
        return credentials.to_json()

    result = asyncio.run(run())
    path = data_dir / "demo-credentials.json"
    if result is None:
        if path.exists():
            return dict(json.loads(path.read_text()))
        return None
    data_dir.mkdir(parents=True, exist_ok=True)
    _write_private(path, json.dumps(result, indent=2))
    return result


def _write_private(path: Path, content: str) -> None:
    """Write a file only its owner can read, from the first byte: it holds secrets."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(content)


def _print_demo(credentials: dict[str, object], base_url: str, data_dir: Path) -> None:
    clients = credentials["clients"]
    if not isinstance(clients, list) or not clients:
        return
    print("\nDemo API clients (also in %s):\n" % (data_dir / "demo-credentials.json"))
    print(f"{'organisation':<26} {'client_id':<24} client_secret")
    for entry in clients:
        print(f"{entry['organisation']:<26} {entry['client_id']:<24} {entry['client_secret']}")
        print(f"{'':<26} scopes: {' '.join(entry['scopes'])}")
    first = clients[0]
    query = json.dumps({"query": FIRST_QUERY})
    print("\nTry it:\n")
    print(
        f"TOKEN=$(curl -s -u '{first['client_id']}:{first['client_secret']}' "
        f"-d grant_type=client_credentials {base_url}/oauth/token "
        "| python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')"
    )
    print(
        f'curl -s {base_url}/graphql -H "Authorization: Bearer $TOKEN" '
        f"-H 'Content-Type: application/json' -d '{query}'\n"
    )


def serve(args: argparse.Namespace, settings: Settings) -> int:
    from hub.app import create_app

    data_dir = Path(args.data_dir or settings.data_dir)
    base_url = f"http://{args.host}:{args.port}"
    if not os.environ.get("HUB_ISSUER"):
        if not _loopback(args.host):
            print(
                f"hub serve: listening on {args.host} needs HUB_ISSUER, the URL clients reach "
                "the hub at (such as https://hub.example.com): tokens name it as their issuer "
                "and invitation links point to it",
                file=sys.stderr,
            )
            return 2
        settings = settings.model_copy(update={"issuer": base_url})
    with owner_database(settings, data_dir) as owner_url:
        _migrate(settings, owner_url)
        if args.demo:
            credentials = _seed_demo(owner_url, data_dir)
            if credentials is not None:
                _print_demo(credentials, base_url, data_dir)
        app = create_app(settings, _app_url(settings, owner_url))
        config = uvicorn.Config(
            app, host=args.host, port=args.port, log_config=None, access_log=False
        )
        _AnnouncingServer(config, f"Partner Hub {__version__}: GraphQL at {base_url}/graphql").run()
    return 0


def _loopback(host: str) -> bool:
    """Whether only this machine can reach `host`: then the URL it is served at is the
    issuer, and HUB_ISSUER may be left out."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _AnnouncingServer(uvicorn.Server):
    """Prints the URL once the socket listens, so whoever reads it can use it at once."""

    def __init__(self, config: uvicorn.Config, announcement: str) -> None:
        super().__init__(config)
        self.announcement = announcement

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            print(self.announcement, flush=True)


def migrate(args: argparse.Namespace, settings: Settings) -> int:
    with owner_database(settings, Path(args.data_dir or settings.data_dir)) as owner_url:
        _migrate(settings, owner_url)
    print("migrations applied")
    return 0


def demo(args: argparse.Namespace, settings: Settings) -> int:
    data_dir = Path(args.data_dir or settings.data_dir)
    with owner_database(settings, data_dir) as owner_url:
        _migrate(settings, owner_url)
        credentials = _seed_demo(owner_url, data_dir)
    if credentials is None:
        print("the demo was seeded before; its credentials file is missing")
        return 1
    _print_demo(credentials, "http://127.0.0.1:8000", data_dir)
    return 0


def _on_database(
    args: argparse.Namespace, settings: Settings, job: Callable[[str], Coroutine[Any, Any, T]]
) -> T:
    """Run a maintenance command's `job(owner_url)` on the migrated database (`--data-dir`).

    The database is made and migrated as `hub migrate` would, without its log: the command's
    output is its own answer (`hub migrate` and `hub serve` report migrations)."""
    with ExitStack() as stack:
        with _quiet("alembic", "hub.embedded"):
            data_dir = Path(args.data_dir or settings.data_dir)
            owner_url = stack.enter_context(owner_database(settings, data_dir))
            _migrate(settings, owner_url)
        return asyncio.run(job(owner_url))


@contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    """Only warnings and errors of these loggers while the block runs."""
    levels = {name: logging.getLogger(name).level for name in loggers}
    for name in loggers:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


async def _in_one_transaction(owner_url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """`work` in one transaction as the database owner, on a connection of its own."""
    engine = create_engine(owner_url, pool_size=1)
    try:
        async with session_factory(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


def keys_rotate(args: argparse.Namespace, settings: Settings) -> int:
    """Add a signing key; running hub processes sign with it from their next token on."""
    rotation = _on_database(args, settings, lambda url: _in_one_transaction(url, rotate_keys))
    print(f"signing with key {rotation.added}")
    for kid in rotation.retired:
        print(f"retired key {kid}: it verifies the tokens it signed until they expire")
    for kid in rotation.deleted:
        print(f"deleted key {kid}: retired long enough for its last token to have expired")
    return 0


def org_create(args: argparse.Namespace, settings: Settings) -> int:
    """Make an organisation and print its first administrator's one-time invitation link."""
    command = CreateOrganisation(args.name, args.slug, args.admin_email)

    async def create(session: AsyncSession) -> CreatedOrganisation:
        return await create_organisation(session, command)

    try:
        created = _on_database(args, settings, lambda url: _in_one_transaction(url, create))
    except InvalidInput as refused:
        for problem in refused.errors:
            print(f"{'.'.join(problem.field)}: {problem.message}", file=sys.stderr)
        return 1
    organisation = created.organisation
    print(f"organisation {organisation.slug} ({organisation.id}) created")
    print(f"send this link to {created.admin.email}; it works once, for 7 days:")
    print(invitation_url(settings.issuer, organisation.id, created.invitation_token))
    return 0


def privacy_export(args: argparse.Namespace, settings: Settings) -> int:
    """Export everything the hub holds about a customer or contact, as the database owner.

    The same service as `exportPersonalData`, acting for the organisation with only
    `privacy:manage`, audited in its chain as the client `hub-cli`. The document holds personal
    data, so a file is written readable by its owner only. A bar on a terminal, else one line.
    """
    from hub.privacy.operator import OperatorExport, export_for_operator

    subject = _privacy_subject(args.subject)

    async def export(session: AsyncSession) -> tuple[OperatorExport, bool]:
        with progress("exporting", total=None, unit="table") as tracker:
            found = await export_for_operator(session, args.org, subject, progress=tracker.advance)
        return found, tracker.bar is not None

    result, bar_shown = _on_database(args, settings, lambda url: _in_one_transaction(url, export))
    document = json.dumps(result.export.document, indent=2, ensure_ascii=False)
    if args.output:
        _write_private(Path(args.output), document + "\n")
    else:
        print(document)
    if not bar_shown:
        print(result.line(args.output or "standard output"), file=sys.stderr)
    return 0


def _privacy_subject(text: str) -> PrivacySubject | uuid.UUID:
    """A customer's or contact's global id, or a bare id whose kind the database tells."""
    try:
        return uuid.UUID(text)
    except ValueError:
        return subject_of(text, field="subject")


def audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Prove every chain (or one): exit 0 when all are intact, 1 at the first broken link."""
    from hub.maintenance import verify_chains

    return _on_database(args, settings, lambda url: verify_chains(url, args.org))


def audit_seal(args: argparse.Namespace, settings: Settings) -> int:
    """Seal every disclosure waiting now into its owner's chain (hub processes do it too)."""
    from hub.maintenance import seal_disclosures

    return _on_database(args, settings, seal_disclosures)


def retention_run(args: argparse.Namespace, settings: Settings) -> int:
    """Apply every organisation's retention policy (or one's); 1 if a chain did not verify."""
    from hub.maintenance import apply_retention

    return _on_database(args, settings, lambda url: apply_retention(url, args.org))


# One command: what `main` calls with the parsed arguments; its exit code.
Handler = Callable[[argparse.Namespace, Settings], int]
# What `add_subparsers` returns (argparse names no public type for it).
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def group(commands: Subcommands, name: str, help: str) -> Subcommands:
    """A command that only groups subcommands, such as `hub audit`."""
    grouping = commands.add_parser(name, help=help)
    return grouping.add_subparsers(dest=f"{name}_command", required=True)


def maintenance(
    subcommands: Subcommands, name: str, help: str, handler: Handler
) -> argparse.ArgumentParser:
    """A subcommand run against the database, with `--data-dir` like every other."""
    command = subcommands.add_parser(name, help=help)
    with_data_dir(command)
    command.set_defaults(handler=handler)
    return command


def with_data_dir(command: argparse.ArgumentParser) -> None:
    """`--data-dir`: where the embedded PostgreSQL keeps its data when no DATABASE_URL is set."""
    command.add_argument(
        "--data-dir",
        metavar="DIR",
        help="the embedded PostgreSQL's data directory, when DATABASE_URL is not set "
        "(default: .hub-data)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub", description="Partner Hub")
    parser.add_argument("--version", action="version", version=f"hub {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve_parser = maintenance(commands, "serve", "migrate the database, then run the hub", serve)
    serve_parser.add_argument("--demo", action="store_true", help="seed demo data first (once)")
    serve_parser.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)"
    )
    serve_parser.add_argument(
        "--port", type=int, default=8000, help="the port to listen on (default: 8000)"
    )
    maintenance(commands, "migrate", "apply database migrations", migrate)
    maintenance(commands, "demo", "seed demo data into the database", demo)

    create_parser = maintenance(
        group(commands, "org", "organisations on the hub"),
        "create",
        "make an organisation and print its first administrator's invitation link",
        org_create,
    )
    create_parser.add_argument("--name", required=True, help="the organisation's name")
    create_parser.add_argument(
        "--slug", required=True, help="its short name: lower-case letters, digits, hyphens"
    )
    create_parser.add_argument(
        "--admin-email", required=True, help="the first administrator's e-mail address"
    )

    maintenance(
        group(commands, "keys", "manage token signing keys"),
        "rotate",
        "add a new signing key",
        keys_rotate,
    )

    export_parser = maintenance(
        group(commands, "privacy", "privacy operations"),
        "export",
        "export everything held about a customer or contact as JSON",
        privacy_export,
    )
    export_parser.add_argument("--org", required=True, help="organisation id or slug")
    export_parser.add_argument(
        "--subject", required=True, help="customer or contact: global id or bare id"
    )
    export_parser.add_argument("--output", help="file to write (default: standard output)")

    audit = group(commands, "audit", "the audit ledger")
    verify_parser = maintenance(
        audit,
        "verify",
        "prove every organisation's hash chain and waiting disclosures (exit 1 at a break)",
        audit_verify,
    )
    verify_parser.add_argument("--org", help="only this organisation (id or slug)")
    maintenance(
        audit,
        "seal",
        "seal every waiting disclosure into its owner's chain",
        audit_seal,
    )

    run_parser = maintenance(
        group(commands, "retention", "retention policies"),
        "run",
        "cut audit events and delete closed records past each organisation's period",
        retention_run,
    )
    run_parser.add_argument("--org", help="only this organisation (id or slug)")
    return parser


def _stop_like_ctrl_c(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level)
    # SIGTERM stops like Ctrl-C, so the embedded server is shut down cleanly either way.
    signal.signal(signal.SIGTERM, _stop_like_ctrl_c)
    try:
        code: int = args.handler(args, settings)
    except KeyboardInterrupt:
        code = 0
    except HubError as error:
        # A condition the operator can fix: say what it is, without a traceback.
        print(f"hub: {error}", file=sys.stderr)
        code = 2
    return code


if __name__ == "__main__":
    sys.exit(main())
