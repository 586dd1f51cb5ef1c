// The integer scale network (src/model/integer.rs), bit-exact: a 3×3 conv
// (stride 1, zero padding 1) with int8 weights and an i32 accumulator, an
// arithmetic right shift, then ReLU and clamping for hidden layers (written
// through a ×2 pixel shuffle), or rounding to a table index for the last one.
// One invocation per output element of the conv; at most 2048 taps each.
// The conv itself is int_conv.wgsl's, appended by the host.

const ACT_MAX: i32 = 4095;
const LEVEL_FRAC: u32 = 8u;

struct Params {
    cin: u32,
    cout: u32,
    h: u32,
    w: u32,
    shift: u32,
    last: u32,    // 1: the level layer, as table indices; 2: as fixed-point levels
    levels: u32,  // number of tables
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> weight: array<i32>; // [cout][cin][3][3]
@group(0) @binding(2) var<storage, read> bias: array<i32>;
@group(0) @binding(3) var<storage, read> input: array<i32>;  // [cin][h][w]
@group(0) @binding(4) var<storage, read_write> output: array<i32>;

// ẑ into the first layer's fixed point: (clamp(z) << input_frac), clamped.
@compute @workgroup_size(64)
fn prepare(@builtin(global_invocation_id) id: vec3<u32>) {
    let index = id.x + id.y * 65535u * 64u;
    if (index >= params.cin * params.h * params.w) {
        return;
    }
    output[index] = clamp(clamp(input[index], -ACT_MAX, ACT_MAX) << params.shift, -ACT_MAX, ACT_MAX);
}

// Crops the levels [cin][shift][cout] (the hyper grid) to y's [cin][h][w].
@compute @workgroup_size(64)
fn crop(@builtin(global_invocation_id) id: vec3<u32>) {
    let index = id.x + id.y * 65535u * 64u;
    let plane = params.h * params.w;
    if (index >= params.cin * plane) {
        return;
    }
    let c = index / plane;
    let y = (index % plane) / params.w;
    let x = index % params.w;
    output[index] = input[(c * params.shift + y) * params.cout + x];
}

@compute @workgroup_size(64)
fn conv(@builtin(global_invocation_id) id: vec3<u32>) {
    let plane = params.h * params.w;
    let index = id.x + id.y * 65535u * 64u;
    if (index >= params.cout * plane) {
        return;
    }
    let o = index / plane;
    let y = i32((index % plane) / params.w);
    let x = i32(index % params.w);
    let v = conv_sum(o, y, x) >> params.shift;
    if (params.last == 2u) {  // the fixed-point level itself (context models add to it)
        output[index] = v;
        return;
    }
    if (params.last == 1u) {
        let half = 1 << (LEVEL_FRAC - 1u);
        output[index] = clamp((v + half) >> LEVEL_FRAC, 0, i32(params.levels) - 1);
        return;
    }
    // Pixel shuffle ×2 (burn's order): channel c·4 + dy·2 + dx → channel c, pixel (2y + dy, 2x + dx).
    let c = o / 4u;
    let dy = (o / 2u) % 2u;
    let dx = o % 2u;
    let out_index = (c * 2u * params.h + 2u * u32(y) + dy) * 2u * params.w + 2u * u32(x) + dx;
    output[out_index] = clamp(v, 0, ACT_MAX);
}
