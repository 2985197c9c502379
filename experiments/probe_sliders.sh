#!/usr/bin/env bash
# Feed-forward probes for "why do two sliders barely move the picture?":
# short fine-tunes of the shipped starry_night model that each change one
# thing, then experiments/adjustability.py on held-out photos with the
# style measured at the training scale and at 512 px on its long side.
#
#   experiments/probe_sliders.sh TRAIN_PHOTOS HELD_OUT_PHOTOS VGG19_WEIGHTS STYLE_IMAGE [OUT_DIR] [PROBE...]
#
# TRAIN_PHOTOS: the training photos (the 49 of ../shared/data/content that
# are not monument_[a-c]*); HELD_OUT_PHOTOS: the monument_[a-c]* ones.
# Probes (default: all, in this order):
#   shipped  no training: the shipped model itself, measured the same way
#   control  the shipped model's last recipe, continued (the baseline)
#   layers   the sliders on block1_conv2, block3_conv4, block4_conv4
#   scale    the style's Grams at 512 px on its long side in training
#   faces    alpha snapped to the cube's corners and faces more often
# Every probe: STEPS (250) steps at 256 px, batch 2, bfloat16, content
# weight 0.1, loss EMAs tracked (decay 0.99), from the shipped model.
# Results: OUT_DIR/<probe>/model.keras and
# experiments/results/probes/<probe>/{training,long512}/results.md.
set -euo pipefail

if [[ $# -lt 4 ]]; then
  echo "usage: $0 TRAIN_PHOTOS HELD_OUT_PHOTOS VGG19_WEIGHTS STYLE_IMAGE [OUT_DIR] [PROBE...]" >&2
  exit 2
fi
train=$1 held_out=$2 vgg=$3 style=$4 out=${5:-runs/probes}
shift $(( $# < 5 ? $# : 5 ))
probes=("$@")
[[ ${#probes[@]} -gt 0 ]] || probes=(shipped control layers scale faces)
steps=${STEPS:-250}
photos=${PHOTOS:-6}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
python=${PYTHON:-python}

# The style's long side at 512 px, as a shorter side for --style_image_size.
long512=$("$python" -c "
from PIL import Image
w, h = Image.open('$style').size
print(round(512 * min(w, h) / max(w, h)))")

for probe in "${probes[@]}"; do
  extra=()
  model="$out/$probe"
  case $probe in
    shipped) model=starry_night ;;
    control) ;;
    layers) extra=(--style_layers=block1_conv2,block3_conv4,block4_conv4) ;;
    scale) extra=(--style_image_size="$long512") ;;
    faces) extra=(--alpha_edge_probability=0.9) ;;
    *) echo "unknown probe $probe" >&2; exit 2 ;;
  esac
  echo "=== $probe: ${extra[*]:-(the shipped recipe)}"
  [[ $probe == shipped ]] || "$python" "$repo/train.py" --style_image="$style" --content_images="$train" \
    --vgg_weights="$vgg" --model_dir="$out/$probe" --init_from=starry_night \
    --image_size=256 --batch_size=2 --mixed_precision --train_steps="$steps" \
    --save_every=50 --log_every=25 --verbose=2 --content_weight=0.1 \
    --alpha_edge_probability=0.75 --ema_decay=0.99 --style_image_size=256 \
    "${extra[@]}"
  for scale in training long:512; do
    "$python" "$repo/experiments/adjustability.py" --model="$model" \
      --content="$held_out" --vgg_weights="$vgg" --style_image="$style" \
      --max_images="$photos" --style_scale="$scale" \
      --output_dir="$repo/experiments/results/probes/$probe/${scale/:/}"
  done
done
