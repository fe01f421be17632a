"""Benchmark: `tamio import obligations` on 300, 2,000, 10,000 and 100,000 rows, SQLite and PostgreSQL.

Each import runs as a whole `tamio` process, the way a business runs it, on a fresh database with one
account (PostgreSQL: a throwaway cluster, as in the tests). The file is a business's mix: clients
(written as `client` or `revenue`), vendors, payroll and taxes; weekly to annual, one-offs and RRULEs;
some rows in EUR; vendors with a flexibility and contacts with an email. Every command ends by working
out the account's figures again (the pipeline): that refresh is timed apart. It prints for each size
the import's wall time, rows per second, CPU time (on PostgreSQL, plus the server's) and peak memory
(RSS) before the refresh; the refresh's wall and CPU time (and the server's); the whole command's wall time, CPU time and
peak memory; then the time to import the same file again (which adds nothing). Targets: 10,000 rows under 10 s, 100,000 under 100 s,
memory bounded.

    python bench/import.py [--sizes 300,2000,10000,100000] [--sqlite-only] [--pg-only]
"""

from __future__ import annotations

import argparse
import inspect
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tamio.server_secret import ServerSecret  # noqa: E402

FREQUENCIES = ("weekly", "biweekly", "semimonthly", "monthly", "monthly", "monthly", "quarterly", "annually", "once",
               '"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"')
KINDS = ("client", "vendor", "revenue", "expense", "vendor", "payroll", "tax")
FLEXIBILITY = ("can_delay", "negotiable", "cannot_delay")
HEADER = "counterparty,kind,amount,currency,frequency,start_date,day,business_day,calendar,flexibility,email"


def write_file(path: Path, rows: int, today: date) -> None:
    """``rows`` obligations of about ``rows / 4`` counterparties, every row a different obligation."""
    parties = max(rows // 4, 1)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\n")
        for i in range(rows):
            kind = KINDS[i % len(KINDS)]
            party = i % parties
            name = f"{'Client' if kind in ('client', 'revenue') else 'Supplier' if kind in ('vendor', 'expense') else kind.title()} {party:06d}"
            frequency = FREQUENCIES[i % len(FREQUENCIES)]
            start = today + timedelta(days=(i * 7) % 90 - 30)
            day = str(start.day) if frequency in ("monthly", "quarterly", "annually") and start.day <= 28 else ""
            currency = "EUR" if i % 10 == 3 else "USD"
            convention, calendar = ("following", "US") if i % 5 == 0 else ("", "")
            flexibility = FLEXIBILITY[party % 3] if kind in ("vendor", "expense") else ""
            email = f"ap{party}@example.com" if kind in ("client", "revenue") and party % 2 == 0 else ""
            amount = f"{100 + i % 9000}.{i % 100:02d}"
            out.write(f"{name},{kind},{amount},{currency},{frequency},{start.isoformat()},{day},{convention},{calendar},{flexibility},{email}\n")




@dataclass(frozen=True)
class Figures:
    wall: float  # seconds, the whole process
    rss: int  # peak, KiB
    cpu: float  # seconds, the whole process
    refresh_wall: float  # of which the figures' refresh after the command
    refresh_cpu: float
    command_rss: int = 0  # peak, KiB, before the refresh: the command's own
    refresh_server: float = 0.0  # PostgreSQL's CPU seconds during the refresh


def tamio(env: dict[str, str], *args: str, timing_refresh: bool = True) -> Figures:
    """Run one `tamio` command as its own process."""
    started = time.perf_counter()
    program = ["-c", ENTRY] if timing_refresh else ["-m", "tamio.cli"]
    # Output to files, not pipes: a process that writes more than a pipe holds (a logged failure) would
    # wait for a reader while this one waits for it to end.
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen([sys.executable, *program, *args], env=env, cwd=ROOT, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        stdout.seek(0)
        stderr.seek(0)
        out, err = stdout.read().decode(), stderr.read().decode()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"tamio {' '.join(args)} failed ({process.returncode}): {err or out}")
    if "Traceback" in err:  # the command went on (a failed refresh is logged and left asking), the figures would not be its own
        raise SystemExit(f"tamio {' '.join(args)} logged a failure: {err[-3000:]}")
    refresh = [line.split()[1:] for line in err.splitlines() if line.startswith("REFRESH ")]
    refresh_wall, refresh_cpu, rss, refresh_server = ((float(refresh[0][0]), float(refresh[0][1]), int(refresh[0][2]), float(refresh[0][3]))
                                                      if refresh else (0.0, 0.0, usage.ru_maxrss, 0.0))
    return Figures(wall, usage.ru_maxrss, usage.ru_utime + usage.ru_stime, refresh_wall, refresh_cpu, rss, refresh_server)


def cluster_cpu(data_dir: Path | None) -> float:
    """CPU seconds a PostgreSQL cluster has used so far: its running processes, and (as the postmaster's
    children's time) the backends that have ended. 0 for no cluster (SQLite works inside the process)."""
    if data_dir is None:
        return 0.0
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" (", 1)
        except OSError:  # ended meanwhile
            continue
        fields = rest.rsplit(") ", 1)[1].split()  # state, ppid, ...: utime is field 14 of stat(5), stime 15, cutime 16, cstime 17
        if int(pid) == postmaster:
            ticks += sum(int(value) for value in fields[11:15])
        elif int(fields[1]) == postmaster:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


