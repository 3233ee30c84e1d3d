//! DescribeAccountAttributes (the platforms this cloud supports: EC2-Classic only) and the
//! reserved-instance calls, which the original answered empty.

use wire::ec2::{
    DescribeReservedInstancesOfferingsResponseType, DescribeReservedInstancesResponseType,
};
use wire::ec2_additions::{
    AccountAttributeSetItemType, AccountAttributeSetType, AccountAttributeValueSetItemType,
    AccountAttributeValueSetType, DescribeAccountAttributesResponseType,
    DescribeAccountAttributesType,
};

use super::Call;

/// Each attribute this cloud answers, and its values.
const ATTRIBUTES: [(&str, &[&str]); 1] = [("supported-platforms", &["EC2"])];

pub(super) fn attributes(
    call: &Call<'_>,
    request: &DescribeAccountAttributesType,
) -> DescribeAccountAttributesResponseType {
    let asked: Vec<&str> = request
        .account_attribute_name_set
        .iter()
        .flat_map(|set| &set.item)
        .map(|a| a.attribute_name.as_str())
        .collect();
    let item = ATTRIBUTES
        .iter()
        .filter(|(name, _)| asked.is_empty() || asked.contains(name))
        .map(|(name, values)| AccountAttributeSetItemType {
            attribute_name: (*name).to_owned(),
            attribute_value_set: AccountAttributeValueSetType {
                item: values
                    .iter()
                    .map(|v| AccountAttributeValueSetItemType {
                        attribute_value: (*v).to_owned(),
                    })
                    .collect(),
            },
        })
        .collect();
    DescribeAccountAttributesResponseType {
        request_id: call.request_id.to_owned(),
        account_attribute_set: Some(AccountAttributeSetType { item }),
    }
}

pub(super) fn reserved_instances(call: &Call<'_>) -> DescribeReservedInstancesResponseType {
    DescribeReservedInstancesResponseType {
        request_id: call.request_id.to_owned(),
        ..Default::default()
    }
}

pub(super) fn reserved_offerings(
    call: &Call<'_>,
) -> DescribeReservedInstancesOfferingsResponseType {
    DescribeReservedInstancesOfferingsResponseType {
        request_id: call.request_id.to_owned(),
        ..Default::default()
    }
}
