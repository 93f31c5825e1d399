"""The consent and audit store: schema, migrations and the repository functions.

Everything here is I/O at the edge of the pure engine (serve/consent): it turns rows
into the records of ``serve.consent.records`` and back, and never decides anything.
"""
