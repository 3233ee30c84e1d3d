//! The IAM Query API at `/services/Euare`, as Eucalyptus's Euare service answers it: the
//! users, groups, access keys, console passwords (login profiles), signing certificates and
//! policies of an account, and (the cloud administrator's) the accounts themselves. Requests are read and authenticated as the EC2 Query API's are
//! (`crate::query`: GET or form POST, SigV2 or SigV4 with service `iam`), typed by the
//! generated AWS Query binding of `wsdl/iam.wsdl` (`wire::iam_query`), authorized
//! ([`access`]) and answered by family; every failure becomes IAM's error document in
//! [`error`], and only there.

mod access;
mod accounts;
mod certs;
mod error;
mod groups;
mod keys;
mod logins;
mod page;
mod policies;
mod users;

use std::sync::Arc;

use ::users::events::Component;
use ::users::{Account, Directory, Group, User};
use hyper::body::Incoming;
use hyper::{Request, Response};
use soap::{Connection, Handler, HttpBody};
use wire::iam::{IamPortTypeRequest as R, ResponseMetadataType, NAMESPACE};
use wire::iam_query::IamQueryRequest;
use wire::query::QueryParams;
use xmlbind::{ToXml, XmlWriter};

use crate::ops::{self, Cloud};
use crate::query::{self, Asker, QueryRequest, Service};
use crate::store::Store;

pub use error::IamError;

/// Where the front door serves the API.
pub const PATH: &str = "/services/Euare";

/// The IAM API, as its signatures name it: boto3's and the AWS CLI's `iam` client sign
/// service `iam`.
pub const IAM: Service = Service {
    name: "iam",
    path: PATH,
    signing_names: &["iam"],
};

/// The API, for mounting on the front door at [`PATH`].
pub fn handler(cloud: Arc<Cloud>) -> impl Handler {
    move |request, connection: Connection| handle(Arc::clone(&cloud), request, connection)
}

async fn handle(
    cloud: Arc<Cloud>,
    request: Request<Incoming>,
    connection: Connection,
) -> Response<HttpBody> {
    let id = ops::request_id();
    let span = query::span(&IAM, &id, &connection, &request);
    let asker = Asker::new(Component::Iam, connection.peer.ip());
    let answer = answer(&cloud, request, &asker, &id);
    query::respond(&cloud, span, &asker, answer, &id).await
}

/// Reads, authenticates, authorizes and answers one request; `asker` learns who asked what.
async fn answer(
    cloud: &Cloud,
    request: Request<Incoming>,
    asker: &Asker,
    request_id: &str,
) -> Result<String, IamError> {
    let (parts, body) = request.into_parts();
    let body = query::read_body(body).await?;
    let request = QueryRequest::read(&parts, &body, &IAM)?;
    let action = asker.asks(request.params.get("Action").unwrap_or_default());
    let user = asker.is(query::authenticate(&*cloud.store, &request).await?);
    if action.is_empty() {
        return Err(IamError::MissingParameter("Action".into()));
    }
    let span = tracing::Span::current();
    span.record("action", action);
    span.record("user", user.arn().as_str());
    let params = QueryParams::new(request.params.iter().cloned())?;
    let IamQueryRequest {
        request,
        delegate_account,
    } = wire::iam_query::parse(action, params)?;
    let directory = cloud.store.directory();
    let account = access::authorize(
        directory,
        user,
        &request,
        delegate_account.as_deref(),
        asker.source,
    )
    .await?;
    let call = Call {
        store: &*cloud.store,
        directory,
        caller: user,
        account,
        request_id,
    };
    let (_, local) = request.operation().response;
    let body = dispatch(&call, request).await?;
    Ok(document(&*body, local))
}

/// An XML document of the API: `body` as its element `local`, in IAM's namespace.
fn document(body: &dyn ToXml, local: &str) -> String {
    /// The prefix IAM's namespace is bound to.
    const PREFIX: &str = "iam";
    let mut w = XmlWriter::new();
    w.prefer_prefix(NAMESPACE, PREFIX);
    body.to_xml(&mut w, Some(NAMESPACE), local);
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}", w.finish())
}

