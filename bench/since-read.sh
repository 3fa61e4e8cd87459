#!/usr/bin/env bash
# The second tier's read of the F1 members' encounters, two ways, on a loaded
# database (bench load --tier M): every member on every day of the window
# (the old read), and each member from its own first-exposure day on, one
# UNION ALL branch a day (store/chstore/since.go), and the same from the
# weekly copy (migration 8), one branch a week. People are one day's
# visitors, each given a first exposure on a random day of the window.
# Prints, per round and form, the server's time, rows and bytes read
# (bench/README.md, "The F1 members read from their first exposure on",
# "A person's records by week"). On a cluster, point --port at one shard's
# server and add --local: it reads that shard's local tables.
#
#   bench/since-read.sh [--port 19000] [--database tierm] [--rounds 3] [--local]
set -euo pipefail
port=19000 db=tierm rounds=3 local=
while [[ $# -gt 0 ]]; do
  case $1 in
    --port) port=$2; shift 2 ;;
    --database) db=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --local) local=_local; shift ;;
    *) echo "since-read.sh: unknown flag $1" >&2; exit 2 ;;
  esac
done
ch() { clickhouse-client --port "$port" "$@"; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
read -r first last < <(ch -q "SELECT min(toUInt32(partition)), max(toUInt32(partition)) FROM system.parts WHERE database = '$db' AND table = 'contacts$local' AND active")
ch -q "SELECT user FROM $db.stays$local WHERE day = $((last - 4)) AND cityHash64(user) % 3000 = 7 GROUP BY user" > "$dir/users"
python3 - "$dir" "$db" "$first" "$last" "$local" <<'PY'
import random, sys
d, db, first, last, local = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
random.seed(5)
users = sorted(int(x) for x in open(d + "/users").read().split())
days = list(range(first, last + 1))
cols = "user, start, peer, duration, rssi"
tail = " ORDER BY user, start, peer, duration FORMAT Null"
open(d + "/old.sql", "w").write(f"SELECT {cols} FROM {db}.contacts{local} WHERE day IN ({','.join(map(str, days))}) AND user IN ({','.join(map(str, users))})" + tail)
since = {u: random.choice(days[1:]) for u in users}  # first exposure; records may begin the day before
branches = []
for day in days:
    us = [u for u in users if since[u] - 1 <= day]
    if us:
        branches.append(f"SELECT {cols} FROM {db}.contacts{local} WHERE day = {day} AND user IN ({','.join(map(str, us))})")
open(d + "/new.sql", "w").write(f"SELECT {cols} FROM (\n" + "\nUNION ALL\n".join(branches) + "\n)" + tail)
weeks = []
for w in range(first // 7, last // 7 + 1):
    us = [u for u in users if since[u] - 1 <= 7 * w + 6]
    if us:
        weeks.append(f"SELECT {cols} FROM {db}.contacts_weekly{local} WHERE day >= {7 * w} AND day <= {7 * w + 6} AND user IN ({','.join(map(str, us))})")
open(d + "/week.sql", "w").write(f"SELECT {cols} FROM (\n" + "\nUNION ALL\n".join(weeks) + "\n)" + tail)
pairs = sum(1 for u in users for day in days if since[u] - 1 <= day)
print(f"{len(users)} people, {len(days)} days; the new read asks {pairs / len(users):.1f} days a person")
PY
for r in $(seq "$rounds"); do
  for form in old new week; do
    ch --log_queries=1 --max_query_size=1000000 < "$dir/$form.sql"
    ch -q "SYSTEM FLUSH LOGS"
    ch -q "SELECT '$r', '$form', query_duration_ms, read_rows, read_bytes FROM system.query_log WHERE type = 2 AND query LIKE 'SELECT user, start%' ORDER BY event_time DESC LIMIT 1"
  done
done
