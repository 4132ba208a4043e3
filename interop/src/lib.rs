//! rill interop.
