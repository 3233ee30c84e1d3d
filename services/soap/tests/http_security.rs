//! Signed requests and replies over HTTP: what the server and the client accept and refuse.

#![allow(clippy::unwrap_used)]

mod http_support;

use std::sync::Arc;

use http_support::*;
use soap::envelope::{self, Addressing, BodyContent, Incoming, Outgoing, SoapVersion};
use soap::keys::KeyPair;
use soap::wss::{SignOptions, Signer, Verifier, VerifyOptions, WssError};
use soap::{ClientError, FaultCode, Security, Transport};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

fn signer(pair: &KeyPair) -> Arc<Signer> {
    Arc::new(pair.signer(SignOptions::default()).unwrap())
}

fn trusting(pair: &KeyPair) -> Arc<Verifier> {
    Arc::new(
        Verifier::new(
            std::slice::from_ref(&pair.certificate),
            VerifyOptions::default(),
        )
        .unwrap(),
    )
}

/// Server signs with the node key and trusts the cluster; the client the other way round.
fn setup() -> (&'static Keys, Security, Security) {
    let keys = Keys::shared();
    let server = Security::signed(signer(&keys.server), trusting(&keys.client));
    let client = Security::signed(signer(&keys.client), trusting(&keys.server));
    (keys, server, client)
}

#[tokio::test]
async fn signed_request_gets_a_signed_reply() {
    let (keys, server_security, client_security) = setup();
    let server = Running::echo(server_security).await;
    let client = transport(&server.url(), client_security);
    let client_certificate = fingerprint(&keys.client.certificate.to_der().unwrap());
    for i in 0..3 {
        let echoed = echo(&client, &format!("signed {i}")).await.unwrap();
        assert_eq!(echoed.text, format!("signed {i}"));
        // The handler was told who signed: the certificate the signature verified with.
        assert_eq!(echoed.signer, client_certificate);
    }
}

#[tokio::test]
async fn faults_are_signed_too() {
    let (_, server_security, client_security) = setup();
    let server = Running::echo(server_security).await;
    let client = transport(&server.url(), client_security);
    // The client verifies every reply, so a fault that reaches it as a fault was signed.
    let err = client.call(&FAIL, &Text("x".into())).await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Fault(f) if f.code == FaultCode::Server),
        "{err:?}"
    );
}

/// Guards against a signed endpoint serving callers that do not sign.
#[tokio::test]
async fn unsigned_request_is_refused_by_a_signed_endpoint() {
    let (keys, server_security, _) = setup();
    let server = Running::echo(server_security).await;
    let client = transport(
        &server.url(),
        Security::new(None, Some(trusting(&keys.server))),
    );
    let err = echo(&client, "no signature").await.unwrap_err();
    let ClientError::Fault(fault) = err else {
        panic!("expected a fault, got {err:?}")
    };
    assert_eq!(fault.code, FaultCode::Client);
    assert!(fault.string.contains("not signed"), "{fault}");
}

#[tokio::test]
async fn request_signed_by_an_untrusted_key_is_refused() {
    let (keys, server_security, _) = setup();
    let server = Running::echo(server_security).await;
    let client = transport(
        &server.url(),
        Security::signed(signer(&keys.stranger), trusting(&keys.server)),
    );
    let err = echo(&client, "who am I").await.unwrap_err();
    let ClientError::Fault(fault) = err else {
        panic!("expected a fault, got {err:?}")
    };
    assert_eq!(fault.code, FaultCode::Client);
    assert!(fault.string.contains("trusted"), "{fault}");
}

#[tokio::test]
async fn client_refuses_an_unsigned_reply() {
    let (_, _, client_security) = setup();
    let server = Running::echo(Security::unsecured()).await;
    let client = transport(&server.url(), client_security);
    let err = echo(&client, "x").await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Security(WssError::Unsigned)),
        "{err:?}"
    );
}

