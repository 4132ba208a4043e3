//! Authentication and authorization end to end: call credentials, the bearer auth layer, the
//! JWT validator and the policy, over in-memory pipes and (m)TLS with generated certificates.

#[path = "common/certs.rs"]
mod certs;
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use certs::Pki;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rill::auth::{
    BearerAuthLayer, BearerToken, CallToken, JwtValidator, Policy, Principal, StaticTokens, Token,
    Who,
};
use rill::client::Endpoint;
use rill::server::{Method, Server, Service};
use rill::tls::{Certificates, ClientTlsConfig, Identity, PeerIdentity, ServerTlsConfig};
use rill::{Client, Code, Request, Response, Status};
use serde_json::json;

const READ: &str = "/test.Auth/Read";
const WRITE: &str = "/test.Auth/Write";

/// Answers with who the server thinks the caller is: `subject[scopes]`, the client
/// certificate's common name, or `anonymous`.
struct WhoAmI;

fn whoami(req: &Request<Msg>) -> String {
    if let Some(p) = req.extensions().get::<Principal>() {
        return format!("{}{:?}", p.subject, p.scopes);
    }
    match req.extensions().get::<Arc<PeerIdentity>>() {
        Some(peer) => format!("cert:{}", peer.common_name().unwrap_or("")),
        None => "anonymous".to_string(),
    }
}

impl Service for WhoAmI {
    fn name(&self) -> &'static str {
        "test.Auth"
    }
    fn methods(&self) -> Vec<Method> {
        let answer = |req: Request<Msg>| async move {
            Ok::<_, Status>(Response::new(Msg::text(&whoami(&req))))
        };
        vec![
            Method::unary("Read", answer),
            Method::unary("Write", answer),
        ]
    }
}

