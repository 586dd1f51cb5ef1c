# The runs of issue 5's training campaign and their architecture flags, shared by
# training/campaign.sh (GPU) and evaluation/ablation_cpu.sh (CPU). Sourced.
#
#   full   context slices + selective-scan blocks + one variable-rate model
#   conv   the same with the CNN-only blocks            (SSM ablation)
#   plain  no context, scan blocks, variable rate       (multi-reference ablation)
#   fixed-q1/q2/q3  full at one λ each                  (variable-rate ablation)
#   wide   full at N = 96, M = 160, from scratch (not in the default set)
# Every run but wide starts from the previous default's q2.
start=weights/previous/livc-hp-q2.safetensors
ladder=0.0018,0.0035,0.0067,0.013,0.025,0.0483
ablation_runs=(full conv plain fixed-q1 fixed-q2 fixed-q3)
run_args() {
    case $1 in
        full) echo "--slices 8,8,16,24,40 --blocks ssm --lambda $ladder" ;;
        conv) echo "--slices 8,8,16,24,40 --blocks conv --lambda $ladder" ;;
        plain) echo "--blocks ssm --lambda $ladder" ;;
        fixed-q1) echo "--slices 8,8,16,24,40 --blocks ssm --lambda 0.0018" ;;
        fixed-q2) echo "--slices 8,8,16,24,40 --blocks ssm --lambda 0.0067" ;;
        fixed-q3) echo "--slices 8,8,16,24,40 --blocks ssm --lambda 0.025" ;;
        wide) echo "--n 96 --m 160 --slices 16,16,32,48,48 --blocks ssm --lambda $ladder --lr 3e-4" ;;
        *) echo "unknown run $1" >&2; exit 2 ;;
    esac
}