#[tokio::test]
async fn client_refuses_a_reply_signed_by_another_key() {
    let (keys, _, client_security) = setup();
    let server = Running::echo(Security::signed(
        signer(&keys.stranger),
        trusting(&keys.client),
    ))
    .await;
    let client = transport(&server.url(), client_security);
    let err = echo(&client, "x").await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Security(WssError::UntrustedCertificate)),
        "{err:?}"
    );
}

/// Guards against accepting a validly signed reply that answers some other request.
#[tokio::test]
async fn client_refuses_a_reply_to_another_request() {
    let (keys, _, client_security) = setup();
    let node = signer(&keys.server);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let _request = read_request(&mut stream).await;
        let reply = Echoed {
            text: "x".into(),
            soap_action: String::new(),
            message_id: String::new(),
            signer: String::new(),
        };
        let outgoing = Outgoing {
            version: SoapVersion::V11,
            addressing: Addressing {
                action: Some("Echo#EchoResponse".into()),
                relates_to: Some("urn:uuid:00000000-0000-4000-8000-000000000000".into()),
                ..Addressing::default()
            },
            body: BodyContent::Payload {
                namespace: NS,
                local: "EchoResponse",
                value: &reply,
            },
        };
        let body = envelope::write(&outgoing, Some(&node)).unwrap();
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&body).await.unwrap();
    });
    let client = transport(&format!("http://{addr}{PATH}"), client_security);
    let err = echo(&client, "x").await.unwrap_err();
    assert!(
        matches!(&err, ClientError::UnrelatedReply { relates_to, .. } if relates_to.ends_with("-000000000000")),
        "{err:?}"
    );
}

/// Posts `payload` to the echo server, signed by the client key with `options` and carrying
/// WS-Addressing headers with `message_id`; returns the raw reply.
async fn post_signed(
    server: &Running,
    options: SignOptions,
    operation: &soap::Operation,
    message_id: &str,
) -> RawResponse {
    let client = Keys::shared().client.signer(options).unwrap();
    let outgoing = Outgoing {
        version: SoapVersion::V11,
        addressing: Addressing {
            to: Some(server.url()),
            action: Some(operation.soap_action.to_owned()),
            message_id: Some(message_id.to_owned()),
            relates_to: None,
        },
        body: BodyContent::Payload {
            namespace: operation.request.0,
            local: operation.request.1,
            value: &Text("addressed".into()),
        },
    };
    let body = String::from_utf8(envelope::write(&outgoing, Some(&client)).unwrap()).unwrap();
    let action = format!("SOAPAction: \"{}\"\r\n", operation.soap_action);
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    exchange(&mut stream, &post(PATH, &action, &body)).await
}

/// Reads a reply of the echo server, demanding that every WS-Addressing header in it be
/// signed by the server key.
fn verified_reply(response: &RawResponse) -> (Addressing, Option<Echoed>) {
    let keys = Keys::shared();
    let demanding = Verifier::new(
        std::slice::from_ref(&keys.server.certificate),
        VerifyOptions {
            require_signed_addressing: true,
            ..VerifyOptions::default()
        },
    )
    .unwrap();
    let incoming = Incoming::parse(&response.body, &xmlbind::Limits::default()).unwrap();
    let verified = incoming
        .verify(Some(&demanding))
        .unwrap_or_else(|e| panic!("{e}: {}", response.text()));
    assert_eq!(verified.signed_addressing, verified.addressing);
    let echoed = verified
        .payload
        .filter(|p| p.name().is(Some(NS), "EchoResponse"))
        .map(Echoed::read);
    (verified.addressing, echoed)
}