/// Counts the calls that reach the server's layers (i.e. were sent at all).
fn counting(server: Server) -> (Server, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let server = server.interceptor(move |_: &mut Request<()>| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    (server, seen)
}

fn tokens() -> StaticTokens {
    StaticTokens::new()
        .principal(
            "admin-t0ken",
            Principal::new("admin").with_scopes(["write"]),
        )
        .token("reader-t0ken", "reader")
}

async fn call(client: &Client, path: &'static str, req: Request<Msg>) -> Result<String, Status> {
    Ok(client.unary::<Msg, Msg>(path, req).await?.into_inner().text)
}

fn with_token(token: &str) -> Request<Msg> {
    let mut req = Request::new(Msg::default());
    req.extensions_mut()
        .insert(CallToken::new(token).allow_insecure(true));
    req
}

// ---------------------------------------------------------------- client credentials

#[tokio::test]
async fn tokens_are_refused_over_plaintext_unless_allowed() {
    let auth = BearerAuthLayer::new(tokens());
    let (server, seen) = counting(Server::builder().add_service(WhoAmI).layer(auth));
    let plain = duplex_pair(server);
    // (client-wide credentials, per-call token, expected answer; Err(true): refused by the
    // client before sending, Err(false): sent and refused by the server)
    type Case = (
        Option<BearerToken>,
        Option<CallToken>,
        Result<&'static str, bool>,
    );
    let cases: Vec<Case> = vec![
        (Some(BearerToken::new("admin-t0ken")), None, Err(true)),
        (
            Some(BearerToken::new("admin-t0ken").allow_insecure(true)),
            None,
            Ok("admin[\"write\"]"),
        ),
        (None, Some(CallToken::new("reader-t0ken")), Err(true)),
        (
            None,
            Some(CallToken::new("reader-t0ken").allow_insecure(true)),
            Ok("reader[]"),
        ),
        // A call's own token wins over the client's, and its own opt-in counts.
        (
            Some(BearerToken::new("admin-t0ken").allow_insecure(true)),
            Some(CallToken::new("reader-t0ken").allow_insecure(true)),
            Ok("reader[]"),
        ),
        (
            Some(BearerToken::new("admin-t0ken").allow_insecure(true)),
            Some(CallToken::new("reader-t0ken")),
            Err(true),
        ),
        // Nothing attached: the server asks for a token.
        (None, None, Err(false)),
    ];
    for (i, (creds, per_call, expected)) in cases.into_iter().enumerate() {
        let client = match creds {
            Some(creds) => plain.clone().layer(creds),
            None => plain.clone(),
        };
        let mut req = Request::new(Msg::default());
        if let Some(token) = per_call {
            req.extensions_mut().insert(token);
        }
        let before = seen.load(Ordering::SeqCst);
        let got = call(&client, READ, req).await;
        let sent = seen.load(Ordering::SeqCst) - before;
        match (&got, expected) {
            (Ok(text), Ok(want)) => assert_eq!((text.as_str(), sent), (want, 1), "case {i}"),
            (Err(status), Err(locally)) => {
                assert_eq!(status.code(), Code::Unauthenticated, "case {i}: {status}");
                let plaintext = status.message().contains("plaintext");
                // A refused token never leaves the client: the server sees no call at all.
                assert_eq!(
                    (plaintext, sent),
                    (locally, usize::from(!locally)),
                    "case {i}"
                );
            }
            _ => panic!("case {i}: got {got:?}, want {expected:?}"),
        }
    }
}

#[tokio::test]
async fn request_one_liner_sets_the_token() {
    let plain = duplex_pair(Server::builder().add_service(WhoAmI));
    let mut req = Request::new(Msg::default());
    req.set_bearer_token("t");
    let err = call(&plain, READ, req).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(err.message().contains("plaintext"), "{err}");
}

#[tokio::test]
async fn tokens_flow_over_tls_without_allow_insecure() {
    let pki = Pki::new();
    let server = Server::builder()
        .add_service(WhoAmI)
        .layer(BearerAuthLayer::new(tokens()))
        .tls_config(server_tls(&pki))
        .unwrap();
    let (addr, _stop, _) = tcp_server(server).await;
    let channel = Endpoint::new(&format!("https://{addr}"))
        .tls_config(client_tls(&pki))
        .connect_lazy()
        .unwrap();
    let client = Client::new(channel.clone()).layer(BearerToken::new("admin-t0ken"));
    assert_eq!(
        call(&client, READ, Request::new(Msg::default()))
            .await
            .unwrap(),
        "admin[\"write\"]"
    );
    let mut req = Request::new(Msg::default());
    req.set_bearer_token("reader-t0ken");
    assert_eq!(
        call(&Client::new(channel), READ, req).await.unwrap(),
        "reader[]"
    );
}

#[tokio::test]
async fn token_sources_refresh_and_fail_cleanly() {
    let plain = duplex_pair(
        Server::builder()
            .add_service(WhoAmI)
            .layer(BearerAuthLayer::new(tokens())),
    );
    // (ttl of the tokens the source returns, calls, fetches expected)
    let cases = [
        (Some(Duration::from_secs(3600)), 5, 1),
        // Expiring within the refresh margin: fetched again every call.
        (Some(Duration::from_secs(10)), 3, 3),
        (None, 4, 4),
    ];
    for (ttl, calls, fetches) in cases {
        let fetched = Arc::new(AtomicUsize::new(0));
        let counter = fetched.clone();
        let creds = BearerToken::from_source(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async move {
                let token = Token::new("reader-t0ken");
                Ok::<_, Status>(match ttl {
                    Some(ttl) => token.expires_in(ttl),
                    None => token,
                })
            }
        })
        .allow_insecure(true);
        let client = plain.clone().layer(creds);
        let replies = futures_util::future::join_all(
            (0..calls).map(|_| call(&client, READ, Request::new(Msg::default()))),
        )
        .await;
        for reply in replies {
            assert_eq!(reply.unwrap(), "reader[]");
        }
        assert_eq!(fetched.load(Ordering::SeqCst), fetches, "ttl {ttl:?}");
    }
    // A failing source fails the call with its status.
    let failing = BearerToken::from_source(|| async {
        Err::<String, _>(Status::unavailable("token service down"))
    });
    let err = call(
        &plain.clone().layer(failing),
        READ,
        Request::new(Msg::default()),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::Unavailable, "token service down")
    );
}

