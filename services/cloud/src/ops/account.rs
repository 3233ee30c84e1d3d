//! DescribeAccountAttributes (the platforms this cloud supports: EC2-Classic only) and the
//! reserved-instance calls, which the original answered empty.

use super::{Call, Reply};

pub(super) fn attributes(call: &Call<'_>, reply: &mut Reply) {
    let asked = call.list("AttributeName");
    let attributes = [("supported-platforms", "EC2")];
    let shown: Vec<_> = attributes
        .iter()
        .filter(|(name, _)| asked.is_empty() || asked.contains(name))
        .collect();
    reply.items("accountAttributeSet", &shown, |r, (name, value)| {
        r.leaf("attributeName", name);
        r.items("attributeValueSet", &[value], |r, value| {
            r.leaf("attributeValue", value);
        });
    });
}

pub(super) fn reserved(reply: &mut Reply, set: &str) {
    reply.items::<()>(set, &[], |_, _| {});
}
