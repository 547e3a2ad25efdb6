"""Teacher/admin CLI: `python -m vidgen.quota <command>`.

    usage      [--db URL]                      today's usage per user
    top-up     USER_ID SECONDS [--db URL]      extra seconds for today
    reset      USER_ID [--db URL]              give back today's budget
    set-plan   USER_ID PLAN [--db URL]         pin a plan (anonymous/free/pro/admin/...)
    audit      [USER_ID] [--limit N] [--db URL] newest audit entries (user, job, seconds, outcome, time)
    roster-add ROSTER USERNAME [--plan P]      add a user to a roster CSV (password from prompt or stdin)
    hash-password                              print a hash for a password read from prompt or stdin
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence

from vidgen.quota.clock import format_seconds
from vidgen.quota.ledger import DEFAULT_URL, Ledger
from vidgen.quota.roster import add_user, hash_password
from vidgen.quota.types import UsageRow


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Repeat: "):
            raise SystemExit("passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def _format_row(row: UsageRow) -> str:
    limit = "unlimited" if row.limit_s is None else format_seconds(row.limit_s)
    return (f"{row.user_id:<40} {row.plan:<10} used {format_seconds(row.used_s):>8}  "
            f"held {format_seconds(row.reserved_s):>7}  limit {limit:>9}  previews {row.previews}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vidgen.quota", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("usage", "top-up", "reset", "set-plan", "audit"):
        sub = commands.add_parser(name)
        sub.add_argument("--db", default=DEFAULT_URL, help="ledger URL (default %(default)s)")
        sub.add_argument("--timezone", default="UTC")
        if name == "audit":
            sub.add_argument("user_id", nargs="?")
            sub.add_argument("--limit", type=int, default=50)
        elif name != "usage":
            sub.add_argument("user_id")
        if name == "top-up":
            sub.add_argument("seconds", type=float)
        if name == "set-plan":
            sub.add_argument("plan")
    roster = commands.add_parser("roster-add")
    roster.add_argument("roster")
    roster.add_argument("username")
    roster.add_argument("--plan", default="free")
    commands.add_parser("hash-password")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "hash-password":
        print(hash_password(_read_password()))
        return 0
    if args.command == "roster-add":
        add_user(args.roster, args.username, _read_password(), args.plan)
        print(f"added {args.username} ({args.plan}) to {args.roster}")
        return 0
    ledger = Ledger(url=args.db, timezone=args.timezone)
    if args.command == "audit":
        for entry in ledger.audit_log(args.user_id, args.limit):
            print(f"{entry['at']:%Y-%m-%d %H:%M:%S}Z {entry['event']:<7} {entry['user_id']:<32} "
                  f"{entry['job_id'] or '-':<34} {format_seconds(entry['seconds']):>8} {entry['outcome'] or ''}")
        ledger.close()
        return 0
    try:
        if args.command == "usage":
            rows = ledger.usage_today()
        elif args.command == "top-up":
            rows = [ledger.top_up(args.user_id, args.seconds)]
        elif args.command == "reset":
            rows = [ledger.reset_user(args.user_id)]
        else:
            rows = [ledger.set_plan(args.user_id, args.plan)]
    except (KeyError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        ledger.close()
    for row in rows:
        print(_format_row(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
