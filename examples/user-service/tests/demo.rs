//! End-to-end tests of the UserService demo: the generated rill client against the service
//! served in-process on 127.0.0.1 (port 0), over real TCP.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rill::server::Server;
use rill::{Code, Status, Streaming};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use user_service::pb::user_service_client::UserServiceClient;
use user_service::pb::user_service_server::UserServiceServer;
use user_service::pb::{
    ChatMessage, CreateUserRequest, CreateUsersResponse, GetUserRequest, ListUsersRequest, User,
};
use user_service::service::NEXT_PAGE_TOKEN;
use user_service::{Store, Users};

/// Deadline of every call (the machine may be busy compiling: generous, but bounded).
const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// Bound on any single wait in these tests (a stream message, a server shutdown).
const WAIT: Duration = Duration::from_secs(20);

/// `fut`, or a panic naming `what` if it takes longer than [`WAIT`].
async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {WAIT:?}"))
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
}

/// The demo service on 127.0.0.1:0, in this test's runtime. Dropping it shuts it down.
struct TestServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), rill::Error>>,
}

impl TestServer {
    /// Serves a store opened at `db` (`:memory:` or a file).
    async fn start(db: impl AsRef<Path>) -> TestServer {
        let store = Store::open(db.as_ref()).expect("open the store");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let (shutdown, signal) = oneshot::channel::<()>();
        let server = Server::builder().add_service(UserServiceServer::new(Users::new(store)));
        let task = tokio::spawn(server.serve_with_listener(listener, async {
            // A send or a drop of the sender: either way, stop.
            let _ = signal.await;
        }));
        TestServer {
            addr,
            shutdown: Some(shutdown),
            task,
        }
    }

    /// A new client, on its own connection.
    async fn client(&self) -> UserServiceClient {
        let target = format!("http://{}", self.addr);
        within("connect", UserServiceClient::connect(&target))
            .await
            .expect("connect to the test server")
            .timeout(CALL_TIMEOUT)
    }

    /// Graceful shutdown; waits (bounded) for the server to finish.
    async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        within("server shutdown", &mut self.task)
            .await
            .expect("server task panicked")
            .expect("server failed");
    }
}

fn new_user(name: &str, email: &str) -> CreateUserRequest {
    CreateUserRequest {
        name: name.into(),
        email: email.into(),
    }
}

/// `n` valid users named `user1`..`userN`.
fn numbered_users(n: usize) -> Vec<CreateUserRequest> {
    (1..=n)
        .map(|i| new_user(&format!("user{i}"), &format!("user{i}@example.com")))
        .collect()
}

async fn create(
    client: &UserServiceClient,
    users: Vec<CreateUserRequest>,
) -> Result<CreateUsersResponse, Status> {
    within(
        "CreateUsers",
        client.create_users(futures_util::stream::iter(users)),
    )
    .await
    .map(rill::Response::into_inner)
}

async fn get(client: &UserServiceClient, id: i32) -> Result<User, Status> {
    within("GetUser", client.get_user(GetUserRequest { id }))
        .await
        .map(rill::Response::into_inner)
}

/// One ListUsers call: the users of the page and the next page token from the trailers.
async fn list_page(
    client: &UserServiceClient,
    page_size: i32,
    page_token: &str,
) -> Result<(Vec<User>, Option<String>), Status> {
    let request = ListUsersRequest {
        page_size,
        page_token: page_token.into(),
    };
    let mut stream = within("ListUsers", client.list_users(request))
        .await?
        .into_inner();
    let mut users = Vec::new();
    while let Some(user) = within("ListUsers message", stream.message()).await? {
        users.push(user);
    }
    let trailers = stream
        .trailers()
        .expect("a stream that ended with OK has trailers");
    Ok((users, trailers.get(NEXT_PAGE_TOKEN).map(str::to_owned)))
}

