//! What every [`Store`] engine must do, as one suite each engine's tests run on a fresh
//! store of its own.

#![allow(clippy::unwrap_used)]

use super::*;

use users::ROOT_NAME as ROOT;

/// Runs every check on `store`, which must be new.
pub async fn run(store: &dyn Store) {
    default_vm_types(store).await;
    keypairs_are_per_owner(store).await;
    rules_are_added_and_removed_all_or_none(store).await;
    deleting_an_account_deletes_what_it_owns(store).await;
    clusters_and_facts(store).await;
    nodes_are_registered_with_their_cluster_and_go_with_it(store).await;
    images_are_kept_by_id_and_deleted_by_their_owner(store).await;
    instances_are_kept_per_owner_and_marked_terminated(store).await;
    users_are_found_by_their_certificate(store).await;
    addresses_are_allocated_within_limits_associated_and_released(store).await;
    images_keep_their_launch_permissions_and_product_codes(store).await;
    observations_are_recorded_and_vanished_instances_leave_the_live_set(store).await;
    a_client_token_names_one_reservation_per_owner(store).await;
    volumes_move_by_compare_and_set_and_detach_with_their_instance(store).await;
    snapshots_are_kept_per_owner_with_their_progress(store).await;
    in_use_counts_what_an_account_and_each_creator_holds(store).await;
    slas_keep_their_reservations_history_and_breaches(store).await;
    metric_points_fold_per_instance_and_alarms_change_state_once(store).await;
    burst_targets_and_their_instances_remote_ids(store).await;
}

fn group(owner: &str, name: &str, id: &str) -> SecurityGroup {
    SecurityGroup {
        owner: owner.into(),
        name: name.into(),
        id: id.into(),
        description: "d".into(),
        rules: Vec::new(),
    }
}

fn tcp(port: i32, source: Source) -> Rule {
    Rule {
        protocol: "tcp".into(),
        from_port: port,
        to_port: port,
        source,
    }
}

async fn default_vm_types(store: &dyn Store) {
    let types = store.vm_types().await.unwrap();
    let expected: Vec<VmType> = DEFAULT_VM_TYPES
        .iter()
        .map(|&(name, cores, memory_mb, disk_gb)| VmType {
            name: name.into(),
            cores,
            memory_mb,
            disk_gb,
        })
        .collect();
    assert_eq!(types, expected);
}

async fn keypairs_are_per_owner(store: &dyn Store) {
    let key = |owner: &str| KeyPair {
        owner: owner.into(),
        name: "k".into(),
        fingerprint: "aa:bb".into(),
        public_key: "ssh-rsa AAAA k".into(),
    };
    store.add_keypair(&key("ann")).await.unwrap();
    store.add_keypair(&key("bob")).await.unwrap();
    assert!(matches!(
        store.add_keypair(&key("ann")).await,
        Err(StoreError::Exists { .. })
    ));
    assert_eq!(store.keypairs(Some("ann")).await.unwrap(), vec![key("ann")]);
    assert_eq!(store.keypairs(None).await.unwrap().len(), 2);
    assert!(store.delete_keypair("ann", "k").await.unwrap());
    assert!(!store.delete_keypair("ann", "k").await.unwrap());
    assert_eq!(store.keypairs(None).await.unwrap(), vec![key("bob")]);
    assert!(store.delete_keypair("bob", "k").await.unwrap());
}

async fn rules_are_added_and_removed_all_or_none(store: &dyn Store) {
    store
        .add_group(&group("ann", "web", "sg-00000001"))
        .await
        .unwrap();
    let http = tcp(80, Source::Cidr("0.0.0.0/0".into()));
    let ssh = tcp(
        22,
        Source::Group {
            owner: "bob".into(),
            name: "admins".into(),
        },
    );
    store
        .authorize("ann", "web", std::slice::from_ref(&http))
        .await
        .unwrap();
    // The second rule is a duplicate: the first of this batch must not stay.
    let refused = store
        .authorize("ann", "web", &[ssh.clone(), http.clone()])
        .await;
    assert!(matches!(refused, Err(StoreError::Exists { .. })));
    let groups = store.groups(Some("ann")).await.unwrap();
    assert_eq!(groups[0].rules, vec![http.clone()]);
    store
        .authorize("ann", "web", std::slice::from_ref(&ssh))
        .await
        .unwrap();
    let refused = store
        .revoke(
            "ann",
            "web",
            &[ssh.clone(), tcp(443, Source::Cidr("10.0.0.0/8".into()))],
        )
        .await;
    assert!(matches!(refused, Err(StoreError::NotFound { .. })));
    assert_eq!(store.groups(None).await.unwrap()[0].rules.len(), 2);
    // A group another's rules name cannot go; once they are revoked it can.
    store
        .add_group(&group("bob", "admins", "sg-00000003"))
        .await
        .unwrap();
    assert!(matches!(
        store.delete_group("bob", "admins").await,
        Err(StoreError::InUse { .. })
    ));
    store.revoke("ann", "web", &[ssh]).await.unwrap();
    store.delete_group("bob", "admins").await.unwrap();
    assert_eq!(store.groups(None).await.unwrap()[0].rules, vec![http]);
    assert!(matches!(
        store.authorize("bob", "web", &[]).await,
        Err(StoreError::NotFound { .. })
    ));
    store.delete_group("ann", "web").await.unwrap();
    assert!(store.groups(None).await.unwrap().is_empty());
}

