//! The generated dispatcher and client of `EucalyptusGL`, joined by an in-process transport
//! that writes and re-parses every message: each operation reaches its handler method,
//! unreadable requests are faults, and the client checks the reply. (Routing by the Body
//! element and the SOAPAction check are the runtime's: `soap`'s `http_server` tests.)

#![allow(clippy::unwrap_used)]

use std::sync::Mutex;

use soap::{BoxFuture, ClientError, FaultCode, Operation, RequestContext, Service, Transport};
use wire::gl::{
    EucalyptusGl, EucalyptusGlClient, EucalyptusGlServer, GetKeysResponseType, GetKeysType,
    GetLogsResponseType, GetLogsType, EUCALYPTUS_GL_OPERATIONS, NAMESPACE,
};
use xmlbind::{Document, Limits, ToXml, XmlWriter};

/// Answers GetKeys with the service tag it was asked for; remembers each SOAPAction seen.
#[derive(Default)]
struct Keys {
    actions: Mutex<Vec<Option<String>>>,
}

impl EucalyptusGl for Keys {
    async fn get_logs(
        &self,
        _: GetLogsType,
        _: RequestContext,
    ) -> Result<GetLogsResponseType, soap::Fault> {
        Err(soap::Fault::server("no logs here"))
    }

    async fn get_keys(
        &self,
        request: GetKeysType,
        context: RequestContext,
    ) -> Result<GetKeysResponseType, soap::Fault> {
        self.actions.lock().unwrap().push(context.soap_action);
        Ok(GetKeysResponseType {
            service_tag: request.service_tag,
            c_ccert: Some("cluster certificate".into()),
            r#return: Some(true),
            ..Default::default()
        })
    }
}

fn element(value: &(dyn ToXml + Sync), (namespace, local): (&str, &str)) -> Document {
    let mut w = XmlWriter::new();
    value.to_xml(&mut w, Some(namespace), local);
    parse(&w.finish())
}

fn parse(xml: &str) -> Document {
    Document::parse(xml.as_bytes(), &Limits::default()).unwrap()
}

fn get_keys() -> &'static Operation {
    EUCALYPTUS_GL_OPERATIONS
        .iter()
        .find(|o| o.name == "GetKeys")
        .unwrap()
}

/// Hands requests to a service in the same process, as the runtime would after parsing the
/// envelope and routing it.
struct Loopback<S> {
    service: S,
}

impl<S: Service> Transport for Loopback<S> {
    fn call<'a>(
        &'a self,
        operation: &'static Operation,
        request: &'a (dyn ToXml + Sync),
    ) -> BoxFuture<'a, Result<Document, ClientError>> {
        Box::pin(async move {
            let body = element(request, operation.request);
            let context = RequestContext {
                soap_action: Some(operation.soap_action.to_owned()),
                ..Default::default()
            };
            let reply = self
                .service
                .call(operation, body.root(), context)
                .await
                .map_err(ClientError::Fault)?;
            Ok(element(&*reply.body, (reply.namespace, reply.local)))
        })
    }
}

#[tokio::test]
async fn a_client_call_reaches_the_handler_and_returns_its_response() {
    let server = EucalyptusGlServer::new(Keys::default());
    let client = EucalyptusGlClient::new(Loopback {
        service: server.clone(),
    });
    let request = GetKeysType {
        service_tag: Some("http://cc:8774/axis2/services/EucalyptusCC".into()),
        ..Default::default()
    };
    let response = client.get_keys(&request).await.unwrap();
    assert_eq!(response.service_tag, request.service_tag);
    assert_eq!(response.c_ccert.as_deref(), Some("cluster certificate"));
    assert_eq!(response.r#return, Some(true));
    let fault = client.get_logs(&GetLogsType::default()).await.unwrap_err();
    assert!(
        matches!(fault, ClientError::Fault(f) if f.code == FaultCode::Server && f.string == "no logs here")
    );
}

#[tokio::test]
async fn the_service_describes_itself_from_the_wsdl() {
    let server = EucalyptusGlServer::new(Keys::default());
    assert_eq!(server.name(), "EucalyptusGL");
    assert!(server.wsdl().contains("EucalyptusGL#GetKeys"));
    let mut operations: Vec<_> = server
        .operations()
        .iter()
        .map(|o| (o.name, o.soap_action, o.request.1, o.response.1))
        .collect();
    operations.sort_unstable();
    assert_eq!(
        operations,
        [
            (
                "GetKeys",
                "EucalyptusGL#GetKeys",
                "GetKeys",
                "GetKeysResponse"
            ),
            (
                "GetLogs",
                "EucalyptusGL#GetLogs",
                "GetLogs",
                "GetLogsResponse"
            ),
        ]
    );
    assert!(EUCALYPTUS_GL_OPERATIONS
        .iter()
        .all(|o| o.request.0 == NAMESPACE && o.response.0 == NAMESPACE));
}

#[tokio::test]
async fn an_operation_of_another_service_is_refused_without_running_a_handler() {
    let handler = std::sync::Arc::new(Keys::default());
    let server = EucalyptusGlServer::from_arc(handler.clone());
    static FOREIGN: Operation = Operation {
        name: "Reboot",
        soap_action: "EucalyptusGL#Reboot",
        request: (NAMESPACE, "Reboot"),
        response: (NAMESPACE, "RebootResponse"),
    };
    let body = parse(r#"<Reboot xmlns="http://eucalyptus.ucsb.edu/"/>"#);
    let fault = server
        .call(&FOREIGN, body.root(), RequestContext::default())
        .await
        .unwrap_err();
    assert_eq!(fault.code, FaultCode::Server);
    assert_eq!(
        fault.string,
        "operation Reboot is not one of EucalyptusGL's"
    );
    assert!(handler.actions.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_unreadable_request_is_a_client_fault_with_the_position() {
    let server = EucalyptusGlServer::new(Keys::default());
    let body = parse("<GetKeys xmlns=\"http://eucalyptus.ucsb.edu/\">\n  <surprise/>\n</GetKeys>");
    let fault = server
        .call(get_keys(), body.root(), RequestContext::default())
        .await
        .unwrap_err();
    assert_eq!(fault.code, FaultCode::Client);
    assert!(
        fault.string.starts_with("invalid GetKeys request:") && fault.string.contains("line 2"),
        "{fault}"
    );
}

/// Answers every call with a GetLogsResponse.
struct WrongReply;

impl Transport for WrongReply {
    fn call<'a>(
        &'a self,
        _: &'static Operation,
        _: &'a (dyn ToXml + Sync),
    ) -> BoxFuture<'a, Result<Document, ClientError>> {
        Box::pin(async {
            Ok(parse(
                r#"<GetLogsResponse xmlns="http://eucalyptus.ucsb.edu/"/>"#,
            ))
        })
    }
}

#[tokio::test]
async fn a_reply_with_the_wrong_element_is_refused_by_the_client() {
    let client = EucalyptusGlClient::new(WrongReply);
    match client.get_keys(&GetKeysType::default()).await.unwrap_err() {
        ClientError::UnexpectedResponse { expected, found } => {
            assert_eq!(expected, "{http://eucalyptus.ucsb.edu/}GetKeysResponse");
            assert_eq!(found, "{http://eucalyptus.ucsb.edu/}GetLogsResponse");
        }
        other => panic!("{other}"),
    }
}