/// Every page, following the `x-next-page-token` trailer.
async fn list_pages(client: &UserServiceClient, page_size: i32) -> Vec<Vec<User>> {
    let mut pages = Vec::new();
    let mut token = String::new();
    loop {
        let (page, next) = list_page(client, page_size, &token)
            .await
            .unwrap_or_else(|s| panic!("ListUsers(size {page_size}, token {token:?}): {s:?}"));
        let last = page.last().map(|u| u.id.to_string());
        pages.push(page);
        match next {
            Some(next) => {
                assert_eq!(Some(&next), last.as_ref(), "the token is the last id");
                assert!(pages.len() <= 10_000, "paging does not end");
                token = next;
            }
            None => return pages,
        }
    }
}

fn ids(users: &[User]) -> Vec<i32> {
    users.iter().map(|u| u.id).collect()
}

/// Every user id in the store, in order.
async fn all_ids(client: &UserServiceClient) -> Vec<i32> {
    list_pages(client, 1000)
        .await
        .concat()
        .iter()
        .map(|u| u.id)
        .collect()
}

#[tokio::test]
async fn get_user_finds_existing_users_and_reports_missing_ones() {
    let server = TestServer::start(":memory:").await;
    let client = server.client().await;
    let before = unix_now().as_secs() as i64;
    let created = create(
        &client,
        vec![
            new_user("Ada", "ada@example.com"),
            new_user("Grace", "grace@example.com"),
            new_user("Linus", "linus@example.com"),
        ],
    )
    .await
    .expect("create");
    let after = unix_now().as_secs() as i64;
    assert_eq!(created.ids, vec![1, 2, 3]);

    let found = [
        (1, "Ada", "ada@example.com"),
        (2, "Grace", "grace@example.com"),
        (3, "Linus", "linus@example.com"),
    ];
    for (id, name, email) in found {
        let user = get(&client, id)
            .await
            .unwrap_or_else(|s| panic!("GetUser({id}): {s:?}"));
        assert_eq!(
            (user.id, user.name.as_str(), user.email.as_str()),
            (id, name, email)
        );
        assert!(
            (before..=after).contains(&user.created_at),
            "created_at {} not in [{before}, {after}]",
            user.created_at
        );
    }

    for id in [0, -1, 4, 1000, i32::MAX, i32::MIN] {
        let status = get(&client, id)
            .await
            .expect_err(&format!("GetUser({id}) must fail"));
        assert_eq!(status.code(), Code::NotFound, "GetUser({id}): {status:?}");
        assert_eq!(status.message(), format!("user {id} not found"));
    }
    server.stop().await;
}

#[tokio::test]
async fn create_users_creates_every_user_streamed() {
    let server = TestServer::start(":memory:").await;
    let client = server.client().await;

    let nothing = create(&client, Vec::new()).await.expect("empty create");
    assert_eq!((nothing.created_count, nothing.ids), (0, vec![]));

    let created = create(&client, numbered_users(250)).await.expect("create");
    assert_eq!(created.created_count, 250);
    assert_eq!(created.ids, (1..=250).collect::<Vec<_>>());

    let more = create(&client, vec![new_user("late", "late@example.com")])
        .await
        .expect("create one more");
    assert_eq!(more.ids, vec![251]);

    let users = list_pages(&client, 1000).await.concat();
    assert_eq!(users.len(), 251);
    for (user, i) in users.iter().zip(1..=250) {
        assert_eq!(user.id, i);
        assert_eq!(user.name, format!("user{i}"));
        assert_eq!(user.email, format!("user{i}@example.com"));
    }
    assert_eq!(get(&client, 251).await.expect("get").name, "late");
    server.stop().await;
}

#[tokio::test]
async fn concurrent_creates_get_distinct_ids() {
    let server = TestServer::start(":memory:").await;
    let client = server.client().await;
    let calls = (0..8).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { create(&client, numbered_users(25)).await })
    });
    let mut ids: Vec<i32> = Vec::new();
    for call in futures_util::future::join_all(calls).await {
        let response = call.expect("task").expect("create");
        assert_eq!(response.created_count, 25);
        // One call's users are inserted in one transaction: consecutive ids.
        assert!(response.ids.windows(2).all(|w| w[1] == w[0] + 1));
        ids.extend(response.ids);
    }
    ids.sort_unstable();
    assert_eq!(ids, (1..=200).collect::<Vec<_>>());
    assert_eq!(all_ids(&client).await, ids);
    server.stop().await;
}

