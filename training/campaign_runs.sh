# The runs of the training campaigns and their flags. Sourced by
# training/campaign.sh and evaluation/ablation_cpu.sh.
#
# Issue 17's campaign (training/campaign.sh), started from the default model
# livc-vr, on a λ ladder that reaches below its lowest rate and far above its
# highest (0.0008 … 0.18, CompressAI's top λ), compared at equal CPU time:
#   m96    livc-vr as it is (N = 64, M = 96), the ladder extended
#   m192   livc-vr widened to M = 192: one more context slice of 96 channels,
#          started function-preserving (train.py --widen). Dropped on
#          2026-12-03 after 10.5 h of one CPU thread each: +2.4 % against m96
#          at equal time (evaluation/results/campaign/summary.md); its last
#          state is in the git history of weights/campaign/state.safetensors.
campaign_runs=(m96)
campaign_ladder=0.0008,0.0018,0.0035,0.0067,0.013,0.025,0.0483,0.093,0.18
run_start() {  # what a campaign run starts from when nothing of it exists yet
    echo "--init-from weights/livc-vr.safetensors"
}
#
# Issue 5's ablations (evaluation/ablation_cpu.sh):
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
        m96) echo "--lambda $campaign_ladder" ;;
        m192) echo "--lambda $campaign_ladder --widen 192" ;;
        wide) echo "--n 96 --m 160 --slices 16,16,32,48,48 --blocks ssm --lambda $ladder --lr 3e-4" ;;
        *) echo "unknown run $1" >&2; exit 2 ;;
    esac
}
