#!/usr/bin/env bash
# yamllint, ansible-lint at the production profile (config in .ansible-lint), the role READMEs
# against what aar-doc generates from each role's meta/argument_specs.yml, and the changelog
# fragments (antsibull-changelog lint).
source "$(dirname "$0")/env.sh"
.venv/bin/yamllint -s .
.venv/bin/ansible-lint

stale=()
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for role in roles/*/; do
  name=$(basename "$role")
  cp "$role/README.md" "$tmp/$name.md"
  .venv/bin/aar-doc --output-file "$tmp/$name.md" "$role" markdown >/dev/null
  cmp -s "$role/README.md" "$tmp/$name.md" || stale+=("$role/README.md")
done
if [ "${#stale[@]}" -gt 0 ]; then
  echo "role READMEs out of date with meta/argument_specs.yml: ${stale[*]} (run: make docs)" >&2
  exit 1
fi
.venv/bin/antsibull-changelog lint
