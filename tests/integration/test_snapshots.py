from plera.aggregates.sequence import Sequence
from plera.commands.runs import CreateRun, create_run
from plera.commands.sequences import CreateSequence, create_sequence, launch_sequence, set_sequence_state
from plera.commands.workspaces import CreateWorkspace, create_workspace
from plera.demo import make_ready
from tests.sinks import sink_senders


def test_a_long_lived_sequence_is_snapshotted_and_loads_the_same(services):
    ws = create_workspace(services, CreateWorkspace(name="snap"), "t").workspace.id
    run = create_run(services, ws, CreateRun(name="r"), "t")
    steps = [{"channel": "email", "delay_days": 0, "condition": "always"}]
    cmd = CreateSequence.model_validate({"run_id": run.id, "name": "s", "steps": steps})
    sequence = create_sequence(services, ws, cmd, "t")
    make_ready(services, ws, sequence.id, "t", senders=sink_senders(services, ws, sequence.id))
    launch_sequence(services, ws, sequence.id, "t")
    for i in range(60):
        set_sequence_state(services, ws, sequence.id, "pause" if i % 2 == 0 else "resume", "t")
    with services.db.pool.connection() as conn:
        snapshots = conn.execute(
            "SELECT originator_version FROM plera_snapshots WHERE originator_id = %s", (sequence.id,)
        ).fetchall()
    assert [v for (v,) in snapshots] == [50]
    loaded = services.events.get(sequence.id, Sequence, ws)
    assert (loaded.version, loaded.status) == (65, "active")  # created, message, senders, approval, launch, 60 moves
