#!/usr/bin/env bash
# Fine-tunes a shipped style on a CUDA GPU with the JAX backend, in under
# ten minutes of wall time, on a machine with JAX and no TensorFlow (and no
# network): 256 px crops, batch 8, bfloat16, starting from the shipped
# model (--init_from; its Eq. 8 weights are taken over for the same style
# image and frozen with --ema_decay=1, as in its last stages in
# experiments/train_shipped_models.sh).
#
# Two steps, since the GPU machine reaches nothing outside itself:
#
#   experiments/train_on_gpu.sh prepare VGG19_WEIGHTS CONTENT_DIR STYLE_IMAGE
#       here: writes .gpu/ (git-ignored, about 50 MB): the VGG-19 weights
#       stored as float16 (half the bytes; Keras loads them as float32),
#       the content photos, the style image, and wheels of keras and the
#       packages it needs that the GPU image lacks (pip download).
#   experiments/train_on_gpu.sh
#       there, from the repository root, with .gpu/ carried along: checks
#       what python3 has, installs only the missing ones from .gpu/wheels,
#       trains, and copies model.keras + model.json to $OUT (default
#       runs/gpu_out). TensorFlow loads, ships and exports that model.
#
# Settings (environment): MODEL (shipped model to start from, default
# starry_night), STEPS (3000), IMAGE_SIZE (256), BATCH (8), SAVE_EVERY
# (500), CONTENT_WEIGHT (0.1), EDGE (alpha edge probability, 0.75),
# MAX_SECONDS (480: the run is stopped there with SIGTERM, and keeps the
# model of its last save), PYTHON (python3), KERAS_BACKEND (jax). On a CPU,
# for a dry run: STEPS=2 IMAGE_SIZE=64 BATCH=2 SAVE_EVERY=1.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
gpu="$here/.gpu"
python=${PYTHON:-python3}

if [[ ${1:-} == prepare ]]; then
  if [[ $# -ne 4 ]]; then
    echo "usage: $0 prepare VGG19_WEIGHTS CONTENT_DIR STYLE_IMAGE" >&2
    exit 2
  fi
  rm -rf "$gpu.tmp" && mkdir -p "$gpu.tmp/content" "$gpu.tmp/wheels"
  (cd "$here" && "$python" -c "import sys
from adjustable_style import model_files
model_files.compact_weights_file(sys.argv[1], sys.argv[2])" \
    "$2" "$gpu.tmp/vgg19.weights.h5")
  cp "$3"/* "$gpu.tmp/content/"
  cp "$4" "$gpu.tmp/"
  # Pure Python except optree; the GPU image's python is 3.12.
  version=$("$python" -c "import keras; print(keras.__version__)")
  "$python" -m pip download -q --no-deps --only-binary=:all: \
    --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d "$gpu.tmp/wheels" \
    "keras==$version" namex optree
  rm -rf "$gpu" && mv "$gpu.tmp" "$gpu"
  du -sh "$gpu"
  exit 0
fi

out=${OUT:-$here/runs/gpu_out}
mkdir -p "$out"
export KERAS_BACKEND=${KERAS_BACKEND:-jax}

# Only what is missing comes from the carried wheels.
missing=()
for module in keras:keras namex:namex optree:optree; do
  "$python" -c "import ${module%%:*}" 2>/dev/null || missing+=("${module##*:}")
done
if (( ${#missing[@]} )); then
  echo "installing from .gpu/wheels: ${missing[*]}"
  wheels=()
  for name in "${missing[@]}"; do wheels+=("$gpu"/wheels/"$name"-*.whl); done
  "$python" -m pip install -q --no-index --no-deps --no-compile \
    --no-cache-dir --target /tmp/site "${wheels[@]}"
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
for module in keras h5py jax PIL absl numpy; do
  "$python" -c "import $module" || { echo "$0: $python has no $module" >&2; exit 1; }
done
"$python" -c "import jax, keras; print('keras', keras.__version__, 'on', keras.backend.backend(), jax.devices())"

shopt -s nullglob
styles=("$gpu"/*.jpg "$gpu"/*.jpeg "$gpu"/*.png "$gpu"/*.webp)
if (( ! ${#styles[@]} )); then
  echo "$0: no style image in $gpu; run '$0 prepare ...' first" >&2
  exit 1
fi
style=${styles[0]}
model_dir=${MODEL_DIR:-/tmp/train_on_gpu}
status=0
cd "$here"
timeout --signal=TERM "${MAX_SECONDS:-480}" "$python" train.py \
  --style_image="$style" --content_images="$gpu/content" \
  --vgg_weights="$gpu/vgg19.weights.h5" --model_dir="$model_dir" \
  --init_from="${MODEL:-starry_night}" --train_steps="${STEPS:-3000}" \
  --image_size="${IMAGE_SIZE:-256}" --style_image_size=256 \
  --batch_size="${BATCH:-8}" --mixed_precision --ema_decay=1 \
  --content_weight="${CONTENT_WEIGHT:-0.1}" \
  --alpha_edge_probability="${EDGE:-0.75}" \
  --save_every="${SAVE_EVERY:-500}" --log_every=100 --verbose=2 || status=$?
# 124: stopped at MAX_SECONDS; the model of its last save stands.
if [[ $status -ne 0 && $status -ne 124 ]]; then
  exit "$status"
fi
cp "$model_dir/model.keras" "$model_dir/model.json" "$out/"
echo "wrote $out/model.keras"
