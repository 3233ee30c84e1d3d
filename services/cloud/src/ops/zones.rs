//! DescribeRegions (this cloud's one region) and DescribeAvailabilityZones: one zone per
//! registered cluster, available when its CC answered the tick's last DescribeResources;
//! with `verbose`, the free and maximum count of each VM type, as the original listed them;
//! and one zone per burst target, `burst-NAME`.

use wire::ec2::{
    AvailabilityZoneItemType, AvailabilityZoneSetType, DescribeAvailabilityZonesResponseType,
    DescribeAvailabilityZonesType, DescribeRegionsResponseType, DescribeRegionsType,
    RegionItemType, RegionSetType,
};

use wire::query::Filter;

use super::clusters::zones_of;
use super::filters::Filters;
use super::Call;
use crate::burst;
use crate::error::Ec2Error;
use crate::store::Cluster;

pub(super) fn regions(
    call: &Call<'_>,
    request: &DescribeRegionsType,
    filters: &[Filter],
) -> Result<DescribeRegionsResponseType, Ec2Error> {
    let filters = Filters::new(filters, &["region-name", "endpoint"])?;
    let asked: Vec<&str> = request
        .region_set
        .item
        .iter()
        .map(|r| r.region_name.as_str())
        .collect();
    let ours = RegionItemType {
        region_name: call.cloud.region.clone(),
        region_endpoint: call.cloud.ec2_url.get().cloned().unwrap_or_default(),
    };
    let listed = (asked.is_empty() || asked.contains(&ours.region_name.as_str()))
        && filters.pass(|name| match name {
            "region-name" => vec![ours.region_name.as_str()],
            _ => vec![ours.region_endpoint.as_str()],
        });
    Ok(DescribeRegionsResponseType {
        request_id: call.request_id.to_owned(),
        region_info: RegionSetType {
            item: listed.then_some(ours).into_iter().collect(),
        },
    })
}

pub(super) async fn zones(
    call: &Call<'_>,
    request: &DescribeAvailabilityZonesType,
    filters: &[Filter],
) -> Result<DescribeAvailabilityZonesResponseType, Ec2Error> {
    let filters = Filters::new(filters, &["zone-name", "state", "region-name"])?;
    let asked: Vec<&str> = request
        .availability_zone_set
        .item
        .iter()
        .map(|z| z.zone_name.as_str())
        .collect();
    let verbose = asked.first() == Some(&"verbose");
    let clusters = call.cloud.store.clusters().await?;
    let types = call.cloud.store.vm_types().await?;
    let region = &call.cloud.region;
    let line = |name: String, state: String| AvailabilityZoneItemType {
        zone_name: name,
        zone_state: state,
        region_name: region.clone(),
    };
    let shown: Vec<Cluster> = clusters
        .into_iter()
        .filter(|c| verbose || asked.is_empty() || asked.contains(&c.name.as_str()))
        .collect();
    let capacities = zones_of(call.cloud, &shown, &types).await?;
    let mut lines = Vec::new();
    for (cluster, capacity) in shown.iter().zip(capacities) {
        let state = if capacity.is_some() {
            "available"
        } else {
            "unavailable"
        };
        lines.push(line(cluster.name.clone(), state.to_owned()));
        if verbose {
            lines.push(line(
                "|- vm types".into(),
                "free / max   cpu   ram  disk".into(),
            ));
            for t in &types {
                let (free, max) = capacity
                    .as_ref()
                    .and_then(|c| c.iter().find(|c| c.vm_type == t.name))
                    .map_or((0, 0), |c| (c.available, c.max));
                lines.push(line(
                    format!("|- {}", t.name),
                    format!(
                        "{free:04} / {max:04}   {}   {:4}   {:4}",
                        t.cores, t.memory_mb, t.disk_gb
                    ),
                ));
            }
        }
    }
    // A burst target's zone is available while it is registered; its room is the target's.
    for zone in burst::zones(call.cloud).await? {
        if verbose || asked.is_empty() || asked.contains(&zone.as_str()) {
            lines.push(line(zone, "available".to_owned()));
        }
    }
    lines.retain(|z| {
        filters.pass(|name| match name {
            "zone-name" => vec![z.zone_name.as_str()],
            "state" => vec![z.zone_state.as_str()],
            _ => vec![z.region_name.as_str()],
        })
    });
    Ok(DescribeAvailabilityZonesResponseType {
        request_id: call.request_id.to_owned(),
        availability_zone_info: AvailabilityZoneSetType { item: lines },
    })
}
