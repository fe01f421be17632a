"""Benchmark: how fast the `tamio` command starts, beside hledger on the same rules.

Times, as whole processes (the median of several runs), `tamio --help` and `tamio forecast` on a
business of 300 obligations in a SQLite file, and, when `hledger` is on PATH, `hledger --help` and
hledger's 13-week forecast of a journal with the same opening balance and the same 300 rules, with
the ratio of each pair. Targets: `tamio --help` under 0.3 s, `tamio forecast` under 0.6 s.

Each figure is the wall time and the CPU time the process used (user + system): on a machine other
work shares, the CPU time is the fairer figure.

    python bench/cli.py [--obligations 300] [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
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

OPENING_BALANCE = 45000
WEEKS = 13
# A frequency as the import file writes it, and as an hledger periodic rule says it (hledger wants
# a rule to start on the first day of its period: a Monday, a month's or quarter's first day, 1 January).
FREQUENCIES = (("weekly", "every week"), ("biweekly", "every 2 weeks"), ("monthly", "monthly"), ("monthly", "monthly"),
               ("quarterly", "quarterly"), ("annually", "yearly"), ("once", "every day"))
KINDS = (("client", "revenue"), ("vendor", "expenses:vendors"), ("payroll", "expenses:payroll"), ("tax", "expenses:tax"))


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    account: str  # hledger's account for the other side
    amount: str
    frequency: str
    every: str  # hledger's period expression
    start: date


def rules(count: int, today: date) -> list[Rule]:
    """``count`` obligations of a small business: clients paying in, vendors, payroll and taxes paid out."""
    made = []
    for i in range(count):
        kind, account = KINDS[i % len(KINDS)]
        frequency, every = FREQUENCIES[i % len(FREQUENCIES)]
        start = _start(frequency, today, i)
        made.append(Rule(name=f"{kind.title()} {i:04d}", kind=kind, account=account, amount=f"{100 + (i * 37) % 2000}.{i % 100:02d}",
                         frequency=frequency, every=every, start=start))
    return made


def _start(frequency: str, today: date, i: int) -> date:
    """A start after today that both tools read the same way (see FREQUENCIES)."""
    if frequency in ("weekly", "biweekly"):
        return today + timedelta(days=7 - today.weekday() + 7 * (i % 4))
    if frequency == "monthly":
        month = today.month + i % 3
        return date(today.year + month // 12, month % 12 + 1, 1)
    if frequency == "quarterly":
        quarter = (today.month - 1) // 3 + 1
        return date(today.year + 1, 1, 1) if quarter == 4 else date(today.year, 3 * quarter + 1, 1)
    if frequency == "annually":
        return date(today.year + 1, 1, 1)
    return today + timedelta(days=1 + (i * 5) % 60)


def write_csv(path: Path, made: list[Rule]) -> None:
    lines = ["counterparty,kind,amount,frequency,start_date"]
    lines += [f"{r.name},{r.kind},{r.amount},{r.frequency},{r.start.isoformat()}" for r in made]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_journal(path: Path, made: list[Rule], today: date) -> None:
    """The same business for hledger: the opening balance, then one periodic rule (or dated entry) each."""
    out = [f"{today.isoformat()} opening balance", f"    assets:cash  ${OPENING_BALANCE}", "    equity:opening", ""]
    for r in made:
        sign = "" if r.kind == "client" else "-"
        end = f" to {(r.start + timedelta(days=1)).isoformat()}" if r.frequency == "once" else ""  # a dated entry would move the forecast's start
        head = f"~ {r.every} from {r.start.isoformat()}{end}  {r.name}"
        out += [head, f"    assets:cash  {sign}${r.amount}", f"    {r.account}", ""]
    path.write_text("\n".join(out), encoding="utf-8")


def timed(command: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """The median wall and CPU seconds of ``runs`` runs of ``command`` as its own process."""
    walls, cpus = [], []
    for _ in range(runs):
        with tempfile.TemporaryFile() as out:  # a file, not a pipe: the process never waits on us to read
            started = time.perf_counter()
            process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=out)
            _, status, usage = os.wait4(process.pid, 0)
            walls.append(time.perf_counter() - started)
            process.returncode = os.waitstatus_to_exitcode(status)
            if process.returncode != 0:
                out.seek(0)
                raise SystemExit(f"{' '.join(command)} failed ({process.returncode}): {out.read().decode()}")
        cpus.append(usage.ru_utime + usage.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def run_once(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr or done.stdout}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--obligations", type=int, default=300)
    parser.add_argument("--runs", type=int, default=7, help="runs of each command; the median is printed")
    args = parser.parse_args()
    today = date.today()
    tamio = [str(Path(sys.executable).parent / "tamio")]
    if not Path(tamio[0]).exists():
        tamio = [sys.executable, "-m", "tamio.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {**os.environ, "TAMIO_DATABASE_URL": f"sqlite+aiosqlite:///{work}/tamio.db",
               "TAMIO_SECRET_KEY": ServerSecret.generate(), "PYTHONPATH": str(ROOT)}
        made = rules(args.obligations, today)
        write_csv(work / "obligations.csv", made)
        for setup in (["db", "upgrade"], ["account", "create", "--name", "Bench Ltd", "--base-currency", "USD"],
                      ["balance", "set", "Operating", str(OPENING_BALANCE), "USD"],
                      ["import", "obligations", str(work / "obligations.csv")], ["forecast"]):  # the last fills the horizon once
            run_once(tamio + setup, env)
        forecast = ["forecast", "--weeks", str(WEEKS), "--as-of", today.isoformat()]
        figures = {"--help": timed(tamio + ["--help"], env, args.runs), "forecast": timed(tamio + forecast, env, args.runs)}
        targets = {"--help": 0.3, "forecast": 0.6}
        hledger = shutil.which("hledger")
        theirs: dict[str, tuple[float, float]] = {}
        if hledger:
            write_journal(work / "rules.journal", made, today)
            end = today + timedelta(weeks=WEEKS)
            theirs["--help"] = timed([hledger, "--help"], env, args.runs)
            theirs["forecast"] = timed([hledger, "-f", str(work / "rules.journal"), "balance", "assets:cash", "-W", "-H",
                                        "-b", today.isoformat(), "-e", end.isoformat(), "--forecast"], env, args.runs)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"{args.obligations} obligations, median of {args.runs} runs each, whole processes "
              f"(load average {load} on {os.cpu_count()} CPUs)")
        for name, (wall, cpu) in figures.items():
            verdict = " ".join(f"{what} {'meets' if value < targets[name] else 'misses'}," for what, value in (("wall", wall), ("cpu", cpu)))
            line = f"tamio {name:<9} wall={wall:6.3f}s cpu={cpu:6.3f}s  (target {targets[name]} s: {verdict.rstrip(',')})"
            if name in theirs:
                their_wall, their_cpu = theirs[name]
                line += (f"   hledger wall={their_wall:6.3f}s cpu={their_cpu:6.3f}s   ratio tamio/hledger "
                         f"wall={wall / their_wall:5.1f}x cpu={cpu / their_cpu:5.1f}x")
            print(line)
        if not hledger:
            print("hledger not installed")


if __name__ == "__main__":
    main()