#[tokio::test]
async fn create_users_rejects_an_invalid_user_and_creates_nothing() {
    struct Case {
        name: &'static str,
        users: Vec<CreateUserRequest>,
        /// Index of the invalid user, and the field the violation names.
        index: usize,
        field: &'static str,
        description: &'static str,
    }
    let valid = |i: usize| new_user(&format!("ok{i}"), &format!("ok{i}@example.com"));
    let cases = vec![
        Case {
            name: "bad email alone",
            users: vec![new_user("Bob", "not-an-email")],
            index: 0,
            field: "email",
            description: "\"not-an-email\" is not a valid email address",
        },
        Case {
            name: "bad email after valid users",
            users: vec![valid(1), valid(2), new_user("Bob", "bob@example")],
            index: 2,
            field: "email",
            description: "\"bob@example\" is not a valid email address",
        },
        Case {
            name: "bad email before valid users",
            users: vec![new_user("Bob", "@example.com"), valid(1), valid(2)],
            index: 0,
            field: "email",
            description: "\"@example.com\" is not a valid email address",
        },
        Case {
            // The server answers while the client is still sending.
            name: "bad email before many valid users",
            users: std::iter::once(new_user("Bob", "bob at example.com"))
                .chain((0..2000).map(valid))
                .collect(),
            index: 0,
            field: "email",
            description: "\"bob at example.com\" is not a valid email address",
        },
        Case {
            name: "empty email",
            users: vec![valid(1), new_user("Bob", "")],
            index: 1,
            field: "email",
            description: "\"\" is not a valid email address",
        },
        Case {
            name: "empty name",
            users: vec![new_user("", "nobody@example.com")],
            index: 0,
            field: "name",
            description: "name must not be empty",
        },
        Case {
            name: "blank name after a valid user",
            users: vec![valid(1), new_user(" \t ", "blank@example.com")],
            index: 1,
            field: "name",
            description: "name must not be empty",
        },
    ];

    let server = TestServer::start(":memory:").await;
    let client = server.client().await;
    let existing = create(&client, vec![valid(100), valid(101)])
        .await
        .expect("seed");
    assert_eq!(existing.ids, vec![1, 2]);

    for case in cases {
        let name = case.name;
        let status = create(&client, case.users)
            .await
            .expect_err(&format!("{name}: must fail"));
        assert_eq!(status.code(), Code::InvalidArgument, "{name}: {status:?}");
        assert_eq!(
            status.message(),
            format!("user #{} is invalid", case.index),
            "{name}"
        );
        let details = status
            .error_details()
            .unwrap_or_else(|e| panic!("{name}: undecodable details: {e}"));
        let violations = &details
            .bad_request()
            .unwrap_or_else(|| panic!("{name}: no BadRequest detail in {details:?}"))
            .field_violations;
        assert_eq!(violations.len(), 1, "{name}: {violations:?}");
        assert_eq!(violations[0].field, case.field, "{name}");
        assert_eq!(violations[0].description, case.description, "{name}");

        // Atomic: none of the call's users, valid or not, was stored.
        assert_eq!(all_ids(&client).await, vec![1, 2], "{name}");
    }

    // Not even transiently: the next id is still 3.
    let next = create(&client, vec![valid(3)]).await.expect("create after");
    assert_eq!(next.ids, vec![3]);
    server.stop().await;
}

