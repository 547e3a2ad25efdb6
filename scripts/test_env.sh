# Sourced by `make test`: starts the test PostgreSQL server and exports what the tests read.
eval "$(bash scripts/start_postgres.sh)"
export VIDGEN_CHROMIUM="${VIDGEN_CHROMIUM:-/usr/bin/chromium}"
export HF_HUB_OFFLINE=1
