#!/bin/bash
# The two features of the official image's entrypoint that deploy/nginx.conf.template uses:
# NGINX_ENTRYPOINT_LOCAL_RESOLVERS exports NGINX_LOCAL_RESOLVERS (the nameservers in
# /etc/resolv.conf), and each /etc/nginx/templates/NAME.template becomes /etc/nginx/conf.d/NAME
# with the environment's variables (only those defined) substituted.
set -euo pipefail
if [ -n "${NGINX_ENTRYPOINT_LOCAL_RESOLVERS:-}" ]; then
  NGINX_LOCAL_RESOLVERS=$(awk 'BEGIN{ORS=" "} $1=="nameserver" {if ($2 ~ ":") {print "["$2"]"} else {print $2}}' /etc/resolv.conf)
  export NGINX_LOCAL_RESOLVERS="${NGINX_LOCAL_RESOLVERS% }"
fi
defined=$(printf '${%s} ' $(awk 'END { for (name in ENVIRON) print name }' </dev/null))
for template in /etc/nginx/templates/*.template; do
  [ -f "$template" ] || continue
  name=$(basename "$template" .template)
  envsubst "$defined" <"$template" >"/etc/nginx/conf.d/$name"
done
exec "$@"
