#!/usr/bin/env bash
# Figure 6 at a matched budget: one adjustable model and base models for
# several w, trained from scratch with one recipe and one objective, so
# that base(w) minimizes exactly what the adjustable model meets at
# alpha = w. experiments/figure6.py then compares them (distances and
# loss parity).
#
#   experiments/train_figure6.sh CONTENT_DIR VGG19_WEIGHTS STYLE_IMAGE [OUT_DIR]
#
# CONTENT_DIR: the training photos, as train.py's --content_images takes
# them (a folder, a glob, or a comma-separated list of them). For
# starry_night's 49, the content set without the 17 monument_[a-c]* photos
# that stay held out for the measurement:
#   '../shared/data/content/[!m]*,../shared/data/content/monument_[!a-c]*'
# VGG19_WEIGHTS: the Keras VGG-19 weights
# file (vgg19_normalized_notop.weights.h5, the shipped models'), or
# "random" for the smoke test only; STYLE_IMAGE: the painting
# (van_gogh_starry_night.jpg). OUT_DIR (default runs/figure6_matched) gets
# the training runs.
#
# One objective for all. Eq. 8 divides each loss by its running mean
# (EMA), and a run's EMAs are its own: a base trained with w would see
# other constants than the adjustable model, so its w would weigh other
# losses than alpha = w does. Here the constants are measured once and
# then frozen for everyone:
# 1. calibration: an adjustable run from scratch, CALIBRATION_STEPS steps
#    with tracking EMAs (--ema_decay=0.99, the default); only its recorded
#    EMAs are used;
# 2. the adjustable model, from scratch, --loss_ema_from=<calibration>
#    --ema_decay=1: Eq. 8's factors fixed at the calibration's for all of
#    its STEPS steps;
# 3. one base per w, from scratch, --model_type=base --style_weights=w with
#    the same --loss_ema_from and --ema_decay=1.
# Then base(w)'s loss is content_weight * f_c * L_c + sum_l w_l f_l L_l,
# exactly the adjustable model's at alpha = w (model.json's loss_ema_from
# and ema show it; figure6.py checks it). Everything else is the same for
# all five: steps, image size, batch, learning rate, content weight,
# photos, seed, precision, initializer. alpha is drawn from U(0, 1), the
# paper's (ALPHA_EDGE_PROBABILITY=P for the shipped models' snapping; a
# base draws no alpha).
#
# Settings (environment, defaults in brackets): STEPS [2000],
# IMAGE_SIZE [192], BATCH [4], LEARNING_RATE [0.001], CONTENT_WEIGHT
# [0.25], SEED [0], CALIBRATION_STEPS [300], MIXED_PRECISION [1]
# (bfloat16 on a CPU with AVX512_BF16 or AMX, float16 on a GPU),
# WEIGHTS ["1,0,0 0,1,0 0,0,1 1,1,1"], ALPHA_EDGE_PROBABILITY [0],
# STORE [experiments/figure6/matched], PYTHON [python].
# CONTENT_WEIGHT 0.25 is an estimate, not a measurement: with EMAs frozen
# early in training the content term's factor is about twice the shipped
# model's, and 0.25 puts content against style at alpha = 1 near the
# 1 : 3.5 of the shipped starry_night (content weight 0.1 there).
#
# Cost, estimated from 1.5 s a step at 256 px, batch 2 on two idle Zen 4
# cores (bfloat16 with AVX512_BF16): about 1.7 s a step at 192 px, batch 4,
# so 2,000 steps about an hour per model, 5 hours for the calibration and
# five models. (On the same cores shared with other work, 20 calibration
# steps took 74 s, the first step's tracing included.) A stage whose model.json already has its
# steps is skipped, and an interrupted one resumes from its checkpoints:
# rerunning the script continues where it stopped.
#
# Stored in STORE, as figure6.py reads them:
#   STORE/adjustable/      model.keras (float16 weights), model.json, train_commands.sh
#   STORE/bases/w_1_0_0/   the same per base
#   STORE/calibration/     model.json and train_commands.sh (its EMAs; no model)
# then:
#   python experiments/figure6.py --model=STORE/adjustable --bases=STORE/bases \
#     --style_image=STYLE_IMAGE --content=HELD_OUT_PHOTOS/ --vgg_weights=VGG19_WEIGHTS \
#     --output_dir=experiments/results/figure6_matched
#
# DRY_RUN=1 prints the commands and runs nothing. SMOKE=1 runs the whole
# chain on tiny settings (3 steps, 2 for the calibration, 32 px, batch 2;
# STORE defaults to OUT_DIR/store), as the tests do:
#   SMOKE=1 WEIGHTS="1,0,0 0,1,0" experiments/train_figure6.sh photos/ random style.jpg /tmp/f6
set -euo pipefail

