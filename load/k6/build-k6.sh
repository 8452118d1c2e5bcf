#!/usr/bin/env bash
# Builds a k6 binary with xk6 extensions, for users who have Go (k6 itself
# cannot be installed on the lab's machines; see load/k6/README.md). The
# default extension writes k6's metrics to Prometheus by remote write, so a k6
# run shows up on the same dashboards as the lab's own load generator.
#
#   load/k6/build-k6.sh                       # ./k6 with the Prometheus remote-write output
#   K6_VERSION=v1.3.0 OUTPUT=/usr/local/bin/k6 load/k6/build-k6.sh \
#     github.com/grafana/xk6-output-prometheus-remote github.com/grafana/xk6-faker
#
# Then, for example:
#   K6_PROMETHEUS_RW_SERVER_URL=http://127.0.0.1:9090/api/v1/write \
#     ./k6 run -o experimental-prometheus-rw -e AUTH_SECRET=... load/k6/scripts/payment-outage.ts
set -euo pipefail

K6_VERSION="${K6_VERSION:-latest}"
XK6_VERSION="${XK6_VERSION:-latest}"
OUTPUT="${OUTPUT:-./k6}"
if [ "$#" -gt 0 ]; then
  extensions=("$@")
else
  extensions=(github.com/grafana/xk6-output-prometheus-remote)
fi

if ! command -v go >/dev/null 2>&1; then
  echo "build-k6: Go is not installed (https://go.dev/dl/); xk6 needs it to build k6" >&2
  exit 2
fi

gobin="$(go env GOPATH)/bin"
if ! command -v xk6 >/dev/null 2>&1 && [ ! -x "$gobin/xk6" ]; then
  echo "build-k6: installing xk6 ${XK6_VERSION}" >&2
  go install "go.k6.io/xk6/cmd/xk6@${XK6_VERSION}"
fi
xk6_bin="$(command -v xk6 || echo "$gobin/xk6")"

args=(build "$K6_VERSION" --output "$OUTPUT")
for extension in "${extensions[@]}"; do
  args+=(--with "$extension")
done
echo "build-k6: $xk6_bin ${args[*]}" >&2
"$xk6_bin" "${args[@]}"
"$OUTPUT" version
