use super::Registry;
use crate::{Error, Interest, Token};

#[test]
fn remove_swaps_the_last_key_into_place() {
    let mut registry = Registry::default();
    for fd in 10..14 {
        registry.insert(fd, Interest::READABLE, Token(fd as usize));
    }
    let (index, key) = registry.remove(11).unwrap();
    assert_eq!((index, key.fd()), (1, 11));
    assert_eq!(registry.as_slice()[1].fd(), 13);
    assert_eq!(registry.position(13).unwrap(), 1);
    assert_eq!(registry.len(), 3);
    // Removing the last one moves nothing.
    let (index, _) = registry.remove(12).unwrap();
    assert_eq!(index, 2);
    assert_eq!(registry.get(13).unwrap().token(), Token(13));
}

#[test]
fn typed_errors() {
    let mut registry = Registry::default();
    registry.insert(3, Interest::WRITABLE, Token(0));
    assert!(matches!(
        registry.check_vacant(3),
        Err(Error::AlreadyRegistered { fd: 3 })
    ));
    assert!(matches!(
        registry.position(4),
        Err(Error::NotRegistered { fd: 4 })
    ));
    assert!(matches!(
        registry.remove(4),
        Err(Error::NotRegistered { fd: 4 })
    ));
    let key = registry.update(0, Interest::READABLE, Token(9));
    assert_eq!(registry.get(3), Some(key));
}
