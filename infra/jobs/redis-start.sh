#!/bin/sh
# Starts redis-server or Sentinel from the config in its data volume, made from
# the seed the deployment uploads. What Sentinel rewrote there on a failover is
# kept across a replaced container: a node's role (replicaof, none on a
# primary) and Sentinel's view (the current primary, the known replicas and
# Sentinels, its id and epochs). Every other line comes from the seed, so a
# changed password or limit still applies. Names the seed maps to fixed
# addresses (`# oose-address <name> <ip>`, before the rest) are rewritten in
# what is kept: Sentinel given addresses resolves no names.
# Usage: sh redis-start.sh <seed> <live> redis|sentinel
set -eu
seed=$1
live=$2
kind=$3
if [ -s "$live" ]; then
  awk -v kind="$kind" '
    function addr(h) { return (h in ip) ? ip[h] : h }
    FNR == NR {
      if (kind == "redis" && ($1 == "replicaof" || $1 == "slaveof")) role = $0
      if (kind == "sentinel" && $1 == "sentinel" && $2 == "monitor") { at[$3] = $4 " " $5 }
      if (kind == "sentinel" && $1 == "sentinel" && $2 ~ /^(known-replica|known-sentinel|myid|current-epoch|config-epoch|leader-epoch)$/) kept = kept $0 "\n"
      next
    }
    $1 == "#" && $2 == "oose-address" { ip[$3] = $4 }
    kind == "redis" && ($1 == "replicaof" || $1 == "slaveof") { next }
    kind == "sentinel" && $1 == "sentinel" && $2 == "monitor" && ($3 in at) { split(at[$3], hp, " "); $4 = addr(hp[1]); $5 = hp[2] }
    { print }
    END {
      if (role != "") { split(role, r, " "); print r[1], addr(r[2]), r[3] }
      n = split(kept, lines, "\n")
      for (i = 1; i < n; i++) {
        split(lines[i], f, " ")
        if (f[2] == "known-replica" || f[2] == "known-sentinel") sub(" " f[4] " ", " " addr(f[4]) " ", lines[i])
        print lines[i]
      }
    }
  ' "$live" "$seed" > "$live.new"
else
  cp "$seed" "$live.new"
fi
mv "$live.new" "$live"
if [ "$kind" = sentinel ]; then exec docker-entrypoint.sh redis-server "$live" --sentinel; fi
exec docker-entrypoint.sh redis-server "$live"
