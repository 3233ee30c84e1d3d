//! `/soap`, the SOAP console (the cloud administrator's only), as administrators once used
//! SoapUI against the WSDLs: pick a component's service and an operation, fill in the form
//! the generated catalog lays out (`wire::catalog`, nothing per operation), and send it,
//! signed as that component's regular caller, to one of the cloud's components. The page
//! shows the request as sent and the reply as received, side by side, with what the reply's
//! signature check found.

mod form;
mod pretty;
mod targets;

use std::collections::HashMap;

use base64::Engine as _;
use maud::{html, Markup};
use openssl::x509::X509;
use soap::{Exchange, HttpTransport, ReplySignature};
use wire::catalog::form::{self as catalog_form, Form, Problem};
use wire::catalog::{Operation, Service};
use xmlbind::Limits;

use crate::console::{ConsoleError, Ctx, Reply, Request};
use targets::{Component, Target};

const PATH: &str = "/soap";

/// What S3 SOAP requests carry to authenticate, filled in as the administrator when empty.
const S3_AUTH: [&str; 3] = ["AWSAccessKeyId", "Timestamp", "Signature"];

/// `GET /soap`: the services, a service's operations, or an operation's form.
pub async fn page(ctx: Ctx, request: Request) -> Result<Reply, ConsoleError> {
    ctx.require_admin()?;
    let Some(port_type) = request.query.get("service") else {
        return Ok(Reply::page("SOAP console", services()));
    };
    let (component, service) = Component::of(port_type).ok_or(ConsoleError::NotFound)?;
    let Some(operation) = request.query.get("operation") else {
        return Ok(Reply::page("SOAP console", operations(component, service)));
    };
    let operation = service.operation(operation).ok_or(ConsoleError::NotFound)?;
    let targets = targets::targets(&ctx.cloud, component, service).await?;
    let chosen = request.query.get("target");
    let form = catalog_form::layout(operation, &|_| None);
    let body = operation_page(&ctx, service, &form, &targets, chosen, &|_| None, None);
    Ok(Reply::page(format!("SOAP: {}", operation.soap.name), body))
}

/// `POST /soap`: `action=send` sends the form's request; `action=rows` lays the form out
/// again with the row counts asked.
pub async fn send(ctx: Ctx, request: Request) -> Result<Reply, ConsoleError> {
    ctx.require_admin()?;
    let (component, service) =
        Component::of(request.field("service")?).ok_or(ConsoleError::NotFound)?;
    let operation = service
        .operation(request.field("operation")?)
        .ok_or(ConsoleError::NotFound)?;
    let targets = targets::targets(&ctx.cloud, component, service).await?;
    // Only the cloud's own components: the URL must be one the page offered.
    let url = request.field("target")?;
    let target = targets
        .iter()
        .find(|t| t.url == url)
        .ok_or_else(|| ConsoleError::BadRequest(format!("{url} is not a {}", component.title())))?;
    let rows = |key: &str| {
        request
            .form
            .get(&form::rows_input(key))
            .and_then(|n| n.trim().parse().ok())
    };
    let form = catalog_form::layout(operation, &rows);
    let values = |path: &str| request.form.get(path);
    let outcome = match request.form.get("action") {
        Some("send") => Some(call(&ctx, component, operation, &form, target, &values).await?),
        _ => None,
    };
    let body = operation_page(
        &ctx,
        service,
        &form,
        &targets,
        Some(&target.url),
        &values,
        outcome.as_ref(),
    );
    Ok(Reply::page(format!("SOAP: {}", operation.soap.name), body))
}

/// What sending a form came to.
enum Outcome {
    /// The form's values do not make a request.
    Problems(Vec<Problem>),
    /// Nothing came back.
    Failed(String),
    Exchanged(Exchange),
}

async fn call<'v>(
    ctx: &Ctx,
    component: Component,
    operation: &'static Operation,
    form: &Form,
    target: &Target,
    values: &(dyn Fn(&str) -> Option<&'v str> + Sync),
) -> Result<Outcome, ConsoleError> {
    let filled = match component {
        Component::Walrus => s3_auth(form, &ctx.viewer, operation.soap.name, values),
        _ => HashMap::new(),
    };
    let values = |path: &str| {
        filled
            .get(path)
            .map(String::as_str)
            .or_else(|| values(path))
    };
    let built = match catalog_form::build(form, &values) {
        Ok(built) => built,
        Err(problems) => return Ok(Outcome::Problems(problems)),
    };
    let security = targets::security(&ctx.cloud, target, &ctx.viewer).await?;
    let transport = match HttpTransport::builder(target.url.clone(), security)
        .request_timeout(targets::DEADLINE)
        .build()
    {
        Ok(transport) => transport,
        Err(e) => return Ok(Outcome::Failed(e.to_string())),
    };
    tracing::info!(operation = operation.soap.name, url = %target.url, "SOAP console request");
    Ok(match transport.call_raw(operation.soap, &built).await {
        Ok(exchange) => Outcome::Exchanged(exchange),
        Err(e) => Outcome::Failed(e.to_string()),
    })
}

