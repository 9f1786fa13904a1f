#!/usr/bin/env bash
# Does diffrl-eval speak openpi's websocket policy protocol as openpi's own code does?
#
# openpi-client 0.1.2 pins numpy < 2 (diffrl-eval runs numpy 2), so it gets an environment
# of its own. The script then
#   (a) serves a small trained tiny-vla with `diffrl-eval serve` and talks to it with
#       openpi-client's WebsocketClientPolicy: the metadata, a chunk of the declared shape,
#       the same chunk for the same seeded request, GET /healthz; the chunk must equal, bit
#       for bit, what diffrl-eval's own client and the model in this process compute;
#   (b) runs a scripted policy server built on openpi-client's msgpack_numpy + websockets
#       and evaluates it with `diffrl-eval vla eval --policy-server` twice (both results
#       complete, the same actions), then once with a key mapping the policy cannot read
#       (its traceback must come back as one line, exit code 2, nothing written).
#
# usage: tests/policy_server_interop/verify.sh
# environment:
#   PYTHON         interpreter with diffrl-eval installed (default: python3)
#   OPENPI_VENV    where openpi-client's environment is built or reused
#                  (default: ${XDG_CACHE_HOME:-~/.cache}/diffrl-eval/openpi-client-<version>)
#   KEEP_WORK=1    keep the checkpoint, results and logs
#
# Needs a GL backend (EGL or OSMesa) for the camera images of part (b).
set -euo pipefail

OPENPI_CLIENT_VERSION=0.1.2
# its websocket client imports typing_extensions, which 0.1.2 does not declare
DEPS=("openpi-client==$OPENPI_CLIENT_VERSION" "numpy<2" "typing-extensions")
TASK=spatial_left_cube_on_plate

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PY=${PYTHON:-python3}
VENV=${OPENPI_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/diffrl-eval/openpi-client-$OPENPI_CLIENT_VERSION}
STAMP="$VENV/.diffrl-eval-deps"

if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "${DEPS[*]}" ]]; then
  echo "== building openpi-client's environment in $VENV"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet "${DEPS[@]}"
  echo "${DEPS[*]}" > "$STAMP"
fi
"$VENV/bin/python" -c "import importlib.metadata as m; print('== openpi-client', m.version('openpi-client'), '| numpy', m.version('numpy'), '| websockets', m.version('websockets'), '| msgpack', m.version('msgpack'))"

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [[ "${KEEP_WORK:-}" == 1 ]]; then echo "== work folder (kept): $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

wait_for() {  # wait_for FILE PATTERN SECONDS
  for _ in $(seq "$3"); do
    if [[ -s "$1" ]] && grep -q "$2" "$1"; then return 0; fi
    sleep 1
  done
  echo "timed out waiting for '$2' in $1:"; cat "$1"; return 1
}

cd "$REPO"
echo "== training a small tiny-vla on simulated teleoperation"
"$PY" -m diffrl_eval generate --source human --task "$TASK" --task spatial_right_cube_in_bowl \
  --episodes 2 --seed 0 --out "$WORK/data" > /dev/null
cat > "$WORK/tiny.json" <<'JSON'
{"preset": "quick", "hidden_dim": 32, "trunk_blocks": 1, "train_steps": 20, "batch_size": 32,
 "chunk_size": 4, "executed_steps": 4, "max_objects": 4, "head": "diffusion",
 "diffusion_train_steps": 20, "denoising_steps": 3}
JSON
"$PY" -m diffrl_eval vla train --data "$WORK/data" --out "$WORK/ckpt" --hparams "$WORK/tiny.json" > /dev/null

echo "== (a) openpi-client's WebsocketClientPolicy against diffrl-eval serve"
"$PY" -m diffrl_eval serve --ckpt "$WORK/ckpt" --port 0 > "$WORK/serve.log" 2>&1 &
PIDS+=($!)
wait_for "$WORK/serve.log" "^serving" 180
head -1 "$WORK/serve.log"
URI=$(grep -o 'ws://[0-9.]*:[0-9]*' "$WORK/serve.log" | head -1)
INSTRUCTION=$("$PY" "$HERE/main_side.py" observation "$URI" "$WORK/ckpt" "$TASK" 11 "$WORK/obs.npz")
"$VENV/bin/python" "$HERE/openpi_client_check.py" "$URI" "$WORK/obs.npz" "$INSTRUCTION" 123456789 "$WORK/openpi-chunk.npy"
"$PY" "$HERE/main_side.py" same-chunk "$URI" "$WORK/ckpt" "$TASK" 11 123456789 "$WORK/openpi-chunk.npy"

echo "== (b) diffrl-eval vla eval --policy-server against a server on openpi-client's msgpack_numpy"
"$VENV/bin/python" "$HERE/openpi_scripted_server.py" "$WORK/port" "$WORK/scripted.json" > "$WORK/scripted.log" 2>&1 &
PIDS+=($!)
wait_for "$WORK/port" "[0-9]" 60
SCRIPTED="ws://127.0.0.1:$(cat "$WORK/port")"
EVAL=(vla eval --policy-server "$SCRIPTED" --suite tabletop-spatial --task "$TASK"
      --episodes-per-task 2 --executed-steps 5 --envs 2)
for run in 1 2; do
  "$PY" -m diffrl_eval "${EVAL[@]}" --json "$WORK/eval-$run.json" > "$WORK/eval-$run.log"
done
"$PY" "$HERE/main_side.py" evals "$WORK/scripted.json" \
  "$("$PY" -c "from diffrl_eval.envs.base import get_backend; print(get_backend('tabletop').task('$TASK').instruction)")" \
  "$WORK/eval-1.json" "$WORK/eval-2.json"

LIBERO_TASK=$("$PY" -c "
from diffrl_eval.envs.base import get_backend
backend = get_backend('libero')
task = backend.tasks('libero_spatial')[0].task_id
backend.make_env(task).close()
print(task)" 2>/dev/null || true)
if [[ -n "$LIBERO_TASK" ]]; then
  echo "== (b) the same server on LIBERO (libero_spatial, one episode, 224x224 cameras)"
  "$PY" -m diffrl_eval vla eval --policy-server "$SCRIPTED" --suite libero_spatial \
    --task "$LIBERO_TASK" --episodes-per-task 1 --executed-steps 5 \
    --json "$WORK/eval-libero.json" > "$WORK/eval-libero.log"
  "$PY" "$HERE/main_side.py" summary "$WORK/eval-libero.json"
else
  echo "== LIBERO is not installed here: the libero run is skipped"
fi

echo "== (b) a request the scripted policy cannot read: its traceback comes back as one line"
set +e
"$PY" -m diffrl_eval "${EVAL[@]}" --policy-keys agentview_image=observation/agentview \
  --json "$WORK/eval-bad.json" > /dev/null 2> "$WORK/eval-bad.err"
code=$?
set -e
cat "$WORK/eval-bad.err"
[[ $code == 2 && $(grep -c . "$WORK/eval-bad.err") == 1 && ! -e "$WORK/eval-bad.json" ]] \
  || { echo "expected one error line, exit code 2 and no result; got exit code $code"; exit 1; }
grep -q "^error: policy server $SCRIPTED answered with an error" "$WORK/eval-bad.err"
echo "== all policy-server interop checks passed"