async fn deleting_an_account_deletes_what_it_owns(store: &dyn Store) {
    let directory = store.directory();
    let (_, root) = directory.create_account("ann", None).await.unwrap();
    let dev = directory.create_user("ann", "dev", "/").await.unwrap();
    store.put_certificate(&root, "PEM").await.unwrap();
    store.put_certificate(&dev, "PEM dev").await.unwrap();
    assert_eq!(
        store.certificate("ann", ROOT).await.unwrap().as_deref(),
        Some("PEM")
    );
    store
        .add_group(&group("ann", "default", "sg-00000002"))
        .await
        .unwrap();
    // An IAM user goes with its certificate; the account's things stay.
    store.delete_user("ann", "dev").await.unwrap();
    assert!(store.certificate("ann", "dev").await.unwrap().is_none());
    assert_eq!(store.groups(None).await.unwrap().len(), 1);
    let reserved = sla::Reservation {
        zone: "z".into(),
        vm_type: "m1.small".into(),
        count: 1,
    };
    let ann = sla::Sla {
        account: "ann".into(),
        reservations: vec![reserved],
        ..sla::Sla::default()
    };
    store.put_sla(&ann, 0).await.unwrap();
    store.delete_account("ann").await.unwrap();
    // Its SLA goes, and its reservations end (they hold no room any more).
    assert!(store.slas().await.unwrap().is_empty());
    let history = store.reservation_history(0, i64::MAX).await.unwrap();
    assert!(history.iter().all(|r| r.until.is_some()), "{history:?}");
    assert!(store.certificate("ann", ROOT).await.unwrap().is_none());
    assert!(store.groups(None).await.unwrap().is_empty());
    assert!(directory.root_of("ann").await.unwrap().is_none());
    assert!(matches!(
        store.delete_account("ann").await,
        Err(StoreError::Users(users::UserError::NotFound { .. }))
    ));
}

