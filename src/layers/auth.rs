//! Bearer-token authentication for `orders.v1.OrderService` (CONTRACT.md, A-1 to A-3):
//! a tower layer usable on any tonic server, used by the mock and `serve`
//! when tokens are configured.
//!
//! - A-1: calls to the order service carry `authorization: Bearer <token>`
//!   (scheme case-insensitive); missing, malformed or unknown →
//!   `UNAUTHENTICATED`; a known token without the method's permission →
//!   `PERMISSION_DENIED` (read: GetOrder, WatchOrderStatus, SubmitLineItems;
//!   write: CreateOrder, ProcessOrders).
//! - A-2: health and reflection need no token.
//! - A-3: tokens never appear in a status message.
//!
//! ```
//! use orders_testkit::layers::auth::{Permission, Tokens};
//!
//! let tokens: Tokens = ["reader=read", "admin=rw"].iter().map(|s| s.parse().unwrap()).collect();
//! assert_eq!(tokens.permission("reader"), Some(Permission::Read));
//! assert!(Permission::ReadWrite.allows(orders_testkit::rpc::Method::CreateOrder));
//! assert!(!Permission::Read.allows(orders_testkit::rpc::Method::CreateOrder));
//! ```

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::Status;
use tower::{Layer, Service};

use crate::rpc::Method;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Permission {
    /// GetOrder, WatchOrderStatus, SubmitLineItems.
    Read,
    /// CreateOrder, ProcessOrders.
    Write,
    /// Every OrderService method.
    ReadWrite,
    /// The admin service and HTTP API of `serve --admin` only (not the
    /// OrderService: an admin token scripts the mock, a client's token
    /// calls it).
    Admin,
}

impl Permission {
    /// Whether this permission allows calling `method`.
    pub fn allows(self, method: Method) -> bool {
        let needs_write = matches!(method, Method::CreateOrder | Method::ProcessOrders);
        match self {
            Permission::ReadWrite => true,
            Permission::Write => needs_write,
            Permission::Read => !needs_write,
            Permission::Admin => false,
        }
    }
}

/// One `TOKEN=read|write|rw|admin` pair (the `serve --token` syntax).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    /// The bearer token.
    pub token: String,
    /// What it may do.
    pub permission: Permission,
}

/// Why a `TOKEN=PERMISSION` string is not valid (the token is not repeated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrantError(String);

impl fmt::Display for TokenGrantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TokenGrantError {}

impl FromStr for TokenGrant {
    type Err = TokenGrantError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((token, permission)) = s.rsplit_once('=') else {
            return Err(TokenGrantError(
                "expected TOKEN=read|write|rw|admin (no '=' found)".into(),
            ));
        };
        let permission = match permission {
            "read" => Permission::Read,
            "write" => Permission::Write,
            "rw" | "read-write" => Permission::ReadWrite,
            "admin" => Permission::Admin,
            other => {
                return Err(TokenGrantError(format!(
                    "unknown permission {other:?}: expected read, write, rw or admin"
                )));
            }
        };
        if token.is_empty() || !token.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(TokenGrantError(
                "the token must be 1 or more visible ASCII characters".into(),
            ));
        }
        Ok(Self {
            token: token.to_string(),
            permission,
        })
    }
}

/// The tokens a server accepts.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    map: Arc<HashMap<String, Permission>>,
}

impl FromIterator<TokenGrant> for Tokens {
    fn from_iter<I: IntoIterator<Item = TokenGrant>>(iter: I) -> Self {
        Self {
            map: Arc::new(iter.into_iter().map(|g| (g.token, g.permission)).collect()),
        }
    }
}

impl Tokens {
    /// The permission of `token`, if known.
    pub fn permission(&self, token: &str) -> Option<Permission> {
        self.map.get(token).copied()
    }

    /// Whether no token is configured (auth off).
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// A-1 for one call: `Ok` or the status to answer.
    pub fn check(&self, method: Method, headers: &http::HeaderMap) -> Result<(), Status> {
        match self.bearer(headers)? {
            None => Err(Status::unauthenticated("unknown bearer token")),
            Some(p) if !p.allows(method) => Err(Status::permission_denied(format!(
                "this token may not call {method}: it needs {} permission",
                if matches!(method, Method::CreateOrder | Method::ProcessOrders) {
                    "write"
                } else {
                    "read"
                }
            ))),
            Some(_) => Ok(()),
        }
    }

    /// The permission of the one well-formed bearer token in `headers`
    /// (`None`: unknown), or the status a missing or malformed one gets.
    fn bearer(&self, headers: &http::HeaderMap) -> Result<Option<Permission>, Status> {
        let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
        let Some(value) = values.next() else {
            return Err(Status::unauthenticated(
                "missing credentials: send 'authorization: Bearer <token>'",
            ));
        };
        if values.next().is_some() {
            return Err(Status::unauthenticated(
                "more than one authorization header",
            ));
        }
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(Status::unauthenticated(
                "malformed authorization header: expected 'Bearer <token>'",
            ));
        };
        Ok(self.permission(token))
    }

    /// The admin surface's check (`serve --admin`): with tokens configured,
    /// a bearer token with [`Permission::Admin`]; `Ok` or the status to
    /// answer (never naming the token, A-3).
    ///
    /// ```
    /// use orders_testkit::layers::auth::Tokens;
    /// let tokens: Tokens = ["ops=admin".parse().unwrap(), "app=rw".parse().unwrap()].into_iter().collect();
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("authorization", "Bearer app".parse().unwrap());
    /// assert_eq!(tokens.check_admin(&headers).unwrap_err().code(), tonic::Code::PermissionDenied);
    /// headers.insert("authorization", "Bearer ops".parse().unwrap());
    /// assert!(tokens.check_admin(&headers).is_ok());
    /// ```
    pub fn check_admin(&self, headers: &http::HeaderMap) -> Result<(), Status> {
        if self.is_empty() {
            return Ok(());
        }
        match self.bearer(headers)? {
            Some(Permission::Admin) => Ok(()),
            Some(_) => Err(Status::permission_denied(
                "this token may not use the admin API: it needs admin permission",
            )),
            None => Err(Status::unauthenticated("unknown bearer token")),
        }
    }
}

/// A layer that checks [`Tokens`] on every call to the order service.
///
/// ```
/// use orders_testkit::layers::auth::{AuthLayer, Tokens};
/// let tokens: Tokens = ["t1=rw".parse().unwrap()].into_iter().collect();
/// let _layer = AuthLayer::new(tokens); // Server::builder().layer(_layer)
/// ```
#[derive(Debug, Clone)]
pub struct AuthLayer {
    tokens: Tokens,
}

impl AuthLayer {
    /// Checks these tokens; with none, lets every call through.
    pub fn new(tokens: Tokens) -> Self {
        Self { tokens }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            tokens: self.tokens.clone(),
        }
    }
}

/// The service of [`AuthLayer`].
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    tokens: Tokens,
}

impl<S, B, ResBody> Service<http::Request<B>> for AuthService<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>>,
    ResBody: Default,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = futures_util::future::Either<
        std::future::Ready<Result<Self::Response, S::Error>>,
        S::Future,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        use futures_util::future::Either;
        if !self.tokens.is_empty()
            && let Some(method) = Method::from_path(req.uri().path())
            && let Err(status) = self.tokens.check(method, req.headers())
        {
            return Either::Left(std::future::ready(Ok(status.into_http())));
        }
        Either::Right(self.inner.call(req))
    }
}
