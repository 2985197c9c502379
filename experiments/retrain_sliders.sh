#!/usr/bin/env bash
# Fine-tunes the shipped models with what the slider probes showed
# (experiments/results/probes/README.md), then measures each on held-out
# photos at two style scales and two output sizes.
#
#   experiments/retrain_sliders.sh TRAIN_PHOTOS HELD_OUT_PHOTOS VGG19_WEIGHTS STYLES_DIR [OUT_DIR] [NAME...]
#
# TRAIN_PHOTOS: the 49 photos of ../shared/data/content that are not
# monument_[a-c]*; HELD_OUT_PHOTOS: the monument_[a-c]* ones. STYLES_DIR
# holds the paintings (../shared/data/styles). NAMEs (default: all four, in
# this order): starry_night, great_wave, munch_scream, kandinsky.
#
# The recipe, each part from a probe:
# - --style_image_size: the painting's long side at 512 px (the probe
#   "scale": the only change whose targets held at both style scales);
# - --alpha_edge_probability=0.9: one slider off with the others on is drawn
#   in 27% of the samples (the probe "faces": two sliders reached 10 levels);
# - --ema_decay=1: Eq. 8's weights stay the starting model's (tracked EMAs
#   lost alpha = 0 in every probe);
# - --zero_alpha_color_weight=0.1: the mean chroma at alpha = 0 held to the
#   photo's (the shipped models keep a 10-15 level tint there).
# Each starts from the shipped model of its style; kandinsky, a new
# painting, from the retrained starry_night (its EMAs start at its first
# batch and stay there).
# STEPS (600) steps each at 256 px, batch 2, bfloat16: about 20 min a model
# on a two-core AMD EPYC with AVX512_BF16, with nothing else running.
# Results: OUT_DIR/<name>/model.keras and experiments/results/sliders/<name>/
# {short256,long512,long512_512px}/ (adjustability.py at 256 px output on
# PHOTOS (5) photos with the style at 256 px short and 512 px long, then at
# 512 px output on PHOTOS_512 (3) photos).
set -euo pipefail

if [[ $# -lt 4 ]]; then
  echo "usage: $0 TRAIN_PHOTOS HELD_OUT_PHOTOS VGG19_WEIGHTS STYLES_DIR [OUT_DIR] [NAME...]" >&2
  exit 2
fi
train=$1 held_out=$2 vgg=$3 styles=$4 out=${5:-runs/sliders}
shift $(( $# < 5 ? $# : 5 ))
names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(starry_night great_wave munch_scream kandinsky)
steps=${STEPS:-600}
photos=${PHOTOS:-5}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
python=${PYTHON:-python}

for name in "${names[@]}"; do
  case $name in
    starry_night) style=van_gogh_starry_night.jpg init=starry_night ;;
    great_wave) style=hokusai_great_wave.png init=great_wave ;;
    munch_scream) style=munch_scream.jpg init=munch_scream ;;
    kandinsky) style=kandinsky_composition_viii.png init="$out/starry_night" ;;
    *) echo "unknown model $name" >&2; exit 2 ;;
  esac
  style="$styles/$style"
  # The style's long side at 512 px, as a shorter side for --style_image_size.
  long512=$("$python" -c "
from PIL import Image
w, h = Image.open('$style').size
print(round(512 * min(w, h) / max(w, h)))")
  echo "=== $name: from $init, style at $long512 px short side"
  "$python" "$repo/train.py" --style_image="$style" --content_images="$train" \
    --vgg_weights="$vgg" --model_dir="$out/$name" --init_from="$init" \
    --image_size=256 --batch_size=2 --mixed_precision --train_steps="$steps" \
    --save_every=100 --log_every=50 --verbose=2 --content_weight=0.1 \
    --alpha_edge_probability=0.9 --ema_decay=1 --zero_alpha_color_weight=0.1 \
    --style_image_size="$long512"
  results="$repo/experiments/results/sliders/$name"
  for scale in short:256 long:512; do
    "$python" "$repo/experiments/adjustability.py" --model="$out/$name" \
      --content="$held_out" --vgg_weights="$vgg" --style_image="$style" \
      --max_images="$photos" --style_scale="$scale" --image_size=256 \
      --output_dir="$results/${scale/:/}"
  done
  # 512 px output costs four times as much per photo: fewer photos and
  # alpha steps.
  "$python" "$repo/experiments/adjustability.py" --model="$out/$name" \
    --content="$held_out" --vgg_weights="$vgg" --style_image="$style" \
    --max_images="${PHOTOS_512:-3}" --steps=6 --sweep_steps=3 \
    --style_scale=long:512 --image_size=512 --output_dir="$results/long512_512px"
done