/// Answers `request` with its operation's typed response.
async fn dispatch(call: &Call<'_>, request: R) -> Result<Box<dyn ToXml + Send + Sync>, IamError> {
    Ok(match request {
        R::CreateAccount(r) => doc(accounts::create(call, r).await?),
        R::ListAccounts(_) => doc(accounts::list(call).await?),
        R::DeleteAccount(r) => doc(accounts::delete(call, r).await?),
        R::CreateUser(r) => doc(users::create(call, r).await?),
        R::GetUser(r) => doc(users::get(call, r).await?),
        R::ListUsers(r) => doc(users::list(call, r).await?),
        R::DeleteUser(r) => doc(users::delete(call, r).await?),
        R::CreateGroup(r) => doc(groups::create(call, r).await?),
        R::GetGroup(r) => doc(groups::get(call, r).await?),
        R::ListGroups(r) => doc(groups::list(call, r).await?),
        R::DeleteGroup(r) => doc(groups::delete(call, r).await?),
        R::AddUserToGroup(r) => doc(groups::add_user(call, r).await?),
        R::RemoveUserFromGroup(r) => doc(groups::remove_user(call, r).await?),
        R::ListGroupsForUser(r) => doc(groups::of_user(call, r).await?),
        R::CreateAccessKey(r) => doc(keys::create(call, r).await?),
        R::ListAccessKeys(r) => doc(keys::list(call, r).await?),
        R::UpdateAccessKey(r) => doc(keys::update(call, r).await?),
        R::DeleteAccessKey(r) => doc(keys::delete(call, r).await?),
        R::CreateLoginProfile(r) => doc(logins::create(call, r).await?),
        R::GetLoginProfile(r) => doc(logins::get(call, r).await?),
        R::UpdateLoginProfile(r) => doc(logins::update(call, r).await?),
        R::DeleteLoginProfile(r) => doc(logins::delete(call, r).await?),
        R::UploadSigningCertificate(r) => doc(certs::upload(call, r).await?),
        R::ListSigningCertificates(r) => doc(certs::list(call, r).await?),
        R::DeleteSigningCertificate(r) => doc(certs::delete(call, r).await?),
        R::PutUserPolicy(r) => doc(policies::put_user(call, r).await?),
        R::GetUserPolicy(r) => doc(policies::get_user(call, r).await?),
        R::ListUserPolicies(r) => doc(policies::list_user(call, r).await?),
        R::DeleteUserPolicy(r) => doc(policies::delete_user(call, r).await?),
        R::PutGroupPolicy(r) => doc(policies::put_group(call, r).await?),
        R::GetGroupPolicy(r) => doc(policies::get_group(call, r).await?),
        R::ListGroupPolicies(r) => doc(policies::list_group(call, r).await?),
        R::DeleteGroupPolicy(r) => doc(policies::delete_group(call, r).await?),
    })
}

fn doc(response: impl ToXml + Send + Sync + 'static) -> Box<dyn ToXml + Send + Sync> {
    Box::new(response)
}

/// What an operation works with: who calls, in which account.
struct Call<'a> {
    store: &'a dyn Store,
    directory: &'a Directory,
    caller: &'a User,
    /// The caller's account, or the one the cloud administrator named (DelegateAccount).
    account: Account,
    request_id: &'a str,
}

impl Call<'_> {
    fn metadata(&self) -> ResponseMetadataType {
        ResponseMetadataType {
            request_id: self.request_id.to_owned(),
        }
    }

    /// The user `name` of the account; no name: the caller, or (acting in another account)
    /// that account's root user.
    async fn user(&self, name: Option<&str>) -> Result<User, IamError> {
        let account = &self.account.name;
        let found = match name {
            Some(name) => self.directory.user(account, name).await?,
            None if *account == self.caller.account => Some(self.caller.clone()),
            None => self.directory.root_of(account).await?,
        };
        found.ok_or_else(|| {
            IamError::NoSuchEntity(format!(
                "The user with name {} cannot be found.",
                name.unwrap_or(::users::ROOT_NAME)
            ))
        })
    }

    async fn group(&self, name: &str) -> Result<Group, IamError> {
        self.directory
            .group(&self.account.name, name)
            .await?
            .ok_or_else(|| {
                IamError::NoSuchEntity(format!("The group with name {name} cannot be found."))
            })
    }
}