/// WS-Addressing on replies: RelatesTo names the request's MessageID, Action names the
/// reply (or a fault), the reply has a MessageID of its own, and all of them are signed.
#[tokio::test]
async fn replies_carry_signed_addressing_relating_to_the_request() {
    let (_, server_security, _) = setup();
    let server = Running::echo(server_security).await;

    let request_id = "urn:uuid:7d4c1a52-0000-4000-8000-000000000001";
    let response = post_signed(&server, SignOptions::default(), &ECHO, request_id).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let (addressing, echoed) = verified_reply(&response);
    assert_eq!(addressing.relates_to.as_deref(), Some(request_id));
    assert_eq!(addressing.action.as_deref(), Some("Echo#EchoResponse"));
    let reply_id = addressing.message_id.unwrap();
    assert!(reply_id.starts_with("urn:uuid:") && reply_id != request_id);
    // The handler saw the signed MessageID.
    assert_eq!(echoed.unwrap().message_id, request_id);

    let request_id = "urn:uuid:7d4c1a52-0000-4000-8000-000000000002";
    let response = post_signed(&server, SignOptions::default(), &FAIL, request_id).await;
    assert_eq!(response.status, 500, "{}", response.text());
    let (addressing, _) = verified_reply(&response);
    assert_eq!(addressing.relates_to.as_deref(), Some(request_id));
    assert_eq!(
        addressing.action.as_deref(),
        Some("http://www.w3.org/2005/08/addressing/soap/fault")
    );
}

/// Guards against a handler relying on a header no signature covers: with only the Body and
/// Timestamp signed, the request's unsigned MessageID is not handed to the handler (the reply
/// still relates to it, which tells the caller nothing it did not send).
#[tokio::test]
async fn handlers_see_only_signed_addressing_headers() {
    let (_, server_security, _) = setup();
    let server = Running::echo(server_security).await;
    let body_only = SignOptions {
        addressing: false,
        ..SignOptions::default()
    };
    let request_id = "urn:uuid:7d4c1a52-0000-4000-8000-000000000003";
    let response = post_signed(&server, body_only, &ECHO, request_id).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let (addressing, echoed) = verified_reply(&response);
    assert_eq!(addressing.relates_to.as_deref(), Some(request_id));
    let echoed = echoed.unwrap();
    assert_eq!(
        echoed.message_id, "",
        "an unsigned MessageID reached the handler"
    );
    assert!(!echoed.signer.is_empty());
}

/// The raw call shows any reply as it came, with what its signature check found: trusted,
/// unsigned, signed by a stranger; a fault is read as a fault whatever its signature.
#[tokio::test]
async fn a_raw_call_reports_the_reply_and_its_signature() {
    let (keys, server_security, client_security) = setup();
    let signed = Running::echo(server_security).await;
    let unsigned = Running::echo(Security::unsecured()).await;
    let stranger = Running::echo(Security::signed(
        signer(&keys.stranger),
        trusting(&keys.client),
    ))
    .await;
    let client = |server: &Running| transport(&server.url(), client_security.clone());

    let exchange = client(&signed)
        .call_raw(&ECHO, &Text("a <b> & c".into()))
        .await
        .unwrap();
    let request = String::from_utf8(exchange.request).unwrap();
    assert!(request.contains("a &lt;b&gt; &amp; c"), "{request}");
    assert!(request.contains("Signature"), "{request}");
    assert!(String::from_utf8_lossy(&exchange.reply).contains("a &lt;b&gt; &amp; c"));
    assert!(exchange.status.is_success());
    assert!(exchange.fault.is_none());
    match exchange.signature {
        soap::ReplySignature::Valid { certificate } => {
            assert_eq!(certificate, keys.server.certificate.to_der().unwrap());
        }
        other => panic!("expected a valid signature, got {other:?}"),
    }

    let exchange = client(&unsigned)
        .call_raw(&ECHO, &Text("x".into()))
        .await
        .unwrap();
    assert!(matches!(exchange.signature, soap::ReplySignature::Unsigned));

    let exchange = client(&stranger)
        .call_raw(&ECHO, &Text("x".into()))
        .await
        .unwrap();
    assert!(
        matches!(exchange.signature, soap::ReplySignature::Invalid(_)),
        "{:?}",
        exchange.signature
    );

    let exchange = client(&signed)
        .call_raw(&FAIL, &Text("x".into()))
        .await
        .unwrap();
    assert_eq!(exchange.fault.map(|f| f.code), Some(FaultCode::Server));
    assert!(matches!(
        exchange.signature,
        soap::ReplySignature::Valid { .. }
    ));
}
