#!/usr/bin/env bash
# The shell approach of the old scripts: once per interval, curl each
# endpoint they read with the token as a bearer header, and jq out the
# numbers. Every numeric leaf is printed as one "endpoint:path=value" line,
# so a line is a field.
#
#   curl_jq.sh URL TOKEN_FILE GATHERS INTERVAL_SECONDS OUT_FILE
set -u
url=$1 token=$2 gathers=$3 interval=$4 out=$5

numbers='paths(numbers) as $p | "\($ep):\($p | map(tostring) | join("."))=\(getpath($p))"'

for ((i = 0; i < gathers; i++)); do
  # The interval runs while the gather does; bash reaps sleep, curl, cat and
  # jq, so their CPU lands in this shell's rusage.
  sleep "$interval" &
  for ep in "/production.json?details=1" /ivp/meters/readings /api/v1/production/inverters; do
    curl -sk -H "Authorization: Bearer $(cat "$token")" "$url$ep" | jq -r --arg ep "$ep" "$numbers" >>"$out"
  done
  wait
done
