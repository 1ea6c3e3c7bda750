//! The CUDA C sources of the environment kernels, as `&str` constants (compiled at run
//! time by NVRTC, or as C++ by the host emulation).

/// Types, the kernel argument block, the CPU's random generator, helpers.
pub const COMMON: &str = include_str!("cu/common.cuh");
/// `MetaMaze-misc`.
pub const META_MAZE: &str = include_str!("cu/meta_maze.cu");
/// `MountainCarContinuous-v0`, with the port of glibc's `cosf`.
pub const MOUNTAIN_CAR: &str = include_str!("cu/mountain_car.cu");
/// `Breakout-MinAtar`.
pub const BREAKOUT: &str = include_str!("cu/breakout.cu");
/// Definitions that let the sources compile as host C++ (emulation only).
pub const HOST_SHIM: &str = include_str!("cu/host_shim.h");

/// Every kernel the module defines, by name.
pub const KERNELS: [&str; 11] = [
    "mlgym_probe_layout",
    "mlgym_cosf_batch",
    "mlgym_meta_maze_reset",
    "mlgym_meta_maze_step",
    "mlgym_meta_maze_write_obs",
    "mlgym_mountain_car_reset",
    "mlgym_mountain_car_step",
    "mlgym_mountain_car_write_obs",
    "mlgym_breakout_reset",
    "mlgym_breakout_step",
    "mlgym_breakout_write_obs",
];

/// The whole module: the common part, then the three environments.
pub fn module_source() -> String {
    [COMMON, META_MAZE, MOUNTAIN_CAR, BREAKOUT].join("\n")
}

/// The module as host C++: the shim, then [`module_source`].
pub fn host_source() -> String {
    format!("{HOST_SHIM}\n{}", module_source())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_kernel_is_defined_once() {
        let src = module_source();
        for k in KERNELS {
            assert_eq!(src.matches(&format!("MLGYM_KERNEL({k})")).count(), 1, "{k}");
        }
        assert_eq!(src.matches("MLGYM_KERNEL(mlgym_").count(), KERNELS.len());
    }

    #[test]
    fn sources_use_no_standard_headers() {
        // NVRTC has none; only the host shim may include.
        assert!(!module_source().contains("#include"));
    }
}
