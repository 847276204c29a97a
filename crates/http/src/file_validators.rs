//! [`FileValidators`]: a file's `ETag` and `Last-Modified` values, formatted once per version
//! of the file on each thread instead of once per request.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use crate::date::http_date;
use crate::fnv::FnvMap;

/// The validators of one version of a file (its modification second and length).
#[derive(Debug)]
pub(crate) struct FileValidators {
    pub(crate) etag: String,
    pub(crate) last_modified: String,
}

/// How many versions a thread keeps: past it the memo starts again, so it never grows with
/// the number of files served.
const MOST_KEPT: usize = 256;

thread_local! {
    static KEPT: RefCell<FnvMap<(u64, u64), Rc<FileValidators>>> = RefCell::new(FnvMap::default());
}

impl FileValidators {
    /// The validators of a file modified at `modified_secs` (since the epoch) and `length`
    /// bytes long. They are a function of these two numbers alone, so a kept value is never
    /// stale: a changed file has another key.
    pub(crate) fn of(modified_secs: u64, length: u64) -> Rc<FileValidators> {
        KEPT.with(|kept| {
            let mut kept = kept.borrow_mut();
            if let Some(found) = kept.get(&(modified_secs, length)) {
                return Rc::clone(found);
            }
            if kept.len() >= MOST_KEPT {
                kept.clear();
            }
            let made = Rc::new(FileValidators {
                etag: format!("\"{modified_secs:x}-{length:x}\""),
                last_modified: http_date(UNIX_EPOCH + Duration::from_secs(modified_secs)),
            });
            kept.insert((modified_secs, length), Rc::clone(&made));
            made
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_is_formatted_once_and_the_memo_stays_bounded() {
        let first = FileValidators::of(784_111_777, 1024);
        assert_eq!(first.etag, "\"2ebc98a1-400\"");
        assert_eq!(first.last_modified, "Sun, 06 Nov 1994 08:49:37 GMT");
        assert!(Rc::ptr_eq(&first, &FileValidators::of(784_111_777, 1024)));
        assert_eq!(
            FileValidators::of(784_111_777, 1025).etag,
            "\"2ebc98a1-401\""
        );
        for secs in 0..(MOST_KEPT as u64 * 3) {
            FileValidators::of(secs, 1);
        }
        assert!(KEPT.with(|kept| kept.borrow().len()) <= MOST_KEPT);
    }
}
