//! A type map carried by requests and responses.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

/// `TypeId`s are already hashes: pass them through instead of SipHashing them.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        // TypeId hashes through write_u64/write_u128; fold anything else in.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Map = HashMap<TypeId, Box<dyn Any + Send + Sync>, BuildHasherDefault<IdHasher>>;

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
    // Most requests carry no extension or one: allocate only when something is inserted.
    map: Option<Box<Map>>,
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
        self.map
            .get_or_insert_with(Box::default)
            .insert(TypeId::of::<T>(), Box::new(value))
            .and_then(|old| old.downcast().ok().map(|b| *b))
    }

    /// The value of type `T`, if any.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.map
            .as_ref()?
            .get(&TypeId::of::<T>())
            .and_then(|b| b.downcast_ref())
    }

    /// A mutable reference to the value of type `T`, if any.
    pub fn get_mut<T: Send + Sync + 'static>(&mut self) -> Option<&mut T> {
        self.map
            .as_mut()?
            .get_mut(&TypeId::of::<T>())
            .and_then(|b| b.downcast_mut())
    }

    /// Removes and returns the value of type `T`.
    pub fn remove<T: Send + Sync + 'static>(&mut self) -> Option<T> {
        self.map
            .as_mut()?
            .remove(&TypeId::of::<T>())
            .and_then(|b| b.downcast().ok().map(|b| *b))
    }

    /// Whether the set holds no value.
    pub fn is_empty(&self) -> bool {
        self.map.as_ref().is_none_or(|m| m.is_empty())
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extensions")
            .field("len", &self.map.as_ref().map_or(0, |m| m.len()))
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
}
