#!/usr/bin/env bash
# A short tour of the xrm CLI on an admin-defined entity type, in its own database
# (tour.db in the current directory unless XRM_DATABASE_URL says otherwise).
# Safe to run again: it skips what already exists.
set -euo pipefail
export XRM_DATABASE_URL="${XRM_DATABASE_URL:-sqlite:///tour.db}"
here="$(cd "$(dirname "$0")" && pwd)"
# Each command is shown before it runs, in bold on a terminal (plain when piped to a file).
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; "$@"; }

say xrm init --admin-password tour-admin
xrm types show partner >/dev/null 2>&1 || say xrm types add "$here/partner.json"
xrm kpi list --json | grep -q '"partner_nps"' || say xrm kpi add "$here/partner_rating.kpi.json"
if [ "$(xrm records list partner --limit 1 --json)" = "[]" ]; then
  say xrm import partner "$here/partners.csv"
fi
say xrm records list partner --where tier=gold
id=$(xrm records list partner --where tax_id=1000000002 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
say xrm records update "$id" --data '{"rating": 9, "tier": "gold"}'
say xrm history "$id"
say xrm kpi compute partner_nps --from 2025-01-01 --to 2025-12-31
say xrm kpi compute partner_nps --by tier
