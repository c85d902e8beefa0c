# Sourced by every script that runs the go command. The toolchain is go.work's
# `toolchain` line, which the go command fetches from the module proxy once
# per machine, whatever Go the machine has: one whose go.env says
# GOTOOLCHAIN=local would otherwise ignore that line and build with itself.
# A GOTOOLCHAIN already in the environment wins.
if [ -z "${GOTOOLCHAIN:-}" ]; then
  GOTOOLCHAIN=$(sed -n 's/^toolchain //p' "$(dirname "${BASH_SOURCE[0]}")/../go.work")
  export GOTOOLCHAIN
fi