async fn clusters_and_facts(store: &dyn Store) {
    assert!(store.facts().await.unwrap().is_none());
    let facts = CloudFacts {
        keys: "/keys".into(),
        ec2_url: "http://h:8773/services/Eucalyptus".into(),
        s3_url: "http://h:8773/services/Walrus".into(),
        region: "r".into(),
    };
    store.put_facts(&facts).await.unwrap();
    assert_eq!(store.facts().await.unwrap(), Some(facts));
    let one = Cluster {
        name: "one".into(),
        url: "http://a/axis2/services/EucalyptusCC".into(),
    };
    store.add_cluster(&one).await.unwrap();
    assert!(matches!(
        store.add_cluster(&one).await,
        Err(StoreError::Exists { .. })
    ));
    assert_eq!(store.clusters().await.unwrap(), vec![one]);
    store.remove_cluster("one").await.unwrap();
    assert!(matches!(
        store.remove_cluster("one").await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn nodes_are_registered_with_their_cluster_and_go_with_it(store: &dyn Store) {
    let node = |cluster: &str, host: &str| Node {
        cluster: cluster.into(),
        host: host.into(),
    };
    assert!(matches!(
        store.add_node(&node("east", "10.0.0.1")).await,
        Err(StoreError::NotFound {
            what: "cluster",
            ..
        })
    ));
    for name in ["east", "west"] {
        let cluster = Cluster {
            name: name.into(),
            url: format!("http://{name}/axis2/services/EucalyptusCC"),
        };
        store.add_cluster(&cluster).await.unwrap();
    }
    store.add_node(&node("west", "10.0.1.1")).await.unwrap();
    store
        .add_node(&node("east", "10.0.0.2:8775"))
        .await
        .unwrap();
    store.add_node(&node("east", "10.0.0.1")).await.unwrap();
    assert!(matches!(
        store.add_node(&node("east", "10.0.0.1")).await,
        Err(StoreError::Exists { what: "node", .. })
    ));
    assert_eq!(
        store.nodes().await.unwrap(),
        [
            node("east", "10.0.0.1"),
            node("east", "10.0.0.2:8775"),
            node("west", "10.0.1.1")
        ]
    );
    store.remove_node(&node("east", "10.0.0.1")).await.unwrap();
    assert!(matches!(
        store.remove_node(&node("east", "10.0.0.1")).await,
        Err(StoreError::NotFound { what: "node", .. })
    ));
    store.remove_cluster("east").await.unwrap();
    assert_eq!(store.nodes().await.unwrap(), [node("west", "10.0.1.1")]);
    store.remove_cluster("west").await.unwrap();
    assert!(store.nodes().await.unwrap().is_empty());
}

async fn images_are_kept_by_id_and_deleted_by_their_owner(store: &dyn Store) {
    let image = |id: &str, owner: &str| Image {
        id: id.into(),
        owner: owner.into(),
        location: "b/k.manifest.xml".into(),
        kind: ImageKind::of_id(id).unwrap(),
        public: true,
        kernel: None,
        ramdisk: None,
        product_codes: Vec::new(),
        launch_users: Vec::new(),
    };
    store
        .add_image(&image("emi-0000000b", "ann"))
        .await
        .unwrap();
    store
        .add_image(&image("eki-0000000a", "bob"))
        .await
        .unwrap();
    assert!(matches!(
        store.add_image(&image("emi-0000000b", "bob")).await,
        Err(StoreError::Exists { .. })
    ));
    let ids: Vec<String> = store
        .images()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(ids, ["eki-0000000a", "emi-0000000b"]);
    assert_eq!(store.images().await.unwrap()[0].kind, ImageKind::Kernel);
    // Another user's image stays; the administrator's (`None`) deletes any.
    assert!(!store
        .delete_image(Some("ann"), "eki-0000000a")
        .await
        .unwrap());
    assert!(store
        .delete_image(Some("ann"), "emi-0000000b")
        .await
        .unwrap());
    assert!(store.delete_image(None, "eki-0000000a").await.unwrap());
    assert!(store.images().await.unwrap().is_empty());
}

async fn instances_are_kept_per_owner_and_marked_terminated(store: &dyn Store) {
    let instance = |id: &str, owner: &str, index: u32| Instance {
        id: id.into(),
        reservation: "r-00000001".into(),
        owner: owner.into(),
        image: "emi-00000001".into(),
        kernel: Some("eki-00000001".into()),
        ramdisk: None,
        vm_type: "m1.small".into(),
        key_name: None,
        groups: vec!["default".into(), "web".into()],
        launch_index: index,
        cluster: "zone1".into(),
        launched: 1,
        terminated: false,
        client_token: None,
        observed: Observed::default(),
    };
    let ann = [
        instance("i-00000002", "ann", 0),
        instance("i-00000001", "ann", 1),
    ];
    store.add_instances(&ann, None).await.unwrap();
    // All or none: the second is taken, so the first is not added either.
    let again = [
        instance("i-00000003", "bob", 0),
        instance("i-00000001", "bob", 1),
    ];
    assert!(matches!(
        store.add_instances(&again, None).await,
        Err(StoreError::Exists { .. })
    ));
    assert_eq!(store.instances(Some("ann")).await.unwrap(), ann);
    assert!(store.instances(Some("bob")).await.unwrap().is_empty());
    store.set_terminated(&["i-00000001".into()]).await.unwrap();
    store
        .remove_instances(&["i-00000002".into()])
        .await
        .unwrap();
    let left = store.instances(None).await.unwrap();
    assert_eq!(left.len(), 1);
    assert!(left[0].terminated && left[0].groups == ["default", "web"]);
}

async fn users_are_found_by_their_certificate(store: &dyn Store) {
    let directory = store.directory();
    let (_, cy) = directory.create_account("cy", None).await.unwrap();
    let di = directory.create_user("cy", "di", "/").await.unwrap();
    store.put_certificate(&cy, "PEM cy").await.unwrap();
    store.put_certificate(&di, "PEM di").await.unwrap();
    assert_eq!(store.user_by_certificate("PEM cy").await.unwrap(), Some(cy));
    assert_eq!(
        store.user_by_certificate("PEM di").await.unwrap(),
        Some(di.clone())
    );
    assert_eq!(store.user_by_certificate("PEM").await.unwrap(), None);
    // A certificate issued again replaces the earlier one, which names nobody any more.
    store.put_certificate(&di, "PEM di 2").await.unwrap();
    assert_eq!(store.user_by_certificate("PEM di").await.unwrap(), None);
    assert_eq!(
        store
            .user_by_certificate("PEM di 2")
            .await
            .unwrap()
            .map(|u| (u.account, u.name)),
        Some(("cy".to_owned(), "di".to_owned()))
    );
    // A disabled user is still found (the caller refuses them); a deleted one is not.
    directory.set_user_enabled("cy", "di", false).await.unwrap();
    assert!(
        !store
            .user_by_certificate("PEM di 2")
            .await
            .unwrap()
            .unwrap()
            .enabled
    );
    // A deleted certificate names nobody; its user is still there.
    assert!(store.delete_certificate("cy", "di").await.unwrap());
    assert!(!store.delete_certificate("cy", "di").await.unwrap());
    assert_eq!(store.user_by_certificate("PEM di 2").await.unwrap(), None);
    assert_eq!(store.certificate("cy", "di").await.unwrap(), None);
    store.put_certificate(&di, "PEM di 2").await.unwrap();
    store.delete_user("cy", "di").await.unwrap();
    assert_eq!(store.user_by_certificate("PEM di 2").await.unwrap(), None);
    store.delete_account("cy").await.unwrap();
}

async fn addresses_are_allocated_within_limits_associated_and_released(store: &dyn Store) {
    let pool: Vec<PoolAddress> = ["192.0.2.10", "192.0.2.9", "192.0.2.11"]
        .into_iter()
        .map(|ip| PoolAddress {
            cluster: "zone1".into(),
            public_ip: ip.into(),
        })
        .collect();
    let allocated = |a: Allocation| match a {
        Allocation::Allocated(address) => address,
        other => panic!("{other:?}"),
    };
    // In the pool's order, each address to one holder only.
    let first = allocated(
        store
            .allocate_address(Some("ann"), None, &pool, Some(2))
            .await
            .unwrap(),
    );
    assert_eq!(
        first,
        Address {
            public_ip: "192.0.2.10".into(),
            cluster: "zone1".into(),
            owner: Some("ann".into()),
            association: None,
        }
    );
    let second = allocated(
        store
            .allocate_address(Some("ann"), None, &pool, Some(2))
            .await
            .unwrap(),
    );
    assert_eq!(second.public_ip, "192.0.2.9");
    assert_eq!(
        store
            .allocate_address(Some("ann"), None, &pool, Some(2))
            .await
            .unwrap(),
        Allocation::LimitReached
    );
    let system = allocated(
        store
            .allocate_address(None, None, &pool, None)
            .await
            .unwrap(),
    );
    assert_eq!(
        (system.public_ip.as_str(), system.owner),
        ("192.0.2.11", None)
    );
    assert_eq!(
        store
            .allocate_address(Some("bob"), None, &pool, Some(2))
            .await
            .unwrap(),
        Allocation::PoolExhausted
    );
    // Listed by address as a number; an owner sees their own only.
    let listed: Vec<String> = store
        .addresses(None)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.public_ip)
        .collect();
    assert_eq!(listed, ["192.0.2.9", "192.0.2.10", "192.0.2.11"]);
    assert_eq!(store.addresses(Some("ann")).await.unwrap().len(), 2);
    assert!(store.addresses(Some("bob")).await.unwrap().is_empty());

    let on = |instance: &str, private_ip: &str| Association {
        instance: instance.into(),
        private_ip: private_ip.into(),
    };
    store
        .associate_address("192.0.2.10", Some(&on("i-00000001", "10.0.0.2")))
        .await
        .unwrap();
    store
        .associate_address("192.0.2.11", Some(&on("i-00000002", "10.0.0.3")))
        .await
        .unwrap();
    assert!(matches!(
        store
            .associate_address("192.0.2.99", Some(&on("i-00000001", "10.0.0.2")))
            .await,
        Err(StoreError::NotFound { .. })
    ));
    let ann = store.addresses(Some("ann")).await.unwrap();
    assert_eq!(ann[1].association, Some(on("i-00000001", "10.0.0.2")));
    // Terminated: the cloud's own address goes back to the pool, the user's stays theirs.
    let changed = store
        .detach_addresses(&["i-00000001".into(), "i-00000002".into()])
        .await
        .unwrap();
    assert_eq!(changed.len(), 2);
    let left = store.addresses(None).await.unwrap();
    assert_eq!(left.len(), 2);
    assert!(left.iter().all(|a| a.association.is_none()), "{left:?}");
    store
        .associate_address("192.0.2.9", Some(&on("i-00000003", "10.0.0.4")))
        .await
        .unwrap();
    store.associate_address("192.0.2.9", None).await.unwrap();
    assert_eq!(
        store.addresses(Some("ann")).await.unwrap()[0].association,
        None
    );
    assert!(store.release_address("192.0.2.9").await.unwrap());
    assert!(!store.release_address("192.0.2.9").await.unwrap());
    // Deleting an account releases what it holds.
    store.directory().create_account("ann", None).await.unwrap();
    store.delete_account("ann").await.unwrap();
    assert!(store.addresses(None).await.unwrap().is_empty());
}

async fn images_keep_their_launch_permissions_and_product_codes(store: &dyn Store) {
    let image = Image {
        id: "emi-000000c1".into(),
        owner: "ann".into(),
        location: "b/k.manifest.xml".into(),
        kind: ImageKind::Machine,
        public: true,
        kernel: Some("eki-000000c2".into()),
        ramdisk: Some("eri-000000c3".into()),
        product_codes: vec!["774F4FF8".into()],
        launch_users: Vec::new(),
    };
    store.add_image(&image).await.unwrap();
    assert_eq!(store.images().await.unwrap(), vec![image.clone()]);
    let users = |names: &[&str]| LaunchPermission {
        public: false,
        users: names.iter().map(|n| (*n).to_owned()).collect(),
    };
    let all = LaunchPermission {
        public: true,
        users: Vec::new(),
    };
    // Private, granted to two users, then one of them revoked in the same step as a grant.
    assert!(store
        .change_launch_permission(&image.id, &users(&["cy", "bob"]), &all)
        .await
        .unwrap());
    assert!(store
        .change_launch_permission(&image.id, &users(&["bob", "dee"]), &users(&["cy"]))
        .await
        .unwrap());
    let changed = &store.images().await.unwrap()[0];
    assert!(!changed.public);
    assert_eq!(changed.launch_users, ["bob", "dee"]);
    assert!(store
        .add_product_codes(&image.id, &["774F4FF8".into(), "0A1B2C3D".into()])
        .await
        .unwrap());
    assert_eq!(
        store.images().await.unwrap()[0].product_codes,
        ["0A1B2C3D", "774F4FF8"]
    );
    assert!(store.reset_launch_permission(&image.id).await.unwrap());
    let reset = &store.images().await.unwrap()[0];
    assert!(reset.public && reset.launch_users.is_empty());
    for missing in [
        store
            .change_launch_permission("emi-0000ffff", &all, &users(&[]))
            .await
            .unwrap(),
        store.reset_launch_permission("emi-0000ffff").await.unwrap(),
        store
            .add_product_codes("emi-0000ffff", &["X".into()])
            .await
            .unwrap(),
    ] {
        assert!(!missing);
    }
    // A deleted account's grants go; a deleted image takes its grants and codes along.
    store
        .change_launch_permission(&image.id, &users(&["eve"]), &users(&[]))
        .await
        .unwrap();
    store.directory().create_account("eve", None).await.unwrap();
    store.delete_account("eve").await.unwrap();
    assert!(store.images().await.unwrap()[0].launch_users.is_empty());
    assert!(store.delete_image(None, &image.id).await.unwrap());
    store
        .add_image(&Image {
            product_codes: Vec::new(),
            ..image.clone()
        })
        .await
        .unwrap();
    assert!(store.images().await.unwrap()[0].product_codes.is_empty());
    assert!(store.delete_image(None, &image.id).await.unwrap());
}

/// An instance of `owner`'s reservation on `cluster`, as RunInstances records it; the tests
/// of the operations start from it too.
pub(crate) fn sample(
    id: &str,
    owner: &str,
    reservation: &str,
    cluster: &str,
    index: u32,
) -> Instance {
    Instance {
        id: id.into(),
        reservation: reservation.into(),
        owner: owner.into(),
        image: "emi-00000001".into(),
        kernel: Some("eki-00000001".into()),
        ramdisk: None,
        vm_type: "m1.small".into(),
        key_name: Some("k".into()),
        groups: vec!["default".into()],
        launch_index: index,
        cluster: cluster.into(),
        launched: 10,
        terminated: false,
        client_token: None,
        observed: Observed::default(),
    }
}

async fn observations_are_recorded_and_vanished_instances_leave_the_live_set(store: &dyn Store) {
    let first = sample("i-000000a1", "ann", "r-000000a1", "east", 0);
    let second = sample("i-000000a2", "ann", "r-000000a1", "east", 1);
    let elsewhere = sample("i-000000a3", "bob", "r-000000a3", "west", 0);
    store
        .add_instances(&[first.clone(), second.clone(), elsewhere.clone()], None)
        .await
        .unwrap();
    let ids =
        |instances: Vec<Instance>| -> Vec<String> { instances.into_iter().map(|i| i.id).collect() };
    assert_eq!(
        ids(store.live_instances("east").await.unwrap()),
        [first.id.clone(), second.id.clone()]
    );
    let running = Observed {
        state: Some("Extant".into()),
        private_ip: "10.0.0.5".into(),
        public_ip: "192.0.2.7".into(),
        node: "http://n1/axis2/services/EucalyptusNC".into(),
        seen: Some(20),
        vanished: false,
    };
    let gone = Observed {
        vanished: true,
        ..Observed::default()
    };
    // An id the store does not hold is skipped, not an error.
    store
        .observe(&[
            (first.id.clone(), running.clone()),
            (second.id.clone(), gone.clone()),
            ("i-0000ffff".into(), running.clone()),
        ])
        .await
        .unwrap();
    assert_eq!(
        ids(store.live_instances("east").await.unwrap()),
        std::slice::from_ref(&first.id)
    );
    assert_eq!(
        ids(store.live_instances("west").await.unwrap()),
        std::slice::from_ref(&elsewhere.id)
    );
    let all: Vec<Instance> = store
        .instances(Some("ann"))
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.reservation == first.reservation)
        .collect();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].observed, running);
    assert_eq!(all[1].observed, gone);
    // What a tick records does not touch what the cloud asked for.
    assert!(!all[0].terminated && all[0].key_name.as_deref() == Some("k"));
    store
        .remove_instances(&[first.id, second.id, elsewhere.id])
        .await
        .unwrap();
}

