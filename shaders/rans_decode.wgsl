// rANS lane decoder, bit-exact with src/entropy/rans.rs + tables.rs.
//
// One invocation per lane. Lane states live in `states` between dispatches,
// so a decoder runs in steps without reading anything back, both because
// later tables may depend on earlier symbols and because software
// rasterisers such as llvmpipe stop an invocation after 65535 loop
// iterations: `start_lanes` checks and loads
// each lane's initial state, `decode_lanes` parses symbols [first, last) of the
// stream, `finish` checks that every lane returned to the initial state and
// used all its bytes. Any problem sets the lane's status and stops the lane.

const PROB_BITS: u32 = 16u;
const PROB_MASK: u32 = 65535u;
const RANS_L: u32 = 8388608u; // 1 << 23

const OK: u32 = 0u;
const TRUNCATED: u32 = 1u;
const BAD_STATE: u32 = 2u;
const TRAILING: u32 = 3u;

struct Params {
    count: u32,  // symbols in the stream
    lanes: u32,
    first: u32,  // this dispatch decodes symbols first..last
    last: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    _pad3: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> bytes: array<u32>;      // every lane's bytes, packed
@group(0) @binding(2) var<storage, read> offsets: array<u32>;    // lanes + 1 byte offsets
@group(0) @binding(3) var<storage, read> table_of: array<u32>;
@group(0) @binding(4) var<storage, read> tables: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read> cdfs: array<u32>;
@group(0) @binding(6) var<storage, read_write> values: array<i32>;
// Per lane: (state, next byte, status, unused).
@group(0) @binding(7) var<storage, read_write> states: array<vec4<u32>>;

var<private> x: u32;
var<private> pos: u32;
var<private> lane_end: u32;
var<private> status: u32;

fn byte_at(b: u32) -> u32 {
    return (bytes[b >> 2u] >> (8u * (b & 3u))) & 255u;
}

fn advance(low: u32, freq: u32, slot: u32) {
    x = freq * (x >> PROB_BITS) + slot - low;
    while (x < RANS_L) {
        if (pos >= lane_end) {
            status = TRUNCATED;
            return;
        }
        x = (x << 8u) | byte_at(pos);
        pos += 1u;
    }
}

// Largest index k with cdf[k] <= slot (cdf[0] = 0 and cdf[n - 1] = 2^16 > slot).
fn find(offset: u32, n: u32, slot: u32) -> u32 {
    var lo = 0u;
    var hi = n - 1u;
    while (hi - lo > 1u) {
        let mid = (lo + hi) / 2u;
        if (cdfs[offset + mid] <= slot) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

fn get_bits(bits: u32) -> u32 {
    let slot = x & PROB_MASK;
    let freq = 1u << (PROB_BITS - bits);
    let value = slot >> (PROB_BITS - bits);
    advance(value * freq, freq, slot);
    return value;
}

fn decode_symbol(i: u32) -> i32 {
    let t = tables[table_of[i]];
    let offset = t.x;
    let regular = t.y - 2u;
    let slot = x & PROB_MASK;
    let index = find(offset, t.y, slot);
    advance(cdfs[offset + index], cdfs[offset + index + 1u] - cdfs[offset + index], slot);
    if (index < regular) {
        return bitcast<i32>(t.z) + i32(index);
    }
    var bits = get_bits(6u);
    if (bits > 32u) {
        status = BAD_STATE;
        return 0;
    }
    var raw = 0u;
    while (bits > 0u && status == OK) {
        let chunk = min(bits, 16u);
        bits -= chunk;
        raw = (raw << chunk) | get_bits(chunk);
    }
    return bitcast<i32>((raw >> 1u) ^ (0u - (raw & 1u)));
}

@compute @workgroup_size(64)
fn start_lanes(@builtin(global_invocation_id) id: vec3<u32>) {
    let lane = id.x;
    if (lane >= params.lanes) {
        return;
    }
    let begin = offsets[lane];
    if (offsets[lane + 1u] - begin < 4u) {
        states[lane] = vec4<u32>(0u, begin, TRUNCATED, 0u);
        return;
    }
    let s = (byte_at(begin) << 24u) | (byte_at(begin + 1u) << 16u) | (byte_at(begin + 2u) << 8u) | byte_at(begin + 3u);
    var st = OK;
    if (s < RANS_L) {
        st = BAD_STATE;
    }
    states[lane] = vec4<u32>(s, begin + 4u, st, 0u);
}

@compute @workgroup_size(64)
fn decode_lanes(@builtin(global_invocation_id) id: vec3<u32>) {
    let lane = id.x;
    if (lane >= params.lanes) {
        return;
    }
    let s = states[lane];
    x = s.x;
    pos = s.y;
    status = s.z;
    lane_end = offsets[lane + 1u];
    // This lane's first symbol at or after `first`.
    var i = params.first + (lane + params.lanes - params.first % params.lanes) % params.lanes;
    while (i < params.last && status == OK) {
        values[i] = decode_symbol(i);
        i += params.lanes;
    }
    states[lane] = vec4<u32>(x, pos, status, 0u);
}

@compute @workgroup_size(64)
fn finish_lanes(@builtin(global_invocation_id) id: vec3<u32>) {
    let lane = id.x;
    if (lane >= params.lanes) {
        return;
    }
    let s = states[lane];
    if (s.z != OK) {
        return;
    }
    if (s.x != RANS_L) {
        states[lane].z = BAD_STATE;
    } else if (s.y != offsets[lane + 1u]) {
        states[lane].z = TRAILING;
    }
}
