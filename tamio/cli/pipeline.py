"""``tamio pipeline run [--mode full|critical|targeted] [--types T,...] [--skip-preparation] [--as-of DATE] [--json]``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from tamio.cli.context import CliContext, date_argument
from tamio.detection.models import DetectionType
from tamio.errors import ValidationError
from tamio.execution.queries import count_pending
from tamio.pipeline import PipelineConfig, PipelineMode, run_detection_preparation_cycle


def _types(text: str) -> tuple[DetectionType, ...]:
    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError("name at least one detection type, e.g. --types late_payment,buffer_breach")
    try:
        return tuple(DetectionType(n) for n in names)
    except ValueError as exc:
        choices = ", ".join(t.value for t in DetectionType)
        raise argparse.ArgumentTypeError(f"unknown detection type in '{text}'; use: {choices}") from exc




def register(sub: Any) -> None:
    parser = sub.add_parser("pipeline", help="run detection and preparation")
    pipe_sub = parser.add_subparsers(dest="pipeline_command", metavar="ACTION")
    pipe_sub.required = True
    run = pipe_sub.add_parser("run", help="run the pipeline now")
    run.add_argument("--mode", choices=["full", "critical", "targeted"], default=None, help="default: full, or targeted with --types")
    run.add_argument("--types", type=_types, default=(), help="comma-separated detection types (a targeted run)")
    run.add_argument("--skip-preparation", action="store_true")
    run.add_argument("--as-of", type=date_argument, default=None)
    run.add_argument("--json", action="store_true")
    run.set_defaults(handler=_run)


async def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    mode = PipelineMode(args.mode or ("targeted" if args.types else "full"))
    if mode == PipelineMode.TARGETED and not args.types:
        raise ValidationError("--mode targeted needs --types, e.g. --types late_payment,buffer_breach")
    if mode != PipelineMode.TARGETED and args.types:
        raise ValidationError(f"--types is for a targeted run; use --mode targeted (or leave --mode out), not --mode {mode.value}")
    config = PipelineConfig(mode=mode, detection_types=args.types, skip_preparation=args.skip_preparation)
    async with ctx.transaction() as session:
        account = await ctx.account(session)
        result = await run_detection_preparation_cycle(
            session, account.id, config, today=args.as_of or ctx.today(account), now=ctx.now, settings=ctx.settings, trigger="cli"
        )
        waiting = await count_pending(session, account_id=account.id)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        # "new", and how many wait: "0 actions prepared" beside a queue of two read as if nothing were proposed.
        print(f"Pipeline ({result.mode.value}) for {account.name}: {result.alerts_detected} alerts, {result.actions_prepared} new actions "
              f"prepared ({waiting} waiting for a decision: tamio actions list), {result.linked_action_groups} linked groups, "
              f"{result.total_duration_ms} ms.")
        for severity, count in sorted(result.alerts_by_severity.items()):
            print(f"  {severity}: {count}")
        for error in result.errors:
            print(f"  error in {error['stage']} ({error['type']}): {error['error']}")
    return 0
