#!/usr/bin/env bash
# The runs behind docs/results-fashion-mnist.md's results table, on the full Fashion-MNIST (Debian dataset-fashion-mnist),
# then `harmonium report` over them into RESULTS.md and RESULTS.html. Two lanes of one-thread runs share a 2-core machine; the
# two-worker checks run last, alone. A run whose summary.json exists is kept, so an interrupted
# script continues where it stopped. About 45 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-results}
h() { node cli/harmonium.mjs "$@"; }

run() {
  local dir=$out/$1
  shift
  if [[ -f $dir/summary.json ]]; then
    echo "kept $dir"
    return
  fi
  echo "training $dir: harmonium train $*"
  mkdir -p "$dir"
  h train "$@" --out "$dir" >"$dir.log" 2>&1
}

lane_a() {
  run deep-ae/rbm-pretrained --model deep-ae --pretrain-epochs 10 --epochs 20 --threads 1
  run deep-ae/random-init --model deep-ae --pretrain none --epochs 20 --threads 1
  run deep-ae/2d-rbm-pretrained --model deep-ae --code 2 --pretrain-epochs 10 --epochs 20 --threads 1
  run stacked-ae --model stacked-ae --epochs 5 --threads 1
  run dbn --model dbn --epochs 10 --threads 1
  run vae --model vae --epochs 10 --threads 1
  run rbm --model rbm --epochs 10 --threads 1
  run ae --model ae --layers 500,250,30 --epochs 10 --threads 1
}

lane_b() {
  run dcgan --model dcgan --epochs 3 --batch-size 64 --threads 1
  run gan --model gan --epochs 15 --batch-size 64 --threads 1
  run conv-ae --model conv-ae --epochs 5 --threads 1
  run seq2seq-ae --model seq2seq-ae --epochs 2 --threads 1
}

lane_a &
a=$!
lane_b &
b=$!
wait $a
wait $b

# Each new model with two workers (one thread each) on the first 10,000 images.
run workers-2/stacked-ae --model stacked-ae --workers 2 --limit 10000 --epochs 1
run workers-2/deep-ae --model deep-ae --workers 2 --limit 10000 --pretrain-epochs 1 --epochs 1
run workers-2/dbn --model dbn --workers 2 --limit 10000 --epochs 1
run workers-2/gan --model gan --workers 2 --limit 10000 --epochs 1 --batch-size 64
run workers-2/dcgan --model dcgan --workers 2 --limit 10000 --epochs 1 --batch-size 64

# RESULTS.md / RESULTS.html beside README.md; the table of docs/results-fashion-mnist.md ("Every model
# of the lecture, side by side") is this one.
h report "$out" --out RESULTS --figures \
  sse_per_image,pca_sse_per_image,probe_accuracy,finetune_accuracy,finetune_random_init_accuracy,neg_elbo_nats,ais_log_likelihood_nats,classifier_frechet_distance,sample_class_coverage,sample_class_entropy_bits
