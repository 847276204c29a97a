//! Pre-fork workers: a master that binds once and keeps N worker processes serving the same
//! listening socket ([`Prefork`]).

mod master;
mod prefork_report;

pub use master::Prefork;
pub use prefork_report::PreforkReport;
