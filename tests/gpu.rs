//! The WGSL rANS coder against the CPU coder: same bytes, same values, errors
//! where the CPU errs. Runs on any wgpu adapter, lavapipe included (CI
//! installs mesa-vulkan-drivers and sets LIVC_REQUIRE_WGPU=1 so it may not skip).

use livc::entropy::tables::quantize_pmf;
use livc::entropy::{LaneDecoder, LaneEncoder, LatentTable};
use livc::gpu::Gpu;
use livc::gpu::rans::{GpuCoder, GpuTables};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::OnceLock;

fn gpu() -> Option<&'static (Gpu, GpuCoder)> {
    static GPU: OnceLock<Option<(Gpu, GpuCoder)>> = OnceLock::new();
    GPU.get_or_init(|| match Gpu::new(true) {
        Ok(gpu) => {
            let coder = GpuCoder::new(&gpu);
            Some((gpu, coder))
        }
        Err(e) => {
            assert!(std::env::var("LIVC_REQUIRE_WGPU").map_or(true, |v| v != "1"), "no wgpu adapter: {e:#}");
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "SKIPPED wgpu coder tests: {e:#}");
            None
        }
    })
    .as_ref()
}

fn cpu_encode(tables: &[LatentTable], values: &[i32], table_of: &[u32], lanes: usize) -> Vec<Vec<u8>> {
    let mut enc = LaneEncoder::new(lanes);
    for (&v, &t) in values.iter().zip(table_of) {
        let lane = enc.begin_symbol();
        tables[t as usize].encode(&mut enc, lane, v);
    }
    enc.finish()
}

fn cpu_decode(
    tables: &[LatentTable],
    lanes: &[Vec<u8>],
    table_of: &[u32],
) -> Result<Vec<i32>, livc::entropy::RansError> {
    let mut dec = LaneDecoder::new(lanes.iter().map(|l| l.as_slice()).collect())?;
    let mut out = Vec::with_capacity(table_of.len());
    for &t in table_of {
        let lane = dec.begin_symbol();
        out.push(tables[t as usize].decode(&mut dec, lane)?);
    }
    dec.finish()?;
    Ok(out)
}

fn random_tables(rng: &mut StdRng, count: usize) -> Vec<LatentTable> {
    (0..count)
        .map(|_| {
            let n = rng.random_range(1..40);
            // Peaked, flat or extreme distributions, plus the escape mass.
            let sharpness = rng.random_range(0.01..5.0);
            let centre = rng.random_range(0..n) as f64;
            let mut pmf: Vec<f64> = (0..n).map(|i| (-(i as f64 - centre).abs() * sharpness).exp()).collect();
            pmf.push(rng.random_range(1e-9..1e-2));
            LatentTable { min: rng.random_range(-30..5), cdf: quantize_pmf(&pmf) }
        })
        .collect()
}

fn random_values(rng: &mut StdRng, tables: &[LatentTable], count: usize) -> (Vec<i32>, Vec<u32>) {
    let mut values = Vec::with_capacity(count);
    let mut table_of = Vec::with_capacity(count);
    for _ in 0..count {
        let t = rng.random_range(0..tables.len());
        let table = &tables[t];
        let n = table.cdf.len() as i32 - 2;
        let v = match rng.random_range(0..100) {
            0 => [i32::MIN, i32::MAX, -1 << 20, 70000, table.min - 1, table.min + n][rng.random_range(0..6)],
            1..=4 => rng.random_range(-100_000..100_000),
            _ => table.min + rng.random_range(0..n),
        };
        values.push(v);
        table_of.push(t as u32);
    }
    (values, table_of)
}

#[test]
fn gpu_encoder_writes_the_cpu_encoders_bytes_and_decodes_them() {
    let Some((gpu, coder)) = gpu() else { return };
    let mut rng = StdRng::seed_from_u64(7);
    // Long lanes run in several dispatches (2048 symbols per lane per step).
    for (count, lanes) in
        [(0, 1), (0, 5), (1, 1), (1, 7), (1000, 1), (5000, 3), (20_000, 64), (3001, 100), (30_000, 1), (70_000, 9)]
    {
        let tables = random_tables(&mut rng, 9);
        let (values, table_of) = random_values(&mut rng, &tables, count);
        let gpu_tables = GpuTables::new(gpu, &tables);
        let cpu = cpu_encode(&tables, &values, &table_of, lanes);
        let gpu_bytes = coder.encode(gpu, &gpu_tables, &values, &table_of, lanes).unwrap();
        assert_eq!(gpu_bytes, cpu, "{count} symbols in {lanes} lanes");
        let lane_refs: Vec<&[u8]> = cpu.iter().map(|l| l.as_slice()).collect();
        let decoded = coder.decode(gpu, &gpu_tables, &lane_refs, &table_of).unwrap();
        assert_eq!(decoded, values, "{count} symbols in {lanes} lanes");
    }
}

