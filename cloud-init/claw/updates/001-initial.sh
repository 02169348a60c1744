#!/bin/bash
# 001-initial: the baseline. A new disk is seeded by boot.sh; nothing to migrate.
set -euo pipefail
echo "baseline, nothing to do"
