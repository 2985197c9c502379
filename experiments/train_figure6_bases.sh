#!/usr/bin/env bash
# Trains the base models that experiments/figure6.py compares the shipped
# adjustable starry_night with (the paper's Figure 6): Johnson et al.'s
# network (--model_type=base, no alpha) with fixed style weights w, one
# model per w, with the adjustable model's recipe, Eq. 8 loss normalization
# and step budget.
#
#   experiments/train_figure6_bases.sh CONTENT_DIR VGG19_WEIGHTS STYLES_DIR [OUT_DIR]
#
# Arguments as in experiments/train_shipped_models.sh: CONTENT_DIR the
# training photos (the shipped model used 49 photos of ../shared/data/content,
# the monument_[a-c]* ones held out for the experiments), VGG19_WEIGHTS the
# Keras VGG-19 weights file it was trained with
# (vgg19_normalized_notop.weights.h5), STYLES_DIR a folder holding
# van_gogh_starry_night.jpg. OUT_DIR (default runs/figure6) gets the runs.
#
# The recipe is starry_night's (train_shipped_models.sh, and the history in
# adjustable_style/models/starry_night/model.json), stage for stage, each
# stage a resume of the same --model_dir with --model_type=base
# --style_weights=w --loss_normalization=eq8 added:
# - from scratch into OUT_DIR/w_<w>_v1: 2400 steps at 128 px (batch 4,
#   XLA), to 2900 with --content_weight=3, to 4100 at 256 px (batch 2)
#   with --content_weight=2, then Eq. 8's EMAs frozen (--ema_decay=1) to
#   4700 at --content_weight=1, to 5800 and 6100 at 0.5;
# - warm-started from its own v1 model (--init_from; its EMAs are taken
#   over, the same style) into OUT_DIR/w_<w>: 700 steps at
#   --content_weight=0.15, to 1300 at 0.1, EMAs frozen.
# 7400 steps in all, as the adjustable model. --alpha_edge_probability is
# left out: it snaps sampled alphas to 0 or 1, and a base model samples no
# alpha (train.py refuses it for --model_type=base).
# The base's Eq. 8 weights come from its own EMAs (its losses at w), the
# adjustable model's from its losses over random alpha: the same
# normalization rule, not the same numbers.
#
# Then each model is stored in STORE (default
# experiments/figure6/starry_night) as <w folder>/model.keras with its
# weights stored as float16 (model_files.compact_keras_file, as the shipped
# models; it loads as float32), model.json (the record, every stage in its
# history and init_from) and train_commands.sh (the train.py commands run).
# A stage whose model.json already has its steps is skipped, so a rerun
# continues where it stopped.
#
# Cost on the two-core CPU the shipped model was trained on: its history
# records 9413 s (2.6 h) for the v1 stages and 3327 s (0.9 h) for the
# 1300 warm-started steps: about 3.5 h per base, 14 h for the four.
#
# Settings (environment): WEIGHTS (the w vectors, space-separated, default
# "1,0,0 0,1,0 0,0,1 1,1,1"), STORE, PYTHON (default python), and
# DRY_RUN=1: the same stages with 1 step each (1..6, then 1..2) at 32 and
# 64 px, saving every step, stored under OUT_DIR/store unless STORE is set:
#   DRY_RUN=1 WEIGHTS=1,0,0 experiments/train_figure6_bases.sh photos/ vgg19.weights.h5 styles/ /tmp/f6
#
# On a GPU with the JAX backend (a machine with JAX and no TensorFlow; see
# experiments/train_on_gpu.sh and the README's "Training on a GPU machine
# with JAX"): the same stages run with KERAS_BACKEND=jax (train.py then
# uses adjustable_style/backend_training: JAX compiles the step, and
# --mixed_precision picks the GPU's precision). Prepare .gpu/ here with
#   experiments/train_on_gpu.sh prepare vgg19.weights.h5 photos/ styles/van_gogh_starry_night.jpg
# then there, from the repository root with .gpu/ carried along:
#   python3 -m pip install -q --no-index --no-deps --target /tmp/site .gpu/wheels/*.whl  # if keras is missing
#   PYTHONPATH=/tmp/site KERAS_BACKEND=jax PYTHON=python3 \
#     experiments/train_figure6_bases.sh .gpu/content .gpu/vgg19.weights.h5 .gpu runs/figure6
# and bring experiments/figure6/starry_night/ back. The .gpu VGG weights
# are the float16-stored copy (a 3-digit rounding of the same weights);
# all stages of one base must run on one backend (their checkpoints
# differ). Not yet run on a GPU.
set -euo pipefail