#[test]
fn gpu_coder_matches_the_cpu_on_the_models_own_tables() {
    let Some((gpu, coder)) = gpu() else { return };
    let package = livc::model::embedded::default_model().unwrap();
    let tables = &package.scale_tables;
    let mut rng = StdRng::seed_from_u64(11);
    // Draw each value from its own table, as latents are distributed.
    let count = 60_000;
    let mut values = Vec::with_capacity(count);
    let mut table_of = Vec::with_capacity(count);
    for _ in 0..count {
        let t = rng.random_range(0..tables.len());
        let u = rng.random_range(0..1u32 << 16);
        let cdf = &tables[t].cdf;
        let index = cdf.partition_point(|&c| c <= u) - 1;
        let regular = cdf.len() - 2;
        values.push(if index < regular { tables[t].min + index as i32 } else { tables[t].min - 1000 });
        table_of.push(t as u32);
    }
    let gpu_tables = GpuTables::new(gpu, tables);
    let cpu = cpu_encode(tables, &values, &table_of, 8);
    assert_eq!(coder.encode(gpu, &gpu_tables, &values, &table_of, 8).unwrap(), cpu);
    let lane_refs: Vec<&[u8]> = cpu.iter().map(|l| l.as_slice()).collect();
    assert_eq!(coder.decode(gpu, &gpu_tables, &lane_refs, &table_of).unwrap(), values);
}

#[test]
fn gpu_decoder_rejects_what_the_cpu_decoder_rejects() {
    let Some((gpu, coder)) = gpu() else { return };
    let mut rng = StdRng::seed_from_u64(3);
    let tables = random_tables(&mut rng, 4);
    let (values, table_of) = random_values(&mut rng, &tables, 4000);
    let gpu_tables = GpuTables::new(gpu, &tables);
    let lanes = cpu_encode(&tables, &values, &table_of, 4);
    let decode_gpu = |lanes: &[Vec<u8>]| {
        let refs: Vec<&[u8]> = lanes.iter().map(|l| l.as_slice()).collect();
        coder.decode(gpu, &gpu_tables, &refs, &table_of)
    };
    // Truncated lanes, a lane shorter than its state, trailing bytes.
    for cut in [1, 10, 200] {
        let mut bad = lanes.clone();
        let len = bad[2].len();
        bad[2].truncate(len - cut);
        assert!(cpu_decode(&tables, &bad, &table_of).is_err());
        assert!(decode_gpu(&bad).is_err(), "cut {cut}");
    }
    let mut short = lanes.clone();
    short[0].truncate(3);
    assert!(decode_gpu(&short).is_err());
    let mut long = lanes.clone();
    long[1].push(0);
    assert!(cpu_decode(&tables, &long, &table_of).is_err());
    assert!(decode_gpu(&long).is_err());
    // Flipped bits: whatever the CPU makes of them, the GPU makes the same.
    for trial in 0..20 {
        let mut bad = lanes.clone();
        let lane = trial % 4;
        let at = rng.random_range(0..bad[lane].len());
        bad[lane][at] ^= 1 << rng.random_range(0..8);
        match (cpu_decode(&tables, &bad, &table_of), decode_gpu(&bad)) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(_), Err(_)) => {}
            (a, b) => panic!("CPU {:?} but GPU {:?}", a.is_ok(), b.is_ok()),
        }
    }
    // Table indices out of range are refused before anything runs.
    let refs: Vec<&[u8]> = lanes.iter().map(|l| l.as_slice()).collect();
    let mut bad_tables = table_of.clone();
    bad_tables[5] = 99;
    assert!(coder.decode(gpu, &gpu_tables, &refs, &bad_tables).is_err());
}

