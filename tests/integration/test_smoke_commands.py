from plera.commands.runs import CreateRun, create_run
from plera.commands.workspaces import CreateWorkspace, authenticate, create_workspace


def test_a_new_workspace_key_authenticates_to_that_workspace(services):
    new = create_workspace(services, CreateWorkspace(name="Acme"), actor="cli")
    caller = authenticate(services, new.api_key)
    assert caller is not None and caller.workspace_id == new.workspace.id
    assert authenticate(services, new.api_key + "x") is None
    run = create_run(services, new.workspace.id, CreateRun(name="Q1"), actor="default")
    assert services.events.get(run.id, type(run)).name == "Q1"
