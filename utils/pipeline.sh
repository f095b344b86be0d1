# The modes shared by every run_<setting>.sh: sourced after the setting script has defined SETTING, TASK_IDS and
# a prepare_data function. Budget and paths come from environment variables (see usage below).

EXP_DIR=${EXP_DIR:-exp/$SETTING}
PROCESSED=${PROCESSED:-data/processed/$SETTING}
DEVICE=${DEVICE:-}
JOBS=${JOBS:-1}
SEED=${SEED:-2019}
EPOCHS=${EPOCHS:-100}
MTL_EPOCHS=${MTL_EPOCHS:-$EPOCHS}
WARMUP_EPOCHS=${WARMUP_EPOCHS:-1}
PRUNING_ITER=${PRUNING_ITER:-20}
FINAL_RATE=${FINAL_RATE:-0.1}
BATCH_SIZE=${BATCH_SIZE:-10}
HIDDEN_SIZE=${HIDDEN_SIZE:-200}
# One BiLSTM layer: the paper's CoNLL-2003 parameter counts (534k hard sharing) imply it, although the original
# run_conll03.sh passes --n_layer 2 (REFERENCE §4).
N_LAYER=${N_LAYER:-1}
DROPOUT=${DROPOUT:-0.5}
OPTIM=${OPTIM:-sgd(lr=0.1, momentum=0.9)}
SAMPLING=${SAMPLING:-proportional}
TRAIN_LIMIT=${TRAIN_LIMIT:-}
EVAL_LIMIT=${EVAL_LIMIT:-}
CRF=${CRF:-}
OVERWRITE=${OVERWRITE:-}
NAME=${NAME:-run-$(date +%Y%m%d-%H%M%S)}

