//! The HTTP server and client over real loopback sockets: routing, faults, WSDL, limits,
//! keep-alive, SOAP 1.2 and graceful shutdown.

#![allow(clippy::unwrap_used)]

mod http_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_support::*;
use soap::envelope::SoapVersion;
use soap::{ClientError, FaultCode, HttpTransport, Security, Server, Transport, TransportError};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

#[tokio::test]
async fn client_calls_an_operation_and_reads_the_reply() {
    let server = Running::echo(Security::unsecured()).await;
    let client = transport(&server.url(), Security::unsecured());
    let echoed = echo(&client, "hello <&> world").await.unwrap();
    assert_eq!(echoed.text, "hello <&> world");
    // The handler sees the SOAPAction unquoted and the client's WS-Addressing MessageID.
    assert_eq!(echoed.soap_action, "Echo#Echo");
    assert!(echoed.message_id.starts_with("urn:uuid:"), "{echoed:?}");
    assert_eq!(echoed.signer, "");
}

#[tokio::test]
async fn handler_fault_reaches_the_client_as_a_fault() {
    let server = Running::echo(Security::unsecured()).await;
    let client = transport(&server.url(), Security::unsecured());
    let err = client
        .call(&FAIL, &Text("sector 7".into()))
        .await
        .unwrap_err();
    let ClientError::Fault(fault) = err else {
        panic!("expected a fault, got {err:?}")
    };
    assert_eq!(fault.code, FaultCode::Server);
    assert_eq!(fault.string, "disk on fire");
    assert_eq!(fault.detail.as_deref(), Some("sector 7"));

    // On the wire: HTTP 500, SOAP 1.1 content type, a soap:Server fault.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let payload = format!(r#"<t:Fail xmlns:t="{NS}"><t:text>x</t:text></t:Fail>"#);
    let response = exchange(&mut stream, &post(PATH, "", &envelope11(&payload))).await;
    assert_eq!(response.status, 500);
    assert_eq!(
        response.header("content-type"),
        Some("text/xml; charset=utf-8")
    );
    let (code, string) = response.fault();
    assert!(code.ends_with(":Server"), "{code}");
    assert_eq!(string, "disk on fire");
}

