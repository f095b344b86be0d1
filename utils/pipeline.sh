# The modes shared by every run_<setting>.sh: sourced after the setting script has defined SETTING, TASK_IDS and
# a prepare_data function. Budget and paths come from environment variables (see usage below).

EXP_DIR=${EXP_DIR:-exp/$SETTING}
PROCESSED=${PROCESSED:-data/processed/$SETTING}
PROCESSED_PP=${PROCESSED_PP:-data/processed/conll03-pp}
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
  prepare              raw data (folders named at the top of run_$SETTING.sh) -> \$PROCESSED (vectors: \$EMBEDDING)
  single [INIT]        Step 1 for every task (iterative magnitude pruning), rewinding to INIT if given
                       (a warmup's best.th) -> \$EXP_DIR/single/cp/<task_id>/, logs in \$EXP_DIR/single/log/
  warmup               multi-task warmup: hard sharing for \$WARMUP_EPOCHS epochs -> \$EXP_DIR/warmup/\$NAME/best.th
  masks [ROUNDS|auto]  Step 2: prepare-masks.sh $SETTING -> \$EXP_DIR/mtl/mask/
  mtl [MASKS]          Step 3: joint training of the subnets -> \$EXP_DIR/mtl/\$NAME/results.json
  all                  warmup -> single from the warmup -> masks -> mtl -> final table
  baselines            every row of the paper's main table and the MTW ablation: all, then Step 1 from θ(0)
                       (\$EXP_DIR/single-nomtw; its round 0 is the single-task row) -> mtl/mask-nomtw ->
                       mtl/\$NAME-nomtw, and hard / soft / hierarchical sharing -> \$EXP_DIR/baselines/<kind>-\$NAME
  negative             negative transfer on NER + position prediction (\$PROCESSED_PP, from prepare-data.py
                       --type conll03-pp): Step 1 from θ(0), masks, sparse and hard sharing -> \$EXP_DIR/negative/
environment (defaults): EXP_DIR=$EXP_DIR PROCESSED=$PROCESSED PROCESSED_PP=$PROCESSED_PP DEVICE=${DEVICE:-auto} JOBS=$JOBS SEED=$SEED
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
      echo "error: $1 exists (an earlier run): choose another EXP_DIR or NAME, or set OVERWRITE=1 to replace it" >&2; exit 1
    fi
  fi
}

run_single() {
  local init=${1:-} single=${STEP1_DIR:-$EXP_DIR/single} pids=() names=() failed=0
  [ -n "$init" ] && [ ! -f "$init" ] && { echo "error: INIT_WEIGHTS $init does not exist" >&2; exit 1; }
  for id in "${TASK_IDS[@]}"; do fresh_dir "$single/cp/$id"; done
  mkdir -p "$single/log"
  # Tasks running side by side share the cores: give each its share of threads unless the user chose.
  [ "$JOBS" -gt 1 ] && export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( ($(nproc) + JOBS - 1) / JOBS ))}
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

# run_mtl [MASKS [SYSTEM]]: Step 3 into $EXP_DIR/mtl/$NAME; SYSTEM labels the run in results.json for report.py.
run_mtl() {
  local masks=${1:-$EXP_DIR/mtl/mask} system=${2:-sparse sharing}
  fresh_dir "$EXP_DIR/mtl/$NAME"
  common_args
  python train_mtl.py "${ARGS[@]}" --epochs "$MTL_EPOCHS" --sampling "$SAMPLING" --masks_path "$masks" \
    --save_dir "$EXP_DIR/mtl" --exp_name "$NAME" --system "$system"
}

# run_shared ARCH KIND: a mask-free multi-task baseline (hard: cnn-lstm, soft, hier: hier-lstm with POS on layer 1
# and the other tasks on layer 2) trained from θ(0) -> $EXP_DIR/baselines/KIND-$NAME.
run_shared() {
  local arch=$1 kind=$2
  fresh_dir "$EXP_DIR/baselines/$kind-$NAME"
  common_args
  echo "== baseline $kind-$NAME (--arch $arch)"
  python train_mtl.py "${ARGS[@]}" --arch "$arch" --epochs "$MTL_EPOCHS" --sampling "$SAMPLING" \
    --save_dir "$EXP_DIR/baselines" --exp_name "$kind-$NAME"
}

