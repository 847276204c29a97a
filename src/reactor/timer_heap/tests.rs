use std::time::{Duration, Instant};

use super::TimerHeap;

#[test]
fn records_come_due_in_deadline_order() {
    let mut heap = TimerHeap::default();
    let now = Instant::now();
    heap.arm(7, now + Duration::from_secs(3));
    heap.arm(3, now + Duration::from_secs(1));
    heap.arm(5, now + Duration::from_secs(2));
    assert_eq!(heap.next(), Some(now + Duration::from_secs(1)));
    assert!(heap.pop_due(now).is_none(), "nothing is due yet");
    let later = now + Duration::from_secs(2);
    let keys: Vec<usize> = std::iter::from_fn(|| heap.pop_due(later).map(|(k, _)| k)).collect();
    assert_eq!(keys, [3, 5]);
    assert_eq!(heap.len(), 1);
}

#[test]
fn every_record_has_its_own_generation() {
    let mut heap = TimerHeap::default();
    let at = Instant::now();
    let first = heap.arm(1, at);
    let second = heap.arm(1, at);
    assert_ne!(
        first, second,
        "a re-armed slot must not match its old record"
    );
}
