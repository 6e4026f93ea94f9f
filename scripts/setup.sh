#!/usr/bin/env bash
# Prepares everything `npm run local`, `npm test` and `npm run bench` need, on a fresh Debian 12 machine
# with Node 20 + npm: node_modules, Chromium, Postgres, Redis, .local/env, the build and the migrations.
# Idempotent; uses the services already running when they answer, otherwise starts private ones under
# .local/ (Postgres on 54329, Redis on 63790). Everything generated lives in .local/ (gitignored).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LOCAL="$ROOT/.local"
mkdir -p "$LOCAL"
export PUPPETEER_SKIP_DOWNLOAD=1 CI="${CI:-}"

say() { printf 'setup: %s\n' "$*"; }
die() {
  printf 'setup: ERROR: %s\n' "$*" >&2
  exit 1
}
is_root() { [ "$(id -u)" = 0 ]; }
can_apt() { is_root && command -v apt-get >/dev/null 2>&1; }
APT_UPDATED=
apt_install() {
  if [ -z "$APT_UPDATED" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
probe() { node "$ROOT/scripts/probe.js" "$@"; }
# A connection string as the service's configuration errors show it: whatever comes before its last
# `@` after the scheme (user and password, however malformed the URL) is replaced by `***`.
masked_url() {
  local url="$1" scheme=""
  if [[ "$url" =~ ^([A-Za-z][A-Za-z0-9+.-]*://)(.*)$ ]]; then
    scheme="${BASH_REMATCH[1]}"
    url="${BASH_REMATCH[2]}"
  fi
  if [[ "$url" == *@* ]]; then url="***@${url##*@}"; fi
  printf '%s%s' "$scheme" "$url"
}

# Which variables the caller set explicitly: those are never written to .local/env when accepted as-is.
USER_DATABASE_URL="${DATABASE_URL-}" USER_SET_DATABASE_URL="${DATABASE_URL+1}"
USER_REDIS_URL="${REDIS_URL-}" USER_SET_REDIS_URL="${REDIS_URL+1}"
USER_SET_CHROMIUM="${PUPPETEER_EXECUTABLE_PATH+1}"

# --- a. Node dependencies -------------------------------------------------------------------------
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] ||
  [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "node deps: npm ci"
  npm ci --no-audit --no-fund
else
  say "node deps: node_modules up to date"
fi

# --- b. Chromium ----------------------------------------------------------------------------------
find_chromium() {
  local c
  for c in /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
    if [ -x "$c" ]; then
      printf '%s' "$c"
      return 0
    fi
  done
  return 1
}
CHROMIUM=
if [ -n "${PUPPETEER_EXECUTABLE_PATH-}" ] && [ -x "$PUPPETEER_EXECUTABLE_PATH" ]; then
  CHROMIUM="$PUPPETEER_EXECUTABLE_PATH"
  say "chromium: $CHROMIUM (PUPPETEER_EXECUTABLE_PATH)"
else
  if [ -n "${PUPPETEER_EXECUTABLE_PATH-}" ]; then
    say "warning: PUPPETEER_EXECUTABLE_PATH=$PUPPETEER_EXECUTABLE_PATH is not executable; looking for another"
    USER_SET_CHROMIUM=
  fi
  if ! CHROMIUM="$(find_chromium)"; then
    can_apt || die "Chromium not found. Run: sudo apt-get install -y chromium fonts-dejavu-core"
    apt_install chromium fonts-dejavu-core fonts-liberation
    CHROMIUM="$(find_chromium)" || die "Chromium still not found after apt-get install chromium"
  fi
  say "chromium: $CHROMIUM"
fi
export PUPPETEER_EXECUTABLE_PATH="$CHROMIUM"

# --- b2. Fonts and PDF tools ----------------------------------------------------------------------
# The report's fonts: Latin, Greek, Cyrillic, Arabic, Hebrew, Devanagari and Thai (fonts-noto-core),
# Japanese, Chinese and Korean in TrueType (fonts-ipafont-gothic, fonts-wqy-microhei, fonts-nanum),
# the rarer ideographs (fonts-noto-cjk), emoji (fonts-noto-color-emoji); without them Chromium prints
# empty boxes. poppler-utils (pdftotext, pdffonts, pdftoppm) is what the e2e specs read the PDFs with.
FONT_PACKAGES="fonts-noto-core fonts-ipafont-gothic fonts-wqy-microhei fonts-nanum fonts-noto-cjk fonts-noto-color-emoji"
missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || printf '%s ' "$p"
  done
}
if command -v dpkg-query >/dev/null 2>&1; then
  # shellcheck disable=SC2086
  missing="$(missing_packages $FONT_PACKAGES poppler-utils)"
  if [ -n "$missing" ]; then
    can_apt || die "the report fonts or PDF tools are missing. Run: sudo apt-get install -y ${missing% }"
    # shellcheck disable=SC2086
    apt_install $missing
  fi
  say "fonts: $FONT_PACKAGES and poppler-utils installed"
else
  say "warning: not a Debian system; install the Noto fonts (Latin, CJK, emoji), IPAGothic, WenQuanYi Micro Hei, NanumGothic and poppler's pdftotext yourself"
fi

# --- c. Postgres ----------------------------------------------------------------------------------
PG_PORT=54329
PG_DIR="$LOCAL/postgres"
PG_DATA="$PG_DIR/data"
PG_RUN="$PG_DIR/run"
PG_OS_USER=

pg_bindir() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
    printf '%s' "$d"
    return 0
  fi
  return 1
}
# initdb and postgres refuse to run as root: run them as the `postgres` user then.
as_pg() {
  if [ -n "$PG_OS_USER" ]; then
    runuser -u "$PG_OS_USER" -- "$@"
  else
    "$@"
  fi
}

start_private_postgres() {
  local bin
  if ! bin="$(pg_bindir)"; then
    can_apt || die "Postgres is not reachable at $(masked_url "$DB_URL") and not installed. Run: sudo apt-get install -y postgresql (or set DATABASE_URL)"
    apt_install postgresql
    bin="$(pg_bindir)" || die "initdb/pg_ctl still not found under /usr/lib/postgresql/*/bin"
  fi
  mkdir -p "$PG_DIR"
  if is_root; then
    PG_OS_USER=postgres
    if ! id -u "$PG_OS_USER" >/dev/null 2>&1; then
      useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_OS_USER"
    fi
    chown "$PG_OS_USER:" "$PG_DIR"
    as_pg test -w "$PG_DIR" ||
      die "user $PG_OS_USER cannot write to $PG_DIR (a parent directory is not searchable); move the checkout or set DATABASE_URL to a running server"
  fi
  as_pg mkdir -p "$PG_RUN"
  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    say "postgres: initdb $PG_DATA"
    as_pg "$bin/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 ||
      die "initdb failed, see $PG_DIR/initdb.log"
  fi
  if ! as_pg "$bin/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
    say "postgres: starting private server on 127.0.0.1:$PG_PORT"
    as_pg "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_DIR/postgres.log" -w -t 60 \
      -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k '$PG_RUN'" start >/dev/null ||
      die "could not start Postgres, see $PG_DIR/postgres.log"
  fi
}

DB_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/reports}"
if msg="$(probe postgres "$DB_URL")"; then
  say "postgres: $msg"
else
  say "postgres: $msg"
  db_name="${DB_URL%%\?*}"
  db_name="${db_name##*/}"
  DB_URL="postgres://postgres@127.0.0.1:$PG_PORT/${db_name:-reports}"
  if msg="$(probe postgres "$DB_URL")"; then
    say "postgres: private server: $msg"
  else
    start_private_postgres
    msg="$(probe postgres "$DB_URL")" || die "private Postgres does not answer: $msg (see $PG_DIR/postgres.log)"
    say "postgres: private server: $msg"
  fi
  if [ -n "$USER_SET_DATABASE_URL" ]; then
    say "warning: your DATABASE_URL ($(masked_url "$USER_DATABASE_URL")) does not answer; unset it so that scripts/with-env.sh uses $(masked_url "$DB_URL")"
    USER_SET_DATABASE_URL=
  fi
fi
msg="$(probe createdb "$DB_URL")" || die "$msg"
say "postgres: $msg"
export DATABASE_URL="$DB_URL"

# --- d. Redis -------------------------------------------------------------------------------------
REDIS_PORT=63790
REDIS_DIR="$LOCAL/redis"
R_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
if msg="$(probe redis "$R_URL")"; then
  say "redis: $msg"
else
  say "redis: $msg"
  r_db="${R_URL%%\?*}"
  r_db="${r_db##*/}"
  case "$r_db" in '' | *[!0-9]*) r_db=0 ;; esac
  R_URL="redis://127.0.0.1:$REDIS_PORT/$r_db"
  if ! msg="$(probe redis "$R_URL")"; then
    if ! command -v redis-server >/dev/null 2>&1; then
      can_apt || die "Redis is not reachable and redis-server is not installed. Run: sudo apt-get install -y redis-server (or set REDIS_URL)"
      apt_install redis-server
    fi
    mkdir -p "$REDIS_DIR"
    say "redis: starting private server on 127.0.0.1:$REDIS_PORT"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
      --dir "$REDIS_DIR" --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" ||
      die "could not start redis-server, see $REDIS_DIR/redis.log"
    ok=
    for _ in $(seq 1 40); do
      if msg="$(probe redis "$R_URL")"; then
        ok=1
        break
      fi
      sleep 0.1
    done
    [ -n "$ok" ] || die "private Redis does not answer: $msg (see $REDIS_DIR/redis.log)"
  fi
  say "redis: private server: $msg"
  if [ -n "$USER_SET_REDIS_URL" ]; then
    say "warning: your REDIS_URL ($(masked_url "$USER_REDIS_URL")) does not answer; unset it so that scripts/with-env.sh uses $(masked_url "$R_URL")"
    USER_SET_REDIS_URL=
  fi
fi
export REDIS_URL="$R_URL"

# --- e. .local/env --------------------------------------------------------------------------------
# The key that encrypts webhook secrets at rest: generated once per checkout, kept with the local data.
if [ -z "${WEBHOOK_SECRETS_KEY:-}" ]; then
  if [ ! -s "$LOCAL/webhook-secrets.key" ]; then
    (umask 077 && node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("base64"))' >"$LOCAL/webhook-secrets.key")
    say "webhook secrets: generated a key in .local/webhook-secrets.key"
  fi
  USER_SET_SECRETS_KEY=
  WEBHOOK_SECRETS_KEY="$(cat "$LOCAL/webhook-secrets.key")"
else
  USER_SET_SECRETS_KEY=1
fi
export WEBHOOK_SECRETS_KEY

quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
# It holds WEBHOOK_SECRETS_KEY: readable by its owner only, from the moment it exists.
(umask 077 && : >"$LOCAL/env.$$")
{
  echo "# Written by scripts/setup.sh; sourced by scripts/with-env.sh, which never overrides a variable"
  echo "# already set in the caller's environment. Variables you set yourself are not repeated here."
  if [ -n "$USER_SET_DATABASE_URL" ]; then echo "# DATABASE_URL: from your environment"; else echo "export DATABASE_URL=$(quote "$DATABASE_URL")"; fi
  if [ -n "$USER_SET_REDIS_URL" ]; then echo "# REDIS_URL: from your environment"; else echo "export REDIS_URL=$(quote "$REDIS_URL")"; fi
  if [ -n "$USER_SET_SECRETS_KEY" ]; then echo "# WEBHOOK_SECRETS_KEY: from your environment"; else echo "export WEBHOOK_SECRETS_KEY=$(quote "$WEBHOOK_SECRETS_KEY")"; fi
  if [ -n "$USER_SET_CHROMIUM" ]; then echo "# PUPPETEER_EXECUTABLE_PATH: from your environment"; else echo "export PUPPETEER_EXECUTABLE_PATH=$(quote "$PUPPETEER_EXECUTABLE_PATH")"; fi
} >>"$LOCAL/env.$$"
mv "$LOCAL/env.$$" "$LOCAL/env"
chmod 600 "$LOCAL/env" "$LOCAL/webhook-secrets.key" 2>/dev/null || chmod 600 "$LOCAL/env"
say "env: wrote .local/env"

# --- f. Build -------------------------------------------------------------------------------------
say "build: npm run build"
npm run build --silent || die "npm run build failed"
for f in dist/main.js dist/cli.js; do
  [ -f "$f" ] || die "the build did not produce $f"
done

# --- g. Migrations --------------------------------------------------------------------------------
out="$(node dist/cli.js migrate)" || die "node dist/cli.js migrate failed"
say "migrate: $out"
