"""`python -m gateway serve | migrate | token | apikey issue|revoke|list`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from gateway.config import GatewaySettings
from kit.cli import service_main


def _add_scope_args(p: argparse.ArgumentParser, *, region_required: bool = False) -> None:
    from gateway.apikeys import KEY_ROLES

    # `service` is the services' own identity: they mint it with the internal key; no person or key gets it.
    p.add_argument("--role", required=True, choices=[r.value for r in KEY_ROLES])
    p.add_argument("--region", required=region_required)
    p.add_argument("--municipality")
    p.add_argument("--organisation")
    p.add_argument("--teacher-id")


def _extra(sub: Any, handlers: dict[str, Any]) -> None:
    p_tok = sub.add_parser("token", help="mint a development JWT (uses JWT_SECRET)")
    _add_scope_args(p_tok)
    p_tok.add_argument("--sub", help="subject (default: role@scope)")
    p_tok.add_argument("--ttl", type=int, default=8 * 3600, help="lifetime in seconds")
    p_tok.add_argument("--read-only", action="store_true")

    p_key = sub.add_parser("apikey", help="issue, revoke or list API keys for machine clients")
    key_sub = p_key.add_subparsers(dest="apikey_command", required=True)
    p_issue = key_sub.add_parser("issue")
    p_issue.add_argument("--name", required=True)
    _add_scope_args(p_issue, region_required=True)
    p_issue.add_argument(
        "--scope",
        action="append",
        required=True,
        dest="scopes",
        help="an operation scope the key may call (repeat; see gateway/data/scopes.json), e.g. routes:read",
    )
    p_issue.add_argument("--read-only", action="store_true")
    p_revoke = key_sub.add_parser("revoke")
    p_revoke.add_argument("id", type=uuid.UUID)
    key_sub.add_parser("list")

    handlers["token"] = _token
    handlers["apikey"] = lambda args: asyncio.run(_apikey(args))


def _principal(args: argparse.Namespace, sub: str) -> Any:
    from kit.auth import Principal, Role

    return Principal(
        sub=sub,
        role=Role(args.role),
        region=args.region,
        municipality=args.municipality,
        organisation=args.organisation,
        teacher_id=args.teacher_id,
        read_only=getattr(args, "read_only", False),
    )


def _token(args: argparse.Namespace) -> None:
    from kit.auth import TokenCodec
    from kit.settings import CommonSettings

    sub = args.sub or f"{args.role}@{args.teacher_id or args.organisation or args.municipality or args.region or 'all'}"
    print(TokenCodec(CommonSettings()).encode(_principal(args, sub), ttl_seconds=args.ttl))


async def _apikey(args: argparse.Namespace) -> None:
    from gateway import apikeys
    from gateway.scopes import known_scopes
    from kit.app import service_database_url
    from kit.auth import Role
    from kit.db import make_engine
    from kit.settings import CommonSettings

    if args.apikey_command == "issue":
        try:
            apikeys.check_grant(Role(args.role), args.scopes, known_scopes())
        except apikeys.KeyRefused as e:
            sys.exit(f"refused: {e}")
    engine = make_engine(service_database_url(CommonSettings(), GatewaySettings()), pool_size=1, max_overflow=0)
    try:
        if args.apikey_command == "issue":
            issued = await apikeys.issue(
                engine,
                name=args.name,
                role=Role(args.role),
                scopes=args.scopes,
                known_scopes=known_scopes(),
                region=args.region,
                municipality=args.municipality,
                organisation=args.organisation,
                teacher_id=args.teacher_id,
                read_only=args.read_only,
            )
            print(json.dumps({"id": str(issued.id), "key": issued.key, "note": "shown once; store it safely"}))
        elif args.apikey_command == "revoke":
            ok = await apikeys.revoke(engine, args.id)
            print("revoked" if ok else "not found or already revoked")
            if not ok:
                sys.exit(1)
        else:
            for row in await apikeys.list_keys(engine):
                print(json.dumps(row, default=str, ensure_ascii=False))
    finally:
        await engine.dispose()


if __name__ == "__main__":
    service_main(
        settings_factory=GatewaySettings,
        app_factory="gateway.app:create_app",
        migrations_dir=Path(__file__).parent / "migrations",
        extra=_extra,
    )
