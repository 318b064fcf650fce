//! Committed group offsets: OffsetFetch for any group, and OffsetCommit from outside a group
//! (generation -1, no member id), which Kafka accepts only while the group is empty. This is how offset
//! sync writes translated offsets on the target, as MM2's `alterConsumerGroupOffsets` does.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{
    GroupId, OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
    TopicName,
};

use super::failure::{check, kafka_error, sb, st};
use crate::error::Error;
use crate::types::TopicPartition;

/// A committed position of a group on one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupOffset {
    /// The next offset the group will read.
    pub offset: i64,
    /// Leader epoch of the record before `offset`, when the committer knew it.
    pub leader_epoch: Option<i32>,
    pub metadata: Option<String>,
}

impl GroupOffset {
    pub fn new(offset: i64) -> Self {
        Self {
            offset,
            leader_epoch: None,
            metadata: None,
        }
    }
}

fn by_topic(partitions: &[TopicPartition]) -> BTreeMap<&str, Vec<i32>> {
    let mut m: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        m.entry(tp.topic.as_str()).or_default().push(tp.partition);
    }
    m
}

/// `partitions: None` fetches every partition the group has committed. From v8 the request carries a
/// list of groups; before, one group at the top level.
pub(crate) fn build_offset_fetch(
    group: &str,
    partitions: Option<&[TopicPartition]>,
    version: i16,
) -> OffsetFetchRequest {
    let mut req = OffsetFetchRequest::default();
    let wanted = partitions.map(by_topic);
    if version >= 8 {
        let mut g = OffsetFetchRequestGroup::default();
        g.group_id = GroupId(sb(group));
        g.topics = wanted.map(|m| {
            m.into_iter()
                .map(|(t, ps)| {
                    let mut x = OffsetFetchRequestTopics::default();
                    x.name = TopicName(sb(t));
                    x.partition_indexes = ps;
                    x
                })
                .collect()
        });
        req.groups = vec![g];
    } else {
        req.group_id = GroupId(sb(group));
        req.topics = wanted.map(|m| {
            m.into_iter()
                .map(|(t, ps)| {
                    let mut x = OffsetFetchRequestTopic::default();
                    x.name = TopicName(sb(t));
                    x.partition_indexes = ps;
                    x
                })
                .collect()
        });
    }
    req
}

/// The group's committed offsets; partitions without a commit are left out. Coordinator errors
/// (`NotCoordinator`, `CoordinatorLoadInProgress`...) are retriable.
pub(crate) fn interpret_offset_fetch(
    group: &str,
    version: i16,
    resp: OffsetFetchResponse,
    principal: &str,
) -> Result<BTreeMap<TopicPartition, GroupOffset>, Error> {
    // (topic, partition, offset, epoch, metadata, error)
    let mut rows: Vec<(String, i32, i64, i32, Option<String>, i16)> = Vec::new();
    if version >= 8 {
        let Some(g) = resp
            .groups
            .into_iter()
            .find(|g| g.group_id.0.as_str() == group)
        else {
            return Err(super::failure::missing(
                "OffsetFetch",
                format!("group '{group}'"),
            ));
        };
        check(g.error_code, None, principal, || {
            format!("fetch committed offsets of group '{group}'")
        })?;
        for t in g.topics {
            for p in t.partitions {
                rows.push((
                    st(&t.name),
                    p.partition_index,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.metadata.as_ref().map(st),
                    p.error_code,
                ));
            }
        }
    } else {
        check(resp.error_code, None, principal, || {
            format!("fetch committed offsets of group '{group}'")
        })?;
        for t in resp.topics {
            for p in t.partitions {
                rows.push((
                    st(&t.name),
                    p.partition_index,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.metadata.as_ref().map(st),
                    p.error_code,
                ));
            }
        }
    }
    let mut out = BTreeMap::new();
    for (topic, partition, offset, epoch, metadata, code) in rows {
        let tp = TopicPartition::new(topic, partition);
        check(code, None, principal, || {
            format!("fetch committed offset of group '{group}' on {tp}")
        })?;
        if offset >= 0 {
            out.insert(
                tp,
                GroupOffset {
                    offset,
                    leader_epoch: (epoch >= 0).then_some(epoch),
                    metadata: metadata.filter(|m| !m.is_empty()),
                },
            );
        }
    }
    Ok(out)
}

