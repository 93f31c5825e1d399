"""API keys with roles (API.md). Only sha256 hashes of keys are kept after loading."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request

from serve.problems import Problem

Role = Literal["sender", "reviewer", "admin"]
ROLES: tuple[Role, ...] = ("sender", "reviewer", "admin")


@dataclass(frozen=True)
class Caller:
    role: Role
    key_id: str  # first 12 hex digits of the key's hash: identifies, never reveals

    def has(self, role: Role) -> bool:
        return self.role == role or self.role == "admin"


class KeyError_(ValueError):
    """SENDGATE_API_KEYS is malformed."""


def parse_keys(spec: str) -> dict[str, Caller]:
    """'sender:abc,reviewer:def' -> {sha256(key): Caller}. Rejects unknown roles and short keys."""
    table: dict[str, Caller] = {}
    for n, item in enumerate(filter(None, (p.strip() for p in spec.split(","))), start=1):
        role, sep, key = item.partition(":")
        if not sep or role not in ROLES:
            raise KeyError_(
                f"SENDGATE_API_KEYS entry {n}: expected role:key with role one of {', '.join(ROLES)}"
            )
        if len(key) < 8:
            raise KeyError_(f"SENDGATE_API_KEYS entry {n}: key shorter than 8 characters")
        digest = hashlib.sha256(key.encode()).hexdigest()
        table[digest] = Caller(role=role, key_id=digest[:12])  # type: ignore[arg-type]
    return table


def identify(request: Request) -> Caller:
    """The caller behind the request's bearer key, or a 401 problem."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(
            401, "unauthorized", "Unauthorized", "missing bearer key", headers={"WWW-Authenticate": "Bearer"}
        )
    keys: dict[str, Caller] = request.app.state.api_keys
    caller = keys.get(hashlib.sha256(token.strip().encode()).hexdigest())
    if caller is None:
        raise Problem(
            401, "unauthorized", "Unauthorized", "unknown key", headers={"WWW-Authenticate": "Bearer"}
        )
    return caller


def authorize(request: Request, role: Role) -> Caller:
    """The caller, if its role may do what needs ``role``; else a 401 or 403 problem.

    Plain function as well as a dependency: the send path calls it directly, since
    FastAPI's dependency resolution costs more than the check itself.
    """
    caller = identify(request)
    if not caller.has(role):
        raise Problem(
            403, "forbidden", "Forbidden", f"this key's role ({caller.role}) cannot do this; needs {role}"
        )
    return caller


def require(role: Role):  # type: ignore[no-untyped-def]
    async def dependency(request: Request) -> Caller:
        return authorize(request, role)

    return dependency


SenderCaller = Annotated[Caller, Depends(require("sender"))]
ReviewerCaller = Annotated[Caller, Depends(require("reviewer"))]
AdminCaller = Annotated[Caller, Depends(require("admin"))]
