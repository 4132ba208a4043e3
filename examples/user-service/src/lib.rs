//! The rill demo: `UserService` (GetUser, ListUsers, CreateUsers, ChatStream) on SQLite.
//!
//! Run the server with `cargo run -p user-service --bin user-server` and exercise it with
//! `cargo run -p user-service --bin user-client`.

/// Messages and the generated server and client for `package user`.
#[allow(missing_docs)]
pub mod pb {
    rill::include_proto!("user");
}

pub mod access;
pub mod service;
pub mod store;

pub use service::Users;
pub use store::Store;
