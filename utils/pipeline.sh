# The modes shared by every run_<setting>.sh: sourced after the setting script has defined SETTING, TASK_IDS (empty:
# the tasks of the processed data), DATA_HELP (its input variables, for help and errors) and a prepare_data
# function. Budget and paths come from environment variables (see usage below).

# The project's Python: $PYTHON, else the first python (or python3) on PATH.
if [ -z "${PYTHON:-}" ]; then
  if command -v python >/dev/null 2>&1; then PYTHON=python; else PYTHON=python3; fi
fi
# PROFILE: the budget defaults. paper (the default) is the paper's recipe. quick keeps its shape (every stage, the
# final kept fraction 10%, rounds at kept fractions of the paper's 20-round schedule: 100, 56.2, 31.6, 17.8, 10%)
# with 3 epochs per round and per joint run, each stopped early after 1 epoch without a better dev score, so that
# run_conll03.sh baselines on full CoNLL-2003 takes < 90 min on 2 CPU cores (README: the arithmetic). A variable
# set in the environment wins over its profile's value.
PROFILE=${PROFILE:-paper}
case "$PROFILE" in
  paper) PROFILE_VALUES="EPOCHS=100 PATIENCE=0 WARMUP_EPOCHS=1 PRUNING_ITER=20 FINAL_RATE=0.1 JOBS=1" ;;
  quick) PROFILE_VALUES="EPOCHS=3 PATIENCE=1 WARMUP_EPOCHS=1 PRUNING_ITER=4 FINAL_RATE=0.1 JOBS=3" ;;
  *) echo "error: PROFILE=$PROFILE: expected paper (the paper's recipe; the default) or quick (its shape on a" \
       "90-minute budget)" >&2; exit 2 ;;
esac
for PAIR in $PROFILE_VALUES; do
  KEY=${PAIR%%=*}
  [ -n "${!KEY:-}" ] || printf -v "$KEY" '%s' "${PAIR#*=}"
done
unset PAIR KEY
EXP_DIR=${EXP_DIR:-exp/$SETTING}
PROCESSED=${PROCESSED:-data/processed/$SETTING}
PROCESSED_PP=${PROCESSED_PP:-data/processed/conll03-pp}
DEVICE=${DEVICE:-}
DEVICES=${DEVICES:-}     # Step 1's devices, comma-separated (e.g. cuda:0,cuda:1); the other modes use the first
JOBS=${JOBS:-1}
SEED=${SEED:-2019}
EPOCHS=${EPOCHS:-100}
MTL_EPOCHS=${MTL_EPOCHS:-$EPOCHS}
PATIENCE=${PATIENCE:-0}
MTL_PATIENCE=${MTL_PATIENCE:-$PATIENCE}
CLIP_NORM=${CLIP_NORM:-0}   # joint runs: gradient-norm clipping besides the original's value clipping (0: off)
SEEDS=${SEEDS:-}
WARMUP_EPOCHS=${WARMUP_EPOCHS:-1}
PRUNING_ITER=${PRUNING_ITER:-20}
FINAL_RATE=${FINAL_RATE:-0.1}
BATCH_SIZE=${BATCH_SIZE:-10}
BATCHING=${BATCHING:-original}
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
CLAIMED=()        # output folders this invocation writes (fresh_dir): an interrupted run names them
MODE=             # the mode being run,
STAGE=            # the step of it running now,
INVOCATION=       # and the command line: for the interruption message
STOPPED=0         # how many processes the interruption stopped

