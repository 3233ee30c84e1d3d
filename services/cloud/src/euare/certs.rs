//! UploadSigningCertificate, ListSigningCertificates and DeleteSigningCertificate: a user's
//! (the caller's when the request names none) X.509 certificate, the one EC2 SOAP requests
//! are signed with. The store keeps one per user, so the list holds at most one and an upload
//! replaces the certificate before. A certificate's id is its SHA-1 fingerprint (hex), and
//! its UploadDate its notBefore: the store keeps the certificate alone.

use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::x509::X509;
use users::User;
use wire::iam::{
    DeleteSigningCertificateResponseType, DeleteSigningCertificateType,
    ListSigningCertificatesResponseType, ListSigningCertificatesResultType,
    ListSigningCertificatesType, SigningCertificateListType, SigningCertificateType, StatusType,
    UploadSigningCertificateResponseType, UploadSigningCertificateResultType,
    UploadSigningCertificateType,
};
use xmlbind::DateTime;

use super::{page, Call, IamError};

/// The longest certificate body IAM takes.
const MAX_BODY: usize = 16384;

/// `pem` read as one X.509 certificate, or IAM's MalformedCertificate.
fn parse(pem: &str) -> Result<X509, IamError> {
    let malformed = |why: &str| IamError::MalformedCertificate(format!("Certificate {why}."));
    if pem.len() > MAX_BODY {
        return Err(malformed("body is longer than 16384 characters"));
    }
    X509::from_pem(pem.as_bytes()).map_err(|_| malformed("body is not a PEM X.509 certificate"))
}

/// The answer's description of `user`'s certificate `cert`.
fn described(user: &User, cert: &X509) -> Result<SigningCertificateType, IamError> {
    let failed = |e: openssl::error::ErrorStack| IamError::ServiceFailure(e.to_string());
    let id = cert.digest(MessageDigest::sha1()).map_err(failed)?;
    let since_epoch = Asn1Time::from_unix(0)
        .and_then(|epoch| epoch.diff(cert.not_before()))
        .map_err(failed)?;
    let pem = cert.to_pem().map_err(failed)?;
    Ok(SigningCertificateType {
        user_name: user.name.clone(),
        certificate_id: id.iter().map(|b| format!("{b:02X}")).collect(),
        certificate_body: String::from_utf8_lossy(&pem).into_owned(),
        status: StatusType::Active,
        upload_date: Some(DateTime::from_unix(
            i64::from(since_epoch.days) * 86_400 + i64::from(since_epoch.secs),
        )),
    })
}

/// `user`'s certificate, when it has one.
async fn held(call: &Call<'_>, user: &User) -> Result<Option<X509>, IamError> {
    let pem = call.store.certificate(&user.account, &user.name).await?;
    pem.map(|pem| parse(&pem)).transpose()
}

pub(super) async fn upload(
    call: &Call<'_>,
    request: UploadSigningCertificateType,
) -> Result<UploadSigningCertificateResponseType, IamError> {
    let user = call.user(request.user_name.as_deref()).await?;
    let cert = parse(&request.certificate_body)?;
    let certificate = described(&user, &cert)?;
    // Stored as written here, so that the PEM EC2 SOAP rebuilds from a request's token
    // matches it whatever the uploader's line breaks.
    let pem = &certificate.certificate_body;
    if let Some(holder) = call.store.user_by_certificate(pem).await? {
        if (holder.account.as_str(), holder.name.as_str()) != (user.account.as_str(), &user.name) {
            return Err(IamError::DuplicateCertificate(
                "The certificate is already held by another user.".into(),
            ));
        }
    }
    call.store.put_certificate(&user, pem).await?;
    Ok(UploadSigningCertificateResponseType {
        upload_signing_certificate_result: UploadSigningCertificateResultType { certificate },
        response_metadata: call.metadata(),
    })
}

pub(super) async fn list(
    call: &Call<'_>,
    request: ListSigningCertificatesType,
) -> Result<ListSigningCertificatesResponseType, IamError> {
    let user = call.user(request.user_name.as_deref()).await?;
    let certificates = match held(call, &user).await? {
        Some(cert) => vec![described(&user, &cert)?],
        None => Vec::new(),
    };
    let page = page::of(
        certificates,
        |c| &c.certificate_id,
        request.marker,
        request.max_items,
    )?;
    Ok(ListSigningCertificatesResponseType {
        list_signing_certificates_result: ListSigningCertificatesResultType {
            certificates: SigningCertificateListType { member: page.items },
            is_truncated: page.truncated,
            marker: page.marker,
        },
        response_metadata: call.metadata(),
    })
}

pub(super) async fn delete(
    call: &Call<'_>,
    request: DeleteSigningCertificateType,
) -> Result<DeleteSigningCertificateResponseType, IamError> {
    let user = call.user(request.user_name.as_deref()).await?;
    let matches = match held(call, &user).await? {
        Some(cert) => described(&user, &cert)?.certificate_id == request.certificate_id,
        None => false,
    };
    if !matches
        || !call
            .store
            .delete_certificate(&user.account, &user.name)
            .await?
    {
        return Err(IamError::NoSuchEntity(format!(
            "The Certificate with id {} cannot be found.",
            request.certificate_id
        )));
    }
    Ok(DeleteSigningCertificateResponseType {
        response_metadata: call.metadata(),
    })
}