usage() {
  cat <<USAGE
usage: bash run_$SETTING.sh MODE [ARG]
modes:
  prepare              raw data in \$DATA_DIR -> processed data in \$PROCESSED (word vectors: \$EMBEDDING)
  single [INIT]        Step 1 for every task (iterative magnitude pruning), rewinding to INIT if given
                       (a warmup's best.th) -> \$EXP_DIR/single/cp/<task_id>/, logs in \$EXP_DIR/single/log/
  warmup               multi-task warmup: hard sharing for \$WARMUP_EPOCHS epochs -> \$EXP_DIR/warmup/\$NAME/best.th
  masks [ROUNDS|auto]  Step 2: prepare-masks.sh $SETTING -> \$EXP_DIR/mtl/mask/
  mtl [MASKS]          Step 3: joint training of the subnets -> \$EXP_DIR/mtl/\$NAME/results.json
  all                  warmup -> single from the warmup -> masks -> mtl -> final table
environment (defaults): EXP_DIR=$EXP_DIR PROCESSED=$PROCESSED DEVICE=${DEVICE:-auto} JOBS=$JOBS SEED=$SEED
  EPOCHS=$EPOCHS MTL_EPOCHS=$MTL_EPOCHS WARMUP_EPOCHS=$WARMUP_EPOCHS PRUNING_ITER=$PRUNING_ITER FINAL_RATE=$FINAL_RATE
  BATCH_SIZE=$BATCH_SIZE HIDDEN_SIZE=$HIDDEN_SIZE N_LAYER=$N_LAYER DROPOUT=$DROPOUT OPTIM="$OPTIM" SAMPLING=$SAMPLING
  TRAIN_LIMIT=${TRAIN_LIMIT:-all} EVAL_LIMIT=${EVAL_LIMIT:-all} CRF=${CRF:-off} NAME=(unique per run) OVERWRITE=${OVERWRITE:-0}
USAGE
}

common_args() {
  ARGS=(--data_path "$PROCESSED" --seed "$SEED" --batch_size "$BATCH_SIZE" --hidden_size "$HIDDEN_SIZE"
        --n_layer "$N_LAYER" --dropout "$DROPOUT" --optim "$OPTIM")
  [ -n "$DEVICE" ] && ARGS+=(--device "$DEVICE")
  [ -n "$TRAIN_LIMIT" ] && ARGS+=(--train_limit "$TRAIN_LIMIT")
  [ -n "$EVAL_LIMIT" ] && ARGS+=(--eval_limit "$EVAL_LIMIT")
  [ -n "$CRF" ] && [ "$CRF" != 0 ] && ARGS+=(--crf)
  return 0
}

# fresh_dir DIR: refuse to reuse an existing output folder unless OVERWRITE=1 (then it is removed first).
fresh_dir() {
  if [ -e "$1" ]; then
    if [ "$OVERWRITE" = 1 ]; then rm -rf "$1"; else
      echo "error: $1 exists; set NAME to a new run name or OVERWRITE=1 to replace it" >&2; exit 1
    fi
  fi
}

run_single() {
  local init=${1:-} single=${SINGLE_DIR:-$EXP_DIR/single} pids=() names=() failed=0
  [ -n "$init" ] && [ ! -f "$init" ] && { echo "error: INIT_WEIGHTS $init does not exist" >&2; exit 1; }
  for id in "${TASK_IDS[@]}"; do fresh_dir "$single/cp/$id"; done
  mkdir -p "$single/log"
  common_args
  ARGS+=(--epochs "$EPOCHS" --pruning_iter "$PRUNING_ITER" --final_rate "$FINAL_RATE" --save_dir "$single")
  [ -n "$init" ] && ARGS+=(--init_weights "$init")
  for id in "${TASK_IDS[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
    echo "Step 1, task $id: log in $single/log/$id.log"
    python train_single.py "${ARGS[@]}" --task_id "$id" --exp_name "$id" >"$single/log/$id.log" 2>&1 &
    pids+=($!); names+=("$id")
  done
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      echo "error: Step 1 failed for task ${names[$i]}; see $single/log/${names[$i]}.log:" >&2
      tail -n 3 "$single/log/${names[$i]}.log" >&2; failed=1
    fi
  done
  [ "$failed" = 0 ] || exit 1
  grep -h "round" "$single"/log/*.log | grep -v "epoch" || true
}

run_warmup() {
  fresh_dir "$EXP_DIR/warmup/$NAME"
  common_args
  python train_mtl.py "${ARGS[@]}" --epochs "$WARMUP_EPOCHS" --sampling "$SAMPLING" \
    --save_dir "$EXP_DIR/warmup" --exp_name "$NAME"
}

run_masks() {
  EXP_DIR=$EXP_DIR bash prepare-masks.sh "$SETTING" "$@"
}

run_mtl() {
  local masks=${1:-$EXP_DIR/mtl/mask}
  fresh_dir "$EXP_DIR/mtl/$NAME"
  common_args
  python train_mtl.py "${ARGS[@]}" --epochs "$MTL_EPOCHS" --sampling "$SAMPLING" --masks_path "$masks" \
    --save_dir "$EXP_DIR/mtl" --exp_name "$NAME"
}

run_all() {
  fresh_dir "$EXP_DIR/warmup/$NAME"; fresh_dir "$EXP_DIR/mtl/$NAME"
  for id in "${TASK_IDS[@]}"; do fresh_dir "$EXP_DIR/single/cp/$id"; done
  echo "== multi-task warmup"; run_warmup
  echo "== Step 1: subnets from the warmup weights"; run_single "$EXP_DIR/warmup/$NAME/best.th"
  echo "== Step 2: choose the subnets"; run_masks auto
  echo "== Step 3: train the subnets jointly"; run_mtl
}

main() {
  local mode=${1:-}; shift || true
  case "$mode" in
    prepare) prepare_data ;;
    single) run_single "$@" ;;
    warmup) run_warmup ;;
    masks) run_masks "$@" ;;
    mtl) run_mtl "$@" ;;
    all) run_all ;;
    -h|--help|help) usage ;;
    *) usage >&2; echo "error: unknown mode '$mode'" >&2; exit 2 ;;
  esac
}
