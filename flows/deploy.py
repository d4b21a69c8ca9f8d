"""Serve the session flow to Prefect workers: a process work pool and one deployment.

Any machine with this project installed and ``PREFECT_API_URL`` pointing at
the server can then run sessions::

    python -m flows.deploy                       # once: pool + deployment
    prefect worker start --pool session-analyzer # on every worker machine
    session-analyzer cohort MANIFEST --out DIR --deployment --workers 8

The deployment's entrypoint is a module path (``flows.analyze_session.
analyze_session``), not a file in a checkout, so a worker needs the installed
package, not a copy of the source tree. Workers must share the data directory
(``$SESSION_ANALYZER_DATA_DIR``: the result cache) and see the recordings and
output folders under the same paths (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, cast
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.deployments.runner import RunnerDeployment
from prefect.exceptions import ObjectNotFound
from prefect.types.entrypoint import EntrypointType

from flows.analyze_session import analyze_session

POOL = "session-analyzer"
"""Default work pool (type ``process``)."""
DEPLOYMENT = "session-analyzer"
"""Default deployment name of the session flow."""
FULL_NAME = f"{analyze_session.name}/{DEPLOYMENT}"
"""What ``run_deployment`` and ``session-analyzer cohort --deployment`` take."""
HEARTBEAT_S = 30
"""Flow-run heartbeat interval of the deployment's runs (Prefect's default is 180 s)."""
SILENT_S = 4 * HEARTBEAT_S
"""A run whose heartbeats stop for this long is marked Crashed (its worker died)."""


def ensure_work_pool(
    name: str = POOL, *, pool_type: str = "process", concurrency_limit: int | None = None
) -> bool:
    """Create the work pool unless it exists; return whether it was created."""
    from prefect.workers.process import ProcessWorker

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
        except ObjectNotFound:
            template = (
                ProcessWorker.get_default_base_job_template() if pool_type == "process" else {}
            )
            client.create_work_pool(
                WorkPoolCreate(
                    name=name,
                    type=pool_type,
                    base_job_template=template,
                    concurrency_limit=concurrency_limit,
                    description="Sessions of the counseling-session analyzer",
                )
            )
            return True
    return False


def ensure_crash_detection(deployment_id: UUID, *, silent_s: float = SILENT_S) -> bool:
    """Create (or refresh) the automation that marks silent session runs Crashed.

    A worker machine that dies mid-session leaves its flow run ``Running``
    forever: nothing tells the server. This Prefect automation (the "zombie
    flow" recipe) expects, after each run of this deployment starts running or
    sends a heartbeat, another heartbeat or a final state within ``silent_s``,
    and otherwise sets the run Crashed, so a waiting cohort moves on and a rerun
    dispatches the session again. Returns whether the automation was new.
    """
    from datetime import timedelta

    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture

    trigger = EventTrigger(
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related={"prefect.resource.id": f"prefect.deployment.{deployment_id}"},
        # Running arms it too: the first heartbeat only comes HEARTBEAT_S after the start.
        after={"prefect.flow-run.Running", "prefect.flow-run.heartbeat"},
        expect={
            "prefect.flow-run.heartbeat",
            "prefect.flow-run.Completed",
            "prefect.flow-run.Failed",
            "prefect.flow-run.Cancelled",
            "prefect.flow-run.Crashed",
        },
        for_each={"prefect.resource.id"},
        posture=Posture.Proactive,
        threshold=1,
        within=timedelta(seconds=silent_s),
    )
    actions: list[Any] = [
        ChangeFlowRunState(
            name="Crashed",
            force=False,
            state=StateType.CRASHED,
            message=f"No heartbeat for {silent_s:g} s: the worker running it stopped.",
        )
    ]
    name = f"crash silent session runs ({deployment_id})"
    try:
        existing: Any = Automation.read(name=name)
    except ValueError:
        existing = None
    if existing is not None:
        existing.trigger, existing.actions = trigger, actions
        existing.update()
        return False
    Automation(
        name=name,
        description=f"Mark a session run Crashed when its heartbeats stop for {silent_s:g} s.",
        trigger=trigger,
        actions=actions,
    ).create()
    return True


def deploy_session_flow(
    *,
    pool: str = POOL,
    name: str = DEPLOYMENT,
    concurrency_limit: int | None = None,
    job_variables: dict[str, Any] | None = None,
) -> UUID:
    """Create or update the session flow's deployment on ``pool``; return its id.

    ``concurrency_limit`` caps the runs of this deployment in flight across all
    workers (e.g. the number of GPUs); ``job_variables`` are the process pool's
    (``env``, ``working_dir``...). Runs send a heartbeat every ``HEARTBEAT_S``
    seconds, which :func:`ensure_crash_detection` watches.
    """
    variables = dict(job_variables or {})
    variables["env"] = {
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_S),
        **variables.get("env", {}),
    }
    deployment = cast(
        RunnerDeployment,
        analyze_session.to_deployment(
            name=name,
            work_pool_name=pool,
            entrypoint_type=EntrypointType.MODULE_PATH,
            concurrency_limit=concurrency_limit,
            job_variables=variables,
            tags=["session-analyzer"],
            description=(
                "One recording: decode, transcribe, diarize, fill transcript gaps, attribute,"
                " score, report."
            ),
        ),
    )
    return cast(UUID, deployment.apply(work_pool_name=pool))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m flows.deploy``: create the pool (unless it exists) and the deployment."""
    parser = argparse.ArgumentParser(prog="python -m flows.deploy", description=__doc__)
    parser.add_argument("--pool", default=POOL, help=f"work pool name (default {POOL})")
    parser.add_argument(
        "--name", default=DEPLOYMENT, help=f"deployment name (default {DEPLOYMENT})"
    )
    parser.add_argument(
        "--pool-limit", type=int, default=None, help="flow runs in flight across the whole pool"
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="runs of this deployment in flight at once"
    )
    parser.add_argument(
        "--no-crash-detection",
        action="store_true",
        help="do not create the automation that marks runs of dead workers Crashed",
    )
    args = parser.parse_args(argv)
    created = ensure_work_pool(args.pool, concurrency_limit=args.pool_limit)
    deployment_id = deploy_session_flow(
        pool=args.pool, name=args.name, concurrency_limit=args.limit
    )
    print(f"work pool  {args.pool} ({'created' if created else 'exists'})")
    print(f"deployment {analyze_session.name}/{args.name} ({deployment_id})")
    if not args.no_crash_detection:
        new = ensure_crash_detection(deployment_id)
        print(f"automation crash runs silent for {SILENT_S} s ({'created' if new else 'updated'})")
    print(f"start workers with: prefect worker start --pool {args.pool}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
