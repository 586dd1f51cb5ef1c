// The context model's integer level corrections (IntContextNet in
// src/model/integer.rs), bit-exact, for one checkerboard pass of one slice:
// `context_input` gathers the network's input from the symbols decoded so
// far, `context_hidden` is its conv 3×3 + ReLU, `context_output` its second
// conv, added to the hyperprior's fixed-point level and rounded to the table
// index of each symbol of the pass, written where the rANS decoder reads it.
// The conv is int_conv.wgsl's, appended by the host.

const ACT_MAX: i32 = 4095;
const LEVEL_FRAC: u32 = 8u;
const CONTEXT_FRAC: u32 = 4u;
const CONTEXT_CLAMP: i32 = 255;

struct Params {
    cin: u32,
    cout: u32,
    h: u32,
    w: u32,
    shift: u32,
    c0: u32,      // the slice's first channel (channels before it are decoded)
    s: u32,       // the slice's channels
    phase: u32,   // 0: anchors (row + column even), 1: the rest
    levels: u32,  // number of tables
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> weight: array<i32>;       // [cout][cin][3][3]
@group(0) @binding(2) var<storage, read> bias: array<i32>;
@group(0) @binding(3) var<storage, read> input: array<i32>;        // [cin][h][w]
@group(0) @binding(4) var<storage, read> hyper: array<i32>;        // [m][h][w] fixed-point levels
@group(0) @binding(5) var<storage, read> position_of: array<u32>;  // [m][h][w] → index in coding order
@group(0) @binding(6) var<storage, read> values: array<i32>;       // symbols, coding order
@group(0) @binding(7) var<storage, read_write> output: array<i32>;

fn symbol(q: i32) -> i32 {
    return clamp(q, -CONTEXT_CLAMP, CONTEXT_CLAMP) << CONTEXT_FRAC;
}


// Input channels: the earlier slices' symbols, the slice's hyperprior levels,
// and in the second pass its anchors' symbols (zero elsewhere).
@compute @workgroup_size(64)
fn context_input(@builtin(global_invocation_id) id: vec3<u32>) {
    let index = id.x + id.y * 65535u * 64u;
    let plane = params.h * params.w;
    if (index >= params.cin * plane) {
        return;
    }
    let c = index / plane;
    let p = index % plane;
    var v = 0;
    if (c < params.c0) {
        v = symbol(values[position_of[index]]);
    } else if (c < params.c0 + params.s) {
        let bound = CONTEXT_CLAMP << CONTEXT_FRAC;
        v = clamp(hyper[index] >> (LEVEL_FRAC - CONTEXT_FRAC), -bound, bound);
    } else if (params.phase == 1u && (p / params.w + p % params.w) % 2u == 0u) {
        v = symbol(values[position_of[(c - params.s) * plane + p]]);
    }
    output[index] = v;
}

@compute @workgroup_size(64)
fn context_hidden(@builtin(global_invocation_id) id: vec3<u32>) {
    let index = id.x + id.y * 65535u * 64u;
    let plane = params.h * params.w;
    if (index >= params.cout * plane) {
        return;
    }
    let p = index % plane;
    let v = conv_sum(index / plane, i32(p / params.w), i32(p % params.w)) >> params.shift;
    output[index] = clamp(v, 0, ACT_MAX);
}

fn saturating_add(a: i32, b: i32) -> i32 {
    let sum = a + b; // wraps
    if (b > 0 && sum < a) {
        return 2147483647;
    }
    if (b < 0 && sum > a) {
        return -2147483647 - 1;
    }
    return sum;
}

@compute @workgroup_size(64)
fn context_output(@builtin(global_invocation_id) id: vec3<u32>) {
    let index = id.x + id.y * 65535u * 64u;
    let plane = params.h * params.w;
    if (index >= params.cout * plane) {
        return;
    }
    let p = index % plane;
    if ((p / params.w + p % params.w) % 2u != params.phase) {
        return; // not coded in this pass
    }
    let correction = conv_sum(index / plane, i32(p / params.w), i32(p % params.w)) >> params.shift;
    let element = params.c0 * plane + index;
    let fixed = saturating_add(hyper[element], correction);
    let level = saturating_add(fixed, 1 << (LEVEL_FRAC - 1u)) >> LEVEL_FRAC;
    output[position_of[element]] = clamp(level, 0, i32(params.levels) - 1);
}
