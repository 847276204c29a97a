use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{parse, parse_duration, Command, Config, Mode};
use crate::target::Target;

fn run(args: &[&str]) -> Result<Config, String> {
    match parse(args.iter().map(|s| s.to_string()), 2) {
        Ok(Command::Run(config)) => Ok(*config),
        Ok(Command::Help) => Err("help".into()),
        Err(e) => Err(e.0),
    }
}

fn inet(text: &str) -> Target {
    Target::Inet {
        text: text.into(),
        address: text.parse::<SocketAddr>().unwrap(),
    }
}

#[test]
fn defaults() {
    let c = run(&["echo"]).unwrap();
    assert_eq!(c.mode, Mode::Echo);
    assert_eq!(c.target, inet("127.0.0.1:9999"));
    assert_eq!(c.connections, 16);
    assert_eq!(c.size, 64);
    assert_eq!(c.duration, Duration::from_secs(5));
    assert_eq!(c.warmup, Duration::from_secs(1));
    assert_eq!(c.hold, Duration::from_secs(5));
    assert_eq!(c.threads, 2, "min(connections, cores)");
    assert_eq!(c.timeout, Duration::from_secs(2));
    assert_eq!(c.requests, None);
    assert!(!c.json);
}

#[test]
fn every_flag_long_and_short() {
    let c = run(&[
        "connect",
        "--target",
        "127.0.0.1:7",
        "-c",
        "3",
        "-s",
        "1000",
        "-d",
        "0.5",
        "-w",
        "250ms",
        "-t",
        "5",
        "--timeout",
        "3s",
        "-n",
        "10000",
        "--json",
    ])
    .unwrap();
    assert_eq!(c.mode, Mode::Connect);
    assert_eq!(c.target, inet("127.0.0.1:7"));
    assert_eq!(c.connections, 3);
    assert_eq!(c.size, 1000);
    assert_eq!(c.duration, Duration::from_millis(500));
    assert_eq!(c.warmup, Duration::from_millis(250));
    assert_eq!(c.threads, 3, "threads are capped at the connection count");
    assert_eq!(c.timeout, Duration::from_secs(3));
    assert_eq!(c.requests, Some(10_000));
    assert!(c.json);
}

#[test]
fn equals_form_and_flags_before_the_mode() {
    let c = run(&[
        "--connections=4",
        "--size=8",
        "udp",
        "--target=[::1]:9000",
        "--threads=1",
    ])
    .unwrap();
    assert_eq!(c.mode, Mode::Udp);
    assert_eq!(c.connections, 4);
    assert_eq!(c.size, 8);
    assert_eq!(c.threads, 1);
    assert_eq!(c.target, inet("[::1]:9000"));
}

#[test]
fn idle_defaults_hold_to_duration_and_no_warmup() {
    let c = run(&["idle", "-d", "2"]).unwrap();
    assert_eq!(c.hold, Duration::from_secs(2));
    assert_eq!(c.warmup, Duration::ZERO);
    let c = run(&["idle", "--hold", "7", "-d", "2"]).unwrap();
    assert_eq!(c.hold, Duration::from_secs(7));
}

#[test]
fn unix_targets() {
    let c = run(&["echo", "--target", "unix:/tmp/echo.sock"]).unwrap();
    assert_eq!(c.target, Target::Unix(PathBuf::from("/tmp/echo.sock")));
    assert_eq!(c.target.to_string(), "unix:/tmp/echo.sock");
    assert!(run(&["echo", "--target", "unix:"]).is_err());
}

#[test]
fn names_resolve() {
    let c = run(&["echo", "--target", "localhost:9999"]).unwrap();
    match c.target {
        Target::Inet { text, address } => {
            assert_eq!(text, "localhost:9999");
            assert!(address.ip().is_loopback());
            assert_eq!(address.port(), 9999);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn help() {
    assert_eq!(run(&["-h"]), Err("help".into()));
    assert_eq!(run(&["echo", "--help"]), Err("help".into()));
}

#[test]
fn usage_errors_name_the_problem() {
    let cases: &[(&[&str], &str)] = &[
        (&[], "no mode"),
        (&["ping"], "unknown mode"),
        (&["echo", "udp"], "unexpected argument"),
        (&["echo", "--frobnicate"], "unknown option"),
        (&["echo", "--connections"], "needs a value"),
        (&["echo", "-c", "0"], "at least 1"),
        (&["echo", "-c", "many"], "not a whole number"),
        (&["echo", "-s", "-5"], "not a whole number"),
        (&["echo", "-d", "soon"], "not a duration"),
        (&["echo", "-d", "-1"], "not a duration"),
        (&["echo", "-d", "0"], "more than 0"),
        (&["echo", "--timeout", "0ms"], "more than 0"),
        (&["echo", "-d", "100000"], "longer than a day"),
        (&["echo", "--target", "9999"], "bad --target"),
        (&["echo", "--target", "::1:9999"], "bad --target"),
        (&["echo", "--target", "127.0.0.1:99999"], "bad --target"),
        (&["udp", "-s", "70000"], "larger than a datagram"),
        (&["echo", "--json=yes"], "unknown option"),
        (&["echo", "--requests", "0"], "at least 1"),
        (&["idle", "--requests", "10"], "does not apply to idle"),
        (&["echo", "--rate", "10"], "for http mode"),
        (&["echo", "--path", "/"], "for http mode"),
        (&["http", "--rate", "0"], "not a positive number"),
        (&["http", "--rate", "fast"], "not a positive number"),
        (&["http", "--rate", "inf"], "not a positive number"),
        (&["http", "--path", "index.html"], "must start with /"),
        (&["http", "--path", "/a b"], "no spaces"),
        (&["http", "-c", "4", "-t", "2"], "thread per connection"),
    ];
    for (args, wanted) in cases {
        let error = run(args).expect_err(&format!("{args:?} should fail"));
        assert!(
            error.contains(wanted),
            "{args:?}: {error:?} lacks {wanted:?}"
        );
    }
}

#[test]
fn durations() {
    let d = |s| parse_duration("--x", s);
    assert_eq!(d("3"), Ok(Duration::from_secs(3)));
    assert_eq!(d("3s"), Ok(Duration::from_secs(3)));
    assert_eq!(d("0.25"), Ok(Duration::from_millis(250)));
    assert_eq!(d("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(d("0"), Ok(Duration::ZERO));
    assert!(d("").is_err());
    assert!(d("ms").is_err());
    assert!(d("1h").is_err());
    assert!(d("inf").is_err());
    assert!(d("NaN").is_err());
}

#[test]
fn mode_names_round_trip() {
    for mode in [Mode::Echo, Mode::Connect, Mode::Idle, Mode::Udp, Mode::Http] {
        assert_eq!(run(&[mode.name()]).unwrap().mode, mode);
    }
}

#[test]
fn http_defaults_and_flags() {
    let c = run(&["http", "-c", "8"]).unwrap();
    assert_eq!(c.mode, Mode::Http);
    assert_eq!(c.path, "/");
    assert_eq!(c.rate, None, "a closed loop");
    assert_eq!(c.threads, 8, "a thread per connection, whatever the cores");
    let c = run(&["http", "--path", "/a/b.bin?x=1", "--rate", "2500.5"]).unwrap();
    assert_eq!(c.path, "/a/b.bin?x=1");
    assert_eq!(c.rate, Some(2500.5));
    assert_eq!(run(&["echo"]).unwrap().path, "/");
}
