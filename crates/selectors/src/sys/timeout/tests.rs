use std::io;
use std::time::{Duration, Instant};

use super::{as_millis, as_timeval, wait};

#[test]
fn millis_round_up_and_keep_zero() {
    assert_eq!(as_millis(None), -1);
    assert_eq!(as_millis(Some(Duration::ZERO)), 0);
    assert_eq!(as_millis(Some(Duration::from_nanos(1))), 1);
    assert_eq!(as_millis(Some(Duration::from_micros(500))), 1);
    assert_eq!(as_millis(Some(Duration::from_millis(1))), 1);
    assert_eq!(as_millis(Some(Duration::from_micros(1_001))), 2);
    assert_eq!(as_millis(Some(Duration::MAX)), libc::c_int::MAX);
}

#[test]
fn timeval_rounds_up_and_clamps() {
    let tv = as_timeval(Duration::from_nanos(1));
    assert_eq!((tv.tv_sec, tv.tv_usec), (0, 1));
    let tv = as_timeval(Duration::new(2, 500_000_001));
    assert_eq!((tv.tv_sec, tv.tv_usec), (2, 500_001));
    let tv = as_timeval(Duration::MAX);
    assert_eq!((tv.tv_sec, tv.tv_usec), (31 * 24 * 60 * 60, 0));
}

#[test]
fn eintr_retries_with_the_time_left() {
    let start = Instant::now();
    let mut asked = Vec::new();
    let n = wait(Some(Duration::from_millis(50)), |t| {
        asked.push(t);
        if asked.len() < 3 {
            Err(io::Error::from(io::ErrorKind::Interrupted))
        } else {
            Ok(1)
        }
    })
    .unwrap();
    assert_eq!(n, 1);
    assert_eq!(asked.len(), 3);
    assert_eq!(asked[0], Some(Duration::from_millis(50)));
    assert!(asked[1].unwrap() <= Duration::from_millis(50));
    assert!(asked[2].unwrap() <= asked[1].unwrap());
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn early_empty_return_waits_again_until_the_deadline() {
    let start = Instant::now();
    let mut calls = 0;
    // A call that returns at once with nothing ready, like a clamped timeout would.
    let n = wait(Some(Duration::from_millis(20)), |_| {
        calls += 1;
        Ok(0)
    })
    .unwrap();
    assert_eq!(n, 0);
    assert!(calls >= 1);
    assert!(start.elapsed() >= Duration::from_millis(20));
}

#[test]
fn infinite_wait_keeps_none_after_eintr() {
    let mut asked = Vec::new();
    wait(None, |t| {
        asked.push(t);
        if asked.len() == 1 {
            Err(io::Error::from(io::ErrorKind::Interrupted))
        } else {
            Ok(2)
        }
    })
    .unwrap();
    assert_eq!(asked, [None, None]);
}

#[test]
fn other_errors_end_the_wait() {
    let err = wait(None, |_| Err(io::Error::from_raw_os_error(libc::EBADF))).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EBADF));
}
