#!/bin/sh
# Container entrypoint: turns NAME_FILE variables into NAME for the secrets the app reads from the
# environment, so secrets arrive as mounted files (compose secrets, k8s Secret volumes) and never
# as image layers or `docker inspect`-visible values. Then runs the command as PID 1's child.
set -eu

for name in SLACK_BOT_TOKEN SLACK_SIGNING_SECRET SLACK_APP_TOKEN REDIS_URL WHY_BLOCKED_BOARD_PASSWORD; do
  file_var="${name}_FILE"
  eval "file=\${$file_var:-}"
  [ -n "$file" ] || continue
  eval "current=\${$name:-}"
  if [ -n "$current" ]; then
    echo "why-blocked-entrypoint: both $name and $file_var are set; unset one of them" >&2
    exit 2
  fi
  if [ ! -r "$file" ]; then
    echo "why-blocked-entrypoint: $file_var=$file is not a readable file; mount the secret there" >&2
    exit 2
  fi
  # Strip one trailing newline, as editors and `kubectl create secret --from-file` leave one.
  value=$(cat "$file")
  export "$name=$value"
  unset "$file_var"
done

exec "$@"
