#!/usr/bin/env bash
# Prints the modules of the workspace, one per line, in the order they are
# tested: the shared kit, each service of services.txt, then e2e and deploy.
set -euo pipefail
cd "$(dirname "$0")/.."
echo shared
while read -r name _; do
  case "$name" in ''|'#'*) continue ;; esac
  echo "$name"
done < services.txt
echo e2e
echo deploy