if [[ $# -lt 3 ]]; then
  echo "usage: $0 CONTENT_DIR VGG19_WEIGHTS STYLES_DIR [OUT_DIR]" >&2
  exit 2
fi
content=$1
vgg=$2
styles=$3
out=${4:-runs/figure6}
here=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python}
style="$styles/van_gogh_starry_night.jpg"
if [[ ! -f $style ]]; then
  echo "$0: $style: no such file (STYLES_DIR must hold van_gogh_starry_night.jpg)" >&2
  exit 1
fi
read -r -a vectors <<< "${WEIGHTS:-1,0,0 0,1,0 0,0,1 1,1,1}"

# Stage targets (cumulative steps) and image sizes.
v1_steps=(2400 2900 4100 4700 5800 6100)
warm_steps=(700 1300)
small_size=128
large_size=256
save_small=200
save_large=100
log_every=50
if [[ ${DRY_RUN:-0} == 1 ]]; then
  v1_steps=(1 2 3 4 5 6)
  warm_steps=(1 2)
  small_size=32
  large_size=64
  save_small=1
  save_large=1
  log_every=1
  store=${STORE:-$out/store}
else
  store=${STORE:-$here/experiments/figure6/starry_night}
fi

common=(--style_image="$style" --content_images="$content" --vgg_weights="$vgg"
        --style_image_size=256 --log_every="$log_every" --verbose=2
        --model_type=base --loss_normalization=eq8)
small=(--image_size="$small_size" --batch_size=4 --save_every="$save_small")
large=(--image_size="$large_size" --batch_size=2 --save_every="$save_large"
       --mixed_precision)
warm=(--image_size="$large_size" --batch_size=2 --save_every="$save_large"
      --mixed_precision --ema_decay=1)

steps_done() {  # steps_done MODEL_DIR: the steps its model.json records (0 if none)
  "$python" -c 'import json, sys
try:
    print(int(json.load(open(sys.argv[1])).get("steps") or 0))
except (OSError, ValueError):
    print(0)' "$1/model.json"
}

stage() {  # stage MODEL_DIR STEPS WEIGHTS FLAGS...
  local dir=$1 steps=$2 w=$3
  shift 3
  if (( $(steps_done "$dir") >= steps )); then
    echo "== $dir: already at $steps steps, skipped"
    return
  fi
  local flags=("${common[@]}" --style_weights="$w" --model_dir="$dir"
               --train_steps="$steps" "$@")
  mkdir -p "$dir"
  { printf 'python train.py'; printf ' %q' "${flags[@]}"; echo; } >> "$dir/train_commands.sh"
  echo "== $dir: to $steps steps"
  "$python" "$here/train.py" "${flags[@]}"
}

for w in "${vectors[@]}"; do
  name="w_${w//,/_}"
  v1="$out/${name}_v1"
  final="$out/$name"
  stage "$v1" "${v1_steps[0]}" "$w" "${small[@]}" --jit_compile
  stage "$v1" "${v1_steps[1]}" "$w" "${small[@]}" --mixed_precision --content_weight=3
  stage "$v1" "${v1_steps[2]}" "$w" "${large[@]}" --content_weight=2
  stage "$v1" "${v1_steps[3]}" "$w" "${large[@]}" --ema_decay=1 --content_weight=1
  stage "$v1" "${v1_steps[4]}" "$w" "${large[@]}" --ema_decay=1 --content_weight=0.5
  stage "$v1" "${v1_steps[5]}" "$w" "${large[@]}" --ema_decay=1 --content_weight=0.5
  stage "$final" "${warm_steps[0]}" "$w" "${warm[@]}" --init_from="$v1" --content_weight=0.15
  stage "$final" "${warm_steps[1]}" "$w" "${warm[@]}" --content_weight=0.1

  # Store: float16-stored model.keras, the record, the commands.
  mkdir -p "$store/$name"
  source_dir=$(cd "$final" && pwd)
  target_dir=$(cd "$store/$name" && pwd)
  (cd "$here" && "$python" -c 'import sys
from adjustable_style import model_files
source, target = sys.argv[1], sys.argv[2]
model_files.compact_keras_file(source + "/model.keras", target + "/model.keras")
with open(source + "/model.json", "rb") as f:
    model_files.atomic_write_bytes(target + "/model.json", f.read())' \
    "$source_dir" "$target_dir")
  cat "$v1/train_commands.sh" "$final/train_commands.sh" > "$store/$name/train_commands.sh"
  echo "== stored $store/$name ($(du -h "$store/$name/model.keras" | cut -f1))"
done
echo "Now: python experiments/figure6.py --model=starry_night --content=HELD_OUT_PHOTOS/" \
  "--vgg_weights=$vgg --bases=$store"