# `tamio` as the program runs it, timing apart the figures' refresh every command ends with (the
# pipeline over the account, main's CliContext.drain_refreshes), which is not the import's own work.
ENTRY = """import os, resource, sys, time
from pathlib import Path
from tamio.cli import context, run
""" + inspect.getsource(cluster_cpu) + """
drain = context.CliContext.drain_refreshes
def server():  # the cluster's CPU so far (PostgreSQL): the refresh's share of the server's time
    data = os.environ.get("BENCH_PG_DATA")
    return cluster_cpu(Path(data)) if data else 0.0
async def timed(self):
    wall, cpu, database = time.perf_counter(), time.process_time(), server()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    await drain(self)
    sys.stderr.write(f"\\nREFRESH {time.perf_counter() - wall} {time.process_time() - cpu} {rss} {server() - database}\\n")
context.CliContext.drain_refreshes = timed
run()
"""


def run(label: str, url_for: object, sizes: list[int], work: Path, data_dir: Path | None = None) -> None:
    today = date.today()
    for size in sizes:
        database_url = url_for(f"bench_import_{size}")  # type: ignore[operator]
        env = {**os.environ, "TAMIO_DATABASE_URL": database_url, "TAMIO_SECRET_KEY": ServerSecret.generate(),
               "PYTHONPATH": str(ROOT), **({"BENCH_PG_DATA": str(data_dir)} if data_dir else {})}
        tamio(env, "db", "upgrade")
        tamio(env, "account", "create", "--name", "Bench Ltd", "--base-currency", "USD")
        tamio(env, "rates", "add", "EUR", "USD", "1.0825", "--date", (today - timedelta(days=1)).isoformat())
        csv = work / f"obligations-{size}.csv"
        write_file(csv, size, today)
        server = cluster_cpu(data_dir)
        first = tamio(env, "import", "obligations", str(csv))
        server = cluster_cpu(data_dir) - server
        again = tamio(env, "import", "obligations", str(csv))
        wall, cpu = first.wall - first.refresh_wall, first.cpu - first.refresh_cpu
        database = f" +server_cpu={server - first.refresh_server:6.2f}s" if data_dir else ""
        refresh_database = f" +server_cpu={first.refresh_server:6.2f}s" if data_dir else ""
        print(f"{label:<10} rows={size:>7,} import: wall={wall:7.2f}s rows/s={size / wall:7,.0f} cpu={cpu:6.2f}s{database} | "
              f"peak_rss={first.command_rss / 1024:6.1f}MiB | then the figures' refresh: wall={first.refresh_wall:6.2f}s "
              f"cpu={first.refresh_cpu:6.2f}s{refresh_database} | whole command: wall={first.wall:6.2f}s cpu={first.cpu:6.2f}s "
              f"peak_rss={first.rss / 1024:6.1f}MiB | again={again.wall:6.2f}s (adds nothing; peak_rss={again.rss / 1024:.1f}MiB)",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="300,2000,10000,100000", help="row counts, comma-separated")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--pg-only", action="store_true")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    start = tamio({**os.environ, "PYTHONPATH": str(ROOT)}, "--help", timing_refresh=False)
    start_only, start_cpu = start.wall, start.cpu
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"(a `tamio --help` process alone takes {start_only:.2f}s, cpu {start_cpu:.2f}s, of each figure; cpu is the "
          f"import process's own, a fairer figure than wall time on a busy machine: load average {load} on {os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.pg_only:
            run("sqlite", lambda name: f"sqlite+aiosqlite:///{work}/{name}.db", sizes, work)
        if args.sqlite_only:
            return
        from tests.pgcluster import PostgresCluster

        cluster = PostgresCluster.start()
        try:
            run("postgresql", cluster.create_database, sizes, work, cluster.data_dir)
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