#[tokio::test]
async fn list_users_pages_with_the_next_page_token_trailer() {
    let server = TestServer::start(":memory:").await;
    let client = server.client().await;

    // An empty directory: one empty page, no token.
    assert_eq!(
        list_page(&client, 3, "").await.expect("list"),
        (vec![], None)
    );

    create(&client, numbered_users(7)).await.expect("seed");
    let cases: [(i32, &[&[i32]]); 7] = [
        (3, &[&[1, 2, 3], &[4, 5, 6], &[7]]),
        (1, &[&[1], &[2], &[3], &[4], &[5], &[6], &[7]]),
        (2, &[&[1, 2], &[3, 4], &[5, 6], &[7]]),
        (6, &[&[1, 2, 3, 4, 5, 6], &[7]]),
        // A page exactly as large as what is left has no next page.
        (7, &[&[1, 2, 3, 4, 5, 6, 7]]),
        // 0 means the default (50).
        (0, &[&[1, 2, 3, 4, 5, 6, 7]]),
        (5000, &[&[1, 2, 3, 4, 5, 6, 7]]),
    ];
    for (page_size, expected) in cases {
        let pages = list_pages(&client, page_size).await;
        let got: Vec<Vec<i32>> = pages.iter().map(|p| ids(p)).collect();
        assert_eq!(got, expected, "page_size {page_size}");
        for user in pages.concat() {
            assert_eq!(user.name, format!("user{}", user.id));
            assert_eq!(user.email, format!("user{}@example.com", user.id));
        }
    }

    // The exact trailers of the size-3 walk.
    let (page, next) = list_page(&client, 3, "").await.expect("page 1");
    assert_eq!((ids(&page), next.as_deref()), (vec![1, 2, 3], Some("3")));
    let (page, next) = list_page(&client, 3, "3").await.expect("page 2");
    assert_eq!((ids(&page), next.as_deref()), (vec![4, 5, 6], Some("6")));
    let (page, next) = list_page(&client, 3, "6").await.expect("page 3");
    assert_eq!((ids(&page), next), (vec![7], None));

    // A token at or past the end: an empty last page.
    for token in ["7", "99"] {
        let (page, next) = list_page(&client, 3, token).await.expect("past the end");
        assert_eq!((page, next), (vec![], None), "token {token}");
    }
    server.stop().await;
}

#[tokio::test]
async fn list_users_caps_the_page_size_at_1000() {
    let server = TestServer::start(":memory:").await;
    let client = server.client().await;
    create(&client, numbered_users(1001)).await.expect("seed");
    for page_size in [1000, 1001, i32::MAX] {
        let pages = list_pages(&client, page_size).await;
        let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![1000, 1], "page_size {page_size}");
    }
    server.stop().await;
}

#[tokio::test]
async fn list_users_rejects_bad_page_tokens_and_sizes() {
    let cases: [(i32, &str, &str); 9] = [
        (3, "abc", "page_token is not a token from this service"),
        (3, "3.5", "page_token is not a token from this service"),
        (3, " 3", "page_token is not a token from this service"),
        (3, "0x10", "page_token is not a token from this service"),
        (
            3,
            "99999999999",
            "page_token is not a token from this service",
        ),
        (-1, "", "page_size must not be negative"),
        (-3, "3", "page_size must not be negative"),
        (i32::MIN, "", "page_size must not be negative"),
        // The size is checked before the token.
        (-1, "abc", "page_size must not be negative"),
    ];
    let server = TestServer::start(":memory:").await;
    let client = server.client().await;
    create(&client, numbered_users(7)).await.expect("seed");
    for (page_size, token, message) in cases {
        let status = list_page(&client, page_size, token)
            .await
            .expect_err(&format!("size {page_size}, token {token:?}: must fail"));
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_eq!(status.message(), message);
    }
    server.stop().await;
}

/// One participant of the chat room: a ChatStream call and the sender of its messages.
struct Chatter {
    name: &'static str,
    outbound: Option<mpsc::Sender<ChatMessage>>,
    inbound: Streaming<ChatMessage>,
}

impl Chatter {
    /// Joins the room. Once the call has returned, the server has answered (response headers),
    /// so this participant receives every message sent from then on.
    async fn join(client: &UserServiceClient, name: &'static str) -> Chatter {
        let (tx, mut rx) = mpsc::channel(16);
        let outbound = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
        let inbound = within("ChatStream", client.chat_stream(outbound))
            .await
            .expect("join the chat")
            .into_inner();
        Chatter {
            name,
            outbound: Some(tx),
            inbound,
        }
    }

    async fn say(&self, text: &str) {
        let message = ChatMessage {
            user: self.name.into(),
            text: text.into(),
            // The server sets it, whatever the client says.
            sent_at: 42,
        };
        let outbound = self.outbound.as_ref().expect("still sending");
        outbound.send(message).await.expect("the call is open");
    }

