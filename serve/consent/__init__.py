"""Consent rules: the policy file and its loader (policy.toml, policy.py), where a number
is (jurisdiction.py), local-time windows (windows.py), which consent a send can rely on
(bases.py), the pure engine (engine.py) and inbound messages (inbound.py).
Import the submodules directly; this package does nothing on import.
"""
