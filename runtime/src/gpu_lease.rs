//! Leasing a task's GPUs for one episode: the part `mlgym run --gpus` and the Gym API
//! (`GymEnv::reset`) share.

use std::time::Duration;

use mlgym_kernels::gpu;
use mlgym_kernels::lease::{self, GpuLease, GpuRequest, LeaseError, LeaseOptions};
use mlgym_tasks::Task;

/// Leases what `request` asks for `task`, waiting up to `wait` for GPUs other runs hold;
/// `purpose` is recorded with the lease (`mlgym gpus` shows it). When the answer is no
/// GPU (`none`, or `auto` for a task that declares none: the common case) the driver is
/// not asked at all. `notify` receives what the user should know: that the GPUs are
/// fake (tests only) and why `auto` got fewer GPUs than the task declares.
pub fn lease_for_task(
    task: &Task,
    request: &GpuRequest,
    wait: Duration,
    purpose: String,
    mut notify: impl FnMut(&str),
) -> Result<GpuLease, LeaseError> {
    if request.wants_no_gpu(task.def.gpus) {
        return Ok(GpuLease::none());
    }
    let inv = gpu::discover();
    if inv.is_fake() {
        notify(&format!(
            "WARNING: FAKE GPUs from {} (for tests only)",
            gpu::FAKE_GPUS_ENV
        ));
    }
    let plan = lease::plan(request, task.def.gpus, &inv)?;
    if let Some(note) = &plan.note {
        notify(note);
    }
    let opts = LeaseOptions {
        wait,
        ..LeaseOptions::new(purpose)
    };
    lease::acquire(&inv, &plan.want, request, &opts)
}
