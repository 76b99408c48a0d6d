"""A custom system receiving fieldbridge's events — standard library only.

    FIELDBRIDGE_SECRET=whsec_... python webhook_receiver.py --port 9000

Point fieldbridge at it with FIELDBRIDGE_EVENTS_SYSTEM=webhook, FIELDBRIDGE_WEBHOOK_URLS=http://host:9000/events
and the same secret in FIELDBRIDGE_WEBHOOK_SECRETS. It verifies every signature (401 otherwise), refuses
timestamps more than 5 minutes off, and handles each event id once: fieldbridge retries with the same id.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE = 300
seen: set[str] = set()


def verify(header: str, body: bytes, secrets: list[str]) -> bool:
    parts = [p.strip().partition("=") for p in header.split(",")]
    stamps = [v for k, _, v in parts if k == "t"]
    signatures = [v for k, _, v in parts if k == "v1"]
    if not stamps or not stamps[0].isdigit() or abs(time.time() - int(stamps[0])) > TOLERANCE:
        return False
    signed = f"{stamps[0]}.".encode() + body
    expected = [hmac.new(s.encode(), signed, hashlib.sha256).hexdigest() for s in secrets]
    return any(hmac.compare_digest(e, v) for e in expected for v in signatures)


class Receiver(BaseHTTPRequestHandler):
    secrets: list[str] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not verify(self.headers.get("Fieldbridge-Signature", ""), body, self.secrets):
            return self._answer(401, {"error": "bad signature"})
        event = json.loads(body)
        if event["id"] in seen:
            return self._answer(200, {"duplicate": True})  # already handled: acknowledge, do nothing
        seen.add(event["id"])
        print(f"{event['type']:<16} {event['id']}  {json.dumps(event['data'])[:120]}", flush=True)
        self._answer(202, {"received": event["id"]})

    def _answer(self, status: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    Receiver.secrets = [s for s in os.environ.get("FIELDBRIDGE_SECRET", "").split(",") if s]
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Receiver)
    print(f"listening on http://127.0.0.1:{args.port}/events", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
