//! What a daemon does around its server: a pid file ([`PidFile`]) and giving up root after
//! binding ([`Privileges`]).

mod pid_file;
mod privileges;

pub use pid_file::PidFile;
pub use privileges::Privileges;
