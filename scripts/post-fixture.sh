#!/usr/bin/env bash
# Posts a Chatwoot fixture (or any JSON file) to the bridge, signed the way Chatwoot signs:
#   X-Chatwoot-Signature: sha256=HMAC_SHA256(secret, "<timestamp>.<raw body>")
# Usage: scripts/post-fixture.sh FILE [URL]
#   URL defaults to http://127.0.0.1:${PORT:-3000}/webhooks/chatwoot/${HOOK_ID:-default}
#   the secret is the first of CHATWOOT_WEBHOOK_SECRET (from the environment or .env)
set -euo pipefail
file=${1:?usage: scripts/post-fixture.sh FILE [URL]}
if [ -z "${CHATWOOT_WEBHOOK_SECRET:-}" ] && [ -f .env ]; then
  CHATWOOT_WEBHOOK_SECRET=$(grep -E '^CHATWOOT_WEBHOOK_SECRET=' .env | tail -1 | cut -d= -f2-)
fi
secret=${CHATWOOT_WEBHOOK_SECRET%%,*}
url=${2:-http://127.0.0.1:${PORT:-3000}/webhooks/chatwoot/${HOOK_ID:-default}}
# Chatwoot sends compact JSON; sign exactly the bytes we send.
body=$(node -e 'process.stdout.write(JSON.stringify(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"))))' "$file")
ts=$(date +%s)
sig=$(printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$secret" | sed 's/^.*= //')
curl -sS -w '  -> HTTP %{http_code}\n' -X POST "$url" \
  -H 'Content-Type: application/json' \
  -H "X-Chatwoot-Delivery: $(cat /proc/sys/kernel/random/uuid)" \
  -H "X-Chatwoot-Timestamp: $ts" \
  -H "X-Chatwoot-Signature: sha256=$sig" \
  --data-binary "$body"
