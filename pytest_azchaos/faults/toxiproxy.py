"""The one Toxiproxy client of the fault library and of the restore path.

Written on ``requests`` rather than toxiproxy-python: that client keeps its server
address in a class-level global (we run one Toxiproxy per AZ, so every call would
hold a lock while pointing it at the right server), has no "both directions", and
raises its own errors plus ``requests``' ones. Ours is the HTTP API's five calls,
and the one place where Toxiproxy's HTTP errors become :class:`FaultError`: which
server, which proxy, what it said, and a hint.
"""

from __future__ import annotations

from typing import Any

import requests

from ..errors import FaultError

TIMEOUT_S = 5.0


class ToxiproxyApi:
    """The HTTP API of one Toxiproxy server, at ``url`` (``http://127.0.0.1:<port>``)."""

    def __init__(self, url: str, *, name: str) -> None:
        self.url = url
        self.name = name  # the server's member alias, for errors

    def proxies(self) -> dict[str, Any]:
        """Every proxy by name, with its toxics and whether it is enabled."""
        return dict(self._call("GET", "/proxies", "listing proxies") or {})

    def add_toxic(self, proxy: str, *, name: str, kind: str, stream: str, toxicity: float,
                  attributes: dict[str, int]) -> None:
        body = {"name": name, "type": kind, "stream": stream, "toxicity": toxicity, "attributes": attributes}
        self._call("POST", f"/proxies/{proxy}/toxics", f"adding toxic {name} to {proxy}", json=body)

    def remove_toxic(self, proxy: str, name: str, *, missing_ok: bool = False) -> None:
        """Remove a toxic; with ``missing_ok`` a toxic already gone (its Toxiproxy restarted) is fine."""
        self._call("DELETE", f"/proxies/{proxy}/toxics/{name}", f"removing toxic {name} of {proxy}",
                   missing_ok=missing_ok)

    def set_enabled(self, proxy: str, enabled: bool) -> None:
        """Enable a proxy, or disable it: it stops listening and drops open connections."""
        self._call("POST", f"/proxies/{proxy}", f"{'enabling' if enabled else 'disabling'} {proxy}",
                   json={"enabled": enabled})

    def restore(self) -> list[str]:
        """Remove every toxic and enable every proxy; return what was done."""
        done = []
        for name, info in self.proxies().items():
            for toxic in info.get("toxics", []):
                self.remove_toxic(name, toxic["name"], missing_ok=True)
                done.append(f"removed toxic {toxic['name']} of {name}")
            if not info.get("enabled", True):
                self.set_enabled(name, True)
                done.append(f"enabled {name}")
        return done

    def _call(self, method: str, path: str, what: str, *, json: Any = None, missing_ok: bool = False) -> Any:
        try:
            response = requests.request(method, self.url + path, json=json, timeout=TIMEOUT_S)
            if missing_ok and response.status_code == 404:
                return None
            if not response.ok:
                raise FaultError(self._message(what, f"HTTP {response.status_code}: {response.text.strip()[:200]}"))
            return response.json() if response.content else None
        except (requests.RequestException, ValueError) as exc:  # ValueError: an answer that is not JSON
            raise FaultError(self._message(what, f"{type(exc).__name__}: {exc}")) from exc

    def _message(self, what: str, detail: str) -> str:
        return (f"Toxiproxy {self.name} ({self.url}), {what}: {detail}; hint: is its AZ up? "
                "('azchaos status'; 'azchaos heal --all' restores every link)")