run_all() {
  fresh_dir "$EXP_DIR/warmup/$NAME"; fresh_dir "$EXP_DIR/mtl/$NAME"
  for id in "${TASK_IDS[@]}"; do fresh_dir "$EXP_DIR/single/cp/$id"; done
  echo "== multi-task warmup"; run_warmup
  echo "== Step 1: subnets from the warmup weights"; run_single "$EXP_DIR/warmup/$NAME/best.th"
  echo "== Step 2: choose the subnets"; run_masks auto
  echo "== Step 3: train the subnets jointly"; run_mtl
}

# run_nomtw: the MTW ablation's other arm: Step 1 from θ(0) -> masks -> Step 3, beside run_all's outputs.
run_nomtw() {
  echo "== Step 1 without MTW: subnets from θ(0) (round 0 = the single-task baseline)"
  STEP1_DIR=$EXP_DIR/single-nomtw run_single
  echo "== Step 2 without MTW"
  SINGLE_DIR=$EXP_DIR/single-nomtw/cp MASK_DIR=$EXP_DIR/mtl/mask-nomtw run_masks auto
  echo "== Step 3 without MTW"
  NAME=$NAME-nomtw run_mtl "$EXP_DIR/mtl/mask-nomtw" "sparse sharing (no MTW)"
}

run_baselines() {
  local dirs=("$EXP_DIR/warmup/$NAME" "$EXP_DIR/mtl/mask" "$EXP_DIR/mtl/$NAME" "$EXP_DIR/mtl/mask-nomtw"
              "$EXP_DIR/mtl/$NAME-nomtw" "$EXP_DIR/baselines/hard-$NAME" "$EXP_DIR/baselines/soft-$NAME"
              "$EXP_DIR/baselines/hier-$NAME")
  for id in "${TASK_IDS[@]}"; do dirs+=("$EXP_DIR/single/cp/$id" "$EXP_DIR/single-nomtw/cp/$id"); done
  for dir in "${dirs[@]}"; do fresh_dir "$dir"; done
  STEP1_DIR= SINGLE_DIR= MASK_DIR= run_all   # the default folders, whatever the caller exported
  run_nomtw
  run_shared cnn-lstm hard
  run_shared soft soft
  run_shared hier-lstm hier
  echo "== done: python report.py $SETTING --exp_dir $EXP_DIR"
}

# data_task_ids DIR: the task ids 0..T-1 of a processed data folder.
data_task_ids() {
  python -c 'import json, sys; print(*range(len(json.load(open(sys.argv[1]))["tasks"])))' "$1/meta.json"
}

# run_negative: NER + position prediction with the conll03 recipe minus MTW, so that Step 1's round 0 is the
# single-task baseline; in a subshell, as it swaps the data, the output root and the task list.
run_negative() {
  [ -f "$PROCESSED_PP/meta.json" ] || { echo "error: no processed conll03-pp data in $PROCESSED_PP; run" \
    "python prepare-data.py --type conll03-pp --dir data/conll03 --out $PROCESSED_PP [--embedding FILE]" >&2; exit 1; }
  (
    PROCESSED=$PROCESSED_PP EXP_DIR=$EXP_DIR/negative STEP1_DIR= SINGLE_DIR= MASK_DIR=
    read -ra TASK_IDS <<< "$(data_task_ids "$PROCESSED")"
    for dir in "$EXP_DIR/mtl/mask" "$EXP_DIR/mtl/$NAME" "$EXP_DIR/baselines/hard-$NAME"; do fresh_dir "$dir"; done
    for id in "${TASK_IDS[@]}"; do fresh_dir "$EXP_DIR/single/cp/$id"; done
    echo "== negative transfer, Step 1 from θ(0) (round 0 = single task)"; run_single
    echo "== negative transfer, Step 2"; run_masks auto
    echo "== negative transfer, sparse sharing"; run_mtl
    run_shared cnn-lstm hard
  )
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
    baselines) run_baselines ;;
    negative) run_negative ;;
    -h|--help|help) usage ;;
    *) usage >&2; echo "error: unknown mode '$mode'" >&2; exit 2 ;;
  esac
}
