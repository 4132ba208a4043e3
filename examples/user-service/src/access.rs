//! Who may do what in the demo, when `user-server` runs with authentication: only the admin
//! identity may create users; every authenticated caller may read users, chat and use
//! reflection; health checks need no identity (`user-server` lets calls without a token reach
//! this policy, which answers UNAUTHENTICATED to anonymous callers of anything else).

use rill::auth::{AuthError, Policy, Who};

/// The identity allowed to call CreateUsers unless `user-server --admin` names another.
pub const DEFAULT_ADMIN: &str = "admin";

/// The demo's authorization policy. `admin` is matched against a bearer token's subject and a
/// client certificate's subject alternative names and common name.
///
/// ```
/// let policy = user_service::access::policy("admin").unwrap();
/// # drop(policy);
/// ```
pub fn policy(admin: &str) -> Result<Policy, AuthError> {
    Policy::builder()
        .allow("user.UserService/CreateUsers", Who::name(admin))
        .deny("user.UserService/CreateUsers", Who::Anyone)
        .allow("user.UserService/*", Who::Authenticated)
        .allow("grpc.health.v1.Health/*", Who::Anyone)
        .allow("grpc.reflection.v1.ServerReflection/*", Who::Authenticated)
        .allow(
            "grpc.reflection.v1alpha.ServerReflection/*",
            Who::Authenticated,
        )
        .build()
}
