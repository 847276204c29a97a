//! Stopping a running loop from anywhere: the [`ShutdownHandle`], the drain it plans and times,
//! and the [`LoopWaker`] strategies use to wake the loop.

mod drain_plan;
mod drain_timer;
mod in_handler;
mod loop_waker;
mod shutdown_handle;

pub(crate) use drain_plan::DrainPlan;
pub(crate) use in_handler::InHandler;
pub use loop_waker::LoopWaker;
pub use shutdown_handle::ShutdownHandle;
