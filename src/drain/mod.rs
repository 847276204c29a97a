//! Graceful drain: what a server does between "stop" and "stopped" so that no client loses an
//! answer. The per-connection state ([`Liveness`]), the report ([`DrainReport`]), the busy mark
//! handlers set ([`BusySpan`]), and the settings ([`DrainOptions`]).

mod busy_span;
mod drain_options;
mod drain_progress;
mod drain_report;
mod drain_stage;
mod drain_target;
mod liveness;

pub use busy_span::BusySpan;
pub use drain_options::DrainOptions;
pub(crate) use drain_progress::{DrainLevel, DrainProgress};
pub use drain_report::DrainReport;
pub use drain_stage::DrainStage;
pub(crate) use drain_target::DrainTarget;
pub(crate) use liveness::Liveness;