/// Walrus's in-request authentication as the administrator, for the fields the form leaves
/// empty: the access key, the time, and the HMAC-SHA1 of `AmazonS3` + operation + time.
fn s3_auth<'v>(
    form: &Form,
    viewer: &users::User,
    operation: &str,
    values: &dyn Fn(&str) -> Option<&'v str>,
) -> HashMap<String, String> {
    let offered = form
        .inputs()
        .iter()
        .filter(|i| S3_AUTH.contains(&i.path()))
        .count();
    let empty = S3_AUTH.iter().all(|f| values(f).is_none_or(str::is_empty));
    if offered < S3_AUTH.len() || !empty {
        return HashMap::new();
    }
    let timestamp = xmlbind::DateTime::from_unix(kit::time::now())
        .as_str()
        .to_owned();
    let key = ring::hmac::Key::new(
        ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        viewer.secret_key.as_bytes(),
    );
    let tag = ring::hmac::sign(&key, format!("AmazonS3{operation}{timestamp}").as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(tag);
    [
        ("AWSAccessKeyId", viewer.access_key.clone()),
        ("Timestamp", timestamp),
        ("Signature", signature),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn services() -> Markup {
    html! {
        p { "Call any operation of the cloud's components, signed as their regular caller, and read the reply as it came." }
        table #services {
            tr { th { "Component" } th { "Service" } th { "Operations" } }
            @for component in Component::ALL {
                @for service in component.services() {
                    tr {
                        td { (component.title()) }
                        td { a href=(format!("{PATH}?service={}", service.port_type)) { (service.port_type) } }
                        td { (service.operations.len()) }
                    }
                }
            }
        }
    }
}

fn operations(component: Component, service: &Service) -> Markup {
    html! {
        p { (component.title()) ": " strong { (service.port_type) } " (" code { (service.namespace) } ")" }
        ul #operations {
            @for operation in service.operations {
                li {
                    a href=(format!("{PATH}?service={}&operation={}", service.port_type, operation.soap.name)) {
                        (operation.soap.name)
                    }
                }
            }
        }
    }
}

fn operation_page<'v>(
    ctx: &Ctx,
    service: &Service,
    form: &Form,
    targets: &[Target],
    chosen: Option<&str>,
    values: &dyn Fn(&str) -> Option<&'v str>,
    outcome: Option<&Outcome>,
) -> Markup {
    let operation = form.operation;
    let (namespace, local) = operation.soap.request;
    html! {
        p {
            a href=(format!("{PATH}?service={}", service.port_type)) { (service.port_type) }
            " · SOAPAction " code { (operation.soap.soap_action) }
            " · request " code { "{" (namespace) "}" (local) }
        }
        @if targets.is_empty() {
            p.error { "No component of this kind is registered or reachable." }
        }
        form #soap-form method="post" action=(PATH) {
            (ctx.csrf_field())
            input type="hidden" name="service" value=(service.port_type);
            input type="hidden" name="operation" value=(operation.soap.name);
            label for="target" { "Send to" }
            select #target name="target" {
                @for target in targets {
                    option value=(target.url) selected[chosen == Some(target.url.as_str())] {
                        (target.label) " — " (target.url)
                    }
                }
            }
            (form::render(form, values))
            button #send type="submit" name="action" value="send" { "Send" }
            " "
            button #rows type="submit" name="action" value="rows" { "Update rows" }
        }
        @if let Some(outcome) = outcome { (outcome_panels(outcome)) }
    }
}

fn outcome_panels(outcome: &Outcome) -> Markup {
    let limits = Limits::default();
    match outcome {
        Outcome::Problems(problems) => html! {
            ul #problems.error {
                @for problem in problems { li { code { (problem.path) } ": " (problem.message) } }
            }
        },
        Outcome::Failed(why) => html! { p #failed.error { "No reply: " (why) } },
        Outcome::Exchanged(exchange) => html! {
            div.soap-panels {
                section #request-panel {
                    h3 { "Request" }
                    pre #request-xml { (pretty::pretty(&exchange.request, &limits)) }
                }
                section #reply-panel {
                    h3 { "Reply" }
                    p #status { "HTTP " (exchange.status) }
                    (verdict(&exchange.signature))
                    @if let Some(fault) = &exchange.fault {
                        p #fault.error { "Fault " (fault) }
                    }
                    pre #reply-xml { (pretty::pretty(&exchange.reply, &limits)) }
                }
            }
        },
    }
}

/// What the reply's signature check found, in words.
fn verdict(signature: &ReplySignature) -> Markup {
    match signature {
        ReplySignature::Valid { certificate } => {
            let subject = X509::from_der(certificate)
                .ok()
                .map(|c| subject(&c))
                .unwrap_or_default();
            html! { p #signature.valid { "signature valid" " (signed by " (subject) ")" } }
        }
        ReplySignature::Invalid(why) => {
            html! { p #signature.error { "signature invalid: " (why) } }
        }
        ReplySignature::Unsigned => html! { p #signature.note { "unsigned" } },
        ReplySignature::NotEnvelope(why) => {
            html! { p #signature.error { "not a SOAP envelope: " (why) } }
        }
        ReplySignature::Unchecked => html! { p #signature.note { "not checked" } },
    }
}

/// `O=…, OU=…, CN=…`.
fn subject(certificate: &X509) -> String {
    certificate
        .subject_name()
        .entries()
        .filter_map(|entry| {
            let name = entry.object().nid().short_name().ok()?;
            let value = String::from_utf8_lossy(entry.data().as_slice());
            Some(format!("{name}={value}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}