async fn a_client_token_names_one_reservation_per_owner(store: &dyn Store) {
    let with_token = |mut i: Instance| {
        i.client_token = Some("token-1".into());
        i
    };
    let ann = [
        with_token(sample("i-000000b2", "ann", "r-000000b1", "east", 1)),
        with_token(sample("i-000000b1", "ann", "r-000000b1", "east", 0)),
    ];
    store.add_instances(&ann, None).await.unwrap();
    let found = store.by_client_token("ann", "token-1").await.unwrap();
    assert_eq!(found, [ann[1].clone(), ann[0].clone()]);
    // A retry that raced past the lookup cannot record a second reservation.
    let again = [with_token(sample(
        "i-000000b3",
        "ann",
        "r-000000b3",
        "east",
        0,
    ))];
    let refused = store.add_instances(&again, None).await;
    assert!(
        matches!(
            &refused,
            Err(StoreError::Exists {
                what: "client token",
                ..
            })
        ),
        "{refused:?}"
    );
    assert!(store
        .by_client_token("ann", "token-2")
        .await
        .unwrap()
        .is_empty());
    // Tokens are per owner.
    let bob = [with_token(sample(
        "i-000000b4",
        "bob",
        "r-000000b4",
        "east",
        0,
    ))];
    store.add_instances(&bob, None).await.unwrap();
    assert_eq!(store.by_client_token("bob", "token-1").await.unwrap(), bob);
    assert_eq!(
        store.by_client_token("ann", "token-1").await.unwrap().len(),
        2
    );
}

