//! Group membership against a real Kafka group coordinator: members share work disjointly, and a member
//! that leaves (explicitly or by being dropped) hands its share to the others.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use kmirror_kafka::ClientConfig;
use kmirror_kafka::admin::{Admin, GroupState};
use kmirror_kafka::membership::{
    Assignment, GroupMember, MemberMetadata, MembershipConfig, Revoked,
};
use kmirror_kafka::protocol::error::ResponseError;
use kmirror_testkit::{cluster, kafka_tool, unique_group};

/// A ceiling for a broken system, far below the session timeout: a member can only be seen to leave
/// within it by sending LeaveGroup, never by expiring.
const WAIT: Duration = Duration::from_secs(60);
const TASKS: u32 = 12;

fn client_config() -> ClientConfig {
    ClientConfig::new(cluster("A").bootstrap)
}

fn membership(group: &str, name: &str) -> MembershipConfig {
    let mut m = MembershipConfig::new(group, Bytes::from(name.to_string()));
    m.session_timeout = Duration::from_secs(300);
    m.rebalance_timeout = Duration::from_secs(120);
    m.heartbeat_interval = Duration::from_millis(300);
    m
}

type Seen = Arc<Mutex<Vec<Vec<String>>>>;

/// Round robin of task numbers over the members sorted by id; records the metadata it was given.
fn assignor(
    seen: Seen,
) -> impl Fn(&[MemberMetadata]) -> BTreeMap<String, Bytes> + Send + Sync + 'static {
    move |members: &[MemberMetadata]| {
        let mut ids: Vec<&MemberMetadata> = members.iter().collect();
        ids.sort_by(|a, b| a.member_id.cmp(&b.member_id));
        let mut md: Vec<String> = members
            .iter()
            .map(|m| String::from_utf8_lossy(&m.metadata).into_owned())
            .collect();
        md.sort();
        seen.lock().expect("lock").push(md);
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for t in 0..TASKS {
            let m = ids[t as usize % ids.len()];
            out.entry(m.member_id.clone())
                .or_default()
                .push(t.to_string());
        }
        out.into_iter()
            .map(|(m, ts)| (m, Bytes::from(ts.join(","))))
            .collect()
    }
}

fn tasks(a: &Assignment) -> BTreeSet<u32> {
    std::str::from_utf8(&a.data)
        .expect("utf8")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("task number"))
        .collect()
}

fn all_tasks() -> BTreeSet<u32> {
    (0..TASKS).collect()
}

async fn revoked(m: &mut GroupMember) -> Revoked {
    tokio::time::timeout(WAIT, m.revoked())
        .await
        .expect("the member should learn of the rebalance")
}

async fn connect(group: &str, name: &str, seen: &Seen) -> GroupMember {
    GroupMember::connect(
        &client_config(),
        membership(group, name),
        assignor(seen.clone()),
    )
    .await
    .expect("connect")
}

/// Two members joined together: same generation, one leader, disjoint shares covering every task.
async fn join_pair(
    a: &mut GroupMember,
    group: &str,
    name: &str,
    seen: &Seen,
) -> (GroupMember, Assignment, Assignment) {
    let (g, n, s) = (group.to_string(), name.to_string(), seen.clone());
    let other = tokio::spawn(async move {
        let mut b = connect(&g, &n, &s).await;
        let asg = b.join().await;
        (b, asg)
    });
    assert!(matches!(revoked(a).await, Revoked::Rebalance));
    let mine = a.join().await.expect("rejoin");
    let (b, theirs) = other.await.expect("join task");
    let theirs = theirs.expect("second member joins");
    assert_eq!(mine.generation, theirs.generation);
    assert_ne!(mine.member_id, theirs.member_id);
    assert_eq!(mine.leader_id, theirs.leader_id);
    assert!(mine.is_leader() ^ theirs.is_leader());
    let (x, y) = (tasks(&mine), tasks(&theirs));
    assert!(x.is_disjoint(&y), "{x:?} / {y:?}");
    assert_eq!(x.union(&y).copied().collect::<BTreeSet<_>>(), all_tasks());
    assert_eq!((x.len(), y.len()), (6, 6));
    (b, mine, theirs)
}

