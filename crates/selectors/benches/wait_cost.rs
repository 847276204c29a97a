//! The cost of one wait, per backend, with N idle registered sockets and one ready one.
//!
//! Run with `cargo bench -p socketserver-selectors --bench wait_cost`. Prints a Markdown table
//! of the median nanoseconds per blocking `select(None)` call (over many calls) and each backend's ratio to
//! epoll at the same N; ratios are steadier than absolute figures on a noisy machine.
//!
//! Without `--bench` (as `cargo test --benches` runs it) it only does a short smoke run.

use std::io;
use std::net::UdpSocket;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use socketserver_selectors::{
    Error, Events, Interest, PollSelector, SelectSelector, Selector, Token,
};

/// Registered idle sockets per row.
const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];

struct Backend {
    name: &'static str,
    create: fn() -> io::Result<Box<dyn Selector>>,
}

fn backends() -> Vec<Backend> {
    let mut backends = vec![
        Backend {
            name: "select",
            create: || Ok(Box::new(SelectSelector::new()?)),
        },
        Backend {
            name: "poll",
            create: || Ok(Box::new(PollSelector::new()?)),
        },
    ];
    #[cfg(any(target_os = "linux", target_os = "android"))]
    backends.push(Backend {
        name: "epoll",
        create: || Ok(Box::new(socketserver_selectors::EpollSelector::new()?)),
    });
    backends
}

/// Why a cell has no figure.
enum Cell {
    Nanos(f64),
    NotApplicable(&'static str),
}

fn main() -> io::Result<()> {
    let full = std::env::args().any(|arg| arg == "--bench");
    let (sizes, budget): (&[usize], _) = if full {
        (&SIZES, Duration::from_millis(300))
    } else {
        (&SIZES[..2], Duration::from_millis(5))
    };
    let limit = raise_fd_limit();
    let spare = 64; // stdio, the selectors' own fds, the sender
    let affordable = usize::try_from(limit)
        .unwrap_or(usize::MAX)
        .saturating_sub(spare);

    let backends = backends();
    let mut rows = Vec::new();
    for &n in sizes {
        if n > affordable {
            let cells = backends
                .iter()
                .map(|_| Cell::NotApplicable("n/a (RLIMIT_NOFILE)"));
            rows.push((n, cells.collect()));
            continue;
        }
        // Fresh sockets per row, the ready one last: it has the highest fd and is registered
        // last, so select and poll go through every idle socket before they find it (and the
        // highest fd, which select's cost follows, is about N).
        let idle: Vec<UdpSocket> = (0..n).map(|_| udp()).collect::<io::Result<_>>()?;
        let ready = udp()?;
        // One datagram that is never read: level-triggered, the socket stays ready.
        udp()?.send_to(b"ready", ready.local_addr()?)?;
        let cells: Vec<Cell> = backends
            .iter()
            .map(|backend| median_wait((backend.create)()?, &idle, &ready, budget))
            .collect::<io::Result<_>>()?;
        rows.push((n, cells));
    }
    print_table(&backends, &rows);
    Ok(())
}

/// Registers `idle` and `ready`, then times `select` calls for about `budget` and returns the
/// median, or why it could not.
fn median_wait(
    mut selector: Box<dyn Selector>,
    idle: &[UdpSocket],
    ready: &UdpSocket,
    budget: Duration,
) -> io::Result<Cell> {
    let sockets = idle.iter().chain([ready]);
    for (i, socket) in sockets.enumerate() {
        match selector.register(socket.as_fd(), Interest::READABLE, Token(i)) {
            Ok(_) => {}
            Err(Error::FdTooLarge { .. }) => return Ok(Cell::NotApplicable("n/a (FD_SETSIZE)")),
            Err(err) => return Err(err.into()),
        }
    }
    let mut events = Events::with_capacity(16);
    let mut wait = |events: &mut Events| -> io::Result<Duration> {
        let start = Instant::now();
        selector.select(events, None)?;
        let elapsed = start.elapsed();
        assert_eq!(events.len(), 1, "exactly the ready socket");
        Ok(elapsed)
    };
    for _ in 0..10 {
        wait(&mut events)?;
    }
    let mut samples = Vec::new();
    let start = Instant::now();
    while (start.elapsed() < budget || samples.len() < 20) && samples.len() < 200_000 {
        samples.push(wait(&mut events)?);
    }
    samples.sort_unstable();
    Ok(Cell::Nanos(samples[samples.len() / 2].as_nanos() as f64))
}

fn print_table(backends: &[Backend], rows: &[(usize, Vec<Cell>)]) {
    let epoll = backends.iter().position(|b| b.name == "epoll");
    let mut header = String::from("| N idle + 1 ready |");
    let mut rule = String::from("|---:|");
    for backend in backends {
        header += &format!(" {} (ns/wait) |", backend.name);
        rule += "---:|";
    }
    if epoll.is_some() {
        for backend in backends.iter().filter(|b| b.name != "epoll") {
            header += &format!(" {} / epoll |", backend.name);
            rule += "---:|";
        }
    }
    println!("{header}\n{rule}");
    for (n, cells) in rows {
        let mut line = format!("| {n} |");
        for cell in cells {
            match cell {
                Cell::Nanos(ns) => line += &format!(" {ns:.0} |"),
                Cell::NotApplicable(why) => line += &format!(" {why} |"),
            }
        }
        if let Some(epoll) = epoll {
            for (_, cell) in cells.iter().enumerate().filter(|&(i, _)| i != epoll) {
                match (cell, &cells[epoll]) {
                    (Cell::Nanos(ns), Cell::Nanos(base)) => {
                        line += &format!(" {:.1}× |", ns / base)
                    }
                    _ => line += " n/a |",
                }
            }
        }
        println!("{line}");
    }
}

fn udp() -> io::Result<UdpSocket> {
    UdpSocket::bind("127.0.0.1:0")
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns the soft limit in force.
fn raise_fd_limit() -> libc::rlim_t {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable `rlimit`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 1024;
    }
    if limit.rlim_cur < limit.rlim_max {
        let wanted = libc::rlimit {
            rlim_cur: limit.rlim_max.min(1 << 20),
            rlim_max: limit.rlim_max,
        };
        // SAFETY: `wanted` is a valid `rlimit`.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) } == 0 {
            limit = wanted;
        }
    }
    limit.rlim_cur
}