#[test]
fn gpu_scale_network_gives_the_cpu_levels() {
    let Some((gpu, _)) = gpu() else { return };
    let package = livc::model::embedded::default_model().unwrap();
    let net = livc::gpu::scale_net::GpuScaleNet::new(gpu, &package.int_scale).unwrap();
    let n = package.info.config.n;
    let mut rng = StdRng::seed_from_u64(5);
    for (h, w) in [(1, 1), (3, 5), (8, 8), (5, 2)] {
        // Mostly small ẑ as decoded, with a few extremes that hit the clamps.
        let z: Vec<i32> = (0..n * h * w)
            .map(|_| if rng.random_range(0..50) == 0 { rng.random_range(-5000..5000) } else { rng.random_range(-6..7) })
            .collect();
        let cpu = package.int_scale.levels(&z, h, w);
        let gpu_levels = net.levels_from_host(gpu, &z, h, w).unwrap();
        assert_eq!(gpu_levels, cpu, "{h}×{w}");
    }
}

#[test]
fn staged_decoding_reads_each_stages_tables_as_they_are_written() {
    // As a context model's parse: the tables of each stage's symbols only
    // exist once the stage's own dispatches have run (here: copies from a
    // buffer of the true indices into a table buffer that starts at zero).
    let Some((gpu, coder)) = gpu() else { return };
    use wgpu::util::DeviceExt;
    let mut rng = StdRng::seed_from_u64(5);
    let tables = random_tables(&mut rng, 9);
    let (values, table_of) = random_values(&mut rng, &tables, 70_000);
    let lanes = cpu_encode(&tables, &values, &table_of, 9);
    let lane_refs: Vec<&[u8]> = lanes.iter().map(|l| l.as_slice()).collect();
    let buffer = |usage| {
        gpu.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: None,
            contents: bytemuck::cast_slice(&table_of),
            usage: wgpu::BufferUsages::STORAGE | usage,
        })
    };
    let truth = buffer(wgpu::BufferUsages::COPY_SRC);
    let staged = buffer(wgpu::BufferUsages::COPY_DST);
    gpu.queue.write_buffer(&staged, 0, &vec![0u8; table_of.len() * 4]);
    let ends = [0, 5, 3001, 3001, 40_000, 70_000];
    let decoded = coder
        .decode_staged(gpu, &GpuTables::new(gpu, &tables), &lane_refs, &staged, &ends, |i, _, commands| {
            let begin = if i == 0 { 0 } else { ends[i - 1] as u64 * 4 };
            let size = ends[i] as u64 * 4 - begin;
            if size > 0 {
                commands.copy_buffer_to_buffer(&truth, begin, &staged, begin, size);
            }
        })
        .unwrap();
    assert_eq!(decoded, values);
}

#[test]
fn a_wgpu_error_fails_the_next_result_and_not_the_process() {
    // A device of its own: the error raised here must not reach other tests.
    let gpu = match Gpu::new(true) {
        Ok(gpu) => gpu,
        Err(e) => {
            assert!(std::env::var("LIVC_REQUIRE_WGPU").map_or(true, |v| v != "1"), "no wgpu adapter: {e:#}");
            return;
        }
    };
    let coder = GpuCoder::new(&gpu);
    let mut rng = StdRng::seed_from_u64(9);
    let tables = random_tables(&mut rng, 3);
    let (values, table_of) = random_values(&mut rng, &tables, 500);
    let gpu_tables = GpuTables::new(&gpu, &tables);
    let lanes = cpu_encode(&tables, &values, &table_of, 2);
    let refs: Vec<&[u8]> = lanes.iter().map(|l| l.as_slice()).collect();
    // What an allocation the device cannot make raises (wgpu's default
    // handler panics on it): a buffer above the adapter's limit.
    let too_big = gpu.device.limits().max_buffer_size.saturating_add(4);
    let _buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("too big"),
        size: too_big,
        usage: wgpu::BufferUsages::STORAGE,
        mapped_at_creation: false,
    });
    let err = coder.decode(&gpu, &gpu_tables, &refs, &table_of).expect_err("the raised error");
    assert!(format!("{err:#}").contains(&gpu.adapter.name), "{err:#}");
    // Reported once; the device goes on working.
    gpu.check().unwrap();
    assert_eq!(coder.decode(&gpu, &gpu_tables, &refs, &table_of).unwrap(), values);
}
