"""``tamio jobs run JOB``: a scheduled job's work now, for every account (or ``--account``'s).

Without a server nothing runs at 6 AM; this runs it by hand: ``tamio jobs run morning`` extends
every schedule to the horizon, marks late ones overdue, learns again how clients pay, scores and
stores the forecast (``tamio forecast accuracy`` reads it), and queues the day's digest.
``pipeline`` and ``critical`` run the hourly and 5-minute detection passes the same way. Each account
runs in its own transaction; one that fails is reported and the others go on. ``executions`` carries
out approved actions not started yet and the retries that are due (the every-minute job): without
it an approved action whose first attempt failed would wait for a server forever.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from sqlalchemy import select

from tamio.accounts.models import Account
from tamio.cli.context import CliContext
from tamio.scheduler.jobs import JobRun, default_jobs

log = logging.getLogger("tamio.cli")
PER_ACCOUNT = ("morning", "pipeline", "critical")
JOBS = (*PER_ACCOUNT, "executions")


def register(sub: Any) -> None:
    parser = sub.add_parser("jobs", help="run a scheduled job by hand")
    jobs_sub = parser.add_subparsers(dest="jobs_command", metavar="ACTION")
    jobs_sub.required = True
    run = jobs_sub.add_parser("run", help="run a job's work now (morning: the 6 AM job)")
    run.add_argument("job", choices=JOBS, help="morning (the 6 AM job), pipeline (hourly), critical (every 5 minutes) or "
                                               "executions (approved actions and due retries, every minute)")
    run.set_defaults(handler=_run)


async def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    job = default_jobs()[args.job]
    if job.once is not None:  # the whole server's work (executions), not one account's
        result = await job.once(ctx.sessions, JobRun(job=args.job, slot=ctx.now, now=ctx.now, settings=ctx.settings))
        print(f"{args.job} done: " + ", ".join(f"{key} {value}" for key, value in result.items()))
        return 0
    assert job.for_account is not None
    async with ctx.transaction() as session:
        if ctx.account_id is not None:
            ids = [(await ctx.account(session)).id]
        else:
            ids = list((await session.execute(select(Account.id).where(Account.is_active.is_(True)).order_by(Account.id))).scalars())
    if not ids:
        print("There is no account yet; create one with `tamio account create --name NAME`.")
        return 0
    run = JobRun(job=args.job, slot=ctx.now, now=ctx.now, settings=ctx.settings)
    failed = 0
    for account_id in ids:
        try:
            async with ctx.transaction() as session:
                account = await session.get(Account, account_id)
                assert account is not None
                result = await job.for_account(session, account, run)
        except Exception:
            failed += 1
            log.exception("%s failed for account %s; nothing of it was saved", args.job, account_id)
            print(f"{account_id}: failed (see the log above); nothing of it was saved")
            continue
        print(f"{account_id}: {args.job} done: " + ", ".join(f"{key} {value}" for key, value in result.items()))
    return 1 if failed else 0
