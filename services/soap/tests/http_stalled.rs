//! Issue 17, finding 1: clients that send a POST's headers and stall its body must not starve
//! the clients that send whole messages; stalled bodies are answered 408 and closed, and one
//! address cannot hold more than its share of connections.

#![allow(clippy::unwrap_used)]

mod http_support;

use std::time::Duration;

use http_support::*;
use soap::{BodyPace, Security, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The head of a POST whose 1000-byte body never comes.
const STALLED_HEAD: &str = "POST /axis2/services/Echo HTTP/1.1\r\nHost: x\r\n\
    Content-Type: text/xml; charset=utf-8\r\nContent-Length: 1000\r\n\r\n<soapenv:Env";

async fn stall(addr: std::net::SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(STALLED_HEAD.as_bytes()).await.unwrap();
    stream
}

/// Guards against the NC finding: 16 stalled bodies held all 16 slots for a minute.
#[tokio::test]
async fn stalled_bodies_take_no_slot_from_whole_messages() {
    let server = Running::start(Server::builder().max_in_flight(2).mount(
        PATH,
        EchoService::default(),
        Security::unsecured(),
    ))
    .await;
    let mut stalled = Vec::new();
    for _ in 0..16 {
        stalled.push(stall(server.addr).await);
    }
    // Wait until the server has read every stalled head (its bodies are then being awaited).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = transport(&server.url(), Security::unsecured());
    // Not a speed target: a generous bound that only a starved request would exceed.
    let echoed = tokio::time::timeout(Duration::from_secs(10), echo(&client, "through"))
        .await
        .expect("a whole message waited behind stalled ones")
        .unwrap();
    assert_eq!(echoed.text, "through");
    drop(stalled);
}

#[tokio::test]
async fn a_stalled_body_is_answered_408_and_its_connection_closed() {
    let pace = BodyPace {
        grace: Duration::from_millis(300),
        min_bytes_per_sec: 1024,
    };
    let server = Running::start(Server::builder().body_pace(pace).mount(
        PATH,
        EchoService::default(),
        Security::unsecured(),
    ))
    .await;
    let mut stream = stall(server.addr).await;
    let response = read_response(&mut stream).await;
    assert_eq!(response.status, 408, "{}", response.text());
    assert_eq!(response.header("connection"), Some("close"));
    let (code, string) = response.fault();
    assert_eq!(code, "soapenv:Client");
    assert!(
        string.starts_with("message body arrived too slowly"),
        "{string}"
    );
    let mut rest = Vec::new();
    let read = stream.read_to_end(&mut rest).await.unwrap();
    assert_eq!(read, 0, "the server closed the connection");
}

#[tokio::test]
async fn one_address_holds_at_most_its_share_of_connections() {
    let server = Running::start(Server::builder().max_connections_per_peer(4).mount(
        PATH,
        EchoService::default(),
        Security::unsecured(),
    ))
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(stall(server.addr).await);
    }
    // The fifth is closed as soon as it is accepted.
    let mut fifth = TcpStream::connect(server.addr).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(10), fifth.read(&mut buf))
        .await
        .expect("the fifth connection was left open");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    // Once one closes, the address may connect again.
    drop(held.pop());
    let client = transport(&server.url(), Security::unsecured());
    let mut attempts = 0;
    // The server notices the close on its own time; retry until it has.
    let echoed = loop {
        match echo(&client, "again").await {
            Ok(echoed) => break echoed,
            Err(e) if attempts < 50 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
                drop(e);
            }
            Err(e) => panic!("the address could not connect again: {e}"),
        }
    };
    assert_eq!(echoed.text, "again");
}