pub(crate) fn build_offset_commit(
    group: &str,
    offsets: &BTreeMap<TopicPartition, GroupOffset>,
) -> OffsetCommitRequest {
    let mut req = OffsetCommitRequest::default();
    req.group_id = GroupId(sb(group));
    req.generation_id_or_member_epoch = -1;
    req.member_id = sb("");
    req.group_instance_id = None;
    let mut topics: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for (tp, o) in offsets {
        let mut p = OffsetCommitRequestPartition::default();
        p.partition_index = tp.partition;
        p.committed_offset = o.offset;
        p.committed_leader_epoch = o.leader_epoch.unwrap_or(-1);
        p.committed_metadata = Some(sb(o.metadata.as_deref().unwrap_or("")));
        topics.entry(tp.topic.as_str()).or_default().push(p);
    }
    req.topics = topics
        .into_iter()
        .map(|(t, ps)| {
            let mut x = OffsetCommitRequestTopic::default();
            x.name = TopicName(sb(t));
            x.partitions = ps;
            x
        })
        .collect();
    req
}

/// Codes with which a coordinator refuses a commit from outside the group because the group has
/// members (classic groups answer UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION, KIP-848 groups
/// STALE_MEMBER_EPOCH; REBALANCE_IN_PROGRESS while members rejoin).
const GROUP_ACTIVE: [ResponseError; 5] = [
    ResponseError::UnknownMemberId,
    ResponseError::IllegalGeneration,
    ResponseError::RebalanceInProgress,
    ResponseError::StaleMemberEpoch,
    ResponseError::FencedMemberEpoch,
];

/// Codes that concern the whole group rather than one partition.
const GROUP_LEVEL: [ResponseError; 6] = [
    ResponseError::NotCoordinator,
    ResponseError::CoordinatorNotAvailable,
    ResponseError::CoordinatorLoadInProgress,
    ResponseError::GroupAuthorizationFailed,
    ResponseError::InvalidGroupId,
    ResponseError::GroupIdNotFound,
];

/// True when `e` is the coordinator refusing [`Admin::offset_commit`](super::Admin::offset_commit)
/// because the group has active members: the caller should leave the group alone (MM2 logs a warning).
pub fn is_group_active(e: &Error) -> bool {
    e.code().is_some_and(|c| GROUP_ACTIVE.contains(&c))
}

