"""How many of the plain probes (`bench/safety_plain_probes/`) a safety policy blocks, per half and category.

    python bench/safety_probes.py                      # default policy, whole filter
    python bench/safety_probes.py --rules-only         # the rules layer alone
    python bench/safety_probes.py --show-dev           # also list the development half's decisions

The independent probes are split by a hash of the prompt: the development half may be read while changing the
filter, the held-out half is only counted. The blind probes were committed unread and are only counted.
`--show-dev` never prints a held-out or blind prompt.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import Counter
from pathlib import Path

PROBES = Path(__file__).resolve().parent / "safety_plain_probes"


def probe_half(prompt: str) -> str:
    """'dev' or 'heldout', by the first byte of the prompt's sha256 (even: development)."""
    return "dev" if hashlib.sha256(prompt.encode("utf-8")).digest()[0] % 2 == 0 else "heldout"


def read_probes(path: Path) -> list[tuple[str, str]]:
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(category, prompt) for category, prompt in rows]


def count_blocked(check, rows: list[tuple[str, str]], show: bool = False) -> dict:
    """Blocked counts per category, as {"blocked": n, "of": m, "per_category": {c: [blocked, of]}}."""
    blocked, total = Counter(), Counter()
    for category, prompt in rows:
        decision = check(prompt)
        is_blocked = decision is not None and not decision.allowed
        blocked[category] += is_blocked
        total[category] += 1
        if show:
            verdict = f"BLOCK {decision.category}/{decision.layer}" if is_blocked else "allow"
            print(f"  {category:10s} {verdict:28s} {prompt}")
    return {"blocked": sum(blocked.values()), "of": sum(total.values()),
            "per_category": {c: [blocked[c], total[c]] for c in sorted(total)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policy", default="default")
    parser.add_argument("--rules-only", action="store_true", help="the rules layer alone (no classifier)")
    parser.add_argument("--show-dev", action="store_true", help="list the development half's decisions")
    parser.add_argument("--out", type=Path, help="write the counts as JSON")
    args = parser.parse_args()

    from vidgen.safety import SafetyFilter
    from vidgen.safety.policy import Policy

    if args.rules_only:
        safety = SafetyFilter(Policy.load(args.policy), classifier=None, image_classifier=None)
        check = safety.check_rules
    else:
        check = SafetyFilter.from_policy(args.policy).check_text
    result = {"policy": args.policy, "rules_only": args.rules_only}
    for name in ("heldout_unsafe", "heldout_benign"):
        result[f"session26_{name}"] = count_blocked(check, read_probes(PROBES / f"{name}.tsv"))
    for name in ("independent_unsafe", "independent_benign"):
        rows = read_probes(PROBES / f"{name}.tsv")
        for half in ("dev", "heldout"):
            show = args.show_dev and half == "dev"
            if show:
                print(f"{name} ({half}):")
            part = [row for row in rows if probe_half(row[1]) == half]
            result[f"{name}_{half}"] = count_blocked(check, part, show=show)
    for name in ("blind_unsafe", "blind_benign"):  # only ever counted
        result[name] = count_blocked(check, read_probes(PROBES / f"{name}.tsv"))
    for key, counts in result.items():
        if isinstance(counts, dict):
            per = ", ".join(f"{c} {b}/{n}" for c, (b, n) in counts["per_category"].items())
            print(f"{key}: {counts['blocked']} of {counts['of']} blocked ({per})")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
