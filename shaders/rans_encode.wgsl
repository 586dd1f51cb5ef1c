// rANS lane encoder, bit-exact with src/entropy/rans.rs + tables.rs.
//
// Symbol i belongs to lane i % lanes. One invocation per lane encodes the
// lane backwards (rANS is last-in first-out), writing bytes from the end of
// its own region of `regions` towards the start, so the stream ends up in
// reading order. The work comes in steps, each a bounded slice of every lane
// with the lane states kept in `book` in between (software rasterisers such
// as llvmpipe stop a shader invocation after 65535 loop iterations):
//   begin_lanes → encode_lanes (one per step, last symbols first) → end_lanes
//   → gather_lengths (prefix sum) → pack_lanes (lanes side by side).
// Everything is u32 arithmetic: x < 2^15·freq before `x / freq << 16`.

const PROB_BITS: u32 = 16u;
const RANS_L: u32 = 8388608u; // 1 << 23
const PACK_CHUNK: u32 = 1024u; // bytes one pack_lanes invocation copies

struct Params {
    count: u32,         // symbols
    lanes: u32,
    region_words: u32,  // u32 words of scratch per lane
    step_lo: u32,       // this step encodes lane-local symbols step_lo..step_hi
    step_hi: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> values: array<i32>;
@group(0) @binding(2) var<storage, read> table_of: array<u32>;
// Per table: (offset of its cdf in `cdfs`, cdf entries, min as bits, unused).
@group(0) @binding(3) var<storage, read> tables: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read> cdfs: array<u32>;
@group(0) @binding(5) var<storage, read_write> regions: array<u32>;
// Bookkeeping, 4 words per lane then lanes + 1 offsets:
// book[4l] = state, book[4l + 1] = write position (bytes into the region),
// book[4l + 2] = stream length, book[4 lanes + l] = offset of lane l.
@group(0) @binding(6) var<storage, read_write> book: array<u32>;
@group(0) @binding(7) var<storage, read_write> packed: array<atomic<u32>>;

var<private> x: u32;
var<private> base_word: u32;
var<private> pos: u32;

fn put_byte(b: u32) {
    pos -= 1u;
    let w = base_word + (pos >> 2u);
    regions[w] = regions[w] | ((b & 255u) << (8u * (pos & 3u)));
}

fn put(start: u32, freq: u32) {
    let x_max = ((RANS_L >> PROB_BITS) << 8u) * freq;
    while (x >= x_max) {
        put_byte(x);
        x = x >> 8u;
    }
    x = ((x / freq) << PROB_BITS) + (x % freq) + start;
}

fn put_bits(value: u32, bits: u32) {
    let freq = 1u << (PROB_BITS - bits);
    put(value * freq, freq);
}

fn zigzag(v: i32) -> u32 {
    return (bitcast<u32>(v) << 1u) ^ bitcast<u32>(v >> 31u);
}

// One symbol. Its coding steps in forward order: the table index (regular or
// escape), then for an escape the 6-bit length and the value's bits, the high
// 16 first; rANS takes them in reverse.
fn encode_symbol(i: u32) {
    let t = tables[table_of[i]];
    let offset = t.x;
    let regular = t.y - 2u;
    let min = bitcast<i32>(t.z);
    let v = values[i];
    if (v >= min && v < min + i32(regular)) {
        let index = u32(v - min);
        put(cdfs[offset + index], cdfs[offset + index + 1u] - cdfs[offset + index]);
        return;
    }
    let raw = zigzag(v);
    let bits = 32u - countLeadingZeros(raw);
    if (bits > 16u) {
        let low_bits = bits - 16u;
        put_bits(raw & ((1u << low_bits) - 1u), low_bits);
        put_bits((raw >> low_bits) & 65535u, 16u);
    } else if (bits > 0u) {
        put_bits(raw, bits);
    }
    put_bits(bits, 6u);
    put(cdfs[offset + regular], cdfs[offset + regular + 1u] - cdfs[offset + regular]);
}

fn symbols_in_lane(lane: u32) -> u32 {
    if (lane >= params.count) {
        return 0u;
    }
    return (params.count - lane + params.lanes - 1u) / params.lanes;
}

@compute @workgroup_size(64)
fn begin_lanes(@builtin(global_invocation_id) id: vec3<u32>) {
    let lane = id.x;
    if (lane < params.lanes) {
        book[4u * lane] = RANS_L;
        book[4u * lane + 1u] = params.region_words * 4u;
    }
}

@compute @workgroup_size(64)
fn encode_lanes(@builtin(global_invocation_id) id: vec3<u32>) {
    let lane = id.x;
    if (lane >= params.lanes) {
        return;
    }
    x = book[4u * lane];
    pos = book[4u * lane + 1u];
    base_word = lane * params.region_words;
    let hi = min(params.step_hi, symbols_in_lane(lane));
    for (var j = hi; j > params.step_lo; j -= 1u) {
        encode_symbol((j - 1u) * params.lanes + lane);
    }
    book[4u * lane] = x;
    book[4u * lane + 1u] = pos;
}

@compute @workgroup_size(64)
fn end_lanes(@builtin(global_invocation_id) id: vec3<u32>) {
    let lane = id.x;
    if (lane >= params.lanes) {
        return;
    }
    x = book[4u * lane];
    pos = book[4u * lane + 1u];
    base_word = lane * params.region_words;
    // The final state, read first by the decoder (big-endian).
    put_byte(x);
    put_byte(x >> 8u);
    put_byte(x >> 16u);
    put_byte(x >> 24u);
    book[4u * lane + 1u] = pos;
    book[4u * lane + 2u] = params.region_words * 4u - pos;
}

// A sequential prefix sum: lanes are at most 4096, and a fixed order keeps it
// independent of subgroup sizes.
@compute @workgroup_size(1)
fn gather_lengths() {
    var total = 0u;
    for (var lane = 0u; lane < params.lanes; lane += 1u) {
        book[4u * params.lanes + lane] = total;
        total += book[4u * lane + 2u];
    }
    book[5u * params.lanes] = total;
}

// Invocation (lane, chunk) copies bytes chunk·PACK_CHUNK.. of the lane.
@compute @workgroup_size(64)
fn pack_lanes(@builtin(global_invocation_id) id: vec3<u32>) {
    let lane = id.x;
    if (lane >= params.lanes) {
        return;
    }
    let length = book[4u * lane + 2u];
    let first = id.y * PACK_CHUNK;
    let last = min(first + PACK_CHUNK, length);
    let src = book[4u * lane + 1u];
    let dst = book[4u * params.lanes + lane];
    let base = lane * params.region_words;
    for (var k = first; k < last; k += 1u) {
        let s = src + k;
        let byte = (regions[base + (s >> 2u)] >> (8u * (s & 3u))) & 255u;
        let d = dst + k;
        atomicOr(&packed[d >> 2u], byte << (8u * (d & 3u)));
    }
}
