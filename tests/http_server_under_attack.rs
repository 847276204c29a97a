//! The `http_server` example under Debian's `slowhttptest`, as an attacker runs it: 500
//! connections of slow headers (`-H`, slowloris), slow bodies (`-B`), slow reads (`-X`) and
//! overlapping ranges (`-R`, the "Apache killer"), for up to 20 s each, against the default
//! mode (a pool), the event loops and the coroutines. slowhttptest's own probe connection asks
//! for a page once a second meanwhile; the service must be available in at least 95 % of the
//! seconds it sampled, and the server must still answer afterwards.
//!
//! `bench/slowhttptest.sh` runs the same attacks against every mode, and against two other
//! servers run the same way, for the figures in `docs/security.md`.

use std::path::Path;
use std::process::Command;

mod util;

use util::example_process::Example;
use util::transports::TempDir;

/// The share of sampled seconds in which the probe was answered.
const AVAILABLE: f64 = 0.95;

/// One attack at a time: each measures the server's availability under its own 500
/// connections, not under the other attacks of this file on the same cores (eight at once
/// starve a 2-core machine, and the probe then misses seconds in any mode).
static ONE_ATTACK_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `target`: what the attack asks for (slow reads ask for a file larger than the kernel's
/// buffers hold between the two ends, 8 MiB).
fn attack(mode: &str, flags: &[&str], target: &str) {
    // A failed attack poisons the lock; the next one still runs alone.
    let _alone = ONE_ATTACK_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = TempDir::new();
    let site = dir.join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("page.html"), "<p>still here</p>\n".repeat(2000)).unwrap();
    let large: Vec<u8> = (0..(8u32 << 20)).map(|n| (n % 251) as u8).collect();
    std::fs::write(site.join("large.bin"), large).unwrap();
    let (server, address) = Example::serve(
        "http_server",
        &["--directory", site.to_str().unwrap(), "--mode", mode],
    );
    let report = dir.join("report");
    let status = Command::new("slowhttptest")
        .args(flags)
        .args([
            "-c", "500", "-l", "20", "-i", "10", "-r", "200", "-p", "3", "-g",
        ])
        .arg("-u")
        .arg(format!("http://{address}/{target}"))
        .arg("-o")
        .arg(&report)
        .current_dir(&dir.path)
        .output()
        .expect("slowhttptest (Debian's package) must be installed: tests/run installs it");
    assert!(status.status.success(), "{status:?}");
    let (available, sampled) = availability(&report.with_extension("csv"));
    assert!(
        sampled >= 2 && available as f64 >= AVAILABLE * sampled as f64,
        "{mode} {flags:?}: available in {available} of {sampled} seconds\n{}",
        String::from_utf8_lossy(&status.stdout)
    );
    // It goes on serving.
    let curl = Command::new("curl")
        .args(["-sS", "--fail", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://{address}/page.html"))
        .output()
        .expect("curl must be installed");
    assert_eq!(String::from_utf8_lossy(&curl.stdout), "200");
    drop(server);
}

/// From slowhttptest's CSV (`Seconds,Closed,Pending,Connected,Service Available`, the last
/// column non-zero while the probe is answered): seconds available, seconds sampled.
fn availability(csv: &Path) -> (usize, usize) {
    let text = std::fs::read_to_string(csv).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|line| line.split(',').collect())
        .filter(|row: &Vec<&str>| row.len() == 5)
        .collect();
    let available = rows.iter().filter(|row| row[4].trim() != "0").count();
    (available, rows.len())
}

macro_rules! attacks {
    ($($name:ident: $mode:expr, $flags:expr, $target:expr;)*) => {
        $(
            #[test]
            fn $name() {
                attack($mode, $flags, $target);
            }
        )*
    };
}

/// slowhttptest's slow read: a 10-20 byte window, 32 bytes read every 5 s, each request asked
/// twice on its connection.
const SLOW_READ: &[&str] = &[
    "-X", "-k", "2", "-w", "10", "-y", "20", "-n", "5", "-z", "32",
];

attacks! {
    pool_slow_headers: "pool", &["-H"], "page.html";
    pool_slow_bodies: "pool", &["-B", "-s", "8192"], "page.html";
    pool_slow_reads: "pool", SLOW_READ, "large.bin";
    pool_ranges: "pool", &["-R"], "large.bin";
    event_slow_headers: "event", &["-H"], "page.html";
    event_slow_bodies: "event", &["-B", "-s", "8192"], "page.html";
    event_slow_reads: "event", SLOW_READ, "large.bin";
    event_ranges: "event", &["-R"], "large.bin";
    coroutine_slow_headers: "coroutine", &["-H"], "page.html";
    coroutine_slow_bodies: "coroutine", &["-B", "-s", "8192"], "page.html";
    coroutine_slow_reads: "coroutine", SLOW_READ, "large.bin";
    coroutine_ranges: "coroutine", &["-R"], "large.bin";
}