/// Per partition. Errors that concern the whole group come back as the outer `Err`: the group being
/// active (see [`is_group_active`]), coordinator moves (retriable), authorization.
pub(crate) fn interpret_offset_commit(
    group: &str,
    resp: OffsetCommitResponse,
    principal: &str,
) -> Result<super::Results<TopicPartition, ()>, Error> {
    let mut out = Vec::new();
    for t in resp.topics {
        for p in t.partitions {
            let tp = TopicPartition::new(st(&t.name), p.partition_index);
            if let Some(code) = ResponseError::try_from_code(p.error_code) {
                if GROUP_ACTIVE.contains(&code) {
                    return Err(kafka_error(
                        code,
                        None,
                        principal,
                        format!(
                            "commit offsets for group '{group}' from outside the group: the group has active \
                             members, and Kafka accepts such commits only while a group is empty; stop the \
                             group's consumers (or wait until they leave) and retry"
                        ),
                    ));
                }
                if GROUP_LEVEL.contains(&code) {
                    return Err(kafka_error(
                        code,
                        None,
                        principal,
                        format!("commit offsets for group '{group}'"),
                    ));
                }
            }
            let r = check(p.error_code, None, principal, || {
                format!("commit offset for group '{group}' on {tp}")
            });
            out.push((tp, r));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::offset_commit_response::{
        OffsetCommitResponsePartition, OffsetCommitResponseTopic,
    };
    use kafka_protocol::messages::offset_fetch_response::{
        OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
        OffsetFetchResponseTopic, OffsetFetchResponseTopics,
    };
    use kafka_protocol::protocol::{Encodable, Message};

    use super::*;

    fn tps() -> Vec<TopicPartition> {
        vec![
            TopicPartition::new("a", 0),
            TopicPartition::new("a", 2),
            TopicPartition::new("b", 1),
        ]
    }

    #[test]
    fn fetch_request_shape_per_version() {
        for v in OffsetFetchRequest::VERSIONS.min..=OffsetFetchRequest::VERSIONS.max {
            let all = build_offset_fetch("g", None, v);
            all.encode(&mut bytes::BytesMut::new(), v).expect("encodes");
            let some = build_offset_fetch("g", Some(&tps()), v);
            some.encode(&mut bytes::BytesMut::new(), v)
                .expect("encodes");
            if v >= 8 {
                assert_eq!(all.groups[0].group_id.0.as_str(), "g");
                assert!(all.groups[0].topics.is_none());
                let t = some.groups[0].topics.as_ref().expect("topics");
                assert_eq!(
                    (t[0].name.0.as_str(), t[0].partition_indexes.clone()),
                    ("a", vec![0, 2])
                );
                assert_eq!(t[1].partition_indexes, vec![1]);
            } else {
                assert_eq!(all.group_id.0.as_str(), "g");
                assert!(all.topics.is_none());
                assert_eq!(some.topics.as_ref().expect("topics").len(), 2);
            }
        }
    }

    fn v8_response(
        group: &str,
        group_error: i16,
        parts: &[(&str, i32, i64, i16)],
    ) -> OffsetFetchResponse {
        let mut g = OffsetFetchResponseGroup::default();
        g.group_id = GroupId(sb(group));
        g.error_code = group_error;
        let mut topics: BTreeMap<&str, OffsetFetchResponseTopics> = BTreeMap::new();
        for (t, p, o, e) in parts {
            let mut x = OffsetFetchResponsePartitions::default();
            x.partition_index = *p;
            x.committed_offset = *o;
            x.committed_leader_epoch = 4;
            x.metadata = Some(sb("meta"));
            x.error_code = *e;
            let entry = topics.entry(t).or_insert_with(|| {
                let mut tt = OffsetFetchResponseTopics::default();
                tt.name = TopicName(sb(t));
                tt
            });
            entry.partitions.push(x);
        }
        g.topics = topics.into_values().collect();
        let mut resp = OffsetFetchResponse::default();
        resp.groups = vec![g];
        resp
    }

    #[test]
    fn fetch_v8_offsets_skip_uncommitted() {
        let resp = v8_response("g", 0, &[("a", 0, 42, 0), ("a", 2, -1, 0), ("b", 1, 7, 0)]);
        let out = interpret_offset_fetch("g", 9, resp, "User:k").expect("ok");
        assert_eq!(out.len(), 2);
        let a0 = &out[&TopicPartition::new("a", 0)];
        assert_eq!(
            (a0.offset, a0.leader_epoch, a0.metadata.as_deref()),
            (42, Some(4), Some("meta"))
        );
        assert_eq!(out[&TopicPartition::new("b", 1)].offset, 7);
    }

    #[test]
    fn fetch_v8_errors() {
        let resp = v8_response("g", ResponseError::NotCoordinator.code(), &[]);
        let e = interpret_offset_fetch("g", 8, resp, "User:k").expect_err("moved");
        assert!(e.is_retriable(), "{e}");
        let resp = v8_response("g", ResponseError::GroupAuthorizationFailed.code(), &[]);
        let e = interpret_offset_fetch("g", 8, resp, "User:kmirror").expect_err("denied");
        assert!(
            e.to_string().contains("group 'g'") && e.to_string().contains("User:kmirror"),
            "{e}"
        );
        let resp = v8_response(
            "g",
            0,
            &[("a", 0, 1, ResponseError::UnstableOffsetCommit.code())],
        );
        let e = interpret_offset_fetch("g", 8, resp, "User:k").expect_err("unstable");
        assert!(e.to_string().contains("a-0"), "{e}");
        let resp = v8_response("other", 0, &[]);
        assert!(interpret_offset_fetch("g", 8, resp, "User:k").is_err());
    }

    #[test]
    fn fetch_before_v8() {
        let mut p = OffsetFetchResponsePartition::default();
        p.partition_index = 3;
        p.committed_offset = 11;
        p.committed_leader_epoch = -1;
        let mut t = OffsetFetchResponseTopic::default();
        t.name = TopicName(sb("x"));
        t.partitions = vec![p];
        let mut resp = OffsetFetchResponse::default();
        resp.topics = vec![t];
        let out = interpret_offset_fetch("g", 7, resp.clone(), "User:k").expect("ok");
        assert_eq!(out[&TopicPartition::new("x", 3)], GroupOffset::new(11));
        resp.error_code = ResponseError::CoordinatorLoadInProgress.code();
        assert!(
            interpret_offset_fetch("g", 7, resp, "User:k")
                .expect_err("loading")
                .is_retriable()
        );
    }

    #[test]
    fn commit_request_is_from_outside_the_group() {
        let mut offs = BTreeMap::new();
        offs.insert(TopicPartition::new("a", 2), GroupOffset::new(5));
        offs.insert(
            TopicPartition::new("a", 0),
            GroupOffset {
                offset: 9,
                leader_epoch: Some(3),
                metadata: Some("m".into()),
            },
        );
        offs.insert(TopicPartition::new("b", 0), GroupOffset::new(1));
        let req = build_offset_commit("g", &offs);
        assert_eq!(req.generation_id_or_member_epoch, -1);
        assert!(req.member_id.is_empty());
        assert_eq!(req.topics.len(), 2);
        let a = &req.topics[0].partitions;
        assert_eq!(
            (
                a[0].partition_index,
                a[0].committed_offset,
                a[0].committed_leader_epoch
            ),
            (0, 9, 3)
        );
        assert_eq!(a[1].committed_leader_epoch, -1);
        for v in OffsetCommitRequest::VERSIONS.min..=OffsetCommitRequest::VERSIONS.max {
            req.encode(&mut bytes::BytesMut::new(), v).expect("encodes");
        }
    }

    fn commit_response(parts: &[(&str, i32, i16)]) -> OffsetCommitResponse {
        let mut resp = OffsetCommitResponse::default();
        for (t, p, e) in parts {
            let mut x = OffsetCommitResponsePartition::default();
            x.partition_index = *p;
            x.error_code = *e;
            let mut tt = OffsetCommitResponseTopic::default();
            tt.name = TopicName(sb(t));
            tt.partitions = vec![x];
            resp.topics.push(tt);
        }
        resp
    }

    #[test]
    fn commit_results_per_partition() {
        let resp = commit_response(&[
            ("b", 0, 0),
            ("a", 1, ResponseError::OffsetMetadataTooLarge.code()),
        ]);
        let out = interpret_offset_commit("g", resp, "User:k").expect("group ok");
        assert_eq!(out[0].0, TopicPartition::new("a", 1));
        let e = out[0].1.as_ref().expect_err("too large");
        assert!(e.to_string().contains("group 'g' on a-1"), "{e}");
        assert!(out[1].1.is_ok());
    }

    #[test]
    fn commit_to_active_group_is_refused_clearly() {
        for code in GROUP_ACTIVE {
            let resp = commit_response(&[("a", 0, code.code())]);
            let e = interpret_offset_commit("busy", resp, "User:k").expect_err("active");
            assert!(is_group_active(&e));
            let s = e.to_string();
            assert!(
                s.contains("'busy'") && s.contains("active members") && s.contains("stop"),
                "{s}"
            );
        }
    }

    #[test]
    fn commit_group_level_errors() {
        let resp = commit_response(&[("a", 0, ResponseError::CoordinatorLoadInProgress.code())]);
        let e = interpret_offset_commit("g", resp, "User:k").expect_err("loading");
        assert!(e.is_retriable() && !is_group_active(&e));
        let resp = commit_response(&[("a", 0, ResponseError::GroupAuthorizationFailed.code())]);
        let e = interpret_offset_commit("g", resp, "User:kmirror").expect_err("denied");
        assert!(e.to_string().contains("User:kmirror"), "{e}");
    }
}
