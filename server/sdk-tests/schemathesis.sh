#!/usr/bin/env bash
# Property-based test of the REST surface of a running `orgstore serve` with schemathesis,
# against the OpenAPI document the server serves at URL/openapi.yaml (server/openapi.yaml).
#
# Usage: schemathesis.sh URL TOKEN
#   URL    base URL of the server, e.g. http://127.0.0.1:8080 (no trailing path)
#   TOKEN  a live bearer token from POST URL/oauth/token
#
# Optional environment:
#   SCHEMATHESIS             the schemathesis executable (default: `schemathesis` on PATH);
#                            it must be version 4.32.5, whose exit codes this script interprets
#   SCHEMATHESIS_REPORT_DIR  where the JUnit and JSON reports go (default: a new temp directory)
#   SCHEMATHESIS_CA_BUNDLE   CA file, when URL is https:// with a certificate from a private CA
#   SCHEMATHESIS_SPEC        the OpenAPI document (default: URL/openapi.yaml, the served copy)
#
# The run is bounded: fixed seed, at most MAX_EXAMPLES cases per operation and pass, a time
# budget of MAX_TIME seconds for the whole run (schemathesis 4.32 repeats fuzzing and stateful
# passes until the budget is spent, so the run takes about MAX_TIME), and a hard stop at
# HARD_LIMIT seconds around the whole command.
#
# Exit codes of this script:
#   0    every check passed (schemathesis exit 0; warnings alone do not fail the run)
#   1    the API failed at least one check, or requests failed at the network level
#        (connection reset, timeout): schemathesis exit 1. The counts are printed.
#   2    schemathesis could not do its job: bad arguments, an unloadable schema, an internal
#        error, or no test case generated (schemathesis exit 2), or a wrong schemathesis version,
#        or wrong arguments to this script
#   3    preflight failed: the server is not reachable, or it does not accept TOKEN (a run with
#        a rejected token would "pass" on documented 401s alone, so it is refused up front)
#   124  the hard time limit stopped schemathesis
#   130  interrupted (Ctrl-C / SIGINT)
#   other  schemathesis died with an unexpected status, passed through
#
# Schemathesis 4.32.5 exit codes, from schemathesis/cli/constants.py (ExitCode) and
# schemathesis/cli/executor.py: 0 OK; 1 FAILURES ("checks failed or bugs were found", which also
# covers network errors while testing and, per executor.py, an uncaught Python exception);
# 2 ERROR ("configuration, schema or internal error, or nothing was tested"; click usage errors
# and a missing schema file exit 2 too); 130 INTERRUPTED. A schema that loads but crashes the
# engine (e.g. `paths` that is not a mapping) exits 1 with a traceback; the JSON report then says
# stop_reason "error", which this script reports as 2, not as an API failure.

set -u

MAX_EXAMPLES=25
MAX_TIME=60
HARD_LIMIT=85
SEED=20261201
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,ignored_auth
PHASES=examples,coverage,fuzzing,stateful
EXPECTED_VERSION=4.32.5

if [ "$#" -ne 2 ] || [ -z "$1" ] || [ -z "$2" ]; then
  echo "usage: $0 URL TOKEN" >&2
  exit 2
fi
URL=${1%/}
TOKEN=$2
SPEC=${SCHEMATHESIS_SPEC:-$URL/openapi.yaml}
ST=${SCHEMATHESIS:-schemathesis}
REPORT_DIR=${SCHEMATHESIS_REPORT_DIR:-$(mktemp -d)}
mkdir -p "$REPORT_DIR"

CURL_TLS=()
ST_TLS=()
if [ -n "${SCHEMATHESIS_CA_BUNDLE:-}" ]; then
  CURL_TLS=(--cacert "$SCHEMATHESIS_CA_BUNDLE")
  ST_TLS=(--tls-verify "$SCHEMATHESIS_CA_BUNDLE")
fi