async fn volumes_move_by_compare_and_set_and_detach_with_their_instance(store: &dyn Store) {
    let volume = |id: &str, owner: &str, created: i64| Volume {
        id: id.into(),
        owner: owner.into(),
        size_gb: 1,
        snapshot: None,
        zone: "zone1".into(),
        created,
        state: VolumeState::Creating,
        attachment: None,
        client_token: None,
    };
    let first = Volume {
        client_token: Some("token-1".into()),
        ..volume("vol-00000001", "alice", 10)
    };
    let other = Volume {
        snapshot: Some("snap-00000001".into()),
        ..volume("vol-00000002", "bob", 5)
    };
    store.add_volume(&first, None).await.unwrap();
    store.add_volume(&other, None).await.unwrap();
    assert!(matches!(
        store.add_volume(&first, None).await,
        Err(StoreError::Exists { what: "volume", .. })
    ));
    assert_eq!(
        store.volumes(Some("alice")).await.unwrap(),
        std::slice::from_ref(&first)
    );
    assert_eq!(
        store.volumes(None).await.unwrap(),
        [other.clone(), first.clone()]
    );

    let available = Volume {
        state: VolumeState::Available,
        ..first.clone()
    };
    assert!(store
        .change_volume(&available, VolumeState::Creating)
        .await
        .unwrap());
    // A second mover that read `creating` loses.
    assert!(!store
        .change_volume(&available, VolumeState::Creating)
        .await
        .unwrap());
    let attached = Volume {
        state: VolumeState::Attached,
        attachment: Some(Attachment {
            instance: "i-00000001".into(),
            device: "/dev/sdf".into(),
            remote_dev: "nbd://127.0.0.1:10809/vol-00000001".into(),
            attached: 20,
        }),
        ..first.clone()
    };
    assert!(store
        .change_volume(&attached, VolumeState::Available)
        .await
        .unwrap());
    assert_eq!(
        store.volumes(Some("alice")).await.unwrap(),
        std::slice::from_ref(&attached)
    );

    let detached = store
        .detach_volumes(&["i-00000001".into(), "i-00000002".into()])
        .await
        .unwrap();
    assert_eq!(detached, [attached]);
    assert_eq!(store.volumes(Some("alice")).await.unwrap(), [available]);
    assert!(store.remove_volume("vol-00000001").await.unwrap());
    assert!(!store.remove_volume("vol-00000001").await.unwrap());
    assert_eq!(store.volumes(None).await.unwrap(), [other]);
}

