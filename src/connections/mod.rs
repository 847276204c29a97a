//! What a server knows about its connections: how many are open (in all and per source), the
//! limits on them, why each ended, and the panic policy.

mod connection_guard;
mod panic_policy;
mod registry;
mod sharded_counter;
mod stats_handle;

pub use connection_guard::ConnectionGuard;
pub use panic_policy::PanicPolicy;
pub(crate) use registry::Registry;
pub use stats_handle::StatsHandle;
