"""Guild roles and members' roles in the fake Discord, with Discord's permission errors.

    POST   /guilds/{g}/roles                     create a role (needs Manage Roles)
    PUT    /guilds/{g}/members/{u}/roles/{r}     give a member a role (needs Manage Roles)
    DELETE /guilds/{g}/members/{u}/roles/{r}     take it away

* Without Manage Roles (``state.bot_lacks`` holds ``"manage_roles"``): 403
  ``{"code": 50013, "message": "Missing Permissions"}``.
* An unknown role: 404 10011; an unknown guild: 404 10004.
* A created role is announced with GUILD_ROLE_CREATE, is part of the next GUILD_CREATE, and
  pings when a message names it and ``allowed_mentions.roles`` lists it.
* Members' roles are kept in ``state.member_roles[(guild, user)]``; a component click carries
  them in ``member.roles`` like Discord does.
"""

from __future__ import annotations

from aiohttp import web

from .discord_gateway import Gateway
from .discord_payloads import JSON
from .discord_rest import RECORD, Reply, add_endpoint, error
from .discord_state import FakeState

MISSING_PERMISSIONS = 50013
UNKNOWN_ROLE = 10011
UNKNOWN_GUILD = 10004
ROLE_NAME_MAX = 100


def missing_permissions() -> Reply:
    """Discord's answer when the bot lacks a permission the call needs."""
    return error(403, MISSING_PERMISSIONS, "Missing Permissions")


class RoleApi:
    """Role creation and member role changes; register before the REST catch-all."""

    def __init__(self, state: FakeState, gateway: Gateway) -> None:
        self.state = state
        self.gateway = gateway

    def add_routes(self, app: web.Application) -> None:
        """Register the routes."""
        add_endpoint(app, "POST", r"/guilds/{gid:\d+}/roles", self.create_role)
        member_role = r"/guilds/{gid:\d+}/members/{uid:\d+}/roles/{rid:\d+}"
        add_endpoint(app, "PUT", member_role, self.add_member_role)
        add_endpoint(app, "DELETE", member_role, self.remove_member_role)

    def _guild(self, request: web.Request) -> int | None:
        gid = int(request.match_info["gid"])
        return gid if any(g.id == gid for g in self.state.config.guilds) else None

    async def create_role(self, request: web.Request) -> Reply:
        """``POST /guilds/{g}/roles``: a new role below the others, echoed as Discord does."""
        gid = self._guild(request)
        if gid is None:
            return error(404, UNKNOWN_GUILD, "Unknown Guild")
        if "manage_roles" in self.state.bot_lacks:
            return missing_permissions()
        body = request[RECORD].json if isinstance(request[RECORD].json, dict) else {}
        name = str(body.get("name") or "new role")
        if len(name) > ROLE_NAME_MAX:
            return 400, {"message": "Invalid Form Body", "code": 50035, "errors": {"name": {
                "_errors": [{"code": "BASE_TYPE_MAX_LENGTH",
                             "message": f"Must be {ROLE_NAME_MAX} or fewer in length."}]}}}
        role = self.state.create_role(gid, name, permissions=int(body.get("permissions") or 0),
                                      mentionable=bool(body.get("mentionable", False)))
        await self.gateway.dispatch_if_ready("GUILD_ROLE_CREATE",
                                             {"guild_id": str(gid), "role": role})
        return 200, role

    def _member_role(self, request: web.Request) -> tuple[int, int, int] | Reply:
        gid = self._guild(request)
        if gid is None:
            return error(404, UNKNOWN_GUILD, "Unknown Guild")
        if "manage_roles" in self.state.bot_lacks:
            return missing_permissions()
        rid = int(request.match_info["rid"])
        if rid not in self.state.role_ids:
            return error(404, UNKNOWN_ROLE, "Unknown Role")
        return gid, int(request.match_info["uid"]), rid

    async def add_member_role(self, request: web.Request) -> Reply:
        """``PUT …/members/{u}/roles/{r}``: idempotent, 204."""
        found = self._member_role(request)
        if len(found) == 2:  # an error reply
            return found  # type: ignore[return-value]
        gid, uid, rid = found  # type: ignore[misc]
        self.state.member_roles.setdefault((gid, uid), set()).add(rid)
        self.state.changed()
        return 204, None

    async def remove_member_role(self, request: web.Request) -> Reply:
        """``DELETE …/members/{u}/roles/{r}``: idempotent, 204."""
        found = self._member_role(request)
        if len(found) == 2:  # an error reply
            return found  # type: ignore[return-value]
        gid, uid, rid = found  # type: ignore[misc]
        self.state.member_roles.setdefault((gid, uid), set()).discard(rid)
        self.state.changed()
        return 204, None


def roles_of(state: FakeState, guild_id: int, user_id: int) -> list[int]:
    """The roles a member has now (what a click's ``member.roles`` carries)."""
    return sorted(state.member_roles.get((guild_id, user_id), set()))


def created_roles(state: FakeState, guild_id: int) -> list[JSON]:
    """Roles made through the API in one guild, in creation order."""
    return list(state.created_roles.get(guild_id, []))