usage() {
  cat <<USAGE
usage: bash run_$SETTING.sh MODE [ARG]
modes:
  prepare              raw data and vectors (below) -> \$PROCESSED; done once (OVERWRITE=1 prepares it again)
  single [INIT]        Step 1 for every task (iterative magnitude pruning), rewinding to INIT if given
                       (a warmup's best.th) -> \$EXP_DIR/single/cp/<task_id>/, logs in \$EXP_DIR/single/log/
  warmup               multi-task warmup: hard sharing for \$WARMUP_EPOCHS epochs -> \$EXP_DIR/warmup/\$NAME/best.th
  masks [ROUNDS|auto]  Step 2: prepare-masks.sh $SETTING -> \$EXP_DIR/mtl/mask/ (a different choice than the one
                       there needs OVERWRITE=1; runs of Step 3 keep copies of the masks they trained with)
  mtl [MASKS]          Step 3: joint training of the subnets -> \$EXP_DIR/mtl/\$NAME/results.json
  all                  warmup -> single from the warmup -> masks -> mtl -> a table of each task's test score:
                       Step 1 dense (round 0), Step 1 chosen subnet alone, Step 3 joint, and joint − dense
  baselines            every row of the paper's main table and the MTW ablation: all, then Step 1 from θ(0)
                       (\$EXP_DIR/single-nomtw; its round 0 is the single-task row) -> mtl/mask-nomtw ->
                       mtl/\$NAME-nomtw, and hard / soft / hierarchical sharing -> \$EXP_DIR/baselines/<kind>-\$NAME
$(negative_usage)
data for prepare (defaults):
$DATA_HELP
  EMBEDDING=${EMBEDDING:-(empty)}: GloVe text vectors (any dimension, .gz too; the paper's glove.6B.100d.txt is in
    glove.6B.zip from https://nlp.stanford.edu/projects/glove/); EMBEDDING= (empty) uses random vectors.
budget profile: PROFILE=$PROFILE (paper|quick); a variable set in the environment wins over its profile's value
  paper: the paper's recipe: EPOCHS=100 PATIENCE=0 WARMUP_EPOCHS=1 PRUNING_ITER=20 FINAL_RATE=0.1 JOBS=1
  quick: its shape on a budget (baselines on full CoNLL-2003 < 90 min on 2 CPU cores): EPOCHS=3 PATIENCE=1
         WARMUP_EPOCHS=1 PRUNING_ITER=4 FINAL_RATE=0.1 JOBS=3 (rounds at 100, 56.2, 31.6, 17.8, 10% kept)
  EPOCHS: per Step 1 round; MTL_EPOCHS: per joint run (default: EPOCHS); PATIENCE: stop a Step 1 round once dev
  has not improved for N epochs (0: off); MTL_PATIENCE: the same on the dev average of joint runs (default:
  PATIENCE; the warmup always trains WARMUP_EPOCHS). CLIP_NORM=N: joint runs also clip the gradient norm at N
  (0: off, the original's value clipping alone; run_ptb.sh sets 5 for its CRFs, whose summed losses diverge without).
seeds: SEEDS=${SEEDS:-(none)}: e.g. SEEDS=1,2,3 runs MODE once per seed, with SEED=s into EXP_DIR/seed<s>/ (same
  NAME); re-running resumes each seed; python report.py $SETTING then gives mean ± std over the seeds.
environment (defaults): PYTHON=$PYTHON EXP_DIR=$EXP_DIR PROCESSED=$PROCESSED PROCESSED_PP=$PROCESSED_PP
  DEVICE=${DEVICE:-auto} DEVICES=${DEVICES:-none} JOBS=$JOBS SEED=$SEED EPOCHS=$EPOCHS MTL_EPOCHS=$MTL_EPOCHS WARMUP_EPOCHS=$WARMUP_EPOCHS
  PATIENCE=$PATIENCE MTL_PATIENCE=$MTL_PATIENCE PRUNING_ITER=$PRUNING_ITER FINAL_RATE=$FINAL_RATE BATCH_SIZE=$BATCH_SIZE BATCHING=$BATCHING HIDDEN_SIZE=$HIDDEN_SIZE
  N_LAYER=$N_LAYER DROPOUT=$DROPOUT OPTIM="$OPTIM" SAMPLING=$SAMPLING TRAIN_LIMIT=${TRAIN_LIMIT:-all}
  EVAL_LIMIT=${EVAL_LIMIT:-all} CRF=${CRF:-off} NAME=(unique per run) OVERWRITE=${OVERWRITE:-0}
  PYTHON: the project's Python (default: the first python, else python3, on PATH), e.g. PYTHON=.venv/bin/python.
  BATCHING: training batches original (the original code's), bucket or random. JOBS: a positive integer, the
  Step 1 tasks trained at once (per device with DEVICES). DEVICES=cuda:0,cuda:1 (or cpu,cpu): Step 1's tasks are
  placed round-robin on them, JOBS at most per device; the other modes run on the first (DEVICE wins if set).
  NAME: letters, digits, '.', '_', '-' (no '/', no '..'). Re-running a mode with the same NAME and EXP_DIR resumes
  a stopped run from its last finished epoch and skips finished steps; OVERWRITE=1 starts afresh, deleting the
  run's folders (only inside EXP_DIR). Ctrl-C or SIGTERM stops every process of the run (exit 130 / 143).
USAGE
}

negative_usage() {
  if [ "$SETTING" = conll03 ]; then
    cat <<NEGATIVE
  negative             negative transfer on NER + position prediction (\$PROCESSED_PP, from prepare-data.py
                       --type conll03-pp): Step 1 from θ(0), masks, sparse and hard sharing -> \$EXP_DIR/negative/
NEGATIVE
  else
    echo "  (negative transfer is a CoNLL-2003 experiment: bash run_conll03.sh negative)"
  fi
}

# fail CODE MESSAGE...: one line on stderr, then exit.
fail() {
  echo "error: ${*:2}" >&2
  exit "$1"
}

# embedding_flags: EMB=(--embedding $EMBEDDING), () for EMBEDDING= (random vectors); a missing file is an error
# that says where to get the vectors.
embedding_flags() {
  EMB=()
  [ -n "$EMBEDDING" ] || return 0
  [ -f "$EMBEDDING" ] || fail 1 "EMBEDDING=$EMBEDDING: no such file. Download glove.6B.zip from" \
    "https://nlp.stanford.edu/projects/glove/ and unzip glove.6B.100d.txt into data/, or set EMBEDDING=/path/to/vectors.txt" \
    "(any GloVe text file), or EMBEDDING= for random vectors"
  EMB=(--embedding "$EMBEDDING")
}

# need_files VAR DIR WHAT FILE...: fail, naming VAR, DIR and what belongs there, unless DIR holds every FILE.
need_files() {
  local var=$1 dir=$2 what=$3 file
  shift 3
  for file in "$@"; do
    [ -f "$dir/$file" ] || fail 1 "$var=$dir has no $file: put $what there, or set $var=/path/to/it" \
      "(bash run_$SETTING.sh help lists the inputs; data/README.md says where to get them)"
  done
}

# need_data: the processed data of the training modes, else an error saying how to make it.
need_data() {
  [ -f "$PROCESSED/meta.json" ] || fail 1 "no processed data in PROCESSED=$PROCESSED: run 'bash run_$SETTING.sh" \
    "prepare' first; it reads: $(echo $DATA_HELP) (bash run_$SETTING.sh help)"
  if [ "${#TASK_IDS[@]}" -eq 0 ]; then
    read -ra TASK_IDS <<< "$(data_task_ids "$PROCESSED")"
  fi
}

# check_settings: reject a bad JOBS, NAME or PYTHON before anything runs or is written.
check_settings() {
  [[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || fail 2 "JOBS=$JOBS: expected a positive integer (tasks trained at once in Step 1)"
  if ! [[ "$NAME" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || [[ "$NAME" == *..* ]]; then
    fail 2 "NAME=$NAME: a run name is letters, digits, '.', '_' and '-', starting with a letter or digit, without '..'"
  fi
  [[ "$PATIENCE" =~ ^[0-9]+$ ]] || fail 2 "PATIENCE=$PATIENCE: expected a non-negative integer (epochs; 0: off)"
  [[ "$MTL_PATIENCE" =~ ^[0-9]+$ ]] || fail 2 "MTL_PATIENCE=$MTL_PATIENCE: expected a non-negative integer (epochs; 0: off)"
  [[ "$CLIP_NORM" =~ ^[0-9]+([.][0-9]+)?$ ]] || fail 2 "CLIP_NORM=$CLIP_NORM: expected a non-negative number (0: off)"
  if [ -n "$SEEDS" ]; then
    [[ "$SEEDS" =~ ^[0-9]+(,[0-9]+)*$ ]] ||
      fail 2 "SEEDS=$SEEDS: expected comma-separated non-negative integers, e.g. SEEDS=1,2,3"
    [ "$(tr , '\n' <<< "$SEEDS" | sed 's/^0*\(.\)/\1/' | sort | uniq -d)" = "" ] || fail 2 "SEEDS=$SEEDS: a seed is listed twice"
  fi
  command -v "$PYTHON" >/dev/null 2>&1 ||
    fail 2 "PYTHON=$PYTHON: no such command; set PYTHON to the project's Python (e.g. PYTHON=.venv/bin/python)"
}

common_args() {
  ARGS=(--resume --data_path "$PROCESSED" --seed "$SEED" --batch_size "$BATCH_SIZE" --batching "$BATCHING"
        --hidden_size "$HIDDEN_SIZE" --n_layer "$N_LAYER" --dropout "$DROPOUT" --optim "$OPTIM")
  if [ -n "$DEVICE" ]; then ARGS+=(--device "$DEVICE"); elif [ -n "$DEVICES" ]; then ARGS+=(--device "${DEVICES%%,*}"); fi
  [ -n "$TRAIN_LIMIT" ] && ARGS+=(--train_limit "$TRAIN_LIMIT")
  [ -n "$EVAL_LIMIT" ] && ARGS+=(--eval_limit "$EVAL_LIMIT")
  [ -n "$CRF" ] && [ "$CRF" != 0 ] && ARGS+=(--crf)
  return 0
}

# resolve PATH: the absolute path with symbolic links resolved, whether or not PATH exists.
resolve() {
  realpath -m -- "$1" 2>/dev/null || "$PYTHON" -c 'import os, sys; print(os.path.realpath(sys.argv[1]))' "$1"
}

# fresh_dir DIR: an output folder of this run. An existing one is kept: the training scripts resume a stopped run
# in it and leave a finished one alone (--resume). With OVERWRITE=1 it is removed first, and only when it lies
# inside EXP_DIR (after resolving links), so that no setting can make the run delete anything else.
fresh_dir() {
  local dir=$1 root target
  CLAIMED+=("$dir")
  [ -e "$dir" ] || [ -L "$dir" ] || return 0
  [ "$OVERWRITE" = 1 ] || return 0
  root=$(resolve "$EXP_DIR")
  target=$(resolve "$dir")
  [[ "$target" == "$root"/?* ]] ||
    fail 1 "OVERWRITE=1 would delete $dir ($target), which is not inside EXP_DIR=$root: remove it yourself"
  rm -rf -- "$dir"
}

# run_child CMD...: run CMD as a background job and wait for it. Bash runs a trap only once a foreground command
# has ended, but interrupts `wait` at once, so a signal reaches on_signal while CMD runs; CMD ignores the terminal's
# SIGINT (a background job), so it ends only when on_signal stops it, without a traceback.
run_child() {
  "$@" &
  wait "$!"
}

# descendants: the processes started by this script, its children's children included (one snapshot of the
# process table, leaving out the subshell that takes it, whose children are the ps and awk below).
descendants() {
  local self=$BASHPID
  ps -A -o pid=,ppid= | awk -v top=$$ -v self="$self" '
    { parent[$1] = $2 }
    END {
      below[top] = 1; grown = 1
      while (grown) {
        grown = 0
        for (p in parent) if (!(p in below) && (parent[p] in below) && p != self) { below[p] = 1; grown = 1 }
      }
      for (p in below) if (p != top) print p
    }'
}

# stop_children: SIGTERM to every process of the run, then SIGKILL to any still alive after 10 s; STOPPED = how
# many there were. (Not in a subshell: that would be one of the processes to stop.)
stop_children() {
  local pids tries=0
  pids=$(descendants)
  STOPPED=$(echo "$pids" | wc -w | tr -d ' ')
  [ -n "$pids" ] || return 0
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  # shellcheck disable=SC2086
  while kill -0 $pids 2>/dev/null && [ "$tries" -lt 100 ]; do sleep 0.1; tries=$((tries + 1)); done
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null || true
  wait 2>/dev/null || true
}

# on_signal NAME CODE: stop the whole run, say in one line what stopped and how to start it again, exit CODE.
on_signal() {
  local signal=$1 code=$2 during="" again="" dir written=()
  trap '' INT TERM HUP
  stop_children
  [ "$STAGE" = "$MODE" ] || during=" during '$STAGE'"
  for dir in "${CLAIMED[@]}"; do [ -e "$dir" ] && written+=("$dir"); done
  [ "${#written[@]}" -eq 0 ] || [[ " ${written[*]}" != *"$NAME"* ]] || again="NAME=$NAME "
  [ -z "$SEEDS" ] || again="SEEDS=$SEEDS $again"
  [ "$PROFILE" = paper ] || again="PROFILE=$PROFILE $again"
  echo "interrupted by SIG$signal$during: stopped '$INVOCATION' and its $STOPPED child process(es);" \
    "to resume it from its last finished epoch, re-run: ${again}$INVOCATION" >&2
  exit "$code"
}

# What run_single shows of a Step 1 log: the task line, every epoch's dev line, every round's result, resuming
# and 'nothing to do'. -o: from the match on, as an epoch line follows the progress bar's carriage returns.
STEP1_LINES='task [^ ]+ \(id [0-9]+\): .*|\[[^]]*\] round [0-9]+( epoch [0-9]+/[0-9]+: dev |: kept ).*|[^ ]+: (resuming|Step 1 of).*'

# run_single [INIT]: Step 1 for every task, JOBS at a time; each epoch's and each round's result line is shown as it
# is produced, the full output goes to $single/log/<task_id>.log.
run_single() {
  local init=${1:-} single=${STEP1_DIR:-$EXP_DIR/single} pids=() names=() id i message device slot slots
  local -a devices=() device_args=()
  local -A failed=() placed=() where=()
  [ -n "$init" ] && [ ! -f "$init" ] && fail 1 "INIT_WEIGHTS $init does not exist"
  for id in "${TASK_IDS[@]}"; do fresh_dir "$single/cp/$id"; done
  mkdir -p "$single/log"
  [ -n "$DEVICES" ] && IFS=, read -ra devices <<< "$DEVICES"
  slots=$(( JOBS * (${#devices[@]} > 0 ? ${#devices[@]} : 1) ))
  # Tasks running side by side share the cores: give each its share of threads unless the user chose.
  [ "$slots" -gt 1 ] && export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( ($(nproc) + slots - 1) / slots ))}
  common_args
  ARGS+=(--epochs "$EPOCHS" --patience "$PATIENCE" --pruning_iter "$PRUNING_ITER" --final_rate "$FINAL_RATE"
        --save_dir "$single")
  [ -n "$init" ] && ARGS+=(--init_weights "$init")
  for i in "${!TASK_IDS[@]}"; do
    id=${TASK_IDS[$i]} device="" slot=""
    if [ "${#devices[@]}" -gt 0 ]; then
      # Round-robin over DEVICES, at most JOBS tasks on a device at once.
      slot=$(( i % ${#devices[@]} )) device=${devices[$slot]}
      while [ "$(running_on "$slot")" -ge "$JOBS" ]; do wait -n || true; done
      device_args=(--device "$device")
    else
      while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
    fi
    echo "Step 1, task $id${device:+ on $device}: log in $single/log/$id.log"
    # The subshell's own stderr is dropped: when on_signal stops the task it would report "Terminated".
    (
      PYTHONUNBUFFERED=1 "$PYTHON" train_single.py "${ARGS[@]}" "${device_args[@]}" --task_id "$id" --exp_name "$id" 2>&1 |
        tee "$single/log/$id.log" | { grep --line-buffered -oE "$STEP1_LINES" || true; }
    ) 2>/dev/null &
    pids+=($!); names+=("$id"); placed[$!]=$slot; where[$!]=$device
  done
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      message=$(tail -n 1 "$single/log/${names[$i]}.log")
      failed[$message]+=" ${names[$i]}${where[${pids[$i]}]:+ (on ${where[${pids[$i]}]})}"
    fi
  done
  for message in "${!failed[@]}"; do
    echo "error: Step 1 failed for task${failed[$message]} (logs in $single/log/): $message" >&2
  done
  [ "${#failed[@]}" = 0 ] || exit 1
}

# running_on SLOT: how many Step 1 jobs started on the SLOT-th entry of DEVICES are still running (reads
# run_single's `placed`; DEVICES=cpu,cpu names one device twice, for two slots).
running_on() {
  local pid count=0
  for pid in "${!placed[@]}"; do
    [ "${placed[$pid]}" = "$1" ] && kill -0 "$pid" 2>/dev/null && count=$((count + 1))
  done
  echo "$count"
}

run_warmup() {
  fresh_dir "$EXP_DIR/warmup/$NAME"
  common_args
  run_child "$PYTHON" train_mtl.py "${ARGS[@]}" --clip_norm "$CLIP_NORM" --epochs "$WARMUP_EPOCHS" --sampling "$SAMPLING" \
    --save_dir "$EXP_DIR/warmup" --exp_name "$NAME"
}

run_masks() {
  run_child env PYTHON="$PYTHON" EXP_DIR="$EXP_DIR" SINGLE_DIR="${SINGLE_DIR:-}" MASK_DIR="${MASK_DIR:-}" \
    OVERWRITE="$OVERWRITE" bash prepare-masks.sh "$SETTING" "$@"
}

# run_mtl [MASKS [SYSTEM]]: Step 3 into $EXP_DIR/mtl/$NAME; SYSTEM labels the run in results.json for report.py.
run_mtl() {
  local masks=${1:-$EXP_DIR/mtl/mask} system=${2:-sparse sharing}
  fresh_dir "$EXP_DIR/mtl/$NAME"
  common_args
  run_child "$PYTHON" train_mtl.py "${ARGS[@]}" --clip_norm "$CLIP_NORM" --epochs "$MTL_EPOCHS" --patience "$MTL_PATIENCE" \
    --sampling "$SAMPLING" --masks_path "$masks" --save_dir "$EXP_DIR/mtl" --exp_name "$NAME" --system "$system"
}

# run_shared ARCH KIND: a mask-free multi-task baseline (hard: cnn-lstm, soft, hier: hier-lstm with POS on layer 1
# and the other tasks on layer 2) trained from θ(0) -> $EXP_DIR/baselines/KIND-$NAME.
run_shared() {
  local arch=$1 kind=$2
  fresh_dir "$EXP_DIR/baselines/$kind-$NAME"
  common_args
  step "baseline $kind-$NAME (--arch $arch)"
  run_child "$PYTHON" train_mtl.py "${ARGS[@]}" --clip_norm "$CLIP_NORM" --arch "$arch" --epochs "$MTL_EPOCHS" \
    --patience "$MTL_PATIENCE" --sampling "$SAMPLING" \
    --save_dir "$EXP_DIR/baselines" --exp_name "$kind-$NAME"
}

# run_prepare: the setting's prepare_data, unless $PROCESSED is complete already (OVERWRITE=1 prepares it again,
# replacing the old folder only once the new one is complete).
run_prepare() {
  PREPARE_FLAGS=()
  if [ -f "$PROCESSED/meta.json" ]; then
    if [ "$OVERWRITE" != 1 ]; then
      echo "$PROCESSED is prepared already; nothing to do (OVERWRITE=1 prepares it again)"
      return 0
    fi
    PREPARE_FLAGS=(--overwrite)
  fi
  prepare_data
}

# step TEXT: announce a step of a multi-step mode (and remember it for the interruption message).
step() {
  STAGE=$1
  echo "== $1"
}

run_all() {
  local id
  fresh_dir "$EXP_DIR/warmup/$NAME"; fresh_dir "$EXP_DIR/mtl/$NAME"
  for id in "${TASK_IDS[@]}"; do fresh_dir "$EXP_DIR/single/cp/$id"; done
  step "multi-task warmup"; run_warmup
  step "Step 1: subnets from the warmup weights"; run_single "$EXP_DIR/warmup/$NAME/best.th"
  step "Step 2: choose the subnets"; run_masks auto
  step "Step 3: train the subnets jointly"; run_mtl
  step "compare"; run_child "$PYTHON" report.py "$SETTING" --exp_dir "$EXP_DIR" --compare "$NAME"
}

# run_nomtw: the MTW ablation's other arm: Step 1 from θ(0) -> masks -> Step 3, beside run_all's outputs.
run_nomtw() {
  step "Step 1 without MTW: subnets from θ(0) (round 0 = the single-task baseline)"
  STEP1_DIR=$EXP_DIR/single-nomtw run_single
  step "Step 2 without MTW"
  SINGLE_DIR=$EXP_DIR/single-nomtw/cp MASK_DIR=$EXP_DIR/mtl/mask-nomtw run_masks auto
  step "Step 3 without MTW"
  NAME=$NAME-nomtw run_mtl "$EXP_DIR/mtl/mask-nomtw" "sparse sharing (no MTW)"
}

run_baselines() {
  local dir id dirs=("$EXP_DIR/warmup/$NAME" "$EXP_DIR/mtl/mask" "$EXP_DIR/mtl/$NAME" "$EXP_DIR/mtl/mask-nomtw"
                     "$EXP_DIR/mtl/$NAME-nomtw" "$EXP_DIR/baselines/hard-$NAME" "$EXP_DIR/baselines/soft-$NAME"
                     "$EXP_DIR/baselines/hier-$NAME")
  for id in "${TASK_IDS[@]}"; do dirs+=("$EXP_DIR/single/cp/$id" "$EXP_DIR/single-nomtw/cp/$id"); done
  for dir in "${dirs[@]}"; do fresh_dir "$dir"; done
  STEP1_DIR= SINGLE_DIR= MASK_DIR= run_all   # the default folders, whatever the caller exported
  run_nomtw
  run_shared cnn-lstm hard
  run_shared soft soft
  run_shared hier-lstm hier
  echo "== done: $PYTHON report.py $SETTING --exp_dir $EXP_DIR"
}

# data_task_ids DIR: the task ids 0..T-1 of a processed data folder.
data_task_ids() {
  "$PYTHON" -c 'import json, sys; print(*range(len(json.load(open(sys.argv[1]))["tasks"])))' "$1/meta.json"
}

# run_negative: NER + position prediction with the conll03 recipe minus MTW, so that Step 1's round 0 is the
# single-task baseline; the data, the output root and the task list are swapped for this function only.
run_negative() {
  [ "$SETTING" = conll03 ] || fail 2 "negative transfer (NER + position prediction) is a CoNLL-2003 experiment:" \
    "run bash run_conll03.sh negative"
  [ -f "$PROCESSED_PP/meta.json" ] || fail 1 "no processed conll03-pp data in $PROCESSED_PP; run $PYTHON" \
    "prepare-data.py --type conll03-pp --dir data/conll03 --out $PROCESSED_PP [--embedding FILE]"
  local PROCESSED=$PROCESSED_PP EXP_DIR=$EXP_DIR/negative STEP1_DIR= SINGLE_DIR= MASK_DIR= dir id
  local -a TASK_IDS
  read -ra TASK_IDS <<< "$(data_task_ids "$PROCESSED")"
  for dir in "$EXP_DIR/mtl/mask" "$EXP_DIR/mtl/$NAME" "$EXP_DIR/baselines/hard-$NAME"; do fresh_dir "$dir"; done
  for id in "${TASK_IDS[@]}"; do fresh_dir "$EXP_DIR/single/cp/$id"; done
  step "negative transfer, Step 1 from θ(0) (round 0 = single task)"; run_single
  step "negative transfer, Step 2"; run_masks auto
  step "negative transfer, sparse sharing"; run_mtl
  run_shared cnn-lstm hard
}

# run_seeds ARG...: $MODE once per seed of SEEDS, with SEED=s into $EXP_DIR/seed<s> (Step 1's folders are not
# NAME-scoped, so each seed needs its own EXP_DIR); NAME is shared, so re-running resumes every seed.
run_seeds() {
  local base=$EXP_DIR seed i=0
  local -a seeds
  IFS=, read -ra seeds <<< "$SEEDS"
  for seed in "${seeds[@]}"; do
    i=$((i + 1))
    SEED=$((10#$seed)) EXP_DIR=$base/seed$((10#$seed))
    step "seed $SEED ($i of ${#seeds[@]}): SEED=$SEED EXP_DIR=$EXP_DIR"
    STAGE=$MODE
    run_mode "$@"
  done
  EXP_DIR=$base
  echo "== ${#seeds[@]} seeds done: $PYTHON report.py $SETTING --exp_dir $base (mean ± std over the seeds)"
}

main() {
  MODE=${1:-}
  INVOCATION="bash run_$SETTING.sh$(printf ' %q' "$@")"
  STAGE=$MODE
  shift || true
  case "$MODE" in
    -h|--help|help) usage; return ;;
    prepare|single|warmup|masks|mtl|all|baselines|negative) ;;
    *) usage >&2; fail 2 "unknown mode '$MODE'" ;;
  esac
  check_settings
  case "$MODE" in single|warmup|mtl|all|baselines) need_data ;; esac
  trap 'on_signal INT 130' INT
  trap 'on_signal TERM 143' TERM
  trap 'on_signal HUP 129' HUP
  if [ -n "$SEEDS" ] && [ "$MODE" != prepare ]; then run_seeds "$@"; else run_mode "$@"; fi
}

# run_mode ARG...: $MODE with the current SEED and EXP_DIR.
run_mode() {
  case "$MODE" in
    prepare) run_prepare ;;
    single) run_single "$@" ;;
    warmup) run_warmup ;;
    masks) run_masks "$@" ;;
    mtl) run_mtl "$@" ;;
    all) run_all ;;
    baselines) run_baselines ;;
    negative) run_negative ;;
  esac
}
