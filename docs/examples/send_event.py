"""Sign and send one field-service event to fieldbridge's open API — standard library only.

    python send_event.py --url http://127.0.0.1:8700 --secret "$FIELDBRIDGE_SECRET" event.json

Prints the HTTP status and fieldbridge's answer. 202: stored, the job-closed run starts; 200: a
redelivery of an event already stored (nothing new happens); 4xx: the answer says what to fix.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import sys
import time
import urllib.error
import urllib.request


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """Fieldbridge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "{t}.{raw body}")>."""
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


def send(url: str, secret: str, body: bytes) -> tuple[int, str]:
    request = urllib.request.Request(
        url.rstrip("/") + "/v1/events", data=body, method="POST",
        headers={"Content-Type": "application/json", "Fieldbridge-Signature": signature_header(secret, body)})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:  # 4xx: the body explains
        return err.code, err.read().decode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("event", help="a JSON file holding {id, type, occurred_at, data}")
    args = parser.parse_args()
    with open(args.event, "rb") as fh:
        body = fh.read()  # sign the exact bytes you send: re-serialising would change them
    status, text = send(args.url, args.secret, body)
    print(status, text)
    return 0 if status in (200, 202) else 1


if __name__ == "__main__":
    sys.exit(main())
