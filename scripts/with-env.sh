#!/usr/bin/env bash
# Runs a command with the environment resolved by scripts/setup.sh (.local/env) and node_modules/.bin on
# PATH. A variable already set in the caller's environment always wins over .local/env.
#   bash scripts/with-env.sh jest --runInBand
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENV_FILE="$ROOT/.local/env"

if [ "$#" -eq 0 ]; then
  echo "usage: bash scripts/with-env.sh COMMAND [ARGS...]" >&2
  exit 2
fi

if [ -f "$ENV_FILE" ]; then
  # Read the file in a subshell and print NAME=VALUE pairs (NUL-separated), then export each one here
  # only when the caller has not set it.
  while IFS= read -r -d '' pair; do
    name="${pair%%=*}"
    if [ -z "${!name+x}" ]; then
      export "$pair"
    fi
  done < <(
    # shellcheck disable=SC1090
    env -i bash -c 'set -a; . "$1"; for n in $(compgen -e); do
      case "$n" in PWD | SHLVL | _ | OLDPWD) ;; *) printf "%s=%s\0" "$n" "${!n}" ;; esac
    done' _ "$ENV_FILE"
  )
fi

export PATH="$ROOT/node_modules/.bin:$PATH"
exec "$@"
