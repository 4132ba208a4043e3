//! A type map carried by requests and responses.

use std::any::{Any, TypeId};
use std::fmt;

type Entry = (TypeId, Box<dyn Any + Send + Sync>);

/// Values of any type, keyed by type, that travel with a [`Request`](crate::Request) or
/// [`Response`](crate::Response) inside one process (never on the wire).
///
/// Interceptors use it to hand data, such as an authenticated identity, to handlers.
///
/// ```
/// let mut ext = rill::Extensions::new();
/// ext.insert(42u32);
/// assert_eq!(ext.get::<u32>(), Some(&42));
/// ```
#[derive(Default)]
pub struct Extensions {
    // A request carries a handful of values at most: a list searched in order costs less
    // than a hash map (no table to allocate per call, no hashing), and nothing is allocated
    // until something is inserted.
    entries: Vec<Entry>,
}

impl Extensions {
    /// Creates an empty set.
    ///
    /// ```
    /// assert!(rill::Extensions::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts a value, returning the previous value of that type.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) -> Option<T> {
        match self.position::<T>() {
            Some(i) => {
                let old = std::mem::replace(&mut self.entries[i].1, Box::new(value));
                old.downcast().ok().map(|b| *b)
            }
            None => {
                self.entries.push((TypeId::of::<T>(), Box::new(value)));
                None
            }
        }
    }

    fn position<T: 'static>(&self) -> Option<usize> {
        let id = TypeId::of::<T>();
        self.entries.iter().position(|(t, _)| *t == id)
    }

    /// The value of type `T`, if any.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.entries[self.position::<T>()?].1.downcast_ref()
    }

    /// A mutable reference to the value of type `T`, if any.
    pub fn get_mut<T: Send + Sync + 'static>(&mut self) -> Option<&mut T> {
        let i = self.position::<T>()?;
        self.entries[i].1.downcast_mut()
    }

    /// Removes and returns the value of type `T`.
    pub fn remove<T: Send + Sync + 'static>(&mut self) -> Option<T> {
        let i = self.position::<T>()?;
        self.entries.swap_remove(i).1.downcast().ok().map(|b| *b)
    }

    /// Whether the set holds no value.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extensions")
            .field("len", &self.entries.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_remove_by_type() {
        let mut ext = Extensions::new();
        assert_eq!(ext.insert(1u8), None);
        assert_eq!(ext.insert(2u8), Some(1));
        ext.insert(String::from("id"));
        assert_eq!(ext.get::<u8>(), Some(&2));
        *ext.get_mut::<String>().unwrap() += "!";
        assert_eq!(ext.remove::<String>().as_deref(), Some("id!"));
        assert_eq!(ext.get::<String>(), None);
        assert!(!ext.is_empty());
    }

    #[test]
    fn many_types_each_found_after_removals() {
        let mut ext = Extensions::new();
        ext.insert(1u8);
        ext.insert(2u16);
        ext.insert(3u32);
        ext.insert(4u64);
        ext.insert(5i8);
        ext.insert(6i16);
        assert_eq!(ext.remove::<u16>(), Some(2));
        assert_eq!(ext.remove::<u16>(), None);
        assert_eq!(ext.insert(7u64), Some(4));
        assert_eq!(
            (ext.get::<u8>(), ext.get::<u32>(), ext.get::<u64>()),
            (Some(&1), Some(&3), Some(&7))
        );
        assert_eq!((ext.get::<i8>(), ext.get::<i16>()), (Some(&5), Some(&6)));
        assert_eq!(format!("{ext:?}"), "Extensions { len: 5 }");
    }
}
