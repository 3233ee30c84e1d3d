use soap::envelope::{self, Addressing, BodyContent, Outgoing, SoapVersion};
use soap::keys::KeyPair;
use soap::wss::SignOptions;
use xmlbind::{ToXml, XmlWriter};
struct T(String);
impl ToXml for T {
    fn write_content(&self, w: &mut XmlWriter) {
        self.0.to_xml(w, Some("urn:test:echo"), "text");
    }
}
fn main() {
    let pair = KeyPair::generate("client").unwrap();
    let signer = pair.signer(SignOptions::default()).unwrap();
    let text = T("x".repeat(600));
    let outgoing = Outgoing {
        version: SoapVersion::V11,
        addressing: Addressing {
            to: Some("http://127.0.0.1:8775/x".into()),
            action: Some("Echo#Echo".into()),
            message_id: Some("urn:uuid:00000000-0000-4000-8000-000000000001".into()),
            relates_to: None,
        },
        body: BodyContent::Payload {
            namespace: "urn:test:echo",
            local: "Echo",
            value: &text,
        },
    };
    let bytes = envelope::write(&outgoing, Some(&signer)).unwrap();
    std::fs::write("/tmp/fp/msg.xml", &bytes).unwrap();
    let limits = xmlbind::Limits::default();
    let n = 20000u32;
    let started = cpu();
    for _ in 0..n {
        std::hint::black_box(xmlbind::parse(&bytes, &limits).unwrap());
    }
    println!(
        "{:?} per parse of {} bytes",
        (cpu() - started) / n,
        bytes.len()
    );
    if std::env::args().nth(1).is_some() {
        return;
    }
    let started = cpu();
    for _ in 0..2000 {
        std::hint::black_box(envelope::write(&outgoing, Some(&signer)).unwrap());
    }
    println!("{:?} per signed write", (cpu() - started) / 2000);
}

fn cpu() -> std::time::Duration {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    std::time::Duration::from_nanos(s.split_whitespace().next().unwrap().parse().unwrap())
}
