//! Example programs run as processes, the way a user runs them: the binary that `cargo test`
//! builds next to the test binaries (`target/<profile>/examples/<name>`). When only one test
//! binary is selected, cargo does not build examples: run `cargo build --examples` first.
//!
//! Every child is killed when its guard drops, so a failing test never leaks a process. Nothing
//! waits by sleeping: a server is ready once it has printed its `listening on ADDR` line, and it
//! has exited once its output pipes close. Timeouts are only safety nets.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use super::PATIENCE;

/// A generous bound on the time from a signal to the process's exit.
pub const EXIT_BOUND: Duration = Duration::from_secs(5);

pub fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test>-<hash> → target/<profile>/examples/<name>
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --examples` (plain `cargo test` builds them)",
        path.display()
    );
    path
}

/// The release build of an example (`target/release/examples/<name>`), for bounds that hold
/// for what users run, not for a debug build's larger frames. `tests/run` builds it.
pub fn release_example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test>-<hash> → target/release/examples/<name>
    let target_dir = exe.ancestors().nth(3).unwrap();
    let path = target_dir.join("release").join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --release --example {name}` (tests/run does)",
        path.display()
    );
    path
}

/// A running example; killed and reaped on drop unless [`finish`](Self::finish) reaped it.
pub struct Example {
    name: &'static str,
    child: Option<Child>,
    /// Lines of stdout as they arrive; disconnected at EOF.
    stdout: Receiver<String>,
    /// All of stderr, sent once at EOF.
    stderr: Receiver<String>,
    /// The stdout lines taken so far.
    seen: Vec<String>,
}

/// How an example ended.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<String>,
    pub stderr: String,
}

impl Finished {
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|line| !line.trim().is_empty())
            .collect()
    }

    /// A failure to start: `code`, nothing on stdout, one line on stderr, no panic.
    pub fn assert_one_line_failure(&self, code: i32) {
        assert_eq!(self.status.code(), Some(code), "{self:#?}");
        assert!(self.stdout.is_empty(), "{self:#?}");
        assert_eq!(self.stderr_lines().len(), 1, "{self:#?}");
        assert!(!self.stderr.contains("panicked"), "{self:#?}");
    }
}

impl Example {
    pub fn spawn(name: &'static str, args: &[&str]) -> Example {
        let mut command = Command::new(example_path(name));
        command.args(args);
        Example::spawn_command(name, command)
    }

    /// Starts `command` (its program, arguments and environment as the caller set them) with
    /// stdin null and stdout and stderr read here; `name` names it in failure messages.
    pub fn spawn_command(name: &'static str, mut command: Command) -> Example {
        let mut child = command
            // The checks below count stderr lines: no log lines from the caller's environment.
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let (lines_tx, lines_rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (stderr_tx, stderr_rx) = mpsc::channel();
        thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            let _ = stderr_tx.send(text);
        });
        Example {
            name,
            child: Some(child),
            stdout: lines_rx,
            stderr: stderr_rx,
            seen: Vec::new(),
        }
    }

    /// Starts a server on a free port; returns it with the address from its ready line.
    pub fn serve(name: &'static str, extra_args: &[&str]) -> (Example, SocketAddr) {
        let mut args = vec!["--addr", "127.0.0.1:0"];
        args.extend_from_slice(extra_args);
        let (example, address) = Example::serve_with(name, &args);
        let address = address
            .parse()
            .unwrap_or_else(|_| panic!("{name}: {address:?} is not HOST:PORT"));
        (example, address)
    }

    /// Starts a server with exactly `args`; returns it with ADDR from its ready line.
    pub fn serve_with(name: &'static str, args: &[&str]) -> (Example, String) {
        let mut command = Command::new(example_path(name));
        command.args(args);
        Example::serve_command(name, command)
    }

    /// Starts a server as [`spawn_command`](Self::spawn_command) does; returns it with ADDR
    /// from its ready line.
    pub fn serve_command(name: &'static str, command: Command) -> (Example, String) {
        Example::try_serve_command(name, command).unwrap_or_else(|stderr| {
            panic!("{name} closed stdout without a ready line; stderr:\n{stderr}")
        })
    }

    /// As [`serve_command`](Self::serve_command), or the example's stderr when it ended
    /// without a ready line (it could not start: a port taken meanwhile, say).
    pub fn try_serve_command(
        name: &'static str,
        command: Command,
    ) -> Result<(Example, String), String> {
        let mut example = Example::spawn_command(name, command);
        let line = match example.stdout.recv_timeout(PATIENCE) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => panic!("{name}: no ready line within {PATIENCE:?}"),
            Err(RecvTimeoutError::Disconnected) => {
                return Err(example.stderr.recv_timeout(PATIENCE).unwrap_or_default());
            }
        };
        let address = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{name}: unexpected first line {line:?}"))
            .to_owned();
        example.seen.push(line);
        Ok((example, address))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// The process's resident memory, in bytes (`VmRSS`).
    pub fn resident_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kib * 1024
    }

    pub fn signal(&self, signal: libc::c_int) {
        let pid = self.child.as_ref().unwrap().id() as libc::pid_t;
        // SAFETY: `kill(2)` has no memory-safety preconditions. The pid is our child, which is
        // not reaped before `finish` or drop, so it cannot name another process.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal}) failed");
    }

    /// Waits for the process to end: its pipes close when it exits. Panics after
    /// [`PATIENCE`] (the drop then kills it).
    pub fn finish(mut self) -> Finished {
        let stderr = match self.stderr.recv_timeout(PATIENCE) {
            Ok(text) => text,
            Err(_) => panic!("{} did not exit within {PATIENCE:?}", self.name),
        };
        let mut stdout = std::mem::take(&mut self.seen);
        loop {
            match self.stdout.recv_timeout(PATIENCE) {
                Ok(line) => stdout.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("{}: stdout still open after stderr closed", self.name)
                }
            }
        }
        let status = self.child.take().unwrap().wait().unwrap();
        Finished {
            status,
            stdout,
            stderr,
        }
    }

    /// Sends `signal`, waits for the exit, prints how long it took and checks the bound.
    pub fn stop_with(self, signal: libc::c_int, label: &str) -> Finished {
        let sent = Instant::now();
        self.signal(signal);
        let finished = self.finish();
        let took = sent.elapsed();
        eprintln!("{label}: signal {signal} → exit in {took:?}");
        assert!(
            took < EXIT_BOUND,
            "{label}: exit took {took:?} after signal {signal}"
        );
        finished
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A clean stop: exit status 0, the ready line and nothing else on stdout, no errors logged.
pub fn assert_clean_exit(finished: &Finished) {
    assert!(finished.status.success(), "{finished:#?}");
    assert_eq!(finished.stdout.len(), 1, "{finished:#?}");
    assert!(!finished.stderr.contains("panicked"), "{finished:#?}");
    assert!(!finished.stderr.contains("ERROR"), "{finished:#?}");
}
