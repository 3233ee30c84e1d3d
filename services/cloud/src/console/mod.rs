//! STAND-IN of the console's binding API (round5-common.md) until the `console` branch's
//! READY merge replaces this file: just enough for the operations pages to compile and
//! their unit tests to run.

pub mod pages;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::error::Ec2Error;
use crate::ops::Cloud;
use crate::store::StoreError;

/// What a handler works with: the cloud and who is signed in.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub cloud: Arc<Cloud>,
    pub viewer: users::User,
    csrf: String,
}

impl Ctx {
    /// The hidden input every POST form carries.
    pub fn csrf_field(&self) -> maud::Markup {
        maud::html! { input type="hidden" name="csrf" value=(self.csrf); }
    }

    pub fn is_admin(&self) -> bool {
        self.viewer.admin
    }

    /// Cloud admin only, else 403.
    pub fn require_admin(&self) -> Result<(), ConsoleError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden)
        }
    }
}

/// Decoded `application/x-www-form-urlencoded` pairs.
pub type Form = crate::params::Params;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
pub type Handler = fn(Ctx, Request) -> BoxFuture<'static, Result<Reply, ConsoleError>>;

#[derive(Debug)]
pub struct Request {
    pub method: http::Method,
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

#[derive(Debug)]
pub enum Reply {
    Page {
        title: String,
        body: maud::Markup,
    },
    Redirect(String),
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

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Ec2(#[from] Ec2Error),
    #[error(transparent)]
    Users(#[from] users::UserError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
