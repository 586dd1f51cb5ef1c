//! livc: a learned image codec.
//!
//! Data flows one way: io → model (transforms) → entropy (tables, rANS lanes)
//! → bitstream, and back. `codec` ties them together; the CLI in `main.rs`
//! is a thin layer over it.

pub mod bench;
pub mod bitstream;
pub mod codec;
pub mod entropy;
pub mod eval;
pub mod gpu;
pub mod io;
pub mod model;
pub mod train;

/// Which compute backend runs the networks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// burn's flex backend on the CPU.
    Cpu,
    /// burn's wgpu backend (Vulkan, Metal, DX12; lavapipe without a GPU).
    Wgpu,
}

impl Backend {
    pub fn device(self) -> burn::tensor::Device {
        match self {
            Backend::Cpu => burn::tensor::Device::flex(),
            Backend::Wgpu => burn::tensor::Device::wgpu(Default::default()),
        }
    }
}