async fn snapshots_are_kept_per_owner_with_their_progress(store: &dyn Store) {
    let snapshot = Snapshot {
        id: "snap-00000001".into(),
        owner: "alice".into(),
        volume: "vol-00000001".into(),
        volume_size_gb: 2,
        started: 30,
        state: SnapshotState::Pending,
        progress: 0,
    };
    store.add_snapshot(&snapshot, None).await.unwrap();
    assert!(matches!(
        store.add_snapshot(&snapshot, None).await,
        Err(StoreError::Exists {
            what: "snapshot",
            ..
        })
    ));
    let done = Snapshot {
        state: SnapshotState::Completed,
        progress: 100,
        ..snapshot.clone()
    };
    assert!(store.change_snapshot(&done).await.unwrap());
    assert_eq!(
        store.snapshots(Some("alice")).await.unwrap(),
        std::slice::from_ref(&done)
    );
    assert_eq!(store.snapshots(None).await.unwrap(), [done]);
    assert!(store.snapshots(Some("bob")).await.unwrap().is_empty());
    assert!(store.remove_snapshot(&snapshot.id).await.unwrap());
    assert!(!store.change_snapshot(&snapshot).await.unwrap());
    assert!(store.snapshots(None).await.unwrap().is_empty());
}

async fn in_use_counts_what_an_account_and_each_creator_holds(store: &dyn Store) {
    let owner = "quinn";
    let vm_type = VmType {
        name: "q1.test".into(),
        cores: 3,
        memory_mb: 300,
        disk_gb: 1,
    };
    store.set_vm_type(&vm_type).await.unwrap();
    let instance = |n: u32| Instance {
        vm_type: vm_type.name.clone(),
        ..sample(
            &format!("i-0000c00{n}"),
            owner,
            &format!("r-0000c00{n}"),
            "east",
            0,
        )
    };
    store
        .add_instances(&[instance(1)], Some("u"))
        .await
        .unwrap();
    store
        .add_instances(&[instance(2)], Some("v"))
        .await
        .unwrap();
    // A record of before creators were kept counts for the account only.
    store.add_instances(&[instance(3)], None).await.unwrap();
    store
        .add_instances(&[instance(4)], Some("u"))
        .await
        .unwrap();
    store.set_terminated(&["i-0000c004".into()]).await.unwrap();
    let volume = |id: &str, size_gb| Volume {
        id: id.into(),
        owner: owner.into(),
        size_gb,
        snapshot: None,
        zone: "east".into(),
        created: 1,
        state: VolumeState::Available,
        attachment: None,
        client_token: None,
    };
    store
        .add_volume(&volume("vol-0000c001", 3), Some("u"))
        .await
        .unwrap();
    let deleting = volume("vol-0000c002", 5);
    store.add_volume(&deleting, Some("u")).await.unwrap();
    let deleting = Volume {
        state: VolumeState::Deleting,
        ..deleting
    };
    assert!(store
        .change_volume(&deleting, VolumeState::Available)
        .await
        .unwrap());
    let snapshot = Snapshot {
        id: "snap-0000c001".into(),
        owner: owner.into(),
        volume: "vol-0000c001".into(),
        volume_size_gb: 3,
        started: 1,
        state: SnapshotState::Pending,
        progress: 0,
    };
    store.add_snapshot(&snapshot, Some("v")).await.unwrap();
    let pool = [PoolAddress {
        cluster: "east".into(),
        public_ip: "192.0.2.200".into(),
    }];
    let allocated = store
        .allocate_address(Some(owner), Some("u"), &pool, None)
        .await
        .unwrap();
    assert!(matches!(allocated, Allocation::Allocated(_)));
    assert_eq!(
        store.in_use(owner, None).await.unwrap(),
        InUse {
            instances: 3,
            cores: 9,
            memory_mb: 900,
            volumes: 1,
            volume_gb: 3,
            snapshots: 1,
            addresses: 1,
        }
    );
    assert_eq!(
        store.in_use(owner, Some("u")).await.unwrap(),
        InUse {
            instances: 1,
            cores: 3,
            memory_mb: 300,
            volumes: 1,
            volume_gb: 3,
            snapshots: 0,
            addresses: 1,
        }
    );
    assert_eq!(
        store.in_use("nobody", None).await.unwrap(),
        InUse::default()
    );
}

