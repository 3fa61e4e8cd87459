# Shared by cluster-up.sh and cluster-down.sh (sourced): where the local
# ClickHouse cluster lives and which ports its servers take.
state=${TRUYVET_LOCAL_DIR:-$HOME/.cache/truyvet/local}
cluster_state=$state/cluster
cluster=${TRUYVET_CLICKHOUSE_CLUSTER:-truyvet_2x2}
zk_port=${TRUYVET_CLUSTER_ZOOKEEPER_PORT:-22181}
base_port=${TRUYVET_CLUSTER_BASE_PORT:-29000}
http_base_port=${TRUYVET_CLUSTER_HTTP_BASE_PORT:-28123}
nodes=(s1r1 s1r2 s2r1 s2r2)

node_index() { # s1r1 -> 0, s1r2 -> 1, s2r1 -> 2, s2r2 -> 3
  local s=${1:1:1} r=${1:3:1}
  echo $(((s - 1) * 2 + r - 1))
}
node_port() { echo $((base_port + $(node_index "$1"))); }
node_http_port() { echo $((http_base_port + $(node_index "$1"))); }
node_interserver_port() { echo $((base_port + 9 + $(node_index "$1"))); }
cluster_addrs() {
  local out="" n
  for n in "${nodes[@]}"; do out=${out:+$out,}127.0.0.1:$(node_port "$n"); done
  echo "$out"
}
