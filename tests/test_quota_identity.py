"""Identity rules: who the user is (HF OAuth > roster > local > anonymous), proxy trust, hashing, roster."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from vidgen.quota import ClientInfo, IdentityResolver, PlanBook, Roster, hash_password, load_or_create_salt
from vidgen.quota.identity import network_key
from vidgen.quota.roster import add_user, check_password

SALT = "test-salt"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def roster() -> Roster:
    text = "\n".join([
        "username,password_hash,plan",
        f"Alice,{hash_password('wonderland')},pro",
        f"bob,{hash_password('builder')},",
        f"teacher,{hash_password('chalk')},admin",
    ])
    return Roster.parse(text)


def resolver(**kwargs: object) -> IdentityResolver:
    kwargs.setdefault("salt", SALT)
    kwargs.setdefault("environ", {})
    return IdentityResolver(**kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------ plans
def test_default_plans_file_has_required_plans() -> None:
    plans = PlanBook.load()
    assert plans.get("free").daily_seconds == 104
    assert plans.get("admin").daily_seconds is None and plans.get("admin").admin
    assert plans.get("pro").daily_seconds > 10 * plans.get("free").daily_seconds
    assert plans.get("anonymous").daily_seconds <= plans.get("free").daily_seconds
    for name in PlanBook.REQUIRED:
        plan = plans.get(name)
        assert plan.previews_per_minute is None or plan.previews_per_minute > 0


def test_plans_reject_missing_and_unknown(tmp_path: Path) -> None:
    path = tmp_path / "plans.yaml"
    path.write_text("plans:\n  free: {daily_seconds: 10}\n")
    with pytest.raises(ValueError, match="anonymous"):
        PlanBook.load(path)
    with pytest.raises(ValueError, match="unknown plan"):
        PlanBook.load().get("platinum")


# ------------------------------------------------------------------ precedence
def test_oauth_wins_over_everything(roster: Roster) -> None:
    user = resolver(roster=roster, local_user="me").resolve(
        ClientInfo(auth_username="Alice", oauth_username="HFPerson", host="1.2.3.4"))
    assert (user.user_id, user.source, user.plan, user.display_name) == ("hf:hfperson", "hf", "free", "HFPerson")


def test_hf_plan_is_configurable() -> None:
    assert resolver(hf_plan="pro").resolve(ClientInfo(oauth_username="x")).plan == "pro"


def test_roster_user_gets_roster_plan(roster: Roster) -> None:
    user = resolver(roster=roster).resolve(ClientInfo(auth_username="alice", host="1.2.3.4"))
    assert (user.user_id, user.source, user.plan, user.display_name) == ("roster:alice", "roster", "pro", "alice")
    assert resolver(roster=roster).resolve(ClientInfo(auth_username="bob")).plan == "free"  # blank plan
    assert resolver(roster=roster).resolve(ClientInfo(auth_username="teacher")).plan == "admin"


def test_auth_user_without_roster_is_free() -> None:
    assert resolver().resolve(ClientInfo(auth_username="carol")).plan == "free"


def test_local_user_before_anonymous() -> None:
    user = resolver(local_user="Dev").resolve(ClientInfo(host="127.0.0.1"))
    assert (user.user_id, user.source, user.plan) == ("local:dev", "local", "admin")


# ------------------------------------------------------------------ anonymous hashing
def test_anonymous_is_salted_hash_and_never_contains_address() -> None:
    client = ClientInfo(host="203.0.113.7")
    user = resolver().resolve(client)
    assert user.source == "anonymous" and user.plan == "anonymous"
    assert user.user_id.startswith("anon:") and len(user.user_id) == len("anon:") + 32
    assert "203.0.113.7" not in user.user_id + user.display_name
    assert resolver().resolve(ClientInfo(host="203.0.113.7")) == user  # stable
    assert resolver(salt="other").resolve(client).user_id != user.user_id  # salted
    assert resolver().resolve(ClientInfo(host="203.0.113.8")).user_id != user.user_id


def test_ipv6_visitors_are_keyed_by_their_64_prefix() -> None:
    a = resolver().resolve(ClientInfo(host="2001:db8:1:2::1"))
    b = resolver().resolve(ClientInfo(host="2001:db8:1:2:ffff::9"))
    c = resolver().resolve(ClientInfo(host="2001:db8:1:3::1"))
    assert a.user_id == b.user_id != c.user_id
    assert network_key("::ffff:198.51.100.4") == "198.51.100.4"
    assert network_key("[2001:db8::1]") == "2001:db8::/64"


def test_salt_is_required() -> None:
    with pytest.raises(ValueError, match="salt"):
        IdentityResolver(environ={})
    assert IdentityResolver(environ={"VIDGEN_QUOTA_SALT": "s"}).resolve(ClientInfo(host="1.1.1.1"))


def test_salt_file_is_created_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "salt"
    first = load_or_create_salt(path)
    assert len(first) == 64 and load_or_create_salt(path) == first
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


# ------------------------------------------------------------------ proxy trust
FORWARDED = {"X-Forwarded-For": "198.51.100.23"}


def test_forwarded_header_ignored_without_trusted_proxy() -> None:
    direct = resolver(trusted_proxy=False)
    spoofed = direct.resolve(ClientInfo(host="10.0.0.5", headers=FORWARDED))
    assert spoofed == direct.resolve(ClientInfo(host="10.0.0.5"))


def test_forwarded_header_used_behind_trusted_proxy() -> None:
    proxied = resolver(trusted_proxy=True)
    assert proxied.client_address(ClientInfo(host="10.0.0.5", headers=FORWARDED)) == "198.51.100.23"
    # header names are case-insensitive (Gradio/Starlette lower-case them)
    assert proxied.client_address(ClientInfo(host="10.0.0.5", headers={"x-forwarded-for": "192.0.2.1"})) \
        == "192.0.2.1"
    assert proxied.client_address(ClientInfo(host="10.0.0.5")) == "10.0.0.5"


def test_spaces_are_detected_from_environment() -> None:
    on_spaces = resolver(environ={"SPACE_ID": "someone/vidgen"})
    assert on_spaces.trusted_proxy is True
    assert on_spaces.client_address(ClientInfo(host="10.16.3.80", headers=FORWARDED)) == "198.51.100.23"
    assert resolver(environ={}).trusted_proxy is False


def test_client_cannot_spoof_through_a_trusted_proxy() -> None:
    # The client sent "X-Forwarded-For: 6.6.6.6"; the proxy appended the address it really saw.
    headers = {"X-Forwarded-For": "6.6.6.6, 198.51.100.23"}
    assert resolver(trusted_proxy=True).client_address(ClientInfo(host="10.0.0.5", headers=headers)) \
        == "198.51.100.23"
    two_hops = resolver(trusted_proxy=True, proxy_hops=2)
    headers = {"X-Forwarded-For": "6.6.6.6, 198.51.100.23, 10.1.1.1"}
    assert two_hops.client_address(ClientInfo(host="10.0.0.5", headers=headers)) == "198.51.100.23"


def test_trusted_proxy_list_only_trusts_those_hosts() -> None:
    listed = resolver(trusted_proxy=["10.0.0.5"])
    assert listed.client_address(ClientInfo(host="10.0.0.5", headers=FORWARDED)) == "198.51.100.23"
    assert listed.client_address(ClientInfo(host="10.0.0.6", headers=FORWARDED)) == "10.0.0.6"


# ------------------------------------------------------------------ roster
def test_roster_verify(roster: Roster) -> None:
    assert roster.verify("Alice", "wonderland") and roster.verify("ALICE", "wonderland")
    assert not roster.verify("alice", "Wonderland")
    assert not roster.verify("mallory", "wonderland")
    assert roster("bob", "builder")  # usable as Gradio's auth callable
    assert "wonderland" not in roster.dumps()


def test_password_hash_is_salted_scrypt() -> None:
    first, second = hash_password("pw"), hash_password("pw")
    assert first != second and first.startswith("scrypt$")
    assert check_password("pw", first) and check_password("pw", second)
    assert not check_password("pw", "plain-text") and not check_password("pw", "md5$x$y$z$00$00")


def test_roster_rejects_bad_header() -> None:
    with pytest.raises(ValueError, match="password_hash"):
        Roster.parse("user,password\nalice,x\n")


def test_roster_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    add_user(path, "Zoe", "secret", "pro")
    add_user(path, "yan", "other")
    loaded = Roster.load(path)
    assert loaded.verify("zoe", "secret") and loaded.get("zoe").plan == "pro"
    assert loaded.get("yan").plan == "free"
    add_user(path, "zoe", "changed", "free")  # replaces
    assert Roster.load(path).verify("Zoe", "changed") and not Roster.load(path).verify("Zoe", "secret")


def test_cli_adds_user_and_hashes_password(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    run = [sys.executable, "-m", "vidgen.quota"]
    done = subprocess.run([*run, "roster-add", str(path), "maria", "--plan", "pro"], input="s3cret\n",
                          capture_output=True, text=True, cwd=REPO, check=True)
    assert "added maria" in done.stdout
    assert Roster.load(path).verify("maria", "s3cret") and Roster.load(path).get("maria").plan == "pro"
    hashed = subprocess.run([*run, "hash-password"], input="pw\n", capture_output=True, text=True, cwd=REPO,
                            check=True).stdout.strip()
    assert check_password("pw", hashed)
