"""Who is asking: Hugging Face OAuth user > roster (Gradio auth) user > local CLI user > anonymous visitor.

Anonymous visitors are keyed by a salted HMAC of their network address; the raw address is never
returned or stored. The forwarded address (X-Forwarded-For) is believed only behind a trusted proxy,
which is configured explicitly or detected (Hugging Face Spaces set SPACE_ID).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vidgen.quota.roster import Roster

SOURCES = ("hf", "roster", "local", "anonymous")


@dataclass(frozen=True)
class User:
    user_id: str  # stable key in the ledger: "hf:name", "roster:name", "local:name", "anon:<hash>"
    plan: str
    display_name: str
    source: str  # "hf" | "roster" | "anonymous" | "local"


@dataclass(frozen=True)
class ClientInfo:
    """What the web layer knows about a request (filled from gr.Request / gr.OAuthProfile by the UI)."""

    auth_username: str | None = None  # Gradio `auth` login (checked against the roster)
    oauth_username: str | None = None  # Hugging Face OAuth (gr.OAuthProfile.username)
    host: str | None = None  # the peer address of the connection (request.client.host)
    headers: Mapping[str, str] = field(default_factory=dict)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def network_key(address: str) -> str:
    """The part of an address that identifies a visitor: the IPv4 address, or the /64 of an IPv6
    address (one household or phone gets a whole /64 and can rotate inside it at will)."""
    text = address.strip().strip("[]")
    try:
        ip = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return text.lower()  # not an address (e.g. "testclient"): hash the text as given
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False).network_address) + "/64"
    return str(ip)


def load_or_create_salt(path: str | Path) -> bytes:
    """A per-deployment secret salt, created once (mode 0600) so anonymous ids survive restarts."""
    salt_path = Path(path)
    if salt_path.exists():
        return salt_path.read_bytes().strip()
    salt_path.parent.mkdir(parents=True, exist_ok=True)
    salt = secrets.token_hex(32).encode()
    fd = os.open(salt_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(salt)
    return salt


class IdentityResolver:
    """Turns a ClientInfo into a User.

    trusted_proxy: None = detect (trust on Hugging Face Spaces, where SPACE_ID is set); True/False =
    always/never trust X-Forwarded-For; a collection of addresses = trust it only when the connection
    comes from one of them. `proxy_hops` is how many trusted proxies append to X-Forwarded-For.
    """

    def __init__(
        self,
        roster: Roster | None = None,
        salt: str | bytes | None = None,
        trusted_proxy: bool | Collection[str] | None = None,
        hf_plan: str = "free",
        local_user: str | None = None,
        local_plan: str = "admin",
        anonymous_plan: str = "anonymous",
        proxy_hops: int = 1,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        salt = salt if salt is not None else env.get("VIDGEN_QUOTA_SALT")
        if not salt:
            raise ValueError("IdentityResolver needs a salt (argument, VIDGEN_QUOTA_SALT or load_or_create_salt)")
        self._salt = salt.encode() if isinstance(salt, str) else bytes(salt)
        self.roster = roster
        self.trusted_proxy = bool(env.get("SPACE_ID")) if trusted_proxy is None else trusted_proxy
        self.hf_plan = hf_plan
        self.local_user = local_user
        self.local_plan = local_plan
        self.anonymous_plan = anonymous_plan
        self.proxy_hops = max(1, proxy_hops)

    def resolve(self, client: ClientInfo) -> User:
        if client.oauth_username:
            name = client.oauth_username.strip()
            return User(f"hf:{name.lower()}", self.hf_plan, name, "hf")
        if client.auth_username:
            return self._roster_user(client.auth_username.strip())
        if self.local_user:
            return User(f"local:{self.local_user.lower()}", self.local_plan, self.local_user, "local")
        return self.anonymous(client)

    def _roster_user(self, name: str) -> User:
        entry = self.roster.get(name) if self.roster is not None else None
        plan = entry.plan if entry is not None else "free"
        return User(f"roster:{name.lower()}", plan, name, "roster")

    def anonymous(self, client: ClientInfo) -> User:
        digest = self.anonymous_digest(self.client_address(client))
        return User(f"anon:{digest}", self.anonymous_plan, f"anonymous-{digest[:6]}", "anonymous")

    def anonymous_digest(self, address: str) -> str:
        return hmac.new(self._salt, network_key(address).encode(), hashlib.sha256).hexdigest()[:32]

    def _trusts(self, host: str | None) -> bool:
        if isinstance(self.trusted_proxy, bool):
            return self.trusted_proxy
        return host is not None and network_key(host) in {network_key(p) for p in self.trusted_proxy}

    def client_address(self, client: ClientInfo) -> str:
        """The address to key an anonymous visitor on (never stored; only its salted hash is)."""
        host = client.host or "unknown"
        if not self._trusts(client.host):
            return host
        forwarded = _header(client.headers, "x-forwarded-for")
        if not forwarded:
            return host
        hops = [part.strip() for part in forwarded.split(",") if part.strip()]
        # Each trusted proxy appends the address it saw; earlier entries are whatever the client sent.
        return hops[-self.proxy_hops] if len(hops) >= self.proxy_hops else hops[0]
