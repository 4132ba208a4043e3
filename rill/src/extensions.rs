//! A type map carried by requests and responses.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;

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
    map: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
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
            .insert(TypeId::of::<T>(), Box::new(value))
            .and_then(|old| old.downcast().ok().map(|b| *b))
    }

    /// The value of type `T`, if any.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.map
            .get(&TypeId::of::<T>())
            .and_then(|b| b.downcast_ref())
    }

    /// A mutable reference to the value of type `T`, if any.
    pub fn get_mut<T: Send + Sync + 'static>(&mut self) -> Option<&mut T> {
        self.map
            .get_mut(&TypeId::of::<T>())
            .and_then(|b| b.downcast_mut())
    }

    /// Removes and returns the value of type `T`.
    pub fn remove<T: Send + Sync + 'static>(&mut self) -> Option<T> {
        self.map
            .remove(&TypeId::of::<T>())
            .and_then(|b| b.downcast().ok().map(|b| *b))
    }

    /// Whether the set holds no value.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extensions")
            .field("len", &self.map.len())
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