    async fn next(&mut self) -> Option<ChatMessage> {
        within("chat message", self.inbound.message())
            .await
            .unwrap_or_else(|s| panic!("{}'s chat stream failed: {s:?}", self.name))
    }

    async fn expect(&mut self, user: &str, text: &str) -> ChatMessage {
        let message = self
            .next()
            .await
            .unwrap_or_else(|| panic!("{}'s chat stream ended", self.name));
        assert_eq!((message.user.as_str(), message.text.as_str()), (user, text));
        message
    }

    /// Half-closes; the server then ends this participant's stream (with OK).
    fn half_close(&mut self) {
        self.outbound = None;
    }
}

#[tokio::test]
async fn chat_stream_broadcasts_to_every_client_until_half_close() {
    let server = TestServer::start(":memory:").await;
    // Two clients, each on its own connection.
    let (alice_client, bob_client) = (server.client().await, server.client().await);
    let mut alice = Chatter::join(&alice_client, "alice").await;
    let mut bob = Chatter::join(&bob_client, "bob").await;

    let before = unix_now().as_millis() as i64;
    alice.say("hi bob").await;
    let to_alice = alice.expect("alice", "hi bob").await;
    let to_bob = bob.expect("alice", "hi bob").await;
    let after = unix_now().as_millis() as i64;
    assert!(
        (before..=after).contains(&to_alice.sent_at),
        "sent_at {} not in [{before}, {after}]",
        to_alice.sent_at
    );
    assert_eq!(to_alice, to_bob, "one broadcast, the same message for all");

    bob.say("hi alice").await;
    bob.say("how are you?").await;
    for chatter in [&mut alice, &mut bob] {
        let first = chatter.expect("bob", "hi alice").await;
        let second = chatter.expect("bob", "how are you?").await;
        assert!(first.sent_at > 0 && first.sent_at <= second.sent_at);
    }

    // Alice half-closes: her stream ends with OK; Bob stays in the room.
    alice.half_close();
    assert_eq!(alice.next().await, None, "alice's stream ends");
    assert!(alice.inbound.trailers().is_some(), "ended with OK");

    bob.say("anyone?").await;
    bob.expect("bob", "anyone?").await;
    bob.half_close();
    assert_eq!(bob.next().await, None, "bob's stream ends");
    assert!(bob.inbound.trailers().is_some(), "ended with OK");

    // The room still works for newcomers.
    let mut carol = Chatter::join(&alice_client, "carol").await;
    carol.say("hello?").await;
    carol.expect("carol", "hello?").await;
    carol.half_close();
    assert_eq!(carol.next().await, None);
    server.stop().await;
}

#[tokio::test]
async fn users_in_a_file_survive_a_server_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("users.db");

    let first = TestServer::start(&db).await;
    let client = first.client().await;
    let created = create(
        &client,
        vec![
            new_user("Ada", "ada@example.com"),
            new_user("Grace", "grace@example.com"),
            new_user("Linus", "linus@example.com"),
        ],
    )
    .await
    .expect("create");
    assert_eq!(created.ids, vec![1, 2, 3]);
    let before = list_pages(&client, 0).await.concat();
    // The client stays connected while the server stops: shutdown must not wait for it.
    first.stop().await;
    assert!(db.exists(), "{} was created", db.display());

    let second = TestServer::start(&db).await;
    let client = second.client().await;
    assert_eq!(list_pages(&client, 0).await.concat(), before);
    assert_eq!(get(&client, 2).await.expect("get"), before[1]);
    let next = create(&client, vec![new_user("Barbara", "barbara@example.com")])
        .await
        .expect("create after restart");
    assert_eq!(next.ids, vec![4], "ids continue after a restart");
    second.stop().await;

    // And a third time, with everything.
    let third = TestServer::start(&db).await;
    let client = third.client().await;
    assert_eq!(all_ids(&client).await, vec![1, 2, 3, 4]);
    drop(client);
    third.stop().await;
}