// ---------------------------------------------------------------- server layer and JWT

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "rill-tests";

/// Claims of a good token; cases change or remove some.
fn claims() -> serde_json::Value {
    json!({
        "sub": "alice",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": now() + 600,
        "scope": "users:read users:write",
        "tenant": "acme",
    })
}

fn claims_with(changes: &[(&str, Option<serde_json::Value>)]) -> serde_json::Value {
    let mut claims = claims();
    for (name, value) in changes {
        let map = claims.as_object_mut().unwrap();
        match value {
            Some(value) => map.insert(name.to_string(), value.clone()),
            None => map.remove(*name),
        };
    }
    claims
}

fn hs256(claims: &serde_json::Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

/// Key pairs for the asymmetric algorithms: (private key PEM, public key PEM).
struct Keys {
    rsa: (String, String),
    ec: (String, String),
}

fn keys() -> Keys {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let rsa = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let rsa_private = rsa.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let rsa_public = rsa
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    Keys {
        rsa: (rsa_private, rsa_public),
        ec: (ec.serialize_pem(), ec.public_key_pem()),
    }
}

#[tokio::test]
async fn jwt_validation() {
    let keys = keys();
    let configure = |v: JwtValidator| v.issuer(ISSUER).audience(AUDIENCE);
    let hs = configure(JwtValidator::hs256(SECRET));
    let rs = configure(JwtValidator::rs256_pem(&keys.rsa.1).unwrap());
    let es = configure(JwtValidator::es256_pem(&keys.ec.1).unwrap());
    let sign = |alg: Algorithm, claims: &serde_json::Value| {
        let key = match alg {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(keys.rsa.0.as_bytes()).unwrap(),
            Algorithm::ES256 => EncodingKey::from_ec_pem(keys.ec.0.as_bytes()).unwrap(),
            _ => EncodingKey::from_secret(SECRET),
        };
        jsonwebtoken::encode(&Header::new(alg), claims, &key).unwrap()
    };
    let good = claims();
    // (case, validator, token or None for no header, expected answer or message part)
    type Case<'a> = (
        &'a str,
        &'a JwtValidator,
        Option<String>,
        Result<&'a str, &'a str>,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "hs256",
            &hs,
            Some(hs256(&good, SECRET)),
            Ok("alice[\"users:read\", \"users:write\"]"),
        ),
        (
            "rs256",
            &rs,
            Some(sign(Algorithm::RS256, &good)),
            Ok("alice[\"users:read\", \"users:write\"]"),
        ),
        (
            "es256",
            &es,
            Some(sign(Algorithm::ES256, &good)),
            Ok("alice[\"users:read\", \"users:write\"]"),
        ),
        (
            "scopes as a list",
            &hs,
            Some(hs256(
                &claims_with(&[("scope", Some(json!(["a", "b"])))]),
                SECRET,
            )),
            Ok("alice[\"a\", \"b\"]"),
        ),
        (
            "expired within the leeway",
            &hs,
            Some(hs256(
                &claims_with(&[("exp", Some(json!(now() - 5)))]),
                SECRET,
            )),
            Ok("alice[\"users:read\", \"users:write\"]"),
        ),
        ("missing", &hs, None, Err("missing bearer token")),
        (
            "expired",
            &hs,
            Some(hs256(
                &claims_with(&[("exp", Some(json!(now() - 600)))]),
                SECRET,
            )),
            Err("token expired"),
        ),
        (
            "no exp",
            &hs,
            Some(hs256(&claims_with(&[("exp", None)]), SECRET)),
            Err("missing claim \"exp\""),
        ),
        (
            "not yet valid",
            &hs,
            Some(hs256(
                &claims_with(&[("nbf", Some(json!(now() + 600)))]),
                SECRET,
            )),
            Err("not valid yet"),
        ),
        (
            "wrong audience",
            &hs,
            Some(hs256(
                &claims_with(&[("aud", Some(json!("other")))]),
                SECRET,
            )),
            Err("wrong audience"),
        ),
        (
            "no audience",
            &hs,
            Some(hs256(&claims_with(&[("aud", None)]), SECRET)),
            Err("missing claim \"aud\""),
        ),
        (
            "wrong issuer",
            &hs,
            Some(hs256(
                &claims_with(&[("iss", Some(json!("https://evil.test")))]),
                SECRET,
            )),
            Err("wrong issuer"),
        ),
        (
            "no subject",
            &hs,
            Some(hs256(&claims_with(&[("sub", None)]), SECRET)),
            Err("missing claim \"sub\""),
        ),
        (
            "other secret",
            &hs,
            Some(hs256(&good, b"another secret, just as long as it!")),
            Err("bad signature"),
        ),
        (
            "hs256 token for an rs256 validator",
            &rs,
            Some(hs256(&good, SECRET)),
            Err("unexpected signing algorithm"),
        ),
        (
            "es256 token signed by another key",
            &es,
            Some({
                let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
                let key = EncodingKey::from_ec_pem(other.serialize_pem().as_bytes()).unwrap();
                jsonwebtoken::encode(&Header::new(Algorithm::ES256), &good, &key).unwrap()
            }),
            Err("bad signature"),
        ),
        (
            "garbage",
            &hs,
            Some("not.a.jwt".into()),
            Err("malformed token"),
        ),
    ];
    for (name, validator, token, expected) in cases {
        let client = duplex_pair(
            Server::builder()
                .add_service(WhoAmI)
                .layer(BearerAuthLayer::new(validator.clone())),
        );
        let req = match &token {
            Some(token) => with_token(token),
            None => Request::new(Msg::default()),
        };
        match (call(&client, READ, req).await, expected) {
            (Ok(text), Ok(want)) => assert_eq!(text, want, "{name}"),
            (Err(status), Err(part)) => {
                assert_eq!(status.code(), Code::Unauthenticated, "{name}: {status}");
                assert!(status.message().contains(part), "{name}: {status}");
                assert!(
                    status.message().contains("www-authenticate: Bearer"),
                    "{name}: {status}"
                );
                let challenge = status.metadata().get("www-authenticate").unwrap_or("");
                assert!(challenge.starts_with("Bearer"), "{name}: {status:?}");
                if token.is_some() {
                    assert!(challenge.contains("invalid_token"), "{name}: {challenge}");
                }
            }
            (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }
}

#[tokio::test]
async fn malformed_authorization_headers_are_unauthenticated() {
    let client = duplex_pair(
        Server::builder()
            .add_service(WhoAmI)
            .layer(BearerAuthLayer::new(tokens()).allow_anonymous(true)),
    );
    // (header values, expected message part; None: let through)
    let cases: &[(&[&str], Option<&str>)] = &[
        (&["Basic YWxhZGRpbjpvcGVu"], Some("scheme is not Bearer")),
        (&["Bearer"], Some("not `Bearer <token>`")),
        (&["Bearer   "], Some("not `Bearer <token>`")),
        (&["bearer admin-t0ken"], None),
        (&["Bearer nope"], Some("unknown token")),
        (
            &["Bearer admin-t0ken", "Bearer reader-t0ken"],
            Some("more than one"),
        ),
        (&[], None),
    ];
    for (values, expected) in cases {
        let mut req = Request::new(Msg::default());
        for value in *values {
            req.metadata_mut().append("authorization", value).unwrap();
        }
        let got = call(&client, READ, req).await;
        match (got, expected) {
            (Ok(_), None) => {}
            (Err(status), Some(part)) => {
                assert_eq!(status.code(), Code::Unauthenticated, "{values:?}: {status}");
                assert!(status.message().contains(part), "{values:?}: {status}");
            }
            (got, want) => panic!("{values:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[tokio::test]
async fn validators_may_answer_with_other_codes() {
    let auth = BearerAuthLayer::new(|token: &str| {
        let known = token == "good";
        async move {
            match known {
                true => Ok(Principal::new("closure")),
                false => Err(Status::unavailable("key server down")),
            }
        }
    });
    let client = duplex_pair(Server::builder().add_service(WhoAmI).layer(auth));
    assert_eq!(
        call(&client, READ, with_token("good")).await.unwrap(),
        "closure[]"
    );
    let err = call(&client, READ, with_token("other")).await.unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::Unavailable, "key server down")
    );
}

// ---------------------------------------------------------------- policy

fn admin_writes_everyone_reads() -> Policy {
    Policy::builder()
        .allow("test.Auth/Write", Who::name("admin"))
        .deny("/test.Auth/Write", Who::Anyone)
        .allow("test.Auth/*", Who::Authenticated)
        .build()
        .unwrap()
}

#[tokio::test]
async fn policy_by_token_subject() {
    let server = Server::builder()
        .add_service(WhoAmI)
        .layer(admin_writes_everyone_reads())
        .layer(BearerAuthLayer::new(tokens()).allow_anonymous(true));
    let client = duplex_pair(server);
    // (token, method, expected code)
    let cases = [
        (Some("admin-t0ken"), WRITE, Code::Ok),
        (Some("admin-t0ken"), READ, Code::Ok),
        (Some("reader-t0ken"), READ, Code::Ok),
        (Some("reader-t0ken"), WRITE, Code::PermissionDenied),
        (None, READ, Code::Unauthenticated),
        (None, WRITE, Code::Unauthenticated),
        (Some("forged"), READ, Code::Unauthenticated),
    ];
    for (token, path, code) in cases {
        let req = token.map_or_else(|| Request::new(Msg::default()), with_token);
        let got = call(&client, path, req).await;
        let got_code = got.as_ref().map_or_else(|s| s.code(), |_| Code::Ok);
        assert_eq!(got_code, code, "{token:?} {path}: {got:?}");
        if let (Err(status), Some("reader-t0ken")) = (&got, token) {
            assert_eq!(
                status.message(),
                "subject \"reader\" may not call /test.Auth/Write"
            );
        }
    }
}

#[tokio::test]
async fn policy_rules_first_match_and_default() {
    // (policy, token, method, expected code)
    let scope_writer = Policy::builder()
        .allow("test.Auth/Write", Who::scope("write"))
        .allow("test.Auth/Read", Who::subject("reader"))
        .build()
        .unwrap();
    let open = Policy::builder()
        .deny("test.Auth/Write", Who::Anyone)
        .default_allow(true)
        .build()
        .unwrap();
    let deny_first = Policy::builder()
        .deny("*", Who::subject("admin"))
        .allow("*", Who::Anyone)
        .build()
        .unwrap();
    let cases = [
        (&scope_writer, "admin-t0ken", WRITE, Code::Ok),
        (&scope_writer, "reader-t0ken", WRITE, Code::PermissionDenied),
        (&scope_writer, "admin-t0ken", READ, Code::PermissionDenied), // no rule: default deny
        (&scope_writer, "reader-t0ken", READ, Code::Ok),
        (&open, "reader-t0ken", READ, Code::Ok),
        (&open, "admin-t0ken", WRITE, Code::PermissionDenied),
        (&deny_first, "admin-t0ken", READ, Code::PermissionDenied),
        (&deny_first, "reader-t0ken", READ, Code::Ok),
    ];
    for (i, (policy, token, path, code)) in cases.into_iter().enumerate() {
        let client = duplex_pair(
            Server::builder()
                .add_service(WhoAmI)
                .layer(policy.clone())
                .layer(BearerAuthLayer::new(tokens())),
        );
        let got = call(&client, path, with_token(token)).await;
        let got_code = got.as_ref().map_or_else(|s| s.code(), |_| Code::Ok);
        assert_eq!(got_code, code, "case {i}: {token} {path}: {got:?}");
    }
}

fn server_tls(pki: &Pki) -> ServerTlsConfig {
    ServerTlsConfig::new(Identity::from_pem(&pki.server_cert, &pki.server_key).unwrap())
}

fn client_tls(pki: &Pki) -> ClientTlsConfig {
    ClientTlsConfig::new().ca_certificates(Certificates::from_pem(&pki.ca).unwrap())
}

#[tokio::test]
async fn policy_by_mtls_identity() {
    let pki = Pki::new();
    // The test client certificate: CN "rill test client", SANs client.test and a SPIFFE id.
    let spiffe_writes = Policy::builder()
        .allow("test.Auth/Write", Who::san("spiffe://rill.test/client"))
        .allow("test.Auth/Read", Who::Authenticated)
        .build()
        .unwrap();
    let admin_writes = admin_writes_everyone_reads();
    let cn_reads = Policy::builder()
        .allow("test.Auth/Read", Who::common_name("rill test client"))
        .allow("test.Auth/*", Who::name("client.test"))
        .build()
        .unwrap();
    // (policy, method, expected answer or code)
    let cases: [(&Policy, &'static str, Result<&str, Code>); 6] = [
        (&spiffe_writes, WRITE, Ok("cert:rill test client")),
        (&spiffe_writes, READ, Ok("cert:rill test client")),
        (&admin_writes, READ, Ok("cert:rill test client")),
        (&admin_writes, WRITE, Err(Code::PermissionDenied)),
        (&cn_reads, READ, Ok("cert:rill test client")),
        (&cn_reads, WRITE, Ok("cert:rill test client")),
    ];
    for (i, (policy, path, expected)) in cases.into_iter().enumerate() {
        let tls = server_tls(&pki).client_ca(Certificates::from_pem(&pki.ca).unwrap());
        let server = Server::builder()
            .add_service(WhoAmI)
            .layer(policy.clone())
            .tls_config(tls)
            .unwrap();
        let (addr, _stop, _) = tcp_server(server).await;
        let identity = Identity::from_pem(&pki.client_cert, &pki.client_key).unwrap();
        let channel = Endpoint::new(&format!("https://{addr}"))
            .tls_config(client_tls(&pki).identity(identity))
            .connect_lazy()
            .unwrap();
        let got = call(&Client::new(channel), path, Request::new(Msg::default())).await;
        match (&got, expected) {
            (Ok(text), Ok(want)) => assert_eq!(text, want, "case {i}"),
            (Err(status), Err(code)) => {
                assert_eq!(status.code(), code, "case {i}: {status}");
                assert!(
                    status.message().contains("client certificate"),
                    "case {i}: {status}"
                );
            }
            _ => panic!("case {i}: got {got:?}, want {expected:?}"),
        }
    }
}

#[test]
fn policy_patterns_and_token_tables_are_checked() {
    for bad in [
        "",
        "test.Auth",
        "test.*/Read",
        "test.Auth/",
        "test.Auth/Re*d",
    ] {
        let built = Policy::builder().allow(bad, Who::Anyone).build();
        assert!(
            matches!(built, Err(rill::auth::AuthError::InvalidPattern { .. })),
            "{bad:?}: {built:?}"
        );
    }
    for (text, line) in [("a b\nlonely\n", 2), ("a b\na c\n", 2)] {
        match StaticTokens::parse(text) {
            Err(rill::auth::AuthError::InvalidTokenLine { line: got, .. }) => {
                assert_eq!(got, line, "{text:?}")
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
    assert!(
        JwtValidator::rs256_pem("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----").is_err()
    );
}
