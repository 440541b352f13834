"""The gateway's own tables (schema `gateway`): API keys for machine clients."""

from sqlalchemy import Boolean, Column, DateTime, String, Table, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from kit.db import schema_metadata

SCHEMA = "gateway"
metadata = schema_metadata(SCHEMA)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    Column("name", Text, nullable=False),
    # Only a SHA-256 of the key is stored; keys carry 256 random bits, so a fast hash is enough.
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("role", String(32), nullable=False),
    Column("region", String(32)),
    Column("municipality", String(32)),
    Column("organisation", String(32)),
    Column("teacher_id", String(64)),
    Column("read_only", Boolean, nullable=False, server_default="false"),
    # What the key may call (gateway/data/scopes.json); keys issued before scopes existed have none.
    Column("scopes", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True)),
)