async fn slas_keep_their_reservations_history_and_breaches(store: &dyn Store) {
    use sla::{Breach, BurstPreference, Floor, Placement, Reservation, Sla};
    let reserve = |zone: &str, count| Reservation {
        zone: zone.into(),
        vm_type: "m1.small".into(),
        count,
    };
    let mut first = Sla {
        account: "sla-a".into(),
        priority: 7,
        placement: Some(Placement::RoundRobin),
        burst: BurstPreference::First,
        webhook: Some("http://127.0.0.1:9/hook".into()),
        reservations: vec![reserve("z1", 2), reserve("z2", 1)],
        floors: vec![
            Floor {
                zone: None,
                vm_type: "m1.small".into(),
                floor: 3,
            },
            Floor {
                zone: Some("z1".into()),
                vm_type: "c1.medium".into(),
                floor: 1,
            },
        ],
    };
    store.put_sla(&first, 1_000).await.unwrap();
    let other = Sla {
        account: "sla-b".into(),
        ..Sla::default()
    };
    store.put_sla(&other, 1_000).await.unwrap();
    assert_eq!(store.slas().await.unwrap(), [first.clone(), other.clone()]);

    // A breach is recorded once; one of a floor the SLA drops goes with it.
    let breach = |zone: &str, vm_type: &str| Breach {
        account: "sla-a".into(),
        zone: zone.into(),
        vm_type: vm_type.into(),
        since: 1_500,
    };
    assert!(store.open_breach(&breach("z2", "m1.small")).await.unwrap());
    assert!(!store.open_breach(&breach("z2", "m1.small")).await.unwrap());
    assert!(store.open_breach(&breach("z1", "c1.medium")).await.unwrap());
    first.reservations = vec![reserve("z1", 1)];
    first.floors.truncate(1);
    first.placement = None;
    store.put_sla(&first, 2_000).await.unwrap();
    assert_eq!(store.slas().await.unwrap(), [first.clone(), other]);
    assert_eq!(store.breaches().await.unwrap(), [breach("z2", "m1.small")]);
    assert!(store.close_breach(&breach("z2", "m1.small")).await.unwrap());
    assert!(!store.close_breach(&breach("z2", "m1.small")).await.unwrap());

    // The history: the first two ended at 2000, the third from then on; then cleared.
    assert!(store.delete_sla("sla-a", 3_000).await.unwrap());
    assert!(!store.delete_sla("sla-a", 3_000).await.unwrap());
    let found = store.reservation_history(0, 10_000).await.unwrap();
    let found: Vec<(u32, String, i64, Option<i64>)> = found
        .into_iter()
        .filter(|r| r.account == "sla-a")
        .map(|r| (r.reservation.count, r.reservation.zone, r.since, r.until))
        .collect();
    assert_eq!(
        found,
        [
            (2, "z1".to_owned(), 1_000, Some(2_000)),
            (1, "z2".to_owned(), 1_000, Some(2_000)),
            (1, "z1".to_owned(), 2_000, Some(3_000)),
        ]
    );
    let later = store.reservation_history(3_000, 4_000).await.unwrap();
    assert!(later.iter().all(|r| r.account != "sla-a"), "{later:?}");
    assert_eq!(store.slas().await.unwrap().len(), 1);

    // What uses reservations up: instances of the type, not asked to terminate.
    let of_type = |id: &str, cluster: &str, index| Instance {
        vm_type: "s1.sla".into(),
        ..sample(id, "sla-a", "r-5a000001", cluster, index)
    };
    let instances = [
        of_type("i-5a000001", "sz1", 0),
        of_type("i-5a000002", "sz1", 1),
        of_type("i-5a000003", "sz2", 2),
    ];
    store.add_instances(&instances, None).await.unwrap();
    store.set_terminated(&["i-5a000002".into()]).await.unwrap();
    let mut running = store.running_by_zone("s1.sla").await.unwrap();
    running.sort();
    assert_eq!(
        running,
        [
            ("sla-a".to_owned(), "sz1".to_owned(), 1),
            ("sla-a".to_owned(), "sz2".to_owned(), 1)
        ]
    );
    store
        .remove_instances(&instances.map(|i| i.id))
        .await
        .unwrap();
}

// ---- Monitoring ----

