#!/usr/bin/env bash
# Lint the GitHub Actions configuration: actionlint, then zizmor (offline, "auditor" persona:
# every finding, false positives included). Any finding fails; the only accepted findings are
# those explained inline with a `# zizmor: ignore[<audit>]` comment next to a reason.
#   usage: tools/lint_workflows.sh [REPO_ROOT]   (default: this repository; tools from .venv/bin, else PATH)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${BIN:-$here/.venv/bin}"
cd "${1:-$here}"

tool() {
    if [[ -x "$BIN/$1" ]]; then echo "$BIN/$1"
    elif command -v "$1" >/dev/null; then command -v "$1"
    else echo "lint_workflows: '$1' is not installed (pip install -e '.[dev]' installs it)" >&2; return 1
    fi
}
actionlint="$(tool actionlint)"
zizmor="$(tool zizmor)"

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
if [[ ${#workflows[@]} -eq 0 ]]; then
    echo "lint_workflows: no workflows under .github/workflows" >&2
    exit 1
fi

echo "actionlint: ${workflows[*]}"
# Reads .github/actionlint.yaml (the GPU runner's custom label).
status=0
"$actionlint" -no-color "${workflows[@]}" || status=1

inputs=(.github/workflows)
[[ -f .github/dependabot.yml ]] && inputs+=(.github/dependabot.yml)
echo "zizmor --offline --persona auditor: ${inputs[*]}"
# --offline: no GitHub API (no network here); exit status is non-zero on any finding.
"$zizmor" --offline --persona auditor --no-progress --color never "${inputs[@]}" || status=1
if [[ $status -ne 0 ]]; then
    echo "lint_workflows: findings above (fix them, or explain an accepted one inline)" >&2
    exit 1
fi
echo "lint_workflows: no findings"
