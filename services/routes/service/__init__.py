"""The work of each routes operation, one module per sub-domain; functions take the session and clients
as arguments and never commit (the request's session does)."""
