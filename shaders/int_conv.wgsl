// The 3×3 conv of the integer networks (stride 1, zero padding 1, int8
// weights, i32 accumulator): output channel o at (y, x) of the [cin][h][w]
// `input`, bias included, before the shift. Appended by the host to the
// shaders that use it, which declare `params` (cin, h, w), `weight`
// ([cout][cin][3][3]), `bias` and `input`. The accumulator cannot overflow:
// src/model/integer.rs bounds taps × |weight| × |activation|.
fn conv_sum(o: u32, y: i32, x: i32) -> i32 {
    let plane = params.h * params.w;
    let h = i32(params.h);
    let w = i32(params.w);
    var acc = bias[o];
    for (var i = 0u; i < params.cin; i += 1u) {
        for (var ky = 0; ky < 3; ky += 1) {
            let sy = y + ky - 1;
            if (sy < 0 || sy >= h) {
                continue;
            }
            for (var kx = 0; kx < 3; kx += 1) {
                let sx = x + kx - 1;
                if (sx < 0 || sx >= w) {
                    continue;
                }
                let wv = weight[((o * params.cin + i) * 3u + u32(ky)) * 3u + u32(kx)];
                acc += wv * input[i * plane + u32(sy) * params.w + u32(sx)];
            }
        }
    }
    return acc;
}
