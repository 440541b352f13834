"""Audit tests: a quick delivery worker, so a route moves soon after the routes service is back.

The processes copy the environment when the session's stack starts, which is after collection,
so these settings reach the audit process (they touch only AUDIT_ variables).
"""

import os

os.environ.setdefault("AUDIT_OUTBOX_POLL_SECONDS", "0.5")
os.environ.setdefault("AUDIT_OUTBOX_BACKOFF_BASE_SECONDS", "0.3")
os.environ.setdefault("AUDIT_OUTBOX_BACKOFF_MAX_SECONDS", "1.5")
# Small crafted cohorts: shares are read from two teachers up (production default is 10).
os.environ.setdefault("AUDIT_EFFECTIVENESS_MIN_GROUP", "2")
