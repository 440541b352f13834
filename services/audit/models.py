"""Tables of the audit service; all live in the `audit` schema."""

from kit.db import schema_metadata

SCHEMA = "audit"
metadata = schema_metadata(SCHEMA)
