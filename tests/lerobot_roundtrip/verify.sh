#!/usr/bin/env bash
# Does LeRobot itself load what `diffrl-eval export --format lerobot` writes?
#
# LeRobot pins an older torch than diffrl-eval, so it gets an environment of its own:
# LeRobot without its dependencies, plus only what loading a dataset needs (versions within
# LeRobot's own pins). The script then generates a small tabletop dataset with camera
# images, exports it (AV1 and H.264 videos), and runs roundtrip_check.py in LeRobot's
# environment: LeRobotDataset(repo_id, root=...) must give back every frame's action,
# state, task and flags, decode every video frame in place, serve action chunks, batch.
#
# usage: tests/lerobot_roundtrip/verify.sh
# environment:
#   PYTHON           interpreter with diffrl-eval installed (default: python3)
#   LEROBOT_VENV     where LeRobot's environment is built or reused
#                    (default: ${XDG_CACHE_HOME:-~/.cache}/diffrl-eval/lerobot-<version>)
#   TORCH_INDEX_URL  optional package index for CPU builds of torch/torchvision (PyTorch's
#                    own CPU index): a few hundred MB instead of the CUDA build's ~3 GB
#   KEEP_WORK=1      keep the generated and exported datasets
#
# Needs a GL backend for the camera images (EGL or OSMesa). Decoding is checked with
# LeRobot's "pyav" backend and, where FFmpeg's shared libraries are installed (Debian:
# apt-get install libavcodec59 libavformat59 libavutil57 libswscale6 libswresample4
# libavdevice59 libavfilter8), with "torchcodec", LeRobot's default.
set -euo pipefail

LEROBOT_VERSION=0.4.4
# What LeRobot 0.4.4's dataset loading imports, at versions inside its pins.
TORCH_DEPS=("torch==2.10.0" "torchvision==0.25.0")
DATASET_DEPS=(
  "torchcodec==0.10.0" "av==15.1.0" "datasets==4.8.5" "huggingface-hub==0.35.3"
  "accelerate==1.15.0" "packaging==25.0" "pandas" "pyarrow" "pillow" "numpy"
)

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PY=${PYTHON:-python3}
VENV=${LEROBOT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/diffrl-eval/lerobot-$LEROBOT_VERSION}
STAMP="$VENV/.diffrl-eval-deps"
WANT="lerobot==$LEROBOT_VERSION ${TORCH_DEPS[*]} ${DATASET_DEPS[*]} ${TORCH_INDEX_URL:-}"

if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "$WANT" ]]; then
  echo "== building LeRobot's environment in $VENV"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet --no-deps "lerobot==$LEROBOT_VERSION"
  if [[ -n "${TORCH_INDEX_URL:-}" ]]; then
    "$VENV/bin/pip" install --quiet --index-url "$TORCH_INDEX_URL" "${TORCH_DEPS[@]}"
  else
    "$VENV/bin/pip" install --quiet "${TORCH_DEPS[@]}"
  fi
  "$VENV/bin/pip" install --quiet "${DATASET_DEPS[@]}"
  echo "$WANT" > "$STAMP"
fi

WORK=$(mktemp -d)
if [[ "${KEEP_WORK:-}" == 1 ]]; then
  echo "== work folder (kept): $WORK"
else
  trap 'rm -rf "$WORK"' EXIT
fi

BACKENDS=(--backend pyav)
if "$VENV/bin/python" -c "from torchcodec.decoders import VideoDecoder" 2>/dev/null; then
  BACKENDS+=(--backend torchcodec)
else
  echo "== torchcodec cannot load FFmpeg's libraries here: checking the pyav backend only"
fi

cd "$REPO"
echo "== generating a small tabletop dataset with camera images"
"$PY" -m diffrl_eval generate --source human --task goal_open_drawer \
  --task spatial_left_cube_on_plate --episodes 3 --images --image-size 64 \
  --seed 7 --out "$WORK/human"
for codec in av1 h264; do
  echo "== export --format lerobot --video-codec $codec"
  "$PY" -m diffrl_eval export --format lerobot --video-codec "$codec" "$WORK/human" "$WORK/lerobot-$codec"
  echo "== LeRobotDataset loads the $codec export"
  HF_HUB_OFFLINE=1 SVT_LOG=1 "$VENV/bin/python" "$HERE/roundtrip_check.py" \
    "$WORK/human" "$WORK/lerobot-$codec" "${BACKENDS[@]}"
done
echo "== all LeRobot round trips passed"
