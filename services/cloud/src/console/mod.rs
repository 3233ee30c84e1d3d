//! The admin console: HTML pages over HTTPS (`euca cloud --console HOST:PORT`) for the cloud
//! administrator and the users of every account, as the original's web console at
//! `https://CLC:8443/`.
//!
//! The server ([`server`]) owns TLS ([`tls`]), sign-in, sessions and throttling
//! ([`sessions`]), the CSRF check of every POST, limits, security headers and logs; a page
//! is a handler in [`routes::ROUTES`] taking a [`Ctx`] (who is signed in) and a
//! [`Request`], answering a [`Reply`] or a [`ConsoleError`], which [`layout`] draws inside
//! the page frame. Actions go through the same code as the APIs (`ops`, the
//! `users::Directory`, the store), so policies, quotas and account boundaries hold here as
//! there.

pub mod layout;
pub mod pages;
pub mod routes;
mod server;
mod sessions;
mod tls;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use hyper::StatusCode;
use users::UserError;

use crate::error::Ec2Error;
use crate::ops::Cloud;
use crate::store::StoreError;

pub use server::{Console, ConsoleStartError};
pub use sessions::{IDLE, MAX_FAILURES, WINDOW};

/// The console's address when `--console` is not given, as the original's.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8443";

/// The name of the hidden field that carries a session's CSRF token in every POST form.
pub const CSRF_FIELD: &str = "csrf";

/// The administrator's first password's file, beside their eucarc.
pub const ADMIN_PASSWORD_FILE: &str = "console-password";

/// Gives the cloud administrator a random console password when they have none (a first
/// start, or a cloud made before the console), written to
/// `DATA/credentials/admin/console-password` (0600).
pub async fn admin_password(
    directory: &users::Directory,
    data: &Path,
) -> Result<(), ConsoleStartError> {
    let (account, user) = (users::ADMIN_NAME, users::ROOT_NAME);
    if directory.login_profile(account, user).await?.is_some() {
        return Ok(());
    }
    let password = users::new_password()?;
    let file = crate::credentials::places(data, account, user)
        .map_err(|e| ConsoleStartError::Password(e.to_string()))?
        .0
        .join(ADMIN_PASSWORD_FILE);
    let written = file.clone();
    let contents = format!("{password}\n");
    kit::blocking(move || kit::private::write_file(&written, contents.as_bytes()))
        .await
        .map_err(|e| ConsoleStartError::Password(format!("{}: {e}", file.display())))?;
    directory
        .set_password(account, user, &password, users::PasswordChange::Create)
        .await?;
    tracing::info!(file = %file.display(), "the administrator's console password written");
    Ok(())
}

/// Decoded `application/x-www-form-urlencoded` pairs (a URL's query or a form's body).
pub type Form = crate::params::Params;

/// A future a handler answers with.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A page or action: see [`routes::ROUTES`].
pub type Handler = fn(Ctx, Request) -> BoxFuture<'static, Result<Reply, ConsoleError>>;

/// Who asks, in the cloud they ask of; handlers own it.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub cloud: Arc<Cloud>,
    /// The signed-in user, as the directory knows them at this request.
    pub viewer: users::User,
    csrf: String,
}

impl Ctx {
    /// The hidden input every POST form carries: the session's CSRF token.
    pub fn csrf_field(&self) -> maud::Markup {
        maud::html! { input type="hidden" name=(CSRF_FIELD) value=(self.csrf); }
    }

    /// Whether the viewer is the cloud administrator.
    pub fn is_admin(&self) -> bool {
        self.viewer.admin
    }

    /// Cloud administrator only; anyone else gets 403.
    pub fn require_admin(&self) -> Result<(), ConsoleError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden)
        }
    }

    /// The administrator, or a user of `account`, may see `account`'s pages; others get 403.
    pub fn require_account(&self, account: &str) -> Result<(), ConsoleError> {
        if self.is_admin() || self.viewer.account == account {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden)
        }
    }

    /// Whether the viewer may change `account`'s identities: the administrator, or the
    /// account's root user. Other users see their account read-only.
    pub fn manages(&self, account: &str) -> bool {
        self.is_admin() || (self.viewer.account == account && self.viewer.is_root())
    }

    /// [`Self::manages`], or 403.
    pub fn require_manager(&self, account: &str) -> Result<(), ConsoleError> {
        if self.manages(account) {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden)
        }
    }

    /// The account a page is about: `?account=` (or a form's `account`) for the
    /// administrator, else always the viewer's own.
    pub fn account_of(&self, request: &Request) -> String {
        let named = request
            .form
            .get("account")
            .or_else(|| request.query.get("account"))
            .filter(|a| !a.is_empty());
        match named {
            Some(account) if self.is_admin() => account.to_owned(),
            _ => self.viewer.account.clone(),
        }
    }
}

/// A request as a handler sees it; a POST's form has passed the CSRF check.
#[derive(Debug)]
pub struct Request {
    pub method: http::Method,
    /// Percent-decoded.
    pub path: String,
    pub query: Form,
    pub form: Form,
}

impl Request {
    /// The last segment of the path: the `{id}` of a `/things/{id}` route.
    pub fn last_segment(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or_default()
    }

    /// The form's field `name`, which must be there and not empty.
    pub fn field(&self, name: &str) -> Result<&str, ConsoleError> {
        self.form
            .get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ConsoleError::BadRequest(format!("the field {name:?} is required")))
    }
}

/// What a handler answers.
#[derive(Debug)]
pub enum Reply {
    /// A page drawn inside the layout.
    Page { title: String, body: maud::Markup },
    /// 303 See Other to a path of the console (after an action: POST/redirect/GET).
    Redirect(String),
    /// Bytes as they are (an image, a download).
    Body {
        content_type: &'static str,
        body: Vec<u8>,
    },
}

impl Reply {
    pub fn page(title: impl Into<String>, body: maud::Markup) -> Self {
        Self::Page {
            title: title.into(),
            body,
        }
    }

    /// Back to `path` after an action.
    pub fn back(path: impl Into<String>) -> Self {
        Self::Redirect(path.into())
    }
}

/// Why a page or action failed: drawn as an error page inside the layout.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("You are not allowed to see this page or do this.")]
    Forbidden,
    #[error("There is no such page or thing.")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Ec2(#[from] Ec2Error),
    #[error(transparent)]
    Users(#[from] UserError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ConsoleError {
    /// The HTTP status the error page carries.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Ec2(e) => e.status(),
            Self::Users(e) | Self::Store(StoreError::Users(e)) => users_status(e),
            Self::Store(StoreError::NotFound { .. }) => StatusCode::NOT_FOUND,
            Self::Store(StoreError::Exists { .. } | StoreError::InUse { .. }) => {
                StatusCode::CONFLICT
            }
            Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the page says: the error itself for the asker's mistakes, nothing of our own
    /// failures (those are logged with their cause).
    pub fn message(&self) -> String {
        if self.status().is_server_error() {
            "The console failed to answer; the cloud controller's log says why.".to_owned()
        } else {
            self.to_string()
        }
    }
}

fn users_status(e: &UserError) -> StatusCode {
    match e {
        UserError::NotFound { .. } => StatusCode::NOT_FOUND,
        UserError::Exists { .. } | UserError::DeleteConflict(_) => StatusCode::CONFLICT,
        UserError::LimitExceeded(_) | UserError::Invalid(_) | UserError::MalformedPolicy(_) => {
            StatusCode::BAD_REQUEST
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
