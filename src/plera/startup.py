"""First start: the `default` workspace, whose key is kept in the data directory for later starts."""

from __future__ import annotations

from rich.console import Console

from plera.commands.workspaces import CreateWorkspace, create_workspace
from plera.runtime import Services

DEFAULT_KEY = "default_workspace_id"


def ensure_default_workspace(sv: Services, console: Console) -> str | None:
    """Creates the `default` workspace once. Returns its API key when it is known on this machine."""
    key_file = sv.settings.data_dir / "default-api-key"
    if sv.db.meta(DEFAULT_KEY) is None:
        new = create_workspace(sv, CreateWorkspace(name="default"), actor="cli")
        sv.db.set_meta(DEFAULT_KEY, str(new.workspace.id))
        sv.settings.data_dir.mkdir(parents=True, exist_ok=True)
        key_file.write_text(new.api_key + "\n")
        key_file.chmod(0o600)
        console.print("Created the workspace 'default'.")
        return new.api_key
    return key_file.read_text().strip() if key_file.exists() else None
