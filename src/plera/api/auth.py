"""Who is calling: `Authorization: Bearer <api key>` names a workspace and the key's name.

Every /v1 handler takes the Caller and passes its workspace to the command, which loads
aggregates only within it; the key's name is the actor recorded on the events.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from plera.api.deps import ServicesDep
from plera.api.problems import ApiError
from plera.commands.workspaces import Caller, authenticate

bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="plera_<workspace>_<key id>_<secret>",
    description="A workspace API key, as printed by `plera workspace create`.",
)

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="plera"'}


def caller(sv: ServicesDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Caller:
    if credentials is None:
        raise ApiError(401, "unauthorized", "send the API key as `Authorization: Bearer <key>`", _CHALLENGE)
    found = authenticate(sv, credentials.credentials)
    if found is None:
        raise ApiError(401, "unauthorized", "the API key is not valid", _CHALLENGE)
    return found


CallerDep = Annotated[Caller, Depends(caller)]
