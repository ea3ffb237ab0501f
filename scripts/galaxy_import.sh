#!/usr/bin/env bash
# Galaxy's importer (galaxy-importer, the tool Galaxy runs on every upload) on the tarball
# `ansible-galaxy collection build` makes: metadata, documentation of every plugin
# (ansible-doc), role READMEs, changelog, ansible-lint.  ansible-test is not run by it here
# (scripts/ansible_test.sh runs sanity and units itself, on the whole repository).
source "$(dirname "$0")/env.sh"
out=build/galaxy
rm -rf "$out"
mkdir -p "$out"
ansible-galaxy collection build --force --output-path "$out" >/dev/null
tarball=$(ls "$out"/npu-cluster-*.tar.gz)
cat > "$out/galaxy-importer.cfg" <<CFG
[galaxy-importer]
LOG_LEVEL_MAIN = INFO
RUN_ANSIBLE_TEST = False
RUN_ANSIBLE_LINT = True
RUN_ANSIBLE_DOC = True
CHECK_CHANGELOG = True
ANSIBLE_LOCAL_TMP = $PWD/$out/tmp
CFG
# (it writes importer_result.json into the directory it runs in)
(cd "$out" && GALAXY_IMPORTER_CONFIG="$PWD/galaxy-importer.cfg" \
  python -m galaxy_importer.main "$(basename "$tarball")") > "$out/import.log" 2>&1 || {
  cat "$out/import.log"; echo "galaxy-importer failed on $tarball" >&2; exit 1; }
# The importer exits 0 on warnings; an upload to Galaxy shows them to every user, so they fail here.
if grep -E "^(WARNING|ERROR)" "$out/import.log"; then
  echo "galaxy-importer reported the lines above for $tarball (full log: $out/import.log)" >&2
  exit 1
fi
tail -n 3 "$out/import.log"
