"""Tables of the resources service; all live in the `resources` schema."""

from kit.db import schema_metadata

SCHEMA = "resources"
metadata = schema_metadata(SCHEMA)