if [[ $# -lt 3 || $# -gt 4 ]]; then
  echo "usage: $0 CONTENT_DIR VGG19_WEIGHTS STYLE_IMAGE [OUT_DIR]" >&2
  exit 2
fi
content=$1
vgg=$2
style=$3
out=${4:-runs/figure6_matched}
here=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python}
dry_run=${DRY_RUN:-0}
# A plain path must exist; globs and lists are train.py's to check.
if [[ $content != *[\*\?\[,]* && ! -e $content ]]; then
  echo "$0: $content: no such file or folder (CONTENT_DIR)" >&2
  exit 1
fi
if [[ ! -f $style ]]; then
  echo "$0: $style: no such file (STYLE_IMAGE)" >&2
  exit 1
fi
if [[ $vgg != random && $vgg != imagenet && ! -f $vgg ]]; then
  echo "$0: $vgg: no such file (VGG19_WEIGHTS)" >&2
  exit 1
fi
read -r -a vectors <<< "${WEIGHTS:-1,0,0 0,1,0 0,0,1 1,1,1}"
if [[ ${#vectors[@]} -lt 2 ]]; then
  echo "$0: WEIGHTS needs at least two w vectors, got '${WEIGHTS:-}'" >&2
  exit 1
fi

steps=${STEPS:-2000}
calibration_steps=${CALIBRATION_STEPS:-300}
image_size=${IMAGE_SIZE:-192}
batch=${BATCH:-4}
save_every=250
log_every=50
if [[ ${SMOKE:-0} == 1 ]]; then
  steps=${STEPS:-3}
  calibration_steps=${CALIBRATION_STEPS:-2}
  image_size=${IMAGE_SIZE:-32}
  batch=${BATCH:-2}
  save_every=1
  log_every=1
  store=${STORE:-$out/store}
else
  store=${STORE:-$here/experiments/figure6/matched}
fi
for setting in steps calibration_steps image_size batch; do
  if ! [[ ${!setting} =~ ^[1-9][0-9]*$ ]]; then
    echo "$0: ${setting^^} must be a positive integer, got '${!setting}'" >&2
    exit 1
  fi
done

# The recipe every run shares.
common=(--content_images="$content" --vgg_weights="$vgg" --style_image="$style"
        --image_size="$image_size" --batch_size="$batch"
        --learning_rate="${LEARNING_RATE:-0.001}" --content_weight="${CONTENT_WEIGHT:-0.25}"
        --seed="${SEED:-0}" --save_every="$save_every" --log_every="$log_every" --verbose=2)
if [[ ${MIXED_PRECISION:-1} == 1 ]]; then
  common+=(--mixed_precision)
fi
calibration="$out/calibration"
frozen=(--loss_ema_from="$calibration" --ema_decay=1)

steps_done() {  # steps_done MODEL_DIR: the steps its model.json records (0 if none)
  "$python" -c 'import json, sys
try:
    print(int(json.load(open(sys.argv[1])).get("steps") or 0))
except (OSError, ValueError):
    print(0)' "$1/model.json"
}

stage() {  # stage MODEL_DIR STEPS FLAGS...: train.py into MODEL_DIR up to STEPS
  local dir=$1 target=$2
  shift 2
  local flags=("${common[@]}" --model_dir="$dir" --train_steps="$target" "$@")
  if [[ $dry_run == 1 ]]; then
    printf 'python train.py'; printf ' %q' "${flags[@]}"; echo
    return
  fi
  if (( $(steps_done "$dir") >= target )); then
    echo "== $dir: already at $target steps, skipped"
    return
  fi
  mkdir -p "$dir"
  { printf 'python train.py'; printf ' %q' "${flags[@]}"; echo; } >> "$dir/train_commands.sh"
  echo "== $dir: to $target steps"
  "$python" "$here/train.py" "${flags[@]}"
}

store() {  # store RUN_DIR TARGET_DIR [record-only]: float16 model.keras, model.json, commands
  local source=$1 target=$2 record_only=${3:-}
  if [[ $dry_run == 1 ]]; then
    echo "# store $source -> $target${record_only:+ (record only)}"
    return
  fi
  mkdir -p "$target"
  local source_dir target_dir
  source_dir=$(cd "$source" && pwd)
  target_dir=$(cd "$target" && pwd)
  (cd "$here" && "$python" -c 'import sys
from adjustable_style import model_files
source, target, record_only = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
if not record_only:
    model_files.compact_keras_file(source + "/model.keras", target + "/model.keras")
with open(source + "/model.json", "rb") as f:
    model_files.atomic_write_bytes(target + "/model.json", f.read())
with open(source + "/train_commands.sh", "rb") as f:
    model_files.atomic_write_bytes(target + "/train_commands.sh", f.read())' \
    "$source_dir" "$target_dir" "${record_only:+1}")
  echo "== stored $target"
}

stage "$calibration" "$calibration_steps"
store "$calibration" "$store/calibration" record-only
edge=()
if [[ -n ${ALPHA_EDGE_PROBABILITY:-} ]]; then
  edge=(--alpha_edge_probability="$ALPHA_EDGE_PROBABILITY")
fi
stage "$out/adjustable" "$steps" "${frozen[@]}" ${edge[@]+"${edge[@]}"}
store "$out/adjustable" "$store/adjustable"
for w in "${vectors[@]}"; do
  name="w_${w//,/_}"
  stage "$out/$name" "$steps" "${frozen[@]}" --model_type=base --style_weights="$w"
  store "$out/$name" "$store/bases/$name"
done
echo "Now: python experiments/figure6.py --model=$store/adjustable --bases=$store/bases" \
  "--style_image=$style --content=HELD_OUT_PHOTOS/ --vgg_weights=$vgg" \
  "--output_dir=experiments/results/figure6_matched"