#[tokio::test]
async fn unknown_operation_is_a_client_fault() {
    let server = Running::echo(Security::unsecured()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let payload = format!(r#"<t:Launch xmlns:t="{NS}"/>"#);
    let response = exchange(&mut stream, &post(PATH, "", &envelope11(&payload))).await;
    assert_eq!(response.status, 500);
    let (code, string) = response.fault();
    assert!(code.ends_with(":Client"), "{code}");
    assert!(string.contains("{urn:test:echo}Launch"), "{string}");
    // Same local name in a foreign namespace: names are compared by URI, not prefix.
    let payload = r#"<Echo xmlns="urn:other"><text>x</text></Echo>"#;
    let response = exchange(&mut stream, &post(PATH, "", &envelope11(payload))).await;
    assert!(response.fault().1.contains("{urn:other}Echo"));
}

/// Guards against dispatching on the Body while the client asked for another operation.
#[tokio::test]
async fn soap_action_naming_another_operation_is_refused() {
    let server = Running::echo(Security::unsecured()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let request = post(
        PATH,
        "SOAPAction: \"Echo#Fail\"\r\n",
        &envelope11(&echo_payload("x")),
    );
    let response = exchange(&mut stream, &request).await;
    assert_eq!(response.status, 500);
    let (code, string) = response.fault();
    assert!(code.ends_with(":Client"), "{code}");
    assert!(
        string.contains("Echo#Fail") && string.contains("Echo"),
        "{string}"
    );
    // The right action, quoted or not, and no action at all are accepted.
    for header in [
        "SOAPAction: \"Echo#Echo\"\r\n",
        "SOAPAction: Echo#Echo\r\n",
        "SOAPAction: \"\"\r\n",
        "",
    ] {
        let response = exchange(
            &mut stream,
            &post(PATH, header, &envelope11(&echo_payload("x"))),
        )
        .await;
        assert_eq!(response.status, 200, "{header:?}: {}", response.text());
    }
}

#[tokio::test]
async fn wsdl_address_is_the_one_the_client_used() {
    let server = Running::echo(Security::unsecured()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let get = |host: &str, query: &str| {
        format!("GET {PATH}?{query} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes()
    };

    let response = exchange(&mut stream, &get("cc.example.org:8775", "wsdl")).await;
    assert_eq!(response.status, 200);
    let wsdl = response.text();
    assert!(
        wsdl.contains(r#"location="http://cc.example.org:8775/axis2/services/Echo""#),
        "{wsdl}"
    );
    assert!(!wsdl.contains("localhost:8080"));
    xmlbind::parse(wsdl.as_bytes(), &xmlbind::Limits::default()).unwrap();

    // Axis2 answers ?WSDL too.
    let response = exchange(&mut stream, &get("10.1.2.3", "WSDL")).await;
    assert!(response
        .text()
        .contains(r#"location="http://10.1.2.3/axis2/services/Echo""#));

    // A Host that is no host:port is not echoed: the address the client reached is used.
    let response = exchange(&mut stream, &get("evil\"><x a=\"", "wsdl")).await;
    let expected = format!(r#"location="http://{}/axis2/services/Echo""#, server.addr);
    assert!(response.text().contains(&expected), "{}", response.text());
}

#[tokio::test]
async fn unknown_paths_and_methods_are_refused() {
    let server = Running::echo(Security::unsecured()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let response = exchange(
        &mut stream,
        &post("/axis2/services/Nope", "", &envelope11(&echo_payload("x"))),
    )
    .await;
    assert_eq!(response.status, 404);
    let response = exchange(
        &mut stream,
        format!("PUT {PATH} HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n").as_bytes(),
    )
    .await;
    assert_eq!(response.status, 405);
    assert_eq!(response.header("allow"), Some("GET, POST"));
    let response = exchange(
        &mut stream,
        format!("GET {PATH} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
    )
    .await;
    assert_eq!(response.status, 400);
}

/// Guards against reading (and buffering) a body of any size before looking at it.
#[tokio::test]
async fn oversize_bodies_are_refused_before_they_are_read() {
    let limits = xmlbind::Limits {
        max_bytes: 64 << 10,
        ..xmlbind::Limits::default()
    };
    let server = Running::start(Server::builder().limits(limits).mount(
        PATH,
        EchoService::default(),
        Security::unsecured(),
    ))
    .await;

    // Declared length over the limit: refused at once, although no body byte was sent.
    let started = Instant::now();
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST {PATH} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        1u64 << 30
    );
    let response = exchange(&mut stream, head.as_bytes()).await;
    assert_eq!(response.status, 413);
    assert!(response.fault().1.contains("65536"), "{}", response.text());
    assert!(started.elapsed() < Duration::from_secs(2));

    // Chunked, no declared length: refused once the limit is passed, not at the end.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!("POST {PATH} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 16 << 10, "x".repeat(16 << 10));
    for _ in 0..5 {
        stream.write_all(chunk.as_bytes()).await.unwrap();
    }
    let response = read_response(&mut stream).await;
    assert_eq!(response.status, 413);
}

#[tokio::test]
async fn one_connection_serves_many_requests() {
    let server = Running::echo(Security::unsecured()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    for i in 0..3 {
        let response = exchange(
            &mut stream,
            &post(PATH, "", &envelope11(&echo_payload(&i.to_string()))),
        )
        .await;
        assert_eq!(response.status, 200, "{}", response.text());
        assert!(response.text().contains(&format!(">{i}<")));
    }
}

/// A TCP relay in front of `target` that counts the connections it accepts.
async fn counting_relay(target: std::net::SocketAddr) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut outbound = TcpStream::connect(target).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    (addr, count)
}

#[tokio::test]
async fn client_reuses_its_connection() {
    let server = Running::echo(Security::unsecured()).await;
    let (relay, connections) = counting_relay(server.addr).await;
    let client = transport(&format!("http://{relay}{PATH}"), Security::unsecured());
    for i in 0..5 {
        assert_eq!(
            echo(&client, &i.to_string()).await.unwrap().text,
            i.to_string()
        );
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn soap12_requests_are_answered_in_soap12() {
    let server = Running::echo(Security::unsecured()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let content_type =
        "Content-Type: application/soap+xml; charset=utf-8; action=\"Echo#Echo\"\r\n";
    let response = exchange(
        &mut stream,
        &post(PATH, content_type, &envelope12(&echo_payload("v12"))),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(response
        .header("content-type")
        .unwrap()
        .starts_with("application/soap+xml"));
    let root = xmlbind::parse(&response.body, &xmlbind::Limits::default()).unwrap();
    assert!(root.name.is(Some(soap::SOAP12_NS), "Envelope"));
    // The action parameter is the SOAP 1.2 SOAPAction: the handler saw it.
    assert!(response.text().contains("Echo#Echo"));

    // Faults too, with SOAP 1.2 codes and HTTP statuses (Part 2, 7.5.1.2): a Sender fault
    // (here the action names another operation than the Body) is a 400, a Receiver fault a 500.
    let content_type = "Content-Type: application/soap+xml; action=\"Echo#Fail\"\r\n";
    let response = exchange(
        &mut stream,
        &post(PATH, content_type, &envelope12(&echo_payload("v12"))),
    )
    .await;
    assert_eq!(response.status, 400);
    assert!(response
        .header("content-type")
        .unwrap()
        .starts_with("application/soap+xml"));
    assert!(
        response.fault().0.ends_with(":Sender"),
        "{}",
        response.text()
    );
    let fail = format!(r#"<t:Fail xmlns:t="{NS}"><t:text>x</t:text></t:Fail>"#);
    let response = exchange(&mut stream, &post(PATH, content_type, &envelope12(&fail))).await;
    assert_eq!(response.status, 500);
    assert!(
        response.fault().0.ends_with(":Receiver"),
        "{}",
        response.text()
    );

    // And our client speaks it.
    let client = HttpTransport::builder(server.url(), Security::unsecured())
        .soap_version(SoapVersion::V12)
        .build()
        .unwrap();
    let echoed = echo(&client, "both ways").await.unwrap();
    assert_eq!(
        (echoed.text.as_str(), echoed.soap_action.as_str()),
        ("both ways", "Echo#Echo")
    );
}

#[tokio::test]
async fn slow_operations_time_out_with_a_server_fault() {
    let builder = Server::builder()
        .request_timeout(Duration::from_millis(200))
        .mount(PATH, EchoService::default(), Security::unsecured());
    let server = Running::start(builder).await;
    let client = transport(&server.url(), Security::unsecured());
    let started = Instant::now();
    let err = client.call(&SLOW, &Text("5000".into())).await.unwrap_err();
    let ClientError::Fault(fault) = err else {
        panic!("expected a fault, got {err:?}")
    };
    assert_eq!(fault.code, FaultCode::Server);
    assert!(fault.string.contains("not answered within"), "{fault}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn client_times_out_on_a_silent_server() {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let client = HttpTransport::builder(format!("http://{addr}{PATH}"), Security::unsecured())
        .request_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = echo(&client, "anyone?").await.unwrap_err();
    assert!(
        matches!(
            &err,
            ClientError::Transport(TransportError::Timeout { timeout, .. })
                if *timeout == Duration::from_millis(300)
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn graceful_shutdown_finishes_requests_in_flight() {
    let service = EchoService::default();
    let mut server =
        Running::start(Server::builder().mount(PATH, service.clone(), Security::unsecured())).await;
    let client = transport(&server.url(), Security::unsecured());
    let in_flight = tokio::spawn(async move { client.call(&SLOW, &Text("300".into())).await });
    service.wait_for_slow_calls(1).await;
    server.stop();
    // The slow request started before the shutdown still gets its reply.
    let reply = in_flight.await.unwrap().unwrap();
    assert!(reply.root().name().is(Some(NS), "SlowResponse"));
    tokio::time::timeout(Duration::from_secs(5), server.task)
        .await
        .unwrap()
        .unwrap();
    // And the listener is gone.
    assert!(TcpStream::connect(server.addr).await.is_err());
}

/// Guards against a hung request holding a shutdown up forever.
#[tokio::test]
async fn shutdown_gives_up_on_requests_after_the_grace_period() {
    let service = EchoService::default();
    let builder = Server::builder()
        .shutdown_grace(Duration::from_millis(200))
        .mount(PATH, service.clone(), Security::unsecured());
    let mut server = Running::start(builder).await;
    let client = transport(&server.url(), Security::unsecured());
    let in_flight = tokio::spawn(async move { client.call(&SLOW, &Text("10000".into())).await });
    service.wait_for_slow_calls(1).await;
    let started = Instant::now();
    server.stop();
    tokio::time::timeout(Duration::from_secs(3), server.task)
        .await
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    // The request never got its reply: its connection was closed.
    let err = in_flight.await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Transport(TransportError::Unreachable { .. })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn graceful_shutdown_closes_idle_connections() {
    let mut server = Running::echo(Security::unsecured()).await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    let response = exchange(&mut idle, &post(PATH, "", &envelope11(&echo_payload("x")))).await;
    assert_eq!(response.status, 200);
    server.stop();
    // An idle keep-alive connection does not hold the shutdown up to its grace period.
    tokio::time::timeout(Duration::from_secs(2), server.task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn mounting_mistakes_are_reported_at_bind() {
    let err = Server::builder()
        .mount("no-slash", EchoService::default(), Security::unsecured())
        .bind("127.0.0.1:0")
        .await
        .unwrap_err();
    assert!(matches!(err, soap::ServerError::BadPath(_)), "{err}");
    let err = Server::builder()
        .mount(PATH, EchoService::default(), Security::unsecured())
        .mount(PATH, EchoService::default(), Security::unsecured())
        .bind("127.0.0.1:0")
        .await
        .unwrap_err();
    assert!(matches!(err, soap::ServerError::DuplicatePath(_)), "{err}");
}

/// Guards against transport errors that hide their cause behind hyper's "client error
/// (Connect)".
#[tokio::test]
async fn an_unreachable_endpoint_is_a_typed_error_naming_the_cause() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let client = transport(&format!("http://{addr}{PATH}"), Security::unsecured());
    let err = echo(&client, "x").await.unwrap_err();
    assert!(
        matches!(
            &err,
            ClientError::Transport(TransportError::Unreachable { .. })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("Connection refused"), "{err}");
}