async fn metric_points_fold_per_instance_and_alarms_change_state_once(store: &dyn Store) {
    use super::metrics::{Alarm, AlarmState, Comparison, Metric, Point, StateChange, Statistic};
    let instance = |id: &str, owner: &str| Instance {
        id: id.into(),
        reservation: "r-0000cw00".into(),
        owner: owner.into(),
        image: "emi-00000001".into(),
        kernel: None,
        ramdisk: None,
        vm_type: "m1.small".into(),
        key_name: None,
        groups: vec!["default".into()],
        launch_index: 0,
        cluster: "zone1".into(),
        launched: 1,
        terminated: false,
        client_token: None,
        observed: Observed::default(),
    };
    store
        .add_instances(
            &[instance("i-0000cw01", "cwa"), instance("i-0000cw02", "cwb")],
            None,
        )
        .await
        .unwrap();
    let point = |instance: &str, metric, start, value: f64| Point {
        instance: instance.into(),
        metric,
        start,
        sample_count: 1,
        sum: value,
        minimum: value,
        maximum: value,
    };
    let cpu = Metric::CpuUtilization;
    store
        .add_points(&[
            point("i-0000cw01", cpu, 600, 10.0),
            point("i-0000cw01", Metric::NetworkIn, 600, 100.0),
            point("i-0000cw02", cpu, 600, 50.0),
            // No such instance: dropped.
            point("i-0000dead", cpu, 600, 1.0),
        ])
        .await
        .unwrap();
    // A second batch folds into the stored point.
    store
        .add_points(&[
            point("i-0000cw01", cpu, 600, 30.0),
            point("i-0000cw01", cpu, 900, 5.0),
        ])
        .await
        .unwrap();
    let points = store.points("i-0000cw01", cpu, 0, 10_000).await.unwrap();
    assert_eq!(points.len(), 2, "{points:?}");
    assert_eq!(
        (points[0].start, points[0].sample_count, points[0].sum),
        (600, 2, 40.0)
    );
    assert_eq!((points[0].minimum, points[0].maximum), (10.0, 30.0));
    assert_eq!(points[1].start, 900);
    assert_eq!(
        store
            .points("i-0000cw01", cpu, 900, 901)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store
        .points("i-0000dead", cpu, 0, 10_000)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.metrics(Some("cwa")).await.unwrap(),
        [
            ("i-0000cw01".to_owned(), cpu),
            ("i-0000cw01".to_owned(), Metric::NetworkIn)
        ]
    );
    assert_eq!(
        store.metrics(Some("cwb")).await.unwrap(),
        [("i-0000cw02".to_owned(), cpu)]
    );
    // Retention: the points before 900 go, the later one stays.
    assert_eq!(store.forget_points(900).await.unwrap(), 3);
    assert_eq!(
        store
            .points("i-0000cw01", cpu, 0, 10_000)
            .await
            .unwrap()
            .len(),
        1
    );

    let state = |state, at| StateChange {
        state,
        reason: format!("{state:?}"),
        at,
    };
    let mut alarm = Alarm {
        owner: "cwa".into(),
        name: "busy".into(),
        description: Some("d".into()),
        actions_enabled: true,
        ok_actions: vec!["http://127.0.0.1:9/ok".into()],
        alarm_actions: vec!["http://127.0.0.1:9/a".into(), "https://h.example/b".into()],
        insufficient_data_actions: Vec::new(),
        metric: cpu,
        instance: "i-0000cw01".into(),
        statistic: Statistic::Maximum,
        period: 300,
        unit: Some("Percent".into()),
        evaluation_periods: 2,
        threshold: 70.5,
        comparison: Comparison::GreaterThanThreshold,
        state: state(AlarmState::InsufficientData, 5),
        updated: 5,
    };
    store.put_alarm(&alarm).await.unwrap();
    assert_eq!(store.alarms(Some("cwa")).await.unwrap(), [alarm.clone()]);
    assert!(store.alarms(Some("cwb")).await.unwrap().is_empty());
    let to_alarm = state(AlarmState::Alarm, 6);
    assert!(store
        .change_alarm_state("cwa", "busy", AlarmState::InsufficientData, &to_alarm)
        .await
        .unwrap());
    // The second change from the same state finds it moved: no second action.
    assert!(!store
        .change_alarm_state("cwa", "busy", AlarmState::InsufficientData, &to_alarm)
        .await
        .unwrap());
    // Putting it again replaces its configuration and keeps its state.
    alarm.threshold = 90.0;
    alarm.updated = 7;
    store.put_alarm(&alarm).await.unwrap();
    let stored = store.alarms_on(&["i-0000cw01".into()]).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].threshold, stored[0].updated), (90.0, 7));
    assert_eq!(stored[0].state, to_alarm);
    assert!(store
        .alarms_on(&["i-0000cw02".into()])
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.delete_alarms("cwb", &["busy".into()]).await.unwrap(),
        0
    );
    assert_eq!(
        store.delete_alarms("cwa", &["busy".into()]).await.unwrap(),
        1
    );
    assert!(store.alarms(None).await.unwrap().is_empty());
    // An account goes with its alarms and its instances' points.
    store.directory().create_account("cwa", None).await.unwrap();
    store.put_alarm(&alarm).await.unwrap();
    assert_eq!(store.metrics(Some("cwa")).await.unwrap().len(), 1);
    store.delete_account("cwa").await.unwrap();
    assert!(store.alarms(None).await.unwrap().is_empty());
    assert!(store.metrics(Some("cwa")).await.unwrap().is_empty());
}

async fn burst_targets_and_their_instances_remote_ids(store: &dyn Store) {
    let target = |name: &str, accounts: Option<Vec<String>>| BurstTarget {
        name: name.into(),
        endpoint: "http://127.0.0.1:5000/".into(),
        region: "us-east-1".into(),
        access_key: "AKID".into(),
        sealed_secret: "c2VhbGVk".into(),
        image_map: vec![
            ("emi-00000001".into(), "ami-1".into()),
            ("emi-00000002".into(), "ami-2".into()),
        ],
        max_instances: Some(3),
        accounts,
    };
    let moto = target("moto", Some(vec!["ann".into(), "bob".into()]));
    let open = BurstTarget {
        max_instances: None,
        ..target("aws", None)
    };
    store.add_burst_target(&moto).await.unwrap();
    store.add_burst_target(&open).await.unwrap();
    assert!(matches!(
        store.add_burst_target(&moto).await,
        Err(StoreError::Exists { .. })
    ));
    assert_eq!(store.burst_targets().await.unwrap(), [open, moto.clone()]);
    assert_eq!(moto.zone(), "burst-moto");

    // One reservation with a ClientToken: its local part, then its remote part, which
    // shares the token.
    let with_token = |mut i: Instance| {
        i.client_token = Some("token-burst".into());
        i
    };
    let local = with_token(sample("i-000000c1", "ann", "r-000000c1", "east", 0));
    let remote = with_token(sample("i-000000c2", "ann", "r-000000c1", "burst-moto", 1));
    store
        .add_instances(std::slice::from_ref(&local), None)
        .await
        .unwrap();
    let mapped = RemoteInstance {
        id: remote.id.clone(),
        target: "moto".into(),
        remote_id: "i-0a1b2c3d4e5f60718".into(),
    };
    store
        .add_remote_instances(
            std::slice::from_ref(&remote),
            std::slice::from_ref(&mapped),
            Some("ann"),
        )
        .await
        .unwrap();
    let ids = [local.id.clone(), remote.id.clone()];
    assert_eq!(store.remote_instances(&ids).await.unwrap(), [mapped]);
    assert_eq!(
        store.by_client_token("ann", "token-burst").await.unwrap(),
        [local, remote.clone()]
    );
    assert_eq!(
        store.live_instances("burst-moto").await.unwrap(),
        std::slice::from_ref(&remote)
    );
    // A forgotten instance takes its remote id with it.
    store
        .remove_instances(std::slice::from_ref(&remote.id))
        .await
        .unwrap();
    assert!(store.remote_instances(&ids).await.unwrap().is_empty());
    store.remove_burst_target("moto").await.unwrap();
    assert!(matches!(
        store.remove_burst_target("moto").await,
        Err(StoreError::NotFound { .. })
    ));
}
