//! The UserService handlers: SQLite behind `spawn_blocking`, a broadcast chat room.

use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use rill::status::details::{ErrorDetails, FieldViolation};
use rill::{BoxStream, Code, Request, Response, Status, Streaming};
use tokio::sync::{broadcast, mpsc};

use crate::pb::user_service_server::UserService;
use crate::pb::{
    ChatMessage, CreateUserRequest, CreateUsersResponse, GetUserRequest, ListUsersRequest, User,
};
use crate::store::{Store, StoreError};

/// Page size when the request gives none, and the largest allowed.
const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 1000;
/// Trailer that carries the token of the next page when more users follow.
pub const NEXT_PAGE_TOKEN: &str = "x-next-page-token";

/// The demo service.
#[derive(Clone)]
pub struct Users {
    store: Store,
    chat: broadcast::Sender<ChatMessage>,
}

impl Users {
    /// A service over `store` with an empty chat room.
    pub fn new(store: Store) -> Users {
        let (chat, _) = broadcast::channel(1024);
        Users { store, chat }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, Status> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(store))
            .await
            .map_err(|e| Status::internal(format!("store task failed: {e}")))?
            .map_err(|e| Status::internal(e.to_string()))
    }
}

fn unix_now() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Whether `email` looks like an address: `local@domain.tld`, no spaces.
pub fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
}

fn invalid_user(index: usize, field: &str, problem: String) -> Status {
    let details = ErrorDetails::new().with_bad_request(vec![FieldViolation::new(field, problem)]);
    Status::with_error_details(
        Code::InvalidArgument,
        format!("user #{index} is invalid"),
        details,
    )
}

impl UserService for Users {
    async fn get_user(&self, request: Request<GetUserRequest>) -> Result<Response<User>, Status> {
        let id = request.get_ref().id;
        match self.blocking(move |s| s.get(id)).await? {
            Some(user) => Ok(Response::new(user)),
            None => Err(Status::not_found(format!("user {id} not found"))),
        }
    }

    async fn list_users(
        &self,
        request: Request<ListUsersRequest>,
    ) -> Result<Response<BoxStream<User>>, Status> {
        let req = request.into_inner();
        let size = match req.page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if n < 0 => return Err(Status::invalid_argument("page_size must not be negative")),
            n => (n as u32).min(MAX_PAGE_SIZE),
        };
        let after = if req.page_token.is_empty() {
            0
        } else {
            req.page_token.parse::<i32>().map_err(|_| {
                Status::invalid_argument("page_token is not a token from this service")
            })?
        };
        // One extra row tells whether another page follows.
        let mut users = self.blocking(move |s| s.list(after, size + 1)).await?;
        let more = users.len() > size as usize;
        users.truncate(size as usize);
        let mut response = Response::stream(futures_util::stream::iter(
            users.clone().into_iter().map(Ok),
        ));
        if let (true, Some(last)) = (more, users.last()) {
            response
                .trailers_mut()
                .insert(NEXT_PAGE_TOKEN, &last.id.to_string())
                .map_err(|e| Status::internal(e.to_string()))?;
        }
        Ok(response)
    }

    async fn create_users(
        &self,
        request: Request<Streaming<CreateUserRequest>>,
    ) -> Result<Response<CreateUsersResponse>, Status> {
        let mut stream = request.into_inner();
        let mut users = Vec::new();
        while let Some(user) = stream.message().await? {
            let index = users.len();
            if user.name.trim().is_empty() {
                return Err(invalid_user(index, "name", "name must not be empty".into()));
            }
            if !valid_email(&user.email) {
                let problem = format!("{:?} is not a valid email address", user.email);
                return Err(invalid_user(index, "email", problem));
            }
            users.push((user.name, user.email));
        }
        let now = unix_now().as_secs() as i64;
        let ids = self.blocking(move |s| s.create_all(&users, now)).await?;
        Ok(Response::new(CreateUsersResponse {
            created_count: ids.len() as i32,
            ids,
        }))
    }

    async fn chat_stream(
        &self,
        request: Request<Streaming<ChatMessage>>,
    ) -> Result<Response<BoxStream<ChatMessage>>, Status> {
        let mut inbound = request.into_inner();
        let room = self.chat.clone();
        let mut feed = room.subscribe();
        let (tx, mut rx) = mpsc::channel::<Result<ChatMessage, Status>>(64);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    message = inbound.next() => match message {
                        Some(Ok(mut message)) => {
                            message.sent_at = unix_now().as_millis() as i64;
                            // No receivers is fine: nobody else is in the room.
                            let _ = room.send(message);
                        }
                        // The client is done sending (or went away): end its stream.
                        Some(Err(_)) | None => break,
                    },
                    relayed = feed.recv() => match relayed {
                        Ok(message) => {
                            if tx.send(Ok(message)).await.is_err() {
                                break;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(missed)) => {
                            eprintln!("chat: a slow reader missed {missed} messages");
                        }
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                }
            }
        });
        let outbound = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
        Ok(Response::stream(outbound))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_validation() {
        let cases = [
            ("a@b.co", true),
            ("first.last@example.org", true),
            ("", false),
            ("no-at.example.com", false),
            ("@example.com", false),
            ("a@b", false),
            ("a@.com", false),
            ("a@b.", false),
            ("a b@c.com", false),
            ("a@b@c.com", false),
        ];
        for (email, ok) in cases {
            assert_eq!(valid_email(email), ok, "{email:?}");
        }
    }
}
