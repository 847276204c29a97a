//! [`Privileges`]: giving up root after binding.

use std::fmt;

use crate::error::Error;
use crate::sys;

/// Drops root to a user (and group) once the server has bound its sockets — a port below 1024
/// needs root to bind, nothing after that does (Net::Server's `user`/`group`).
///
/// [`apply`](Self::apply) runs the hook given to [`before_drop`](Self::before_drop) (open a
/// log file root owns, read a key), then `setgroups` to just the group, then the real,
/// effective and saved group and user ids (`setresgid`, `setresuid`), and checks that root
/// cannot be regained. The group defaults to the user's primary group.
///
/// # Examples
///
/// ```no_run
/// use socketserver::{Privileges, StreamRequest, ThreadingTcpServer};
///
/// let mut server = ThreadingTcpServer::new("0.0.0.0:80", |_req: &mut StreamRequest| Ok(()))?;
/// Privileges::user("www-data").apply()?; // bound as root; serve as www-data
/// server.serve_forever()?;
/// # Ok::<(), socketserver::Error>(())
/// ```
pub struct Privileges {
    user: String,
    group: Option<String>,
    hook: Option<Box<dyn FnOnce() -> Result<(), Error>>>,
}

impl Privileges {
    /// Drop to `user` (a name), with its primary group.
    pub fn user(user: &str) -> Self {
        Privileges {
            user: user.to_owned(),
            group: None,
            hook: None,
        }
    }

    /// Use `group` (a name) instead of the user's primary group.
    pub fn group(mut self, group: &str) -> Self {
        self.group = Some(group.to_owned());
        self
    }

    /// Runs `hook` with root's rights just before they are dropped.
    pub fn before_drop(mut self, hook: impl FnOnce() -> Result<(), Error> + 'static) -> Self {
        self.hook = Some(Box::new(hook));
        self
    }

    /// Looks the names up, runs the hook, and drops the privileges for good.
    ///
    /// # Errors
    ///
    /// [`Error::Privileges`]: an unknown user or group, not running as root, or a failed
    /// call; the hook's own error.
    pub fn apply(self) -> Result<(), Error> {
        let fail = |problem: String| Error::Privileges { problem };
        let (uid, primary_gid) = sys::lookup_user(&self.user)
            .map_err(|error| fail(format!("user {:?}: {error}", self.user)))?
            .ok_or_else(|| fail(format!("no such user: {:?}", self.user)))?;
        let gid = match &self.group {
            None => primary_gid,
            Some(group) => sys::lookup_group(group)
                .map_err(|error| fail(format!("group {group:?}: {error}")))?
                .ok_or_else(|| fail(format!("no such group: {group:?}")))?,
        };
        if let Some(hook) = self.hook {
            hook()?;
        }
        sys::become_user(uid, gid).map_err(|error| {
            fail(format!(
                "cannot switch to user {:?} (uid {uid}, gid {gid}): {error}",
                self.user
            ))
        })?;
        tracing::info!(user = %self.user, uid, gid, "privileges dropped");
        Ok(())
    }
}

impl fmt::Debug for Privileges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Privileges")
            .field("user", &self.user)
            .field("group", &self.group)
            .field("hook", &self.hook.is_some())
            .finish()
    }
}
