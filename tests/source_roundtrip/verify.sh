#!/usr/bin/env bash
# Do datasets written by the real tools read back with the same metrics?
#
# LeRobot's own writer (LeRobotDataset.create / add_frame / save_episode) writes one of our
# datasets as v3.0 (LeRobot 0.4.x) and as v2.1 (LeRobot 0.3.3), each in an environment of
# its own (LeRobot pins an older torch); robomimic's conventions are written by
# tests/dataset/source_fixtures.py. `diffrl-eval metrics` must then give the same paper metrics
# as for the dataset in this tool's format. Building the two LeRobot environments
# downloads several GB (torch); they are reused on later runs.
#
# usage: tests/source_roundtrip/verify.sh
# environment:
#   PYTHON           interpreter with diffrl-eval installed (default: python3)
#   VENVS            where the LeRobot environments are built or reused
#                    (default: ${XDG_CACHE_HOME:-~/.cache}/diffrl-eval)
#   TORCH_INDEX_URL  optional index for CPU builds of torch (https://download.pytorch.org/whl/cpu)
#   SYSTEM_TORCH=1   light environments instead: LeRobot without its dependencies in a venv
#                    that sees the interpreter's own torch (writing a dataset uses torch only
#                    to convert tensors), plus the few modules its dataset code imports
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PY=${PYTHON:-python3}
VENVS=${VENVS:-${XDG_CACHE_HOME:-$HOME/.cache}/diffrl-eval}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# the writer's imports work (LeRobot >= 0.4 and 0.3.x name the module differently)
CAN_WRITE="
try:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
except ModuleNotFoundError:
    from lerobot.common.datasets.lerobot_dataset import LeRobotDataset
"

build() {  # build VENV LEROBOT_VERSION TORCH_SPEC TORCHVISION_SPEC DATASETS_SPEC
  local venv=$1 version=$2 torch=$3 vision=$4 datasets=$5
  if [[ "${SYSTEM_TORCH:-}" == 1 ]]; then
    venv="$venv-system-torch"
    if ! "$venv/bin/python" -c "from lerobot.datasets.lerobot_dataset import LeRobotDataset" 2>/dev/null; then
      "$PY" -m venv --system-site-packages "$venv"
      "$venv/bin/pip" install --quiet --no-deps "lerobot==$version"
      "$venv/bin/pip" install --quiet "$datasets" jsonlines accelerate torchvision
    fi
    VENV_USED=$venv
    return
  fi
  VENV_USED=$venv
  if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c "$CAN_WRITE" 2>/dev/null; then
    echo "== building LeRobot $version's environment in $venv"
    "$PY" -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet --no-deps "lerobot==$version"
    if [[ -n "${TORCH_INDEX_URL:-}" ]]; then
      "$venv/bin/pip" install --quiet --index-url "$TORCH_INDEX_URL" "$torch" "$vision"
    else
      "$venv/bin/pip" install --quiet "$torch" "$vision"
    fi
    "$venv/bin/pip" install --quiet "$torch" "$vision" "$datasets" "huggingface-hub>=0.34" \
      "pyarrow" "pandas" "numpy" "pillow" "packaging" "jsonlines" "av" "draccus" "einops" \
      "accelerate"
  fi
}

cd "$REPO"
echo "== generating a small tabletop dataset"
"$PY" -m diffrl_eval generate --source human --task goal_open_drawer \
  --task spatial_left_cube_on_plate --episodes 4 --seed 3 --out "$WORK/ours"
"$PY" -m diffrl_eval metrics "$WORK/ours" --json "$WORK/ours.json" > /dev/null

for spec in "0.4.4 torch==2.10.0 torchvision==0.25.0 datasets==4.8.5 v30" \
            "0.3.3 torch==2.7.1 torchvision==0.22.1 datasets==3.6.0 v21"; do
  read -r version torch vision datasets tag <<< "$spec"
  venv="$VENVS/lerobot-$version-writer"
  build "$venv" "$version" "$torch" "$vision" "$datasets"
  echo "== LeRobot $version writes the dataset ($tag)"
  HF_HUB_OFFLINE=1 "$VENV_USED/bin/python" "$HERE/write_with_lerobot.py" "$WORK/ours" "$WORK/$tag" 20
  "$PY" -m diffrl_eval metrics "$WORK/$tag" --control-hz 20 --json "$WORK/$tag.json"
  "$PY" "$HERE/compare_metrics.py" "$WORK/ours.json" "$WORK/$tag.json"
done

echo "== robomimic HDF5 in robomimic's conventions"
"$PY" -c "import sys; from pathlib import Path; sys.path.insert(0, '.'); \
from tests.dataset.source_fixtures import write_robomimic; write_robomimic(Path('$WORK/ours'), Path('$WORK/robomimic'))"
"$PY" -m diffrl_eval metrics "$WORK/robomimic" --json "$WORK/robomimic.json" > /dev/null
"$PY" "$HERE/compare_metrics.py" "$WORK/ours.json" "$WORK/robomimic.json"
echo "== all read-backs match"
