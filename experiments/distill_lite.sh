#!/usr/bin/env bash
# Distills a lite adjustable stylizer from a trained one, then measures it
# against its teacher (issue 31's targets) on held-out photos.
#
#   experiments/distill_lite.sh TEACHER TRAIN_PHOTOS VGG19_WEIGHTS OUT_DIR [HELD_OUT_PHOTOS]
#
# TEACHER: a shipped name (starry_night), a run folder or a .keras file; its
# style layers and style image are kept. The student is --architecture=lite
# (docs/speed.md, "The lite stylizer"), trained on the teacher's outputs over
# alphas drawn with the cube's faces and corners (--alpha_edge_probability),
# with an L1 pixel loss and a VGG feature loss at the content layer.
# STEPS (1100) steps at SIZE (256) px crops, batch BATCH (4), bfloat16: about
# 1.8 s a step, 33 min, on a two-core AMD EPYC with AVX512_BF16 with nothing
# else running. That is an estimate: a step is about 530 GFLOP (the teacher's
# pass, the student's pass and gradient, VGG to the content layer on both
# outputs and back through the student's), 1.35 times the 392 GFLOP of the
# paper's training step at 256 px, batch 2, which takes 1.31 s there
# (docs/speed.md); the steps measured here ran on a loaded machine
# (docs/training.md, "Distilling a lite model").
# The run resumes where it stopped if started again with the same OUT_DIR.
#
# Then, with HELD_OUT_PHOTOS: experiments/adjustability.py on the student and
# on the teacher (style ratios, single-layer outputs), and
# experiments/lite_measures.py (PSNR against the teacher on a grid of alphas at
# SIZES, the single-layer differences and style ratios against the
# teacher's, side_by_side.png), into OUT_DIR/measures/.
# STEPS, BATCH, SIZE, SIZES, PHOTOS and MIXED override the defaults (a quick
# trial: STEPS=20 SIZE=64 SIZES=64,128 PHOTOS=2).
set -euo pipefail

if [[ $# -lt 4 ]]; then
  echo "usage: $0 TEACHER TRAIN_PHOTOS VGG19_WEIGHTS OUT_DIR [HELD_OUT_PHOTOS]" >&2
  exit 2
fi
teacher=$1 train=$2 vgg=$3 out=$4 held_out=${5:-}
steps=${STEPS:-1100} batch=${BATCH:-4} size=${SIZE:-256}
sizes=${SIZES:-256,512} photos=${PHOTOS:-0} mixed=${MIXED:-true}
cd "$(dirname "$0")/.."

python train.py --teacher="$teacher" --architecture=lite \
  --content_images="$train" --vgg_weights="$vgg" --model_dir="$out/student" \
  --train_steps="$steps" --batch_size="$batch" --image_size="$size" \
  --learning_rate=1e-3 --alpha_edge_probability=0.5 --feature_weight=1 \
  --mixed_precision="$mixed" --save_every=100 --log_every=20 --verbose=2

if [[ -z $held_out ]]; then
  echo "no HELD_OUT_PHOTOS: the student is in $out/student, not measured"
  exit 0
fi
measures=$out/measures
# Both measured against the one style image: the one the student was
# trained beside (the teacher's style.jpg, as train.py found it).
style=$(python -c "import os, sys; from adjustable_style import model_files as m
print(os.path.join(os.path.dirname(m.resolve_model_path(sys.argv[1])), m.STYLE_THUMBNAIL))" \
  "$teacher")
for who in student teacher; do
  model=$out/student
  [[ $who == teacher ]] && model=$teacher
  python experiments/adjustability.py --model="$model" --content="$held_out" \
    --style_image="$style" --vgg_weights="$vgg" --image_size="${sizes%%,*}" \
    --max_images="$photos" --output_dir="$measures/adjustability_$who"
done
python experiments/lite_measures.py --model="$out/student" --teacher="$teacher" \
  --content="$held_out" --vgg_weights="$vgg" --sizes="$sizes" --max_images="$photos" \
  --student_results="$measures/adjustability_student/results.json" \
  --teacher_results="$measures/adjustability_teacher/results.json" \
  --output_dir="$measures"