#[tokio::test]
async fn members_share_work_and_hand_it_back_when_one_leaves() {
    let group = unique_group("membership");
    let seen: Seen = Arc::default();
    let admin = Admin::new(
        kmirror_kafka::Client::connect(client_config())
            .await
            .expect("connect"),
    );

    let mut a = connect(&group, "alpha", &seen).await;
    assert!(matches!(a.revoked().await, Revoked::NotJoined));
    let alone = a.join().await.expect("join");
    assert!(alone.is_leader());
    assert_eq!(tasks(&alone), all_tasks());
    assert_eq!(alone.member_id, a.member_id());

    let (b, mine, _) = join_pair(&mut a, &group, "beta", &seen).await;
    assert!(mine.generation > alone.generation);
    assert_eq!(
        seen.lock().expect("lock").last().cloned(),
        Some(vec!["alpha".to_string(), "beta".to_string()])
    );

    // The coordinator sees a stable group of our own protocol type with both members.
    let d = admin.describe_group(&group).await.expect("describe");
    assert_eq!(d.state, GroupState::Stable);
    assert_eq!(d.protocol_type, "kmirror");
    assert_eq!(d.protocol, "kmirror-v1");
    let ids: BTreeSet<&str> = d.members.iter().map(|m| m.member_id.as_str()).collect();
    assert_eq!(ids, BTreeSet::from([a.member_id(), b.member_id()]));
    // ...and so does Kafka's own tool.
    let java = kafka_tool(
        "org.apache.kafka.tools.GroupsCommand",
        &["--bootstrap-server", &cluster("A").bootstrap, "--list"],
    );
    assert!(java.success, "{}\n{}", java.stdout, java.stderr);
    let row: Vec<&str> = java
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|c| c.first() == Some(&group.as_str()))
        .unwrap_or_else(|| panic!("{group} not listed:\n{}", java.stdout));
    assert_eq!(row[1..], ["Classic", "kmirror"], "{}", java.stdout);

    // An explicit leave: the remaining member is told at once and gets everything.
    b.leave().await.expect("leave");
    assert!(matches!(revoked(&mut a).await, Revoked::Rebalance));
    let back = a.join().await.expect("rejoin");
    assert!(back.generation > mine.generation);
    assert_eq!(tasks(&back), all_tasks());
    assert_eq!(
        seen.lock().expect("lock").last().cloned(),
        Some(vec!["alpha".to_string()])
    );

    // Dropping a member leaves too.
    let (c, _, _) = join_pair(&mut a, &group, "gamma", &seen).await;
    drop(c);
    assert!(matches!(revoked(&mut a).await, Revoked::Rebalance));
    assert_eq!(tasks(&a.join().await.expect("rejoin")), all_tasks());

    a.leave().await.expect("leave");
    let d = admin.describe_group(&group).await.expect("describe");
    assert!(d.members.is_empty(), "{d:?}");
    assert!(d.state.is_empty_or_dead(), "{d:?}");
}

#[tokio::test]
async fn a_group_of_another_protocol_type_is_refused_clearly() {
    let group = unique_group("membership-proto");
    let seen: Seen = Arc::default();
    let mut a = connect(&group, "alpha", &seen).await;
    a.join().await.expect("join");

    let mut other = membership(&group, "intruder");
    other.protocol_type = "consumer".to_string();
    let mut x = GroupMember::connect(&client_config(), other, assignor(seen.clone()))
        .await
        .expect("connect");
    let e = x.join().await.expect_err("another protocol type");
    assert_eq!(
        e.code(),
        Some(ResponseError::InconsistentGroupProtocol),
        "{e}"
    );
    let s = e.to_string();
    assert!(s.contains(&group) && s.contains("group id"), "{s}");
    a.leave().await.expect("leave");
}
