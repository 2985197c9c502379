#!/usr/bin/env bash
# The sliders' targets (issue 26) for shipped models, at both style scales
# and both output sizes, on photos that training did not use.
#
#   experiments/measure_shipped.sh HELD_OUT_PHOTOS VGG19_WEIGHTS STYLES_DIR [NAME...]
#
# HELD_OUT_PHOTOS: the monument_[a-c]* photos of ../shared/data/content,
# which no shipped model trained on. STYLES_DIR holds the paintings at full
# size (../shared/data/styles): the model folders' style.jpg is the training
# copy, too small for the 512 px scale. NAMEs default to every shipped model.
#
# For each model, experiments/adjustability.py runs four times:
# - the style's Grams at 256 px on its short side (the training scale) and
#   at 512 px on its long side (a scale people view at);
# - at 256 px output on PHOTOS (5) photos, and at 512 px on PHOTOS_512 (3)
#   with fewer alpha steps, since each photo costs four times as much.
# Results: experiments/results/<name>/targets/<scale>_<size>px/ and one table
# of the four, experiments/results/<name>/targets/README.md. About 12 min a
# model on a two-core AMD EPYC (Zen 4) with nothing else running.
set -euo pipefail

if [[ $# -lt 3 ]]; then
  echo "usage: $0 HELD_OUT_PHOTOS VGG19_WEIGHTS STYLES_DIR [NAME...]" >&2
  exit 2
fi
held_out=$1 vgg=$2 styles=$3
shift 3
names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(starry_night great_wave munch_scream kandinsky)
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
python=${PYTHON:-python}

for name in "${names[@]}"; do
  case $name in
    starry_night) style=van_gogh_starry_night.jpg ;;
    great_wave) style=hokusai_great_wave.png ;;
    munch_scream) style=munch_scream.jpg ;;
    kandinsky) style=kandinsky_composition_viii.png ;;
    *) echo "$0: no painting known for model $name" >&2; exit 2 ;;
  esac
  results="$repo/experiments/results/$name/targets"
  runs=()
  for size in 256 512; do
    if [[ $size == 256 ]]; then
      extra=(--max_images="${PHOTOS:-5}")
    else
      extra=(--max_images="${PHOTOS_512:-3}" --steps=6 --sweep_steps=3)
    fi
    for scale in short:256 long:512; do
      dir="$results/${scale/:/}_${size}px"
      echo "=== $name: style $scale, ${size} px"
      "$python" "$repo/experiments/adjustability.py" --model="$name" \
        --content="$held_out" --vgg_weights="$vgg" --style_image="$styles/$style" \
        --style_scale="$scale" --image_size="$size" "${extra[@]}" --output_dir="$dir"
      runs+=("$dir")
    done
  done
  "$python" "$repo/experiments/targets_table.py" "${runs[@]}" --output="$results/README.md"
done