# --- the schemathesis this script was written for.
version=$("$ST" --version 2>/dev/null | awk '{print $NF}')
if [ "$version" != "$EXPECTED_VERSION" ]; then
  echo "schemathesis.sh: need schemathesis $EXPECTED_VERSION (its exit codes are interpreted here), found '${version:-none}' at '$ST'" >&2
  exit 2
fi

# --- preflight: the server answers, and it accepts the token.
health=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${CURL_TLS[@]}" "$URL/health")
if [ "${health:0:1}" != "2" ]; then
  echo "schemathesis.sh: preflight: GET $URL/health answered '${health}', expected 2xx" >&2
  exit 3
fi
listed=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${CURL_TLS[@]}" \
  -H "Authorization: Bearer $TOKEN" "$URL/api/v1/organizations?page_size=1")
if [ "$listed" != "200" ]; then
  echo "schemathesis.sh: preflight: GET $URL/api/v1/organizations with the token answered '${listed}', expected 200" >&2
  exit 3
fi

# --- the run. An empty config file keeps any schemathesis.toml in the current directory or
# its parents out of the run; the working directory is the report directory.
config=$REPORT_DIR/schemathesis.toml
: > "$config"
json_report=$REPORT_DIR/schemathesis.json
rm -f "$json_report"

echo "schemathesis $version: $SPEC against $URL (seed $SEED, <= $MAX_EXAMPLES examples, ${MAX_TIME}s budget), reports in $REPORT_DIR"
(
  cd "$REPORT_DIR" || exit 2
  exec timeout -s INT -k 10 "$HARD_LIMIT" "$ST" --config-file "$config" run "$SPEC" \
    --url "$URL" \
    --header "Authorization: Bearer $TOKEN" \
    "${ST_TLS[@]}" \
    --checks "$CHECKS" \
    --phases "$PHASES" \
    --max-examples "$MAX_EXAMPLES" \
    --max-time "$MAX_TIME" \
    --seed "$SEED" \
    --workers 1 \
    --request-timeout 10 \
    --generation-database none \
    --no-color \
    --report junit,json \
    --report-junit-path "$REPORT_DIR/schemathesis.junit.xml" \
    --report-json-path "$json_report"
)
status=$?

# Verdict and counts from the JSON report. Schemathesis writes it even when it crashes
# (stop_reason "error", complete false), so a crash's exit 1 can be told from a failed check's.
report_exit=none
stop_reason=none
counts=
if [ -s "$json_report" ]; then
  read -r report_exit stop_reason counts < <(python3 - "$json_report" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    t = d.get("test_cases") or {}
    print(d.get("exit_code", "none"), d.get("stop_reason") or "none",
          f"generated={t.get('generated')} unique_failures={t.get('unique_failures')} "
          f"errored={t.get('errored')} stop_reason={d.get('stop_reason')}")
except Exception as exc:
    print("none", "none", f"unreadable report: {exc}")
PY
  )
fi

case "$status" in
  0)
    echo "schemathesis.sh: PASS ($counts)"
    exit 0 ;;
  1)
    if [ "$report_exit" = none ] || [ "$stop_reason" = error ]; then
      echo "schemathesis.sh: ERROR: schemathesis stopped with an internal error (exit 1, stop_reason ${stop_reason}); see its output above" >&2
      exit 2
    fi
    echo "schemathesis.sh: FAIL: the API failed checks or requests errored ($counts); see the failures above and $REPORT_DIR" >&2
    exit 1 ;;
  2)
    echo "schemathesis.sh: ERROR: schemathesis could not run (configuration, schema, internal error, or nothing tested) ${counts:+($counts)}" >&2
    exit 2 ;;
  124|137)
    echo "schemathesis.sh: FAIL: hard time limit of ${HARD_LIMIT}s reached (the server may hang) ${counts:+($counts)}" >&2
    exit 124 ;;
  130)
    echo "schemathesis.sh: interrupted ${counts:+($counts)}" >&2
    exit 130 ;;
  *)
    echo "schemathesis.sh: schemathesis exited with unexpected status $status" >&2
    exit "$status" ;;
esac
