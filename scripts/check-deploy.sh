#!/usr/bin/env bash
# Checks the operator's kit under deploy/, offline (only package registries
# are reached, to install the tools the first time):
#
#   1. deploy/kubernetes: every object against the Kubernetes JSON schemas,
#      strictly (unknown fields are errors), for the oldest and the newest
#      Kubernetes release the manifests support. The schemas come inside
#      PyPI's kubernetes-validate, installed into a virtualenv under the
#      cache directory; nothing is fetched at run time.
#   2. deploy/prometheus: `promtool check rules`, `promtool test rules`, and
#      `promtool check config` of prometheus.yml (Debian's promtool is built
#      without Kubernetes service discovery, so the discovery block is
#      replaced by a static target for the check; the relabelling and the
#      rule files are checked as written). promtool is Debian's `prometheus`
#      package, installed when missing.
#   3. deploy/grafana: every panel's PromQL through promtool (as recording
#      rules), after replacing Grafana's variables.
#   4. go test ./deploy/: every metric and label the dashboards and rules
#      name is one truyvet registers; every rule has a unit test; the
#      manifests' TRUYVET_* variables are flags of their commands, whose
#      --dry-run accepts them.
#
# Usage: scripts/check-deploy.sh   (TRUYVET_CACHE_DIR moves the cache)
set -euo pipefail
cd "$(dirname "$0")/.."

# The oldest release the manifests need (the preStop sleep action is on by
# default from 1.30) and the newest the pinned package knows.
k8s_versions=(1.30.0 1.37.0)
cache="${TRUYVET_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/truyvet}/check-deploy"
venv="$cache/venv"
# kubernetes-validate and its dependencies, pinned.
python_packages=(
  kubernetes-validate==1.37.0 jsonschema==4.26.0 jsonschema-specifications==2025.9.1
  referencing==0.37.0 rpds-py==2026.9.1 attrs==26.1.0 PyYAML==6.0.4 packaging==26.4
  importlib_resources==7.1.0 typing_extensions==4.16.0
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== deploy: tools"
if ! "$venv/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(m.version("kubernetes-validate") != "1.37.0")' 2>/dev/null; then
  rm -rf "$venv"
  mkdir -p "$cache"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${python_packages[@]}"
fi
if ! command -v promtool >/dev/null; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q prometheus >&2 ||
    { $sudo apt-get update -q >&2 && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q prometheus >&2; }
fi
promtool --version 2>&1 | head -n 1

echo "== deploy: Kubernetes manifests against the schemas"
manifests=(deploy/kubernetes/*.yaml deploy/kubernetes/examples/*.yaml)
for v in "${k8s_versions[@]}"; do
  # An object of a kind the schemas do not know is only a warning to the
  # tool; here it fails too.
  if ! out=$("$venv/bin/kubernetes-validate" --strict --kubernetes-version "$v" "${manifests[@]}" 2>&1) ||
    grep -qE '^(WARN|ERROR)' <<<"$out"; then
    printf '%s\n' "$out"
    echo "deploy/kubernetes: not valid for Kubernetes $v"
    exit 1
  fi
  echo "Kubernetes $v: $(grep -c '^INFO.*passed' <<<"$out") objects valid"
done

echo "== deploy: Prometheus rules, their unit tests and the scrape configuration"
promtool check rules deploy/prometheus/truyvet.rules.yml
promtool test rules deploy/prometheus/truyvet.rules.test.yml
cp deploy/prometheus/truyvet.rules.yml "$tmp/"
"$venv/bin/python" - deploy/prometheus/prometheus.yml "$tmp/prometheus.yml" <<'EOF'
import sys, yaml
with open(sys.argv[1]) as f:
    c = yaml.safe_load(f)
for job in c["scrape_configs"]:
    assert job.pop("kubernetes_sd_configs", None), job["job_name"] + ": no kubernetes_sd_configs"
    job["static_configs"] = [{"targets": ["127.0.0.1:8080"]}]
with open(sys.argv[2], "w") as f:
    yaml.safe_dump(c, f)
EOF
promtool check config "$tmp/prometheus.yml"

echo "== deploy: Grafana dashboards' PromQL"
"$venv/bin/python" - "$tmp/dashboards.rules.yml" deploy/grafana/*.json <<'EOF'
import json, re, sys, yaml

def expand(q):
    q = re.sub(r"\$\{?__(rate_interval|interval|range)\}?", "5m", q)
    return re.sub(r"\$\{?\w+(:\w+)?\}?", ".*", q)

def panels(ps):
    for p in ps:
        yield p
        yield from panels(p.get("panels", []))

rules = []
for path in sys.argv[2:]:
    with open(path) as f:
        d = json.load(f)
    for p in panels(d["panels"]):
        for t in p.get("targets", []):
            rules.append({"record": "dashboard:%s:%d_%s" % (d["uid"].replace("-", "_"), p["id"], t["refId"]),
                          "expr": expand(t["expr"])})
    for v in d["templating"]["list"]:
        if v["type"] == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", q)
            rules.append({"record": "dashboard:%s:var_%s" % (d["uid"].replace("-", "_"), v["name"]),
                          "expr": expand(m.group(1) if m else q)})
with open(sys.argv[1], "w") as f:
    yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}, f)
print("%d queries from %d dashboards" % (len(rules), len(sys.argv) - 2))
EOF
promtool check rules "$tmp/dashboards.rules.yml"

echo "== deploy: metrics, rules and manifests against the code"
go test -count=1 ./deploy/
