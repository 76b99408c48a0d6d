#!/usr/bin/env bash
# Sign and send one event with curl and openssl:  URL=http://127.0.0.1:8700 SECRET=... ./send_event.sh event.json
set -euo pipefail
file="$1"
ts=$(date +%s)
# HMAC-SHA256 over "<timestamp>.<exact bytes of the file>", hex
sig=$({ printf '%s.' "$ts"; cat "$file"; } | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1)
curl -sS -X POST "$URL/v1/events" \
  -H "Content-Type: application/json" \
  -H "Fieldbridge-Signature: t=$ts,v1=$sig" \
  --data-binary @"$file" \
  -w '\n%{http_code}\n'
