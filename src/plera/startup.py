"""First start: the `default` workspace, whose key is kept in the data directory for later starts, and
its owner, who sets a password through a one-time link."""

from __future__ import annotations

from rich.console import Console

from plera.commands.users import DEFAULT_WORKSPACE_KEY, AddUser, add_user, issue_password_link
from plera.commands.workspaces import CreateWorkspace, create_workspace
from plera.runtime import Services

DEFAULT_KEY = DEFAULT_WORKSPACE_KEY
OWNER_EMAIL = "owner@example.com"


def ensure_default_workspace(
    sv: Services, console: Console, base_url: str | None = None
) -> tuple[str | None, str | None]:
    """Creates the `default` workspace and its owner once. Returns its API key when it is known on this
    machine, and on the first start the owner's one-time link to set a password (else None)."""
    key_file = sv.settings.data_dir / "default-api-key"
    if sv.db.meta(DEFAULT_KEY) is None:
        new = create_workspace(sv, CreateWorkspace(name="default"), actor="cli")
        sv.db.set_meta(DEFAULT_KEY, str(new.workspace.id))
        sv.settings.data_dir.mkdir(parents=True, exist_ok=True)
        key_file.write_text(new.api_key + "\n")
        key_file.chmod(0o600)
        console.print("Created the workspace 'default'.")
        owner = add_user(sv, new.workspace.id, AddUser(email=OWNER_EMAIL, name="Owner", role="owner"), actor="cli")
        link = issue_password_link(sv, owner.id, base_url or sv.settings.public_url)
        return new.api_key, link
    return (key_file.read_text().strip() if key_file.exists() else None), None
