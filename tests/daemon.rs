//! Running as a daemon: `echo --pid-file` and `echo --user/--group`, as processes.

mod util;

use util::example_process::{assert_clean_exit, Example};
use util::transports::TempDir;
use util::{connect, exchange, pid_in};

#[test]
fn the_pid_file_is_written_once_listening_refused_while_live_and_removed_at_exit() {
    let dir = TempDir::new();
    let path = dir.join("echo.pid");
    let path_arg = path.to_str().unwrap();
    let (first, _) = Example::serve("echo", &["--pid-file", path_arg]);
    assert_eq!(
        pid_in(&path),
        Some(first.pid()),
        "written before the ready line"
    );
    // A second server with the same pid file: one line, exit 1; the file is untouched.
    let second = Example::spawn("echo", &["--addr", "127.0.0.1:0", "--pid-file", path_arg]);
    let refused = second.finish();
    refused.assert_one_line_failure(1);
    assert!(
        refused
            .stderr
            .contains(&format!("process {} is running", first.pid())),
        "{refused:#?}"
    );
    assert_eq!(pid_in(&path), Some(first.pid()));
    assert_clean_exit(&first.stop_with(libc::SIGTERM, "echo --pid-file"));
    assert!(!path.exists(), "removed at exit");
}

#[test]
fn a_stale_pid_file_is_replaced() {
    let dir = TempDir::new();
    let path = dir.join("stale.pid");
    // A pid that is certainly gone: a child we started and reaped.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let stale = gone.id();
    gone.wait().unwrap();
    std::fs::write(&path, format!("{stale}\n")).unwrap();
    let (echo, _) = Example::serve("echo", &["--pid-file", path.to_str().unwrap()]);
    assert_eq!(pid_in(&path), Some(echo.pid()));
    assert_clean_exit(&echo.stop_with(libc::SIGTERM, "echo --pid-file (stale)"));
}

/// The ids of a process: `Uid:` and `Gid:` lines of /proc/PID/status (real, effective, saved,
/// filesystem).
fn ids(pid: u32) -> (String, String) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .unwrap()
            .split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" ")
    };
    (field("Uid:"), field("Gid:"))
}

/// Started as root on a port below 1024, echo drops to `nobody`/`nogroup` after binding and
/// still serves. Not root (a developer's machine): the same command must fail clearly.
#[test]
fn echo_drops_root_after_binding_a_low_port() {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        let refused =
            Example::spawn("echo", &["--addr", "127.0.0.1:0", "--user", "nobody"]).finish();
        refused.assert_one_line_failure(1);
        assert!(
            refused.stderr.contains("cannot switch to user"),
            "{refused:#?}"
        );
        return;
    }
    // A free port below 1024: the first that echo can bind (one found free can be taken
    // by something else on the machine before echo binds it; then the next is tried).
    let (echo, bound, address) = (900..1024)
        .rev()
        .find_map(|port| {
            let address = format!("127.0.0.1:{port}");
            let mut command =
                std::process::Command::new(util::example_process::example_path("echo"));
            command.args(["--addr", &address, "--user", "nobody", "--group", "nogroup"]);
            match Example::try_serve_command("echo", command) {
                Ok((echo, bound)) => Some((echo, bound, address)),
                Err(stderr) if stderr.contains("Address already in use") => None,
                Err(stderr) => panic!("echo could not start: {stderr}"),
            }
        })
        .expect("a free port below 1024");
    assert_eq!(bound, address);
    let (uid, gid) = ids(echo.pid());
    assert_eq!(uid, "65534 65534 65534 65534");
    assert_eq!(gid, "65534 65534 65534 65534");
    let mut client = connect(address.parse().unwrap());
    exchange(&mut client, b"unprivileged");
    drop(client);
    assert_clean_exit(&echo.stop_with(libc::SIGTERM, "echo --user nobody"));
}

#[test]
fn an_unknown_user_is_one_line_and_exit_1() {
    let refused = Example::spawn(
        "echo",
        &["--addr", "127.0.0.1:0", "--user", "no-such-user-here"],
    )
    .finish();
    refused.assert_one_line_failure(1);
    assert!(refused.stderr.contains("no such user"), "{refused:#?}");
}
